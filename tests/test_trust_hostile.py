"""Hostile input: every text field either round-trips exactly or is refused with a
ValidationError naming the field, and then nothing at all was written.

Normalisation by design (what "exactly" means here, read from crmkit/services):
- customers: ``name`` and every other string field (email, phone, address,
  external_id) lose surrounding whitespace (``str.strip``); an empty optional field
  becomes null; tags are stripped, empty tags dropped, duplicates removed;
  ``extra`` values are stored as given (JSON).
- contacts: ``name`` is stripped; title, email and phone are stored as given ("" -> null).
- activities: subject and body are stored as given (subject must not be blank).
- documents: ``number`` is stripped; ``attachment`` is stored as given.
Limits: names 200, email 200, phone 64, address 2000, external id 200, tag 64,
subject 500, body 100,000, document number 100, attachment 2000 characters; NUL is
refused everywhere.

Money: accepted exactly (Decimal and the JSON string) or refused; never through float.
"""

from __future__ import annotations

import itertools
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import crmkit
from crmkit.checks import has_surrogate
from crmkit.errors import ValidationError
from tests.plugins.trust import HOSTILE, counts

# examples, deadline and health checks come from the profile (tests/conftest.py)
SETTINGS = settings(phases=[Phase.explicit, Phase.generate])

hostile = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=80),
    st.lists(st.sampled_from(HOSTILE[:-2]), min_size=1, max_size=4).map("".join),
    st.tuples(st.sampled_from([" ", "\t", "\u3000", ""]), st.text(min_size=1, max_size=30),
              st.sampled_from([" ", "\n", ""])).map("".join),
)
_n = itertools.count(1)


def _email_ok(s: str) -> bool:
    # independent restatement of the rule: local@domain.tld, no whitespace, one '@'
    if any(ch.isspace() for ch in s) or s.count("@") != 1:
        return False
    local, domain = s.split("@")
    return bool(local) and any(ch == "." and 0 < i < len(domain) - 1
                               for i, ch in enumerate(domain))


def _text_rule(value: str | None, limit: int, *, required: bool = False) -> bool:
    """True when the core's text check accepts ``value`` (already normalised)."""
    if value is None:
        return not required
    if required and not value.strip():
        return False
    return "\x00" not in value and len(value) <= limit


def _opt(v: str) -> str | None:
    return v.strip() or None


CUSTOMER_LIMITS = {"phone": 64, "address": 2000, "external_id": 200}
LABELS = {"extra": "extra", "name": "name", "email": "e-mail", "phone": "phone",
          "address": "address", "external_id": "external", "tags": "tag", "title": "title",
          "subject": "subject", "body": "body", "number": "number",
          "attachment": "attachment"}


def _expect_customer(fields: dict[str, Any], used_ext: set[str]) -> tuple[dict, set[str]]:
    """(expected stored values, fields expected to be refused)."""
    exp: dict[str, Any] = {}
    bad: set[str] = set()
    name = fields["name"].strip()
    exp["name"] = name
    if not _text_rule(name, 200, required=True):
        bad.add("name")
    if "email" in fields:
        e = _opt(fields["email"])
        exp["email"] = e
        if e is not None and not (_text_rule(e, 200) and _email_ok(e)):
            bad.add("email")
    for f, limit in CUSTOMER_LIMITS.items():
        if f in fields:
            v = _opt(fields[f])
            exp[f] = v
            if not _text_rule(v, limit) or (f == "external_id" and v in used_ext):
                bad.add(f)
    if "tags" in fields:
        tags: list[str] = []
        for t in fields["tags"]:
            t = t.strip()
            if not t:
                continue
            if "," in t or "\x00" in t or len(t) > 64:
                bad.add("tags")
            elif t not in tags:
                tags.append(t)
        exp["tags"] = tuple(tags)
    if "extra" in fields:
        exp["extra"] = fields["extra"]
        if not _extra_ok(fields["extra"]):
            bad.add("extra")
    return exp, bad


def _extra_ok(value: Any) -> bool:
    """``extra`` holds JSON values whose text has no NUL and no lone surrogate, at most
    100,000 characters as JSON (issue 20.8; crmkit.checks)."""
    def ok(v: Any) -> bool:
        if isinstance(v, str):
            return "\x00" not in v and not has_surrogate(v)
        if isinstance(v, dict):
            return all(ok(k) and ok(x) for k, x in v.items())
        if isinstance(v, list):
            return all(ok(x) for x in v)
        return True
    return ok(value) and len(json.dumps(value, ensure_ascii=False)) <= 100_000


def _assert_refused(crm: Any, before: dict, exc: ValidationError, bad: set[str]) -> None:
    msg = str(exc)
    for f in bad:
        assert LABELS[f] in msg, (f, msg[:300])
    assert counts(crm) == before


customer_fields = st.fixed_dictionaries(
    {"name": hostile},
    optional={"email": st.one_of(hostile, st.tuples(hostile, hostile, hostile).map(
                  lambda t: f"{t[0][:50]}@{t[1][:50]}.{t[2][:20]}")),
              "phone": hostile, "address": hostile, "external_id": hostile,
              "tags": st.lists(hostile, max_size=4),
              "extra": st.dictionaries(hostile.map(lambda s: s[:100]), hostile, max_size=3)},
)


@SETTINGS
@given(fields=customer_fields)
def _customer_round_trip(crm: Any, used_ext: set[str], fields: dict[str, Any]) -> None:
    exp, bad = _expect_customer(fields, used_ext)
    before = counts(crm)
    if bad:
        with pytest.raises(ValidationError) as info:
            crm.customers.add(**fields)
        _assert_refused(crm, before, info.value, bad)
        return
    c = crm.customers.add(**fields)
    got = crm.customers.get(c.id)
    for f, v in exp.items():
        assert getattr(got, f) == v, (f, getattr(got, f), v)
    if exp.get("external_id"):
        used_ext.add(exp["external_id"])
        assert crm.customers.find(external_id=exp["external_id"]).id == c.id
    after = counts(crm)
    assert (after["customers"], after["audit"]) == (before["customers"] + 1,
                                                    before["audit"] + 1)


def test_customer_text_fields_round_trip_or_are_refused(crm):
    _customer_round_trip(crm, set())
    # explicit: NUL, 10,000 characters and SQL inside extra (a JSON column)
    for extra in ({"k": "a\x00b"}, {"a\x00": "v"}, {"big": "汉" * 10_000},
                  {"'; DROP TABLE crm_customers; --": ["😀", {"\u202e": None}]}):
        before = counts(crm)
        try:
            c = crm.customers.add(name="Extra", extra=extra)
        except ValidationError as exc:
            assert "extra" in str(exc)
            assert counts(crm) == before
        else:
            assert crm.customers.get(c.id).extra == extra


@SETTINGS
@given(name=hostile, title=hostile, email=hostile, phone=hostile,
       which=st.sets(st.sampled_from(["title", "email", "phone"])))
def _contact_round_trip(crm: Any, cid: int, name: str, title: str, email: str, phone: str,
                        which: set[str]) -> None:
    given_ = {"title": title, "email": email, "phone": phone}
    kw = {k: given_[k] for k in which}
    exp = {"name": name.strip(), **{k: (v or None) for k, v in kw.items()}}
    bad = set()
    if not _text_rule(exp["name"], 200, required=True):
        bad.add("name")
    if not _text_rule(exp.get("title"), 200):
        bad.add("title")
    if not _text_rule(exp.get("phone"), 64):
        bad.add("phone")
    e = exp.get("email")
    if e is not None and not (_text_rule(e, 200) and _email_ok(e)):
        bad.add("email")
    before = counts(crm)
    if bad:
        with pytest.raises(ValidationError) as info:
            crm.contacts.add(cid, name, **kw)
        _assert_refused(crm, before, info.value, bad)
        return
    added = crm.contacts.add(cid, name, **kw)
    got = {x.id: x for x in crm.contacts.list(customer_id=cid)}[added.id]
    for f, v in exp.items():
        assert getattr(got, f) == v, (f, getattr(got, f), v)


def test_contact_text_fields_round_trip_or_are_refused(crm):
    cid = crm.customers.add(name="Contacts Ltd").id
    _contact_round_trip(crm, cid)
    # contact e-mails are not stripped: a trailing newline (header injection) is refused
    for email in ("a@b.cn\n", "a@b.cn\r\nBcc: x@y.z", " a@b.cn"):
        before = counts(crm)
        with pytest.raises(ValidationError, match="e-mail"):
            crm.contacts.add(cid, "Ann", email=email)
        assert counts(crm) == before


@SETTINGS
@given(subject=hostile, body=st.one_of(st.none(), hostile))
def _activity_round_trip(crm: Any, cid: int, subject: str, body: str | None) -> None:
    bad = set()
    if not _text_rule(subject, 500, required=True) or subject == "":
        bad.add("subject")
    if body is not None and not _text_rule(body, 100_000):
        bad.add("body")
    before = counts(crm)
    if bad:
        with pytest.raises(ValidationError) as info:
            crm.activities.add(cid, kind="note", subject=subject, body=body)
        _assert_refused(crm, before, info.value, bad)
        return
    a = crm.activities.add(cid, kind="note", subject=subject, body=body)
    got = crm.activities.get(a.id)
    assert (got.subject, got.body) == (subject, body)


def test_activity_subject_and_body_round_trip_or_are_refused(crm):
    cid = crm.customers.add(name="Timeline Ltd").id
    _activity_round_trip(crm, cid)


@SETTINGS
@given(number=hostile, attachment=st.one_of(st.none(), hostile))
def _document_round_trip(crm: Any, cid: int, used: set[str], number: str,
                         attachment: str | None) -> None:
    exp_number = number.strip()
    bad = set()
    if not _text_rule(exp_number, 100, required=True) or exp_number in used:
        bad.add("number")
    if attachment is not None and not _text_rule(attachment or None, 2000):
        bad.add("attachment")
    before = counts(crm)
    if bad:
        with pytest.raises(ValidationError) as info:
            crm.documents.add(cid, kind="quote", number=number, amount="1.50",
                              attachment=attachment)
        _assert_refused(crm, before, info.value, bad)
        return
    d = crm.documents.add(cid, kind="quote", number=number, amount="1.50",
                          attachment=attachment)
    used.add(exp_number)
    got = crm.documents.get(d.id)
    assert (got.number, got.attachment, got.amount) == (exp_number, attachment,
                                                         Decimal("1.50"))
    assert crm.documents.by_number("quote", exp_number).id == d.id


def test_document_number_and_attachment_round_trip_or_are_refused(crm):
    cid = crm.customers.add(name="Docs Ltd").id
    _document_round_trip(crm, cid, set())


# --- the same through the command line, for a sample ---------------------------------

CLI_SAMPLE = ["'; DROP TABLE crm_customers; --  😀 \u202eRTL שלום e\u0301 上海大众 \"q\" \\ %_",
              "-starts-with-dash", "a\x00b", "x" * 10_000, "   "]


def test_cli_json_round_trips_or_refuses(crm, cli):
    base = crm.customers.add(name="Base").id
    for value in CLI_SAMPLE:
        _cli_case(crm, cli, base, value)


def _cli_case(crm: Any, cli: Any, base: int, value: str) -> None:
    before = counts(crm)
    name_ok = _text_rule(value.strip(), 200, required=True)
    r = cli("customer", "add", "--json", "--phone", value[:64], "--", value)
    if not name_ok or "\x00" in value:
        assert r.exit_code == 1, r
        assert "name" in r.stderr or "phone" in r.stderr
        assert r.stdout == ""
        assert counts(crm) == before
    else:
        assert r.exit_code == 0, r
        cid = r.json["id"]
        assert (r.json["name"], r.json["phone"]) == (value.strip(), value[:64].strip())
        shown = cli("customer", "show", str(cid), "--json").json["customer"]
        assert (shown["name"], shown["phone"]) == (value.strip(), value[:64].strip())
    r = cli("activity", "add", str(base), "--kind", "note", "--subject", value[:500],
            "--body", value, "--json")
    if "\x00" in value or not value.strip():
        assert r.exit_code == 1, r
        assert "subject" in r.stderr or "body" in r.stderr
    else:
        assert r.exit_code == 0, r
        listed = {a["id"]: a for a in cli("activity", "list", "--json").json}
        assert (listed[r.json["id"]]["subject"], listed[r.json["id"]]["body"]) == (
            value[:500], value)
    r = cli("doc", "add", str(base), "--kind", "quote", "--number", value[:100],
            "--amount", "1", "--json")
    if "\x00" in value or not value.strip():
        assert r.exit_code == 1, r
        assert "number" in r.stderr
    else:
        assert r.exit_code == 0, r
        shown = cli("doc", "show", str(r.json["id"]), "--json").json
        assert (shown["number"], shown["amount"]) == (value[:100].strip(), "1.00")


# --- money ------------------------------------------------------------------------

MONEY = [
    # (input, exact Decimal or None when it must be refused)
    ("1,234.50", Decimal("1234.50")),   # thousands separators are grouping only
    ("¥1234", Decimal("1234.00")),
    ("￥88.8", Decimal("88.80")),
    ("  7 ", Decimal("7.00")),
    ("-0", Decimal("0.00")),            # -0 is 0, never "-0.00"
    ("0.10", Decimal("0.10")),
    ("999999999999.99", Decimal("999999999999.99")),  # the largest amount
    (Decimal("12.3"), Decimal("12.30")),
    (Decimal("1E+3"), Decimal("1000.00")),   # a Decimal is exact whatever its exponent
    (12, Decimal("12.00")),
    ("1e3", None), ("NaN", None), ("nan", None), ("Infinity", None), ("-Infinity", None),
    ("0.005", None), ("12.345", None), ("1.2.3", None), ("0x10", None), ("", None),
    ("1,23", None), ("12,34.5", None), ("1000000000000", None), ("1" * 40, None),
    ("-5", None),   # negative document amounts are refused
    ("¥", None), ("abc", None), ("1 2 3 4 5 . 6 7 8", None),
    (Decimal("NaN"), None), (Decimal("0.001"), None), (Decimal("1e20"), None),
    (0.1, None),    # a float is refused: it may already be inexact
    (True, None),
]


def test_money_strings_are_exact_or_refused(crm):
    cid = crm.customers.add(name="Money Ltd").id
    for i, (value, expected) in enumerate(MONEY):
        before = counts(crm)
        if expected is None:
            with pytest.raises(ValidationError) as info:
                crm.documents.add(cid, kind="quote", number=f"M{i}", amount=value)
            assert "amount" in str(info.value), (value, str(info.value))
            assert counts(crm) == before, value
            continue
        d = crm.documents.add(cid, kind="quote", number=f"M{i}", amount=value)
        got = crm.documents.get(d.id)
        assert got.amount == expected and str(got.amount) == str(expected), (value, got.amount)
        assert crmkit.to_dict(got)["amount"] == str(expected)


CLI_MONEY = ("1,234.50", "¥1234", "-0", "1e3", "NaN", "0.005", "0x10", "1" * 40)


def test_money_on_the_command_line_is_exact_or_exit_1(crm, cli):
    cid = crm.customers.add(name="Money CLI").id
    for i, (value, expected) in enumerate(MONEY):
        if value not in CLI_MONEY:
            continue  # the CLI only sees strings; a sample keeps the test fast
        before = counts(crm)
        r = cli("doc", "add", str(cid), "--kind", "quote", "--number", f"C{i}",
                "--amount", value, "--json")
        if expected is None:
            assert r.exit_code == 1, (value, r)
            assert r.stderr.startswith("Error: ") and "amount" in r.stderr, r
            assert counts(crm) == before
        else:
            assert r.exit_code == 0, (value, r)
            assert r.json["amount"] == str(expected)
            assert cli("doc", "show", str(r.json["id"]), "--json").json["amount"] == str(
                expected)


@SETTINGS
@given(mantissa=st.integers(min_value=0, max_value=10**16), places=st.integers(0, 4),
       style=st.sampled_from(["plain", "grouped", "yen", "decimal"]))
def _decimal_rule(crm: Any, cid: int, mantissa: int, places: int, style: str) -> None:
    value = Decimal(mantissa).scaleb(-places)        # exactly `places` digits after '.'
    text = f"{value:.{places}f}"
    if style == "grouped":
        text = f"{value:,.{places}f}"
    elif style == "yen":
        text = "¥" + text
    raw: Any = value if style == "decimal" else text
    # the rule: exact when no digit beyond the cents is non-zero and it fits
    exact = value == value.quantize(Decimal("0.01")) and value <= Decimal("999999999999.99")
    number = f"H{next(_n)}"
    before = counts(crm)
    if not exact:
        with pytest.raises(ValidationError, match=re.escape("amount")):
            crm.documents.add(cid, kind="quote", number=number, amount=raw)
        assert counts(crm) == before
        return
    d = crm.documents.add(cid, kind="quote", number=number, amount=raw)
    assert crm.documents.get(d.id).amount == value
    assert crmkit.to_dict(d)["amount"] == f"{value:.2f}"


def test_decimals_with_up_to_two_places_are_exact_others_refused(crm):
    cid = crm.customers.add(name="Hypothesis money").id
    _decimal_rule(crm, cid)
