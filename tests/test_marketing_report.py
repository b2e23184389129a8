"""Worked examples for ``campaign report``, with the arithmetic written out.

Today is 2026-11-22. ``attribution_days`` is set to 90, so a customer's revenue counts
from its lead date L to L + 89 days. The three campaigns are added on 2026-01-05, so
leads may be dated from that day on.
"""

import datetime as dt
from decimal import Decimal

import crmkit_marketing as mkt
import pytest
from crmkit_sales import service as sales

D = dt.date
NOV22 = D(2026, 11, 22)


def on(crm, day, user=None):
    """The same CRM acting on another day (and user)."""
    return crm.using(today=day, user=user)


@pytest.fixture
def shop(crm_factory):
    """Three campaigns with costs, leads and documents; see the module docstring."""
    crm = crm_factory(enable=("marketing", "sales"))
    crm.users.add("li", role="sales")
    crm.plugins.set("marketing", "attribution_days", 90)
    jan5 = on(crm, D(2026, 1, 5))
    c1 = mkt.add(jan5, "广交会 Canton Fair", channel="exhibition", start=D(2026, 1, 10),
                 budget="40000")
    c2 = mkt.add(jan5, "WeChat push", channel="wechat", start=D(2026, 2, 1))
    c3 = mkt.add(jan5, "Win-back 2026", channel="email", start=D(2026, 6, 1))
    mkt.add_cost(crm, c1.id, "30000.00", on=D(2026, 1, 10), note="booth")
    mkt.add_cost(crm, c1.id, "5000.00", on=D(2026, 1, 12))
    mkt.add_cost(crm, c1.id, "2500.00", on=D(2026, 12, 1))  # after 11-22
    mkt.add_cost(crm, c2.id, "8000.00", on=D(2026, 2, 1))
    mkt.add_cost(crm, c3.id, "1200.00", on=D(2026, 6, 1))

    cu = {n: crm.customers.add(name=n, owner=o) for n, o in
          (("A", "li"), ("B", "li"), ("C", "admin"), ("D", "admin"), ("E", "admin"),
           ("F", "admin"))}
    for name, camp, day in (("A", c1, D(2026, 1, 15)),
                            ("B", c2, D(2026, 2, 5)), ("B", c1, D(2026, 2, 20)),
                            ("C", c1, D(2026, 3, 1)), ("C", c2, D(2026, 3, 1)),
                            ("D", c2, D(2026, 2, 10)),
                            ("E", c1, D(2026, 11, 25)),
                            ("F", c2, D(2026, 2, 15))):
        mkt.add_lead(crm, camp.id, cu[name].id, on=day)

    def doc(name, kind, number, amount, day, **kw):
        return crm.documents.add(cu[name].id, kind=kind, number=number, amount=amount,
                                 issued_on=day, **kw)

    doc("A", "invoice", "INV-A1", "10000.00", D(2026, 2, 1))
    doc("A", "credit_note", "CN-A1", "1500.00", D(2026, 2, 10), applies_to="INV-A1")
    doc("A", "invoice", "INV-A2", "2000.00", D(2026, 4, 14))   # last day of A's window
    doc("A", "invoice", "INV-A3", "3000.00", D(2026, 4, 15))   # one day after it
    doc("B", "invoice", "INV-B0", "900.00", D(2026, 1, 20))    # before B's lead
    doc("B", "invoice", "INV-B1", "6000.00", D(2026, 3, 1))
    doc("C", "order", "ORD-C1", "4000.00", D(2026, 3, 10))     # converts, is no revenue
    void = doc("F", "invoice", "INV-F1", "5000.00", D(2026, 2, 20))
    crm.documents.set_status(void.id, "void")
    doc("F", "invoice", "INV-F2", "2500.00", D(2026, 3, 1))
    doc("F", "credit_note", "CN-F2", "500.00", D(2026, 11, 30), applies_to="INV-F2")

    o = sales.add(on(crm, D(2026, 2, 10)), cu["B"].id, title="ERP", amount="20000.00",
                  close="2026-03-31")
    sales.move(crm, o.id, "won", on=D(2026, 3, 1))
    sales.add(on(crm, D(2026, 1, 20)), cu["B"].id, title="early", amount="1.00",
              close="2026-12-31")                                # before B's lead date
    sales.add(on(crm, D(2026, 2, 1)), cu["A"].id, title="A1", amount="7000.00",
              close="2026-12-31")
    o = sales.add(on(crm, D(2026, 3, 5)), cu["C"].id, title="C1", amount="3000.00",
                  close="2026-12-31")
    sales.move(crm, o.id, "lost", on=D(2026, 4, 1))
    sales.add(on(crm, D(2026, 11, 25)), cu["D"].id, title="late", amount="1.00",
              close="2026-12-31")                                # after 11-22

    # win-back: five lost customers targeted on 06-01; one active customer is not
    lost = [crm.customers.add(name=f"L{i}", status="lost").id for i in range(1, 6)]
    crm.customers.add(name="N", status="active")
    crm.documents.add(lost[4], kind="invoice", number="INV-L5", amount="300.00",
                      issued_on=D(2025, 3, 1))                   # before the target
    r = mkt.target(crm, c3.id, status="lost", on=D(2026, 6, 1))
    assert (r["added"], r["already_targeted"]) == (5, 0)
    crm.documents.add(lost[0], kind="invoice", number="INV-L1", amount="800.00",
                      issued_on=D(2026, 7, 1))                   # came back
    crm.documents.add(lost[1], kind="order", number="ORD-L2", amount="1500.00",
                      issued_on=D(2026, 8, 15))                  # came back (an order)
    crm.documents.add(lost[2], kind="invoice", number="INV-L3", amount="100.00",
                      issued_on=D(2026, 6, 1))                   # on the target day: no
    crm.documents.add(lost[3], kind="invoice", number="INV-L4", amount="100.00",
                      issued_on=D(2026, 12, 1))                  # after 11-22
    return crm, (c1, c2, c3), cu, lost


def test_report_worked_example_as_of_today(shop, cli):
    crm, (c1, c2, c3), _, _ = shop
    r = cli("campaign", "report", "--json")
    assert r.exit_code == 0, r
    # c1 cost: 30000.00 + 5000.00 = 35000.00 (the 2500.00 of 12-01 is after 11-22)
    # c1 leads: A, B, C (E's lead is dated 11-25) = 3
    # sources: A -> c1 (01-15); B -> c2 (02-05 before its c1 lead of 02-20);
    #   C -> c1 (c1 and c2 both on 03-01: the lowest campaign id); D, F -> c2
    # c1 customers A, C = 2; converted: A (INV-A1), C (ORD-C1, an order) = 2
    # c1 revenue, A's window 01-15 .. 04-14: 10000.00 - 1500.00 (CN-A1) + 2000.00
    #   (04-14) = 10500.00; INV-A3 of 04-15 is outside; C has no invoice
    # cost per lead 35000 / 3 = 11666.666.. -> 11666.67; per customer 35000 / 2
    # roi (10500 - 35000) / 35000 = -0.7
    # c1 opportunities: A1 (02-01 >= 01-15, open) and C1 (03-05 >= 03-01, lost) = 2, won 0
    # c2 cost 8000.00; leads B, C, D, F = 4; customers B, D, F = 3; converted B (INV-B1),
    #   F (INV-F2) = 2 (D has nothing; F's INV-F1 is void)
    # c2 revenue: B 6000.00 (INV-B0 of 01-20 is before B's lead) + F 2500.00 (CN-F2 is
    #   dated 11-30, after 11-22) = 8500.00; per lead 8000 / 4 = 2000.00; per customer
    #   8000 / 2 = 4000.00; roi (8500 - 8000) / 8000 = 0.0625
    # c2 opportunities: B's ERP (02-10 >= 02-05), won on 03-01 for 20000.00; B's "early"
    #   (01-20) is before the lead; D's (11-25) after 11-22 -> 1, won 1
    # c3: cost 1200.00, no leads: per lead and customer null, roi (0 - 1200) / 1200 = -1
    # c3 targets L1..L5 = 5; returned L1 (invoice 07-01) and L2 (order 08-15) = 2; L3's
    #   invoice is on the target day, L4's after 11-22, L5's before -> 2 / 5 = 0.4
    assert r.json == [
        {"campaign_id": c1.id, "name": "广交会 Canton Fair", "channel": "exhibition",
         "cost": "35000.00", "leads": 3, "customers": 2, "converted": 2,
         "revenue": "10500.00", "cost_per_lead": "11666.67", "cost_per_customer": "17500.00",
         "roi": -0.7, "opportunities": 2, "won": 0, "won_amount": "0.00",
         "targets": 0, "returned": 0, "return_rate": None},
        {"campaign_id": c2.id, "name": "WeChat push", "channel": "wechat",
         "cost": "8000.00", "leads": 4, "customers": 3, "converted": 2,
         "revenue": "8500.00", "cost_per_lead": "2000.00", "cost_per_customer": "4000.00",
         "roi": 0.0625, "opportunities": 1, "won": 1, "won_amount": "20000.00",
         "targets": 0, "returned": 0, "return_rate": None},
        {"campaign_id": c3.id, "name": "Win-back 2026", "channel": "email",
         "cost": "1200.00", "leads": 0, "customers": 0, "converted": 0,
         "revenue": "0.00", "cost_per_lead": None, "cost_per_customer": None,
         "roi": -1.0, "opportunities": 0, "won": 0, "won_amount": "0.00",
         "targets": 5, "returned": 2, "return_rate": 0.4},
    ]


def test_report_as_of_a_later_and_an_earlier_date(shop, cli):
    crm, (c1, c2, c3), _, _ = shop
    r = cli("campaign", "report", "--as-of", "2026-12-31", "--json")
    assert r.exit_code == 0, r
    got = {x["campaign_id"]: x for x in r.json}
    # c1: cost 35000.00 + 2500.00 = 37500.00; E's lead (11-25) now counts: leads 4,
    #   customers A, C, E = 3, converted still 2; revenue 10500.00 (nothing new in A's
    #   window); per lead 37500 / 4 = 9375.00, per customer 37500 / 2 = 18750.00;
    #   roi (10500 - 37500) / 37500 = -0.72
    assert {k: got[c1.id][k] for k in ("cost", "leads", "customers", "converted", "revenue",
                                        "cost_per_lead", "cost_per_customer", "roi")} == {
        "cost": "37500.00", "leads": 4, "customers": 3, "converted": 2,
        "revenue": "10500.00", "cost_per_lead": "9375.00", "cost_per_customer": "18750.00",
        "roi": -0.72}
    # c2: CN-F2 (11-30) now reduces INV-F2: 6000 + (2500 - 500) = 8000.00, roi 0;
    #   D's opportunity of 11-25 counts: 2 opportunities, 1 won
    assert (got[c2.id]["revenue"], got[c2.id]["roi"], got[c2.id]["opportunities"],
            got[c2.id]["won"]) == ("8000.00", 0.0, 2, 1)
    # c3: L4's invoice of 12-01 is after its target date: 3 of 5 came back
    assert (got[c3.id]["targets"], got[c3.id]["returned"], got[c3.id]["return_rate"]) == (
        5, 3, 0.6)

    r = cli("campaign", "report", "--as-of", "2026-02-15", "--json")
    got = {x["campaign_id"]: x for x in r.json}
    # as of 02-15: c1 costs 35000.00, lead A only (B's c1 lead is 02-20): leads 1,
    #   customers 1, converted (INV-A1 02-01) 1; revenue 10000 - 1500 = 8500.00
    # c2: leads B (02-05), D (02-10), F (02-15) = 3; converted 0 (INV-B1 is 03-01);
    #   revenue 0.00; ERP (opened 02-10) is not yet won: 1 opportunity, 0 won
    # c3: nothing targeted yet
    assert [(x["leads"], x["customers"], x["converted"], x["revenue"], x["targets"])
            for x in r.json] == [(1, 1, 1, "8500.00", 0), (3, 3, 0, "0.00", 0),
                                 (0, 0, 0, "0.00", 0)]
    assert (got[c2.id]["opportunities"], got[c2.id]["won"],
            got[c2.id]["won_amount"]) == (1, 0, "0.00")


def test_sales_user_sees_own_customers_and_no_costs(shop, cli):
    crm, (c1, c2, c3), _, _ = shop
    r = cli("campaign", "report", "--json", user="li")
    assert r.exit_code == 0, r
    # li owns A and B only. c1: leads A, B = 2; customers A = 1, converted 1, revenue
    #   10500.00; A's open opportunity 1, won 0. c2: lead B = 1, customer B, revenue
    #   6000.00, ERP won for 20000.00. c3: the lost customers are admin's: no targets.
    # Costs, cost per lead/customer and roi are null for a sales user.
    money = ("cost", "cost_per_lead", "cost_per_customer", "roi")
    assert all(x[k] is None for x in r.json for k in money)
    assert [(x["leads"], x["customers"], x["converted"], x["revenue"], x["opportunities"],
             x["won"], x["won_amount"], x["targets"], x["return_rate"]) for x in r.json] == [
        (2, 1, 1, "10500.00", 1, 0, "0.00", 0, None),
        (1, 1, 1, "6000.00", 1, 1, "20000.00", 0, None),
        (0, 0, 0, "0.00", 0, 0, "0.00", 0, None)]
    # a manager sees the costs
    crm.users.add("wang", role="manager")
    assert cli("campaign", "report", "--json", user="wang").json[0]["cost"] == "35000.00"


def test_without_sales_the_opportunity_figures_are_null(crm_factory, cli):
    crm = crm_factory(enable=("marketing",))
    c = mkt.add(crm, "Mailing", channel="email")
    x = crm.customers.add(name="X")
    mkt.add_lead(crm, c.id, x.id)
    crm.documents.add(x.id, kind="invoice", number="I1", amount="120.00", issued_on=NOV22)
    [row] = cli("campaign", "report", "--json").json
    # default attribution 365 days: the invoice of the lead day counts; no cost recorded:
    # cost 0.00, per lead 0 / 1 = 0.00, roi null (cost 0)
    assert (row["cost"], row["revenue"], row["cost_per_lead"], row["roi"]) == (
        "0.00", "120.00", "0.00", None)
    assert (row["opportunities"], row["won"], row["won_amount"]) == (None, None, None)


def test_attribution_days_setting_moves_the_window(crm_factory):
    crm = crm_factory(enable=("marketing",))
    c = mkt.add(on(crm, D(2026, 1, 1)), "Fair", channel="exhibition")
    x = crm.customers.add(name="X")
    mkt.add_lead(crm, c.id, x.id, on=D(2026, 1, 1))
    crm.documents.add(x.id, kind="invoice", number="I1", amount="100.00",
                      issued_on=D(2026, 1, 30))
    crm.documents.add(x.id, kind="invoice", number="I2", amount="10.00",
                      issued_on=D(2026, 1, 31))

    def revenue():
        return mkt.report(crm)[0][0]["revenue"]

    # default 365 days: both invoices; 30 days: 01-01 .. 01-30 -> only I1
    assert revenue() == Decimal("110.00")
    crm.plugins.set("marketing", "attribution_days", 30)
    assert revenue() == Decimal("100.00")
    crm.plugins.set("marketing", "attribution_days", 1)
    assert revenue() == Decimal("0.00")


def test_report_pages_with_limit_and_offset(crm_factory, cli):
    crm = crm_factory(enable=("marketing",))
    ids = [mkt.add(crm, f"C{i}", channel="online").id for i in range(5)]
    assert [x["campaign_id"] for x in cli("campaign", "report", "--json").json] == ids
    r = cli("campaign", "report", "--json", "--limit", "2", "--offset", "1")
    assert [x["campaign_id"] for x in r.json] == ids[1:3]
    r = cli("campaign", "report", "--limit", "2")
    assert r.exit_code == 0 and "3 more" in r.stdout
    r = cli("campaign", "list", "--json", "--offset", "4")
    assert [x["id"] for x in r.json] == ids[4:]


def test_usd_invoice_counts_in_base_currency(crm_factory, cli):
    crm = crm_factory(enable=("marketing",))
    c = mkt.add(crm, "Expo", channel="exhibition")
    x = crm.customers.add(name="X")
    mkt.add_lead(crm, c.id, x.id)
    mkt.add_cost(crm, c.id, "1000.00")
    crm.documents.add(x.id, kind="invoice", number="USD-1", amount="1000.00",
                      currency="USD", rate="7.1", issued_on=NOV22)
    crm.documents.add(x.id, kind="invoice", number="CNY-1", amount="500.00",
                      issued_on=NOV22)
    [row] = cli("campaign", "report", "--json").json
    # base amounts: 1000.00 USD x 7.1 = 7100.00 CNY, + 500.00 CNY = 7600.00;
    # roi (7600 - 1000) / 1000 = 6.6
    assert (row["revenue"], row["roi"]) == ("7600.00", 6.6)


def test_a_credit_note_never_reduces_another_customers_revenue(crm_factory, cli):
    """Issue 20.12's rule for marketing too: a credit note reduces the invoice of that
    number of its own customer; one re-used by another customer is not it."""
    crm = crm_factory(enable=("marketing",))
    c = mkt.add(on(crm, D(2026, 9, 1)), "Expo", channel="exhibition")
    a, b = crm.customers.add(name="甲"), crm.customers.add(name="乙")
    mkt.add_lead(crm, c.id, a.id, on=D(2026, 10, 1))
    mkt.add_lead(crm, c.id, b.id, on=D(2026, 10, 1))
    inv = crm.documents.add(a.id, kind="invoice", number="INV-7", amount="1000.00",
                            issued_on=D(2026, 10, 2))
    crm.documents.add(a.id, kind="credit_note", number="CN-1", amount="400.00",
                      issued_on=D(2026, 10, 5), applies_to="INV-7")
    [row] = cli("campaign", "report", "--json").json
    assert row["revenue"] == "600.00"  # 1000.00 - 400.00
    # A's invoice renumbered, its number re-used by B's invoice of 500.00
    crm.documents.update(inv.id, number="INV-7A")
    crm.documents.add(b.id, kind="invoice", number="INV-7", amount="500.00",
                      issued_on=D(2026, 10, 10))
    [row] = cli("campaign", "report", "--json").json
    # 1000.00 (A) + 500.00 (B); before: A's credit moved to B's INV-7, 1100.00
    assert row["revenue"] == "1500.00"
