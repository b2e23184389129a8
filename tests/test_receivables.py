"""receivables: outstanding with FIFO allocation, aging buckets, settings, risk, section.

Every expected figure is worked out by hand in the comments. Today (the fixtures'
default) is Sunday 2026-11-22.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from crmkit_receivables import api

import crmkit

D = dt.date(2026, 11, 22)


def day(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


def inv(crm, cid, number, amount, issued, due=None, status="open"):
    return crm.documents.add(cid, kind="invoice", number=number, amount=amount,
                             issued_on=day(issued), due_on=day(due) if due else None,
                             status=status)


def pay(crm, cid, number, amount, on, applies_to=None, kind="payment"):
    return crm.documents.add(cid, kind=kind, number=number, amount=amount, issued_on=day(on),
                             applies_to=applies_to)


def outstanding(crm, as_of=D, customer_id=None):
    return {i["number"]: i["outstanding"] for i in api.open_items(crm, as_of, customer_id)}


@pytest.fixture
def rcv(crm_factory):
    return crm_factory(enable=("receivables",))


def test_partial_payment_and_payment_after_as_of(rcv):
    c = rcv.customers.add(name="Partial Ltd")
    inv(rcv, c.id, "I-1", "1000.00", "2026-10-01", "2026-10-31")
    pay(rcv, c.id, "P-1", "300.00", "2026-11-01", applies_to="I-1")
    pay(rcv, c.id, "P-2", "200.00", "2026-11-23", applies_to="I-1")  # after D: ignored
    # 1000 - 300 = 700; due 10-31 -> 22 days overdue -> bucket 1-30
    items = api.open_items(rcv, D)
    assert items == [{"number": "I-1", "installment": 1, "installments": 1,
                      "customer_id": c.id, "customer": "Partial Ltd",
                      "amount": Decimal("1000.00"), "outstanding": Decimal("700.00"),
                      "due_on": day("2026-10-31"), "days_overdue": 22, "bucket": "1-30"}]
    # on 11-23 the second payment counts: 700 - 200 = 500, 23 days overdue
    assert outstanding(rcv, day("2026-11-23")) == {"I-1": Decimal("500.00")}
    # before the first payment (10-31): the whole 1000, due that day -> not overdue
    [i] = api.open_items(rcv, day("2026-10-31"))
    assert (i["outstanding"], i["days_overdue"], i["bucket"]) == (Decimal("1000.00"), 0,
                                                                   "not_due")


def test_fifo_across_three_invoices_by_due_date_then_number(rcv):
    c = rcv.customers.add(name="FIFO GmbH")
    # INV-9 has no due date: its issue date 09-01 is its due date -> oldest
    inv(rcv, c.id, "INV-9", "100.00", "2026-09-01")
    inv(rcv, c.id, "INV-2", "300.00", "2026-09-01", "2026-10-01")
    inv(rcv, c.id, "INV-1", "200.00", "2026-09-01", "2026-10-01")
    inv(rcv, c.id, "INV-0", "999.00", "2026-11-23", "2026-11-30")  # issued after D
    pay(rcv, c.id, "P-1", "350.00", "2026-11-10")  # unapplied
    pay(rcv, c.id, "P-2", "1000.00", "2026-11-25")  # after D
    # FIFO order: INV-9 (due 09-01), INV-1 (10-01, "INV-1" < "INV-2"), INV-2 (10-01)
    # pool 350: INV-9 takes 100 (250 left), INV-1 takes 200 (50 left),
    # INV-2 takes the last 50: 300 - 50 = 250
    assert outstanding(rcv) == {"INV-2": Decimal("250.00")}
    # a smaller pool: 150 -> INV-9 100, INV-1 50 -> INV-1 150 left, INV-2 300 left
    pay_doc = rcv.documents.by_number("payment", "P-1")
    rcv.documents.update(pay_doc.id, amount="150.00")
    assert outstanding(rcv) == {"INV-1": Decimal("150.00"), "INV-2": Decimal("300.00")}
    # on 11-25: invoices 100+300+200+999 = 1599, payments 150+1000 = 1150 -> 449 owed,
    # FIFO: INV-9, INV-1, INV-2 paid (600), 550 left for INV-0 (999) -> 449
    assert outstanding(rcv, day("2026-11-25")) == {"INV-0": Decimal("449.00")}


def test_void_invoice_and_credit_notes(rcv):
    c = rcv.customers.add(name="Void & Credit")
    inv(rcv, c.id, "V-1", "500.00", "2026-10-01", "2026-10-15", status="void")
    pay(rcv, c.id, "P-V", "100.00", "2026-10-05", applies_to="V-1")  # its invoice is void
    inv(rcv, c.id, "W-1", "300.00", "2026-10-10", "2026-11-10")
    inv(rcv, c.id, "C-1", "1000.00", "2026-10-10", "2026-11-20")
    pay(rcv, c.id, "CN-1", "250.00", "2026-11-01", applies_to="C-1", kind="credit_note")
    inv(rcv, c.id, "X-1", "100.00", "2026-10-01", "2026-10-31")
    pay(rcv, c.id, "P-X", "150.00", "2026-11-02", applies_to="X-1")  # 50 too much
    # V-1 void: not counted; its 100 payment joins the pool.
    # 100 - 100 = 0, excess 50 joins the pool -> pool 150.
    # residuals in FIFO order: W-1 300 (due 11-10), C-1 1000 - 250 = 750 (due 11-20)
    # W-1: 300 - 150 = 150; C-1: 750
    assert outstanding(rcv) == {"W-1": Decimal("150.00"), "C-1": Decimal("750.00")}
    # total = counted invoices - payments and credit notes = 300+1000+100 - (100+250+150)
    report = api.aging(rcv, D)
    assert report["rows"][0]["total"] == Decimal("900.00")
    # W-1 12 days overdue -> 1-30; C-1 2 days -> 1-30
    assert report["rows"][0]["1-30"] == Decimal("900.00")


def test_overpayment_leaves_a_credit(rcv):
    a = rcv.customers.add(name="Overpayer")
    b = rcv.customers.add(name="Debtor")
    inv(rcv, a.id, "A-1", "100.00", "2026-11-01", "2026-12-01")
    pay(rcv, a.id, "PA-1", "250.00", "2026-11-02")
    pay(rcv, a.id, "PA-2", "40.00", "2026-11-03", applies_to="A-1")
    inv(rcv, b.id, "B-1", "80.00", "2026-11-01", "2026-12-01")
    # A: 100 - (250 + 40) = -190 -> credit, nothing outstanding; B: 80 not due
    assert outstanding(rcv) == {"B-1": Decimal("80.00")}
    report = api.aging(rcv, D)
    z = Decimal("0.00")
    assert [(r["customer"], r["total"], r["not_due"], r["credit"]) for r in report["rows"]] == [
        ("Debtor", Decimal("80.00"), Decimal("80.00"), z),
        ("Overpayer", Decimal("-190.00"), z, Decimal("-190.00"))]
    assert report["totals"]["total"] == Decimal("-110.00")  # 80 - 190
    assert report["totals"]["credit"] == Decimal("-190.00")
    assert report["totals"]["not_due"] == Decimal("80.00")
    # a customer with payments and no invoice at all: a credit too
    c = rcv.customers.add(name="Prepaid")
    pay(rcv, c.id, "PC-1", "60.00", "2026-11-05")
    rows = {r["customer"]: r for r in api.aging(rcv, D)["rows"]}
    assert rows["Prepaid"]["credit"] == rows["Prepaid"]["total"] == Decimal("-60.00")


def test_paid_in_full_customer_has_no_row(rcv):
    c = rcv.customers.add(name="Settled")
    inv(rcv, c.id, "S-1", "100.00", "2026-10-01", "2026-10-31")
    pay(rcv, c.id, "PS-1", "60.00", "2026-10-20", applies_to="S-1")
    pay(rcv, c.id, "PS-2", "40.00", "2026-10-21")  # 100 - 60 - 40 = 0
    report = api.aging(rcv, D)
    zero = Decimal("0.00")
    assert report["rows"] == []
    assert report["totals"] == {"total": zero, **dict.fromkeys(report["buckets"], zero),
                                "credit": zero}


def test_default_buckets_boundaries(rcv):
    c = rcv.customers.add(name="Ages")
    # due dates giving 0, 1, 30, 31, 60, 61, 90, 91, 180, 181 days as of 11-22
    ages = [0, 1, 30, 31, 60, 61, 90, 91, 180, 181]
    for n, age in enumerate(ages):
        due = D - dt.timedelta(days=age)
        rcv.documents.add(c.id, kind="invoice", number=f"A-{age:03d}", amount=10 ** n,
                          issued_on=due - dt.timedelta(days=1), due_on=due)
    row = api.aging(rcv, D)["rows"][0]
    # not_due: 1 (age 0); 1-30: 10 + 100; 31-60: 1000 + 10000; 61-90: 1e5 + 1e6;
    # 91-180: 1e7 + 1e8; 180+: 1e9
    assert [row[b] for b in ("not_due", "1-30", "31-60", "61-90", "91-180", "180+")] == [
        Decimal("1.00"), Decimal("110.00"), Decimal("11000.00"), Decimal("1100000.00"),
        Decimal("110000000.00"), Decimal("1000000000.00")]
    assert row["total"] == Decimal("1111111111.00")


def test_custom_ranges_and_issue_date_basis(rcv):
    rcv.plugins.set("receivables", "aging_ranges", [15, 45])
    c = rcv.customers.add(name="Custom")
    for age, amount in [(10, "1"), (15, "2"), (16, "4"), (45, "8"), (46, "16")]:
        due = D - dt.timedelta(days=age)
        rcv.documents.add(c.id, kind="invoice", number=f"K-{age}", amount=amount,
                          issued_on=due - dt.timedelta(days=30), due_on=due)
    report = api.aging(rcv, D)
    assert report["buckets"] == ["not_due", "1-15", "16-45", "45+"]
    row = report["rows"][0]
    # 1-15: 1 + 2; 16-45: 4 + 8; 45+: 16
    assert [row[b] for b in report["buckets"]] == [Decimal("0.00"), Decimal("3.00"),
                                                   Decimal("12.00"), Decimal("16.00")]
    by_no = {r.document: r.level for r in rcv.reminders.due(D) if r.plugin == "receivables"}
    assert by_no == {"K-10": 1, "K-15": 1, "K-16": 2, "K-45": 2, "K-46": 3}
    # issue-date basis: every invoice was issued 30 days before its due date, so ages are
    # 40, 45, 46, 75, 76 -> 16-45: 1 + 2; 45+: 4 + 8 + 16
    rcv.plugins.set("receivables", "aging_basis", "issue_date")
    report = api.aging(rcv, D)
    assert report["basis"] == "issue_date"
    row = report["rows"][0]
    assert [row[b] for b in report["buckets"]] == [Decimal("0.00"), Decimal("0.00"),
                                                   Decimal("3.00"), Decimal("28.00")]


def test_issue_date_basis_ages_invoices_not_yet_due(rcv):
    rcv.plugins.set("receivables", "aging_basis", "issue_date")
    c = rcv.customers.add(name="Early")
    inv(rcv, c.id, "E-1", "500.00", "2026-10-23", "2026-12-22")
    # issued 30 days before 11-22 -> 1-30 on the issue-date basis, though not yet due
    [item] = api.open_items(rcv, D)
    assert (item["bucket"], item["days_overdue"]) == ("1-30", 0)


@pytest.mark.parametrize("ranges", [[30, 30], [0, 10], [60, 30], [], [1.5], "x", [True]])
def test_bad_aging_ranges_are_refused(rcv, ranges):
    with pytest.raises(crmkit.ValidationError, match="aging_ranges"):
        rcv.plugins.set("receivables", "aging_ranges", ranges)
    assert tuple(rcv.plugins.settings("receivables").aging_ranges) == (30, 60, 90, 180)


def test_crm_customers_at_risk(rcv):
    a = rcv.customers.add(name="Late 91")
    b = rcv.customers.add(name="Late 90")
    c = rcv.customers.add(name="Paid late")
    inv(rcv, a.id, "R-1", "10.00", "2026-08-01", "2026-08-23")  # 91 days before 11-22
    inv(rcv, b.id, "R-2", "10.00", "2026-08-01", "2026-08-24")  # 90 days
    inv(rcv, c.id, "R-3", "10.00", "2026-01-01", "2026-01-31")
    pay(rcv, c.id, "RP-3", "10.00", "2026-11-01")
    with rcv.unit(write=False) as ctx:
        assert ctx.hooks.crm_customers_at_risk(ctx=ctx, on=D) == [[a.id]]
        # one day later b crosses 90 days; a month earlier nobody had
        assert ctx.hooks.crm_customers_at_risk(ctx=ctx, on=day("2026-11-23")) == [
            [a.id, b.id]]
        # R-3 was 244 days overdue on 10-01, before its payment
        assert ctx.hooks.crm_customers_at_risk(ctx=ctx, on=day("2026-10-01")) == [[c.id]]


def test_crm_customer_sections(rcv):
    c = rcv.customers.add(name="Section")
    inv(rcv, c.id, "T-1", "400.00", "2026-07-01", "2026-07-31")  # 114 days overdue
    inv(rcv, c.id, "T-2", "300.00", "2026-11-01", "2026-11-12")  # 10 days
    inv(rcv, c.id, "T-3", "200.00", "2026-11-20", "2026-12-20")  # not due
    pay(rcv, c.id, "TP-1", "100.00", "2026-11-15")  # FIFO: T-1 400 -> 300
    with rcv.unit(write=False) as ctx:
        [section] = [s for s in ctx.hooks.crm_customer_sections(
            ctx=ctx, customer=rcv.customers.get(c.id), on=D) if s.plugin == "receivables"]
    assert section.title == "Receivables"
    # outstanding 300 + 300 + 200 = 800; overdue 300 + 300 = 600; oldest 114 days
    assert section.data == {
        "outstanding": "800.00", "overdue": "600.00", "oldest_overdue_days": 114,
        "credit": "0.00",
        "buckets": {"not_due": "200.00", "1-30": "300.00", "31-60": "0.00",
                    "61-90": "0.00", "91-180": "300.00", "180+": "0.00"}}
    other = rcv.customers.add(name="Nothing")
    with rcv.unit(write=False) as ctx:
        data = api.customer_summary(ctx, other.id, D)
    assert data["outstanding"] == "0.00" and data["oldest_overdue_days"] is None


def test_bucket_fifo_agrees_with_the_per_invoice_window(rcv):
    """The due-date aging takes FIFO running sums over buckets; ``open`` takes them over
    invoices. Both must give the same amounts on a mixed book."""
    import random

    rng = random.Random(7)
    custs = [rcv.customers.add(name=f"Mix {k}") for k in range(4)]
    n = 0
    for c in custs:
        for _ in range(6):
            n += 1
            issued = D - dt.timedelta(days=rng.randint(0, 260))
            due = None if rng.random() < 0.2 else issued + dt.timedelta(days=rng.choice([0, 30]))
            rcv.documents.add(c.id, kind="invoice", number=f"M-{n:03d}",
                              amount=rng.randint(1, 90) * 10, issued_on=issued, due_on=due,
                              status="void" if rng.random() < 0.1 else "open")
        for k in range(3):
            n += 1
            target = f"M-{n - 3 - k:03d}" if k < 2 else None
            rcv.documents.add(c.id, kind="payment", number=f"MP-{n:03d}",
                              amount=rng.randint(1, 120) * 10, applies_to=target,
                              issued_on=D - dt.timedelta(days=rng.randint(-3, 100)))
    report = api.aging(rcv, D)
    labels = report["buckets"]
    from_invoices: dict[int, dict[str, Decimal]] = {}
    for item in api.open_items(rcv, D):
        per = from_invoices.setdefault(item["customer_id"], dict.fromkeys(labels, Decimal(0)))
        per[item["bucket"]] += item["outstanding"]
    for row in report["rows"]:
        expected = from_invoices.get(row["customer_id"], dict.fromkeys(labels, Decimal(0)))
        assert {b: row[b] for b in labels} == expected
        assert row["total"] == sum(expected.values()) + row["credit"]
    assert {r["customer_id"] for r in report["rows"] if r["credit"] == 0} == set(from_invoices)


def test_worked_example_terms_credit_note_usd_cap_and_a_credit(rcv):
    """The due-date aging as of 11-22 by hand (bucket firsts: not_due 11-22, 1-30 10-23,
    31-60 09-23, 61-90 08-24, 91-180 05-26): each invoice's own applied payments and
    credit notes first (capped at the invoice, paying installments in due order), then
    the customer's pool, oldest bucket first."""
    a = rcv.customers.add(name="Worked Ltd", owner="admin")
    b = rcv.customers.add(name="Other Co")
    # T-1 10000.00 issued 08-01, terms: #1 3000.00 due 08-31 (61-90), #2 5000.00 due
    # 09-30 (31-60), #3 2000.00 due 10-30 (1-30); P-1 4000.00 applied: #1 in full and
    # 1000.00 of #2 -> residuals 0, 4000.00, 2000.00
    rcv.documents.add(a.id, kind="invoice", number="T-1", amount="10000.00",
                      issued_on=day("2026-08-01"), terms=["30:30", "60:50", "90:20"])
    pay(rcv, a.id, "P-1", "4000.00", "2026-09-15", applies_to="T-1")
    # U-1 1000.00 USD at 7.1 = 7100.00, due 05-01 (180+); CN-1 500.00 applied -> 6600.00;
    # Other Co's P-9 800.00 (nothing to pay) is its credit, and pays nothing of Worked's
    rcv.documents.add(a.id, kind="invoice", number="U-1", amount="1000.00", currency="USD",
                      rate="7.1", issued_on=day("2026-04-01"), due_on=day("2026-05-01"))
    pay(rcv, a.id, "CN-1", "500.00", "2026-06-01", applies_to="U-1", kind="credit_note")
    pay(rcv, b.id, "P-9", "800.00", "2026-11-02")
    # O-1 200.00, no due date: due its issue date 10-01 (31-60); P-2 250.00 applied is
    # capped at 200.00, its 50.00 more goes to the pool
    inv(rcv, a.id, "O-1", "200.00", "2026-10-01")
    pay(rcv, a.id, "P-2", "250.00", "2026-11-01", applies_to="O-1")
    # N-1 300.00 due 12-20 (not due); P-4 on 11-25 is after D; V-1 is void
    inv(rcv, a.id, "N-1", "300.00", "2026-11-20", "2026-12-20")
    pay(rcv, a.id, "P-4", "100.00", "2026-11-25", applies_to="N-1")
    inv(rcv, a.id, "V-1", "500.00", "2026-06-01", "2026-06-30", status="void")
    # P-3 1000.00 unapplied
    pay(rcv, a.id, "P-3", "1000.00", "2026-11-10")
    # pool = 4000 + 500 + 250 + 1000 - (4000 + 500 + 200) = 1050.00: pays 180+ (U-1)
    # 6600.00 - 1050.00 = 5550.00; total 5550 + 4000 + 2000 + 300 = 11850.00 (net
    # 17600.00 - 5750.00 > 0: no credit). Other Co: the 800.00 is a credit.
    m = Decimal
    zero = m("0.00")
    worked = {"customer_id": a.id, "customer": "Worked Ltd", "owner": "admin",
              "total": m("11850.00"), "not_due": m("300.00"), "1-30": m("2000.00"),
              "31-60": m("4000.00"), "61-90": zero, "91-180": zero, "180+": m("5550.00"),
              "credit": zero}
    other = {"customer_id": b.id, "customer": "Other Co", "owner": "admin",
             "total": m("-800.00"), **dict.fromkeys(
                 ["not_due", "1-30", "31-60", "61-90", "91-180", "180+"], zero),
             "credit": m("-800.00")}
    totals = {"total": m("11050.00"), "not_due": m("300.00"), "1-30": m("2000.00"),
              "31-60": m("4000.00"), "61-90": zero, "91-180": zero, "180+": m("5550.00"),
              "credit": m("-800.00")}
    report = api.aging(rcv, D)
    assert report["rows"] == [worked, other]
    assert report["totals"] == totals
    assert [str(v) for v in report["rows"][0].values()][3:] == [
        "11850.00", "300.00", "2000.00", "4000.00", "0.00", "0.00", "5550.00", "0.00"]
    # by owner: both are admin's, one row of the same sums
    by_owner = api.aging(rcv, D, by="owner")
    assert by_owner["rows"] == [{"owner": "admin", **totals}]
    assert by_owner["totals"] == totals
    # the per-installment path (receivables open) gives the same amounts
    assert [(i["number"], i["installment"], i["outstanding"], i["bucket"])
            for i in api.open_items(rcv, D)] == [
        ("U-1", 1, m("5550.00"), "180+"), ("T-1", 2, m("4000.00"), "31-60"),
        ("T-1", 3, m("2000.00"), "1-30"), ("N-1", 1, m("300.00"), "not_due")]
