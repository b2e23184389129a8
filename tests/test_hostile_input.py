"""Issue 20.8, 20.9, 20.10, 20.11, 20.15: bad input is one crmkit sentence, checked in
crmkit before the database sees it, so the three backends answer alike.

Every case below used to end in a raw TypeError/IndexError/OverflowError, a database
error (PostgreSQL, MariaDB) or silent acceptance (SQLite).
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

import crmkit
from crmkit.checks import DATE_MAX, DATE_MIN

BIG = 99999999999999999999  # 20 digits: more than a signed 64-bit integer holds


def _state(crm):
    return (crm.customers.count(), len(crm.documents.list()), len(crm.activities.list()),
            len(crm.changes()))


def _api_cases(c):
    return [
        ("extra=abc", lambda crm: crm.customers.add(name="a", extra="abc"), "extra"),
        ("tags=5", lambda crm: crm.customers.add(name="a", tags=5), "tags"),
        ("number=5", lambda crm: crm.documents.add(c, kind="invoice", number=5,
                                                   amount="1"), "number"),
        ("customer_id=None", lambda crm: crm.activities.add(None, kind="call",
                                                            subject="s"), "customer id"),
        ("lone surrogate", lambda crm: crm.customers.add(name="a\ud800b"), "surrogate"),
        ("surrogate in extra", lambda crm: crm.customers.add(
            name="a", extra={"k": "\udfff"}), "surrogate"),
        ("NaN in extra", lambda crm: crm.customers.add(
            name="a", extra={"score": float("nan")}), "NaN"),
        ("Infinity in extra", lambda crm: crm.customers.update(
            c, extra={"score": float("inf")}), "Infinity"),
        ("Decimal NaN in extra", lambda crm: crm.documents.add(
            c, kind="invoice", number="X", amount="1", extra={"d": Decimal("NaN")}), "NaN"),
        ("a set in extra", lambda crm: crm.activities.add(
            c, kind="call", subject="s", extra={"s": {1, 2}}), "JSON value"),
        ("deep extra", lambda crm: crm.customers.add(
            name="a", extra=_nested(40)), "nested"),
        ("amount blank", lambda crm: crm.documents.add(c, kind="invoice", number="B",
                                                       amount=" "), "amount"),
        ("line P:1:", lambda crm: crm.documents.add(c, kind="invoice", number="L1",
                                                    lines=["P:1:"]), "unit price"),
        ("line P::1", lambda crm: crm.documents.add(c, kind="invoice", number="L2",
                                                    lines=["P::1"]), "quantity"),
        ("at 0001 +01:00", lambda crm: crm.activities.add(
            c, kind="call", subject="s", occurred_at="0001-01-01T00:00+01:00"), "0001"),
        ("at 9999 -01:00", lambda crm: crm.activities.add(
            c, kind="call", subject="s", occurred_at="9999-12-31T23:59-01:00"), "9999"),
        ("issued 0001", lambda crm: crm.documents.add(
            c, kind="invoice", number="D", amount="1", issued_on="0001-01-01"), "0001"),
        ("id too big", lambda crm: crm.customers.get(BIG), "not found"),
        ("doc id too big", lambda crm: crm.documents.get(BIG), "not found"),
        ("currency EURO", lambda crm: crm.documents.add(
            c, kind="invoice", number="C1", amount="1", currency="EURO"), "currency"),
        ("currency emoji", lambda crm: crm.documents.add(
            c, kind="invoice", number="C2", amount="1", currency="😀"), "currency"),
        ("contact name=5", lambda crm: crm.contacts.add(c, 5), "name"),
        ("owner surrogate", lambda crm: crm.customers.add(name="a", owner="\ud800"),
         "surrogate"),
        ("owner list", lambda crm: crm.customers.add(name="a", owner=["x"]), "owner"),
        ("search=5", lambda crm: crm.customers.list(search=5), "search"),
        ("tag surrogate", lambda crm: crm.customers.list(tag="\ud800"), "surrogate"),
        ("activity owner dict", lambda crm: crm.activities.list(owner={"a": 1}), "owner"),
        ("documents of a huge customer id", lambda crm: crm.documents.list(
            customer_id=BIG), "customer id"),
        ("contacts of a dict", lambda crm: crm.contacts.count(customer_id={}), "customer id"),
        ("limit -1", lambda crm: crm.customers.list(limit=-1), "limit"),
        ("limit too big", lambda crm: crm.customers.list(limit=BIG), "limit"),
        ("offset -1", lambda crm: crm.documents.list(offset=-1), "offset"),
    ]


def _nested(n):
    v: object = 1
    for _ in range(n):
        v = {"a": v}
    return v


def test_bad_python_api_input_is_one_validation_sentence_the_same_on_every_backend(
        crm_factory):
    crm = crm_factory()
    c = crm.customers.add(name="基准").id
    before = _state(crm)
    messages = {}
    for label, call, needle in _api_cases(c):
        with pytest.raises(crmkit.CrmError) as err:
            call(crm)
        text = str(err.value)
        assert needle in text, (label, text)
        assert len(text) < 300 and "\n" not in text, (label, text)
        messages[label] = text
    assert _state(crm) == before
    # the messages never depend on the backend: compare them with the SQLite ones
    # (pinned here; each backend's run of this test checks its own against them)
    assert messages["limit -1"] == ("limit must be a whole number from 0 to "
                                    "9223372036854775807, got -1")
    assert messages["id too big"] == f"customer {BIG} not found"
    # SQLite stored these, PostgreSQL and MariaDB failed with "value too long"
    assert messages["currency EURO"] == ("unknown currency 'EURO'; expected an ISO 4217 "
                                         "code in capitals, such as CNY, USD or EUR")
    assert messages["NaN in extra"] == ("customer extra.score holds nan, which is not a "
                                        "JSON number (NaN and Infinity are not)")
    assert messages["at 0001 +01:00"] == (
        "time 0001-01-01T00:00:00+01:00 is outside the dates crmkit accepts (1000-01-01 "
        "to 9899-12-31)")


def test_extra_keeps_json_values_exactly_and_takes_decimals_as_numbers(crm_factory):
    crm = crm_factory()
    extra = {"discount": Decimal("1.5"), "n": Decimal("3"), "f": 0.25, "big": 2**62,
             "list": [True, None, "上海"], "nested": {"k": [1, {"x": "y"}]}}
    c = crm.customers.add(name="额外", extra=extra)
    got = crm.customers.get(c.id).extra
    # Decimal('1.5') is the JSON number 1.5; Decimal('3') the whole number 3
    assert got == {"discount": 1.5, "n": 3, "f": 0.25, "big": 2**62,
                   "list": [True, None, "上海"], "nested": {"k": [1, {"x": "y"}]}}
    assert json.loads(crmkit.dumps(crm.customers.get(c.id)))["extra"] == got


@pytest.mark.parametrize("text, expected", [
    ("１２３", "123.00"),             # fullwidth digits: what a Chinese IME types
    ("１，２３４．５０", "1234.50"),
    ("¥ 1,234.50", "1234.50"),        # a space after the currency sign
    ("- 5", "-5.00"),
    ("١٢٣", None),                    # Arabic-Indic digits: refused
    ("𝟏𝟐𝟑", None),                    # mathematical bold digits: refused
    ("1 000", None),                  # a space between digits: refused, not 1000
    ("", None), (" ", None), ("-", None), ("¥", None),
])
def test_digit_rules_of_money(text, expected):
    if expected is None:
        with pytest.raises(crmkit.ValidationError):
            crmkit.parse_money(text)
    else:
        assert str(crmkit.parse_money(text)) == expected


CLI_CASES = [
    (("doc", "add", "{c}", "--kind", "invoice", "--number", "A1", "--amount", " "),
     "amount"),
    (("doc", "add", "{c}", "--kind", "invoice", "--number", "A2", "--line", "P:1:"),
     "unit price"),
    (("doc", "add", "{c}", "--kind", "invoice", "--number", "A3", "--line", "P::1"),
     "quantity"),
    (("doc", "add", "{c}", "--kind", "invoice", "--number", "A4", "--amount", "١٢٣"),
     "amount"),
    (("activity", "add", "{c}", "--kind", "call", "--subject", "s", "--at",
      "0001-01-01T00:00+01:00"), "outside the dates"),
    (("activity", "add", "{c}", "--kind", "call", "--subject", "s", "--at",
      "9999-12-31T23:59-01:00"), "outside the dates"),
    (("receivables", "aging", "--as-of", "0001-01-01"), "outside the dates"),
    (("grading", "run", "--as-of", "0001-01-01"), "outside the dates"),
    (("grading", "show", "--as-of", "9999-12-31"), "outside the dates"),
    (("customer", "show", str(BIG)), "not found"),
    (("doc", "show", str(BIG)), "not found"),
    (("customer", "list", "--limit", "-1"), "limit"),
    (("customer", "list", "--limit", str(BIG)), "limit"),
    (("doc", "list", "--offset", "-1"), "offset"),
    (("changes", "--since", str(BIG)), "since"),
    (("sales", "move", str(BIG), "won"), "not found"),
    (("customer", "add", "x", "--email", "a" * 100_000), "e-mail"),
]


@pytest.mark.parametrize("args, needle", CLI_CASES, ids=[" ".join(a)[:40] for a, _ in
                                                           CLI_CASES])
def test_bad_cli_input_is_one_sentence_exit_1_nothing_written(cli, crm_factory, args,
                                                              needle):
    crm = crm_factory(enable=("receivables", "grading", "sales"))
    c = crm.customers.add(name="基准").id
    before = _state(crm)
    r = cli(*[a.replace("{c}", str(c)) for a in args])
    assert r.exit_code == 1, r
    assert needle in r.stderr and "unexpected" not in r.stderr, r.stderr[:300]
    # a message quotes at most 80 characters of a value
    assert len(r.stderr) < 400, len(r.stderr)
    assert _state(crm) == before


def test_date_range_is_what_the_docs_say():
    assert (DATE_MIN.isoformat(), DATE_MAX.isoformat()) == ("1000-01-01", "9899-12-31")
