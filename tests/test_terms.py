"""Payment terms (issue 12): ``--term DAYS:PERCENT`` / ``--term DATE:AMOUNT`` on invoices,
stored in ``document_terms``, shown by ``doc show``, aged per installment by receivables
(aging, ``receivables open``, one dunning reminder per installment and level) and read
from a CSV ``terms`` column. Today (the fixtures' default) is Sunday 2026-11-22."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from crmkit_receivables import api
from sqlalchemy import func, select

from crmkit import ValidationError

D = dt.date(2026, 11, 22)
TABLES = ("documents", "document_lines", "document_terms", "audit", "outbox")


def day(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


def snapshot(crm):
    with crm.engine.connect() as conn:
        counts = {t: conn.execute(select(func.count()).select_from(crm.table(t))).scalar()
                  for t in TABLES}
    return counts, crm.changes()


@pytest.fixture
def rcv(crm_factory):
    return crm_factory(enable=("receivables",))


def test_percent_terms_round_half_up_and_the_last_takes_the_remainder(crm):
    cid = crm.customers.add(name="Acme").id
    d = crm.documents.add(cid, kind="invoice", number="T-1", amount="1000.01",
                          issued_on=day("2026-08-01"), terms=["30:30", "60:50", "90:20"])
    # 1000.01 x 30% = 300.003 -> 300.00; x 50% = 500.005 -> 500.01;
    # last = 1000.01 - 300.00 - 500.01 = 200.00; due 08-01 + 30/60/90 days
    assert [(t.no, t.due_on, t.amount) for t in d.terms] == [
        (1, day("2026-08-31"), Decimal("300.00")), (2, day("2026-09-30"), Decimal("500.01")),
        (3, day("2026-10-30"), Decimal("200.00"))]
    assert d.due_on == day("2026-10-30")  # the last installment's
    assert crm.documents.get(d.id).terms == d.terms


def test_date_amount_terms_and_a_usd_invoice_with_base_amounts(crm):
    cid = crm.customers.add(name="Acme").id
    d = crm.documents.add(cid, kind="invoice", number="T-2", amount="1000.00",
                          currency="USD", rate="7.1", issued_on=day("2026-11-01"),
                          terms="2026-12-31:600;2027-01-31:400")
    assert [(t.due_on, t.amount) for t in d.terms] == [
        (day("2026-12-31"), Decimal("600.00")), (day("2027-01-31"), Decimal("400.00"))]
    t = crm.table("document_terms")
    with crm.engine.connect() as conn:
        bases = conn.execute(select(t.c.base_amount).order_by(t.c.no)).scalars().all()
    # 600 x 7.1 = 4260.00; the last: 7100.00 - 4260.00 = 2840.00
    assert bases == [Decimal("4260.00"), Decimal("2840.00")]


def test_doc_show_prints_the_terms_and_json_has_them(crm, cli):
    cid = crm.customers.add(name="Acme").id
    r = cli("doc", "add", cid, "--kind", "invoice", "--number", "T-1", "--amount", "10000",
            "--issued", "2026-08-01", "--term", "30:30", "--term", "60:50", "--term",
            "90:20", "--json")
    assert r.exit_code == 0, r
    assert r.json["terms"] == [{"no": 1, "due_on": "2026-08-31", "amount": "3000.00"},
                               {"no": 2, "due_on": "2026-09-30", "amount": "5000.00"},
                               {"no": 3, "due_on": "2026-10-30", "amount": "2000.00"}]
    assert r.json["due_on"] == "2026-10-30"
    shown = cli("doc", "show", r.json["id"]).stdout
    assert "Payment terms" in shown
    assert [ln.split() for ln in shown.splitlines() if ln.strip().startswith(("1 ", "2 "))] \
        == [["1", "2026-08-31", "3,000.00"], ["2", "2026-09-30", "5,000.00"]]
    assert cli("doc", "show", r.json["id"], "--json").json["terms"] == r.json["terms"]


@pytest.mark.parametrize("args,message", [
    (["--term", "30:30", "--term", "60:60"], "term percents add up to 90, not 100"),
    (["--term", "2026-12-01:300", "--term", "2026-12-31:600"],
     "term amounts add up to 900.00, not the invoice amount 1000.00"),
    (["--term", "2026-10-31:1000"], "term '2026-10-31:1000' is due before the issue date "
                                    "2026-11-01"),
    (["--term", "30:50", "--term", "2027-01-31:500"], "terms mix DAYS:PERCENT and "
                                                      "DATE:AMOUNT"),
    (["--term", "60:50", "--term", "30:50"], "terms must be in due order"),
    (["--term", "30:100", "--due", "2026-12-01"], "give either --due or --term, not both"),
    (["--term", "30:33.5", "--term", "60:66.5"], "invalid term '30:33.5': the percent must "
                                                 "be a whole number"),
    (["--term", "soon:100"], "invalid term 'soon:100': 'soon' is neither days nor a date"),
    (["--term", "100"], "invalid term '100': no ':' between its two parts"),
    (["--term", "30:0", "--term", "60:100"], "invalid term '30:0': the percent must be"),
    # a due date past checks.DATE_MAX (9899-12-31) was stored unchecked
    (["--term", "9999-12-31:1000"], "invalid term '9999-12-31:1000': the due date is after "
                                    "9899-12-31"),
])
def test_bad_terms_exit_1_one_sentence_nothing_written(crm, cli, args, message):
    cid = crm.customers.add(name="Acme").id
    before = snapshot(crm)
    r = cli("doc", "add", cid, "--kind", "invoice", "--number", "T-9", "--amount", "1000",
            "--issued", "2026-11-01", *args)
    assert r.exit_code == 1, r
    assert r.stderr.startswith(f"Error: {message}") and r.stderr.count("\n") == 1
    assert snapshot(crm) == before


def test_terms_only_on_invoices_and_fixed_once_given(crm):
    cid = crm.customers.add(name="Acme").id
    with pytest.raises(ValidationError, match="only invoices have payment terms, not a "
                                              "payment"):
        crm.documents.add(cid, kind="payment", number="P-1", amount="10", terms=["30:100"])
    d = crm.documents.add(cid, kind="invoice", number="T-1", amount="100",
                          terms=["30:100"])
    with pytest.raises(ValidationError, match="has payment terms; its amount cannot change"):
        crm.documents.update(d.id, amount="200")
    assert crm.documents.update(d.id, status="sent").terms == d.terms


# --- worked example: 30:30 / 60:50 / 90:20 partly paid, aged per installment -----------


def _termed(rcv, cli):
    c = rcv.customers.add(name="分期客户", owner="admin")
    # T-1: 10000.00 issued 08-01; #1 3000.00 due 08-31, #2 5000.00 due 09-30,
    # #3 2000.00 due 10-30
    r = cli("doc", "add", c.id, "--kind", "invoice", "--number", "T-1", "--amount",
            "10000", "--issued", "2026-08-01", "--term", "30:30", "--term", "60:50",
            "--term", "90:20")
    assert r.exit_code == 0, r
    # 4000.00 paid on T-1: #1 3000.00 in full, then 1000.00 of #2 (due order)
    rcv.documents.add(c.id, kind="payment", number="P-1", amount="4000.00",
                      applies_to="T-1", issued_on=day("2026-09-15"))
    return c


def test_terms_partly_paid_are_aged_per_installment(rcv, cli):
    c = _termed(rcv, cli)
    # on 11-22: #2 4000.00 left, 11-22 - 09-30 = 31 + 22 = 53 days (31-60);
    #           #3 2000.00, 11-22 - 10-30 = 1 + 22 = 23 days (1-30)
    r = cli("receivables", "open", "--json")
    assert r.exit_code == 0, r
    assert r.json == [
        {"number": "T-1", "installment": 2, "installments": 3, "customer_id": c.id,
         "customer": "分期客户", "amount": "5000.00", "outstanding": "4000.00",
         "due_on": "2026-09-30", "days_overdue": 53, "bucket": "31-60"},
        {"number": "T-1", "installment": 3, "installments": 3, "customer_id": c.id,
         "customer": "分期客户", "amount": "2000.00", "outstanding": "2000.00",
         "due_on": "2026-10-30", "days_overdue": 23, "bucket": "1-30"}]
    (row,) = cli("receivables", "aging", "--json").json["rows"]
    # total 4000.00 + 2000.00 = 6000.00
    assert (row["total"], row["not_due"], row["1-30"], row["31-60"], row["61-90"]) == (
        "6000.00", "0.00", "2000.00", "4000.00", "0.00")
    # the same on the issue-date basis's per-installment path: everything 113 days old
    rcv.plugins.set("receivables", "aging_basis", "issue_date")
    row = cli("receivables", "aging", "--json").json["rows"][0]
    assert (row["total"], row["91-180"]) == ("6000.00", "6000.00")
    rcv.plugins.set("receivables", "aging_basis", "due_date")
    # on 09-10 (before the payment): #1 3000.00 10 days overdue, #2 and #3 not due
    items = api.open_items(rcv, day("2026-09-10"))
    assert [(i["installment"], i["outstanding"], i["days_overdue"]) for i in items] == [
        (1, Decimal("3000.00"), 10), (2, Decimal("5000.00"), 0), (3, Decimal("2000.00"), 0)]
    (row,) = api.aging(rcv, day("2026-09-10"))["rows"]
    assert (row["1-30"], row["not_due"]) == (Decimal("3000.00"), Decimal("7000.00"))
    # an unapplied 4500.00 on 11-01 pays FIFO: #2 4000.00, then 500.00 of #3
    rcv.documents.add(c.id, kind="payment", number="P-2", amount="4500.00",
                      issued_on=day("2026-11-01"))
    assert [(i["installment"], i["outstanding"]) for i in api.open_items(rcv, D)] == [
        (3, Decimal("1500.00"))]
    sec = cli("customer", "show", c.id, "--json").json["sections"]["receivables"]
    assert (sec["outstanding"], sec["overdue"], sec["oldest_overdue_days"]) == (
        "1500.00", "1500.00", 23)


def test_one_reminder_per_overdue_installment_exactly_once(rcv, cli):
    _termed(rcv, cli)
    r = cli("reminders", "--on", "2026-11-22", "--send", "--json")
    assert r.exit_code == 0, r
    got = [(x["key"], x["document"], x["level"], x["days_overdue"], x["amount"],
            x["due_on"], x["subject"]) for x in r.json["delivered"]
           if x["plugin"] == "receivables"]
    assert got == [
        ("receivables:overdue:T-1#2:L2", "T-1", 2, 53, "4000.00", "2026-09-30",
         "Invoice T-1 installment 2/3 is 53 days overdue"),
        ("receivables:overdue:T-1#3:L1", "T-1", 1, 23, "2000.00", "2026-10-30",
         "Invoice T-1 installment 3/3 is 23 days overdue")]
    r = cli("reminders", "--on", "2026-11-22", "--send", "--json")
    assert (r.json["delivered"], r.json["already_delivered"]) == ([], 2)
    # 11-23: 54 and 24 days, the same levels: nothing new
    r = cli("reminders", "--on", "2026-11-23", "--send", "--json")
    assert (r.json["delivered"], r.json["already_delivered"]) == ([], 2)
    # 11-30: #3 is 31 days overdue (level 2), #2 84 days (still level 2... 61-90 is 3)
    # 11-30 - 09-30 = 61 days -> 61-90, level 3; 11-30 - 10-30 = 31 -> 31-60, level 2
    r = cli("reminders", "--on", "2026-11-30", "--send", "--json")
    assert sorted(x["key"] for x in r.json["delivered"]) == [
        "receivables:overdue:T-1#2:L3", "receivables:overdue:T-1#3:L2"]


def test_an_installment_due_this_week_is_reminded_with_its_due_date(rcv):
    c = rcv.customers.add(name="Soon")
    rcv.documents.add(c.id, kind="invoice", number="S-1", amount="900", terms=[
        "2026-11-23:300", "2026-11-26:300", "2026-12-20:300"], issued_on=day("2026-11-20"))
    rs = [(r.key, r.kind, r.due_on, r.amount, r.level) for r in rcv.reminders.due(D)
          if r.plugin == "receivables"]
    # Sunday 11-22: #1 tomorrow; #2 on Thursday 11-26 is after Sunday: not this week
    assert rs == [("receivables:due_tomorrow:S-1#1:2026-11-23", "due_tomorrow",
                   day("2026-11-23"), Decimal("300.00"), None)]


def test_csv_import_reads_a_terms_and_a_rate_column(rcv, cli, tmp_path):
    rcv.plugins.enable("csv")
    c = rcv.customers.add(name="Acme", external_id="A1")
    f = tmp_path / "docs.csv"
    f.write_text("customer_external_id,kind,number,amount,issued_on,terms,currency,rate\n"
                 "A1,invoice,T-1,1000,2026-08-01,30:30;60:50;90:20,,\n"
                 "A1,invoice,U-1,100,2026-08-01,,USD,7.1\n"
                 "A1,invoice,T-2,1000,2026-08-01,30:30;60:60,,\n"
                 "A1,invoice,U-2,100,2026-08-01,,USD,\n", encoding="utf-8")
    r = cli("import", "documents", str(f))
    assert r.exit_code == 1 and "line 4, column 'terms', value '30:30;60:60': term " \
        "percents add up to 90" in r.stderr
    r = cli("import", "documents", str(f), "--skip-invalid")
    assert r.exit_code == 0, r
    docs = {d.number: d for d in rcv.documents.list(customer_id=c.id)}
    assert set(docs) == {"T-1", "U-1"}
    t1 = rcv.documents.get(docs["T-1"].id)
    assert [(t.due_on, t.amount) for t in t1.terms] == [
        (day("2026-08-31"), Decimal("300.00")), (day("2026-09-30"), Decimal("500.00")),
        (day("2026-10-30"), Decimal("200.00"))]
    assert (docs["U-1"].rate, docs["U-1"].base_amount) == (Decimal("7.1"), Decimal("710.00"))
    rejected = (tmp_path / "docs.rejected.csv").read_text(encoding="utf-8")
    assert "term percents add up to 90" in rejected and "needs a rate" in rejected
    # export writes the terms back as DATE:AMOUNT, which import reads
    out = tmp_path / "out.csv"
    assert cli("export", "documents", str(out)).exit_code == 0
    text = out.read_text(encoding="utf-8-sig")
    assert "2026-08-31:300.00;2026-09-30:500.00;2026-10-30:200.00" in text


def test_days_past_the_last_date_are_one_error_not_an_overflow():
    """9899-01-01 + 99999 days is past date.max: it raised OverflowError."""
    from crmkit.terms import parse_terms

    with pytest.raises(ValidationError, match="invalid term '99999:100': the due date is "
                                              "after 9899-12-31"):
        parse_terms("99999:100", amount=Decimal("10.00"), base=Decimal("10.00"),
                    rate=Decimal(1), issued_on=dt.date(9899, 1, 1))
