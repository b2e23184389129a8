"""Currencies and exchange rates (issue 12, DESIGN "Money, terms, time and language"):
ISO 4217 codes only, ``--rate`` outside the base currency, ``rate`` and ``base_amount``
in JSON, and every money figure in base amounts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crmkit import ValidationError
from crmkit.money import Rate, base_amount, currencies, document_rate, parse_currency, parse_rate

TABLES = ("tenants", "users", "customers", "documents", "document_lines", "document_terms",
          "audit")


def snapshot(crm):
    """Row counts of every table ``doc add`` / ``tenant add`` could touch, and the feed."""
    with crm.engine.connect() as conn:
        counts = {t: conn.execute(select(func.count()).select_from(crm.table(t))).scalar()
                  for t in TABLES}
    return counts, crm.changes()


# --- the value types ---------------------------------------------------------------


def test_currencies_come_from_babel_and_are_iso_codes():
    from babel.numbers import list_currencies

    codes = currencies()
    assert {"CNY", "USD", "EUR", "JPY", "HKD"} <= codes
    assert codes <= set(list_currencies())
    assert all(len(c) == 3 and c.isupper() for c in codes)


@pytest.mark.parametrize("bad", ["RMB", "rmb", "usd", "dollars", "ABCD", "", "US", None, 7])
def test_unknown_or_lower_case_currency_is_refused_never_upper_cased(bad):
    with pytest.raises(ValidationError) as e:
        parse_currency(bad)
    msg = str(e.value)
    assert msg.startswith(f"unknown currency '{bad if bad is not None else 'None'}'")
    assert "ISO 4217" in msg and "\n" not in msg


@pytest.mark.parametrize("text,rate", [("7.1", "7.1"), ("7.100000", "7.1"), ("1", "1"),
                                       ("0.138", "0.138"), ("0.000001", "0.000001"),
                                       ("100", "100")])
def test_rate_parses_exactly_and_prints_without_trailing_zeros(text, rate):
    r = parse_rate(text)
    assert isinstance(r, Rate) and str(r) == rate and f"{r}" == rate
    assert r == Decimal(text)


@pytest.mark.parametrize("bad", ["0", "-7.1", "7.1234567", "abc", "1e3", 7.1, "", "NaN"])
def test_bad_rate_is_one_sentence_naming_it(bad):
    with pytest.raises(ValidationError) as e:
        parse_rate(bad)
    assert f"'{bad}'" in str(e.value) and "\n" not in str(e.value)


def test_base_amount_rounds_half_up_to_cents():
    # 100.05 x 7.1 = 710.355 -> 710.36 (half up); 0.01 x 0.5 = 0.005 -> 0.01
    assert base_amount(Decimal("100.05"), Decimal("7.1")) == Decimal("710.36")
    assert base_amount(Decimal("0.01"), Decimal("0.5")) == Decimal("0.01")
    assert base_amount(Decimal("1234.50"), Rate(1)) == Decimal("1234.50")


def test_rate_rules_for_base_and_foreign_currency():
    assert document_rate("CNY", "CNY", None) == 1
    assert document_rate("CNY", "CNY", "1.000") == 1
    assert document_rate("USD", "CNY", "7.1") == Decimal("7.1")
    with pytest.raises(ValidationError, match=r"^a document in USD needs a rate"):
        document_rate("USD", "CNY", None)
    with pytest.raises(ValidationError, match=r"^rate '7.1' given for a document in the "
                                              r"base currency CNY"):
        document_rate("CNY", "CNY", "7.1")


# --- tenants and documents ---------------------------------------------------------


def test_tenant_add_refuses_unknown_currency_and_writes_nothing(crm, cli):
    before = snapshot(crm)
    for bad in ("RMB", "rmb", "dollars"):
        r = cli("tenant", "add", "shop", "--currency", bad)
        assert r.exit_code == 1, r
        assert r.stderr.strip() == (f"Error: unknown currency '{bad}'; expected an ISO 4217 "
                                    "code in capitals, such as CNY, USD or EUR")
    assert snapshot(crm) == before
    r = cli("tenant", "add", "shop", "--currency", "USD", "--json")
    assert r.exit_code == 0 and r.json["currency"] == "USD"


@pytest.mark.parametrize("args,message", [
    (["--currency", "dollars"], "unknown currency 'dollars'"),
    (["--currency", "usd", "--rate", "7.1"], "unknown currency 'usd'"),
    (["--currency", "RMB"], "unknown currency 'RMB'"),
    (["--currency", "USD"], "a document in USD needs a rate (--rate R: units of CNY for "
                            "one USD, such as 7.1)"),
    (["--currency", "USD", "--rate", "0"], "invalid rate '0'; a rate must be positive"),
    (["--currency", "USD", "--rate", "-7"], "invalid rate '-7'; a rate must be positive"),
    (["--currency", "USD", "--rate", "7.1234567"], "invalid rate '7.1234567'; expected a "
                                                   "positive number with at most 6 decimals"),
    (["--rate", "7.1"], "rate '7.1' given for a document in the base currency CNY"),
    (["--currency", "CNY", "--rate", "2"], "rate '2' given for a document in the base "
                                           "currency CNY"),
])
def test_doc_add_bad_currency_or_rate_exits_1_and_writes_nothing(crm, cli, args, message):
    cid = crm.customers.add(name="Acme").id
    before = snapshot(crm)
    r = cli("doc", "add", cid, "--kind", "invoice", "--number", "INV-1", "--amount", "1000",
            *args)
    assert r.exit_code == 1, r
    assert r.stderr.startswith(f"Error: {message}") and r.stderr.count("\n") == 1
    assert snapshot(crm) == before


def test_usd_invoice_has_rate_and_base_amount_in_json_and_show(crm, cli):
    cid = crm.customers.add(name="Acme").id
    r = cli("doc", "add", cid, "--kind", "invoice", "--number", "US-1", "--amount",
            "1000.05", "--currency", "USD", "--rate", "7.1", "--json")
    assert r.exit_code == 0, r
    # 1000.05 x 7.1 = 7100.355 -> 7100.36
    assert (r.json["currency"], r.json["rate"], r.json["base_amount"]) == (
        "USD", "7.1", "7100.36")
    cny = cli("doc", "add", cid, "--kind", "invoice", "--number", "CN-1", "--amount", "5",
              "--json").json
    assert (cny["currency"], cny["rate"], cny["base_amount"]) == ("CNY", "1", "5.00")
    shown = cli("doc", "show", r.json["id"]).stdout
    assert "1,000.05 USD, at 7.1 = 7,100.36 CNY" in shown
    assert "at " not in cli("doc", "show", cny["id"]).stdout.split("CNY")[1].split(",")[0]
    # the change feed records both
    after = crm.changes()[-1]["after"]
    assert (after["rate"], after["base_amount"]) == ("1", "5.00")


def test_update_recomputes_base_amount_and_checks_the_rate(crm):
    cid = crm.customers.add(name="Acme").id
    d = crm.documents.add(cid, kind="invoice", number="US-1", amount="100", currency="USD",
                          rate="7")
    assert d.base_amount == Decimal("700.00")
    d = crm.documents.update(d.id, amount="200")  # keeps its rate: 200 x 7
    assert (d.rate, d.base_amount) == (Decimal(7), Decimal("1400.00"))
    d = crm.documents.update(d.id, rate="6.5")  # 200 x 6.5
    assert d.base_amount == Decimal("1300.00")
    with pytest.raises(ValidationError, match="needs a rate"):
        crm.documents.update(d.id, currency="EUR")
    d = crm.documents.update(d.id, currency="CNY", rate="1")
    assert (d.currency, d.rate, d.base_amount) == ("CNY", 1, Decimal("200.00"))
    with pytest.raises(ValidationError, match="unknown currency 'eur'"):
        crm.documents.update(d.id, currency="eur")


def test_a_credit_note_larger_than_its_invoice_compares_base_amounts(crm):
    cid = crm.customers.add(name="Acme").id
    crm.documents.add(cid, kind="invoice", number="US-1", amount="100", currency="USD",
                      rate="7.1", issued_on=dt.date(2026, 11, 1))
    # 710.00 CNY may be credited in CNY: 700 is less than the invoice's 710.00
    crm.documents.add(cid, kind="credit_note", number="CN-1", amount="700",
                      applies_to="US-1", issued_on=dt.date(2026, 11, 2))
    with pytest.raises(ValidationError, match="larger than invoice"):
        crm.documents.add(cid, kind="credit_note", number="CN-2", amount="711",
                          applies_to="US-1", issued_on=dt.date(2026, 11, 2))


# --- worked example: a USD invoice at 7.1 paid in CNY, aged in CNY --------------------


def test_usd_invoice_at_rate_7_1_paid_in_cny_is_aged_in_cny(crm_factory, cli):
    from crmkit_receivables import api

    crm = crm_factory(enable=("receivables",))
    d = dt.date(2026, 11, 22)
    cid = crm.customers.add(name="Pacific Trading").id
    # US-1: 1000.00 USD at 7.1 = 7100.00 CNY, due 2026-10-01
    crm.documents.add(cid, kind="invoice", number="US-1", amount="1000.00", currency="USD",
                      rate="7.1", issued_on=dt.date(2026, 9, 1), due_on=dt.date(2026, 10, 1))
    # CN-1: 500.00 CNY, due 2026-11-30 (not due on 11-22)
    crm.documents.add(cid, kind="invoice", number="CN-1", amount="500.00",
                      issued_on=dt.date(2026, 11, 1), due_on=dt.date(2026, 11, 30))
    # PAY-1: 3000.00 CNY applied to US-1
    crm.documents.add(cid, kind="payment", number="PAY-1", amount="3000.00",
                      applies_to="US-1", issued_on=dt.date(2026, 10, 15))
    # PAY-2: 100.00 USD at 7.2 = 720.00 CNY, unapplied: FIFO pays US-1 (oldest due)
    crm.documents.add(cid, kind="payment", number="PAY-2", amount="100.00", currency="USD",
                      rate="7.2", issued_on=dt.date(2026, 11, 2))
    # US-1: 7100.00 - 3000.00 - 720.00 = 3380.00; 11-22 - 10-01 = 30 + 22 = 52 days: 31-60
    # CN-1: 500.00 not due; total 3380.00 + 500.00 = 3880.00
    items = api.open_items(crm, d)
    assert [(i["number"], i["amount"], i["outstanding"], i["days_overdue"], i["bucket"])
            for i in items] == [
        ("US-1", Decimal("7100.00"), Decimal("3380.00"), 52, "31-60"),
        ("CN-1", Decimal("500.00"), Decimal("500.00"), 0, "not_due")]
    report = cli("receivables", "aging", "--json").json
    (row,) = report["rows"]
    assert (row["total"], row["not_due"], row["31-60"], row["1-30"], row["credit"]) == (
        "3880.00", "500.00", "3380.00", "0.00", "0.00")
    assert report["totals"]["total"] == "3880.00"
    # the issue-date basis ages the same base amounts: US-1 82 days (61-90), CN-1 21
    crm.plugins.set("receivables", "aging_basis", "issue_date")
    row = cli("receivables", "aging", "--json").json["rows"][0]
    assert (row["total"], row["61-90"], row["1-30"]) == ("3880.00", "3380.00", "500.00")
    crm.plugins.set("receivables", "aging_basis", "due_date")
    # reminders and the 360° section speak CNY too
    (rem,) = [r for r in crm.reminders.due(d) if r.document == "US-1"]
    assert (rem.amount, rem.days_overdue, rem.level) == (Decimal("3380.00"), 52, 2)
    sec = cli("customer", "show", cid, "--json").json["sections"]["receivables"]
    assert (sec["outstanding"], sec["overdue"]) == ("3880.00", "3380.00")
    # PAY-3: 466.22 USD at 7.25 = 3380.095 -> 3380.10 CNY, applied to US-1
    crm.documents.add(cid, kind="payment", number="PAY-3", amount="466.22", currency="USD",
                      rate="7.25", applies_to="US-1", issued_on=dt.date(2026, 11, 20))
    row = cli("receivables", "aging", "--json").json["rows"][0]
    # direct on US-1: 3000.00 + 3380.10 = 6380.10, residual 7100.00 - 6380.10 = 719.90;
    # pool = 3000.00 + 720.00 + 3380.10 - 6380.10 = 720.00 pays US-1's 719.90, and its
    # 0.10 left pays CN-1: 500.00 - 0.10 = 499.90, all not due
    assert (row["total"], row["not_due"], row["31-60"]) == ("499.90", "499.90", "0.00")


# --- every plugin adds base amounts ---------------------------------------------------


def _usd_and_cny(crm, cid, *, kind="invoice", day=dt.date(2026, 11, 10)):
    # 100.00 USD at 7.1 = 710.00 CNY, and 290.00 CNY: 1000.00 CNY in all
    crm.documents.add(cid, kind=kind, number="U-1", amount="100.00", currency="USD",
                      rate="7.1", issued_on=day, lines=["Pump:2:50"])
    crm.documents.add(cid, kind=kind, number="C-1", amount="290.00", issued_on=day,
                      lines=["Pump:1:290"])


def test_grading_monetary_and_abc_use_base_amounts(crm_factory, cli):
    crm = crm_factory(enable=("grading",))
    a, b = crm.customers.add(name="A").id, crm.customers.add(name="B").id
    _usd_and_cny(crm, a)  # A: 1000.00 CNY
    crm.documents.add(b, kind="invoice", number="B-1", amount="900.00",
                      issued_on=dt.date(2026, 11, 10))  # B: 900.00 CNY
    # a credit note of 20.00 USD at 7.0 = 140.00 CNY on U-1: A nets 860.00 < B's 900.00
    crm.documents.add(a, kind="credit_note", number="CN-1", amount="20.00", currency="USD",
                      rate="7", applies_to="U-1", issued_on=dt.date(2026, 11, 12))
    rows = cli("grading", "show", "--json").json
    assert [(r["customer_id"], r["monetary"], r["abc"]) for r in rows][:2] == [
        (b, "900.00", rows[0]["abc"]), (a, "860.00", rows[1]["abc"])]
    assert rows[0]["abc"] == "A"  # the larger base monetary is first in the ABC order


def test_sales_products_and_team_expenses_are_in_base_currency(crm_factory, cli):
    crm = crm_factory(enable=("sales",))
    cid = crm.customers.add(name="A", owner="admin").id
    _usd_and_cny(crm, cid, kind="order")
    r = cli("sales", "products", "--from", "2026-11-01", "--json")
    assert r.exit_code == 0, r
    (p,) = r.json
    # Pump: 2 x 50.00 USD x 7.1 = 710.00 + 1 x 290.00 = 1000.00 CNY over 3: 333.33;
    # prices 50 x 7.1 = 355.00 and 290.00
    assert (p["quantity"], p["revenue"], p["avg_price"], p["min_price"], p["max_price"]) \
        == ("3", "1000.00", "333.33", "290.00", "355.00")
    # expenses: 10.00 USD at 7.1 = 71.00 + 29.00 CNY = 100.00
    crm.documents.add(cid, kind="expense", number="E-1", amount="10.00", currency="USD",
                      rate="7.1", issued_on=dt.date(2026, 11, 11))
    crm.documents.add(cid, kind="expense", number="E-2", amount="29.00",
                      issued_on=dt.date(2026, 11, 11))
    (row,) = [x for x in cli("sales", "team", "--from", "2026-11-01", "--json").json
              if x["owner"] == "admin"]
    assert row["expenses"] == "100.00"


def test_email_dunning_total_is_the_base_outstanding(crm_factory):
    from crmkit_email import mailer

    crm = crm_factory(enable=("receivables", "email"))
    c = crm.customers.add(name="Pacific", email="ap@pacific.example", owner="admin")
    crm.documents.add(c.id, kind="invoice", number="U-1", amount="100.00", currency="USD",
                      rate="7.1", issued_on=dt.date(2026, 9, 1), due_on=dt.date(2026, 10, 1))
    crm.documents.add(c.id, kind="invoice", number="C-1", amount="290.00",
                      issued_on=dt.date(2026, 9, 1), due_on=dt.date(2026, 10, 1))
    import attrs

    with crm.unit(write=False) as ctx:
        settings = attrs.evolve(ctx.settings("email"), dun_customers=True, language="en",
                                fallback_email="boss@example.cn")
        msgs = mailer.compose(ctx, crm.reminders.due(dt.date(2026, 11, 22)), settings)
    (dun,) = [m for m in msgs if "ap@pacific.example" in m["To"]]
    body = dun.get_content()
    # 710.00 + 290.00 = 1,000.00 CNY: the reminders carry base amounts
    assert "710.00 CNY" in body and "Total: 1,000.00 CNY" in body


def test_a_payment_larger_than_what_the_invoice_owes_is_kept_and_said_on_stderr(crm, cli):
    cid = crm.customers.add(name="Acme").id
    cli("doc", "add", cid, "--kind", "invoice", "--number", "INV-1", "--amount", "1000")
    r = cli("doc", "add", cid, "--kind", "payment", "--number", "P-1", "--amount", "600",
            "--applies-to", "INV-1")
    assert r.exit_code == 0 and r.stderr == ""
    # 600 + 500 = 1100 applied to 1000.00: 100.00 too much, kept (exit 0, stdout the id)
    r = cli("doc", "add", cid, "--kind", "payment", "--number", "P-2", "--amount", "500",
            "--applies-to", "INV-1")
    assert r.exit_code == 0 and r.stdout.strip().isdigit()
    assert r.stderr == ("payment P-2 is 100.00 more than invoice INV-1 still owed; the "
                        "excess joins the customer's unapplied payments\n")
    # in USD at 7: 20.00 USD = 140.00 CNY, all of it beyond the (paid) invoice
    r = cli("doc", "add", cid, "--kind", "payment", "--number", "P-3", "--amount", "20",
            "--currency", "USD", "--rate", "7", "--applies-to", "INV-1", "--json")
    assert r.exit_code == 0 and r.json["base_amount"] == "140.00"
    assert "P-3 is 140.00 more than invoice INV-1" in r.stderr
    assert len(crm.documents.list(kind="payment")) == 3
