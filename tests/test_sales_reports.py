"""Worked examples for the sales reports and reminders, with the arithmetic written out.

Today is 2026-11-22 (a Sunday). Default stages: lead 10, qualified 30, proposal 60,
negotiation 80, won 100, lost 0.
"""

import datetime as dt

import pytest
from crmkit_sales import reports, service

D = dt.date


@pytest.fixture
def sales(crm_factory):
    crm = crm_factory(enable=("sales",))
    crm.users.add("li", role="sales")
    crm.users.add("wang", role="sales")
    return crm


def on(crm, day, user=None):
    """The same CRM acting on another day (and user)."""
    return crm.using(today=day, user=user)


def test_forecast_by_month_and_owner(sales, cli):
    a = sales.customers.add(name="A", owner="li")
    b = sales.customers.add(name="B", owner="wang")
    nov1 = on(sales, D(2026, 11, 1))
    service.add(nov1, a.id, title="1", amount="1000.00", close="2026-12-10")
    service.add(nov1, a.id, title="2", amount="2500.50", close="2026-12-20", stage="proposal")
    service.add(nov1, b.id, title="3", amount="333.33", close="2027-01-15",
                stage="negotiation")
    o4 = service.add(nov1, b.id, title="4", amount="4000.00", close="2026-12-05",
                     stage="qualified")
    o5 = service.add(nov1, a.id, title="5", amount="700.00", close="2026-11-30")
    service.move(sales, o4.id, "won", on=D(2026, 11, 15))   # won in 2026-11, not 2026-12
    service.move(sales, o5.id, "lost", on=D(2026, 11, 20))  # lost: nowhere in the forecast
    r = cli("sales", "forecast", "--json")
    assert r.exit_code == 0, r
    # 2026-11: nothing open; won 4000.00 (opportunity 4, moved to won on 11-15)
    # 2026-12: 1 and 2 open: best 1000 + 2500.50 = 3500.50;
    #          weighted 1000 × 10% = 100.00 + 2500.50 × 60% = 1500.30 -> 1600.30
    # 2027-01: 3: best 333.33; weighted 333.33 × 80% = 266.664 -> 266.66
    assert r.json == [
        {"period": "2026-11", "count": 0, "best_case": "0.00", "weighted": "0.00",
         "won": "4000.00"},
        {"period": "2026-12", "count": 2, "best_case": "3500.50", "weighted": "1600.30",
         "won": "0.00"},
        {"period": "2027-01", "count": 1, "best_case": "333.33", "weighted": "266.66",
         "won": "0.00"},
    ]
    # by owner (the customers' owners own the opportunities): li has 1 and 2 open;
    # wang has 3 open and won 4 (4000.00)
    assert cli("sales", "forecast", "--by", "owner", "--json").json == [
        {"period": "li", "count": 2, "best_case": "3500.50", "weighted": "1600.30",
         "won": "0.00"},
        {"period": "wang", "count": 1, "best_case": "333.33", "weighted": "266.66",
         "won": "4000.00"},
    ]


def test_prospect_classes(sales, cli):
    c = {n: sales.customers.add(name=n, owner="li") for n in
         ("C1", "C2", "C3", "C4", "C5", "C6", "C7")}
    sales.customers.update(c["C4"].id, status="active")
    # window for A: 2026-11-22 .. 2026-11-22 + 30 = 2026-12-22 inclusive, probability >= 60
    service.add(sales, c["C1"].id, title="a", amount="1", close="2026-12-22",
                stage="proposal")                                   # qualifies (last day)
    b1 = service.add(sales, c["C1"].id, title="b", amount="1", close="2026-12-01",
                     stage="negotiation")                           # qualifies, closes first
    service.add(sales, c["C2"].id, title="c", amount="1", close="2026-12-23",
                stage="negotiation")                                # one day too late
    c2 = service.add(sales, c["C2"].id, title="d", amount="1", close="2026-12-01")  # 10%
    lost = service.add(sales, c["C5"].id, title="e", amount="1", close="2026-12-01")
    service.move(sales, lost.id, "lost")                            # C5: no open one
    c6 = service.add(sales, c["C6"].id, title="f", amount="1", close="2026-11-22",
                     stage="proposal")                              # today: inside
    c7 = service.add(on(sales, D(2026, 11, 1)), c["C7"].id, title="g", amount="1",
                     close="2026-11-10", stage="qualified")         # overdue, 30%
    r = cli("sales", "prospects", "--json")
    assert r.exit_code == 0, r
    got = [(x["customer"], x["class"], x["opportunity_id"], x["expected_close"],
            x["probability"], x["owner"]) for x in r.json]
    assert got == [
        ("C6", "A", c6.id, "2026-11-22", 60, "li"),
        ("C1", "A", b1.id, "2026-12-01", 80, "li"),
        ("C7", "B", c7.id, "2026-11-10", 30, "li"),
        ("C2", "B", c2.id, "2026-12-01", 10, "li"),
        ("C3", "C", None, None, None, "li"),
        ("C5", "C", None, None, None, "li"),
    ]  # C4 is active without an open opportunity: no row


def test_stale_and_next_step_reminders(sales):
    x = sales.customers.add(name="X", owner="li")
    opp = service.add(on(sales, D(2026, 11, 1)), x.id, title="T", amount="50.00",
                      close="2026-12-31", next_step="2026-11-25")  # note logged on 11-01
    sales.activities.add(x.id, kind="call", subject="c", occurred_at="2026-11-05T10:00")
    sales.activities.add(x.id, kind="call", subject="c", occurred_at="2026-11-20T09:00")

    def due(day):
        return [(r.kind, r.key, r.owner, r.due_on, r.days_overdue)
                for r in sales.reminders.due(day) if r.plugin == "sales"]

    # as of 11-18: last activity 11-05, 18 - 5 = 13 days < 14 -> nothing
    assert due(D(2026, 11, 18)) == []
    # as of 11-19: 19 - 5 = 14 days -> stale; the 11-20 call is after the date
    assert due(D(2026, 11, 19)) == [
        ("stale_opportunity", f"sales:stale_opportunity:{opp.id}:2026-11-05", "li",
         D(2026, 11, 19), None)]
    # as of 11-24: last activity 11-20 (4 days) and the next step (11-25) not yet due
    assert due(D(2026, 11, 24)) == []
    # as of 11-27: next step 11-25 is 2 days late
    assert due(D(2026, 11, 27)) == [
        ("next_step_due", f"sales:next_step_due:{opp.id}:2026-11-25", "li", D(2026, 11, 25),
         2)]
    # as of 12-04: 4 Dec - 20 Nov = 14 days -> stale again, with a new key (the core
    # sorts by due date: next step 11-25, stale since 11-20 + 14 = 12-04)
    assert [k for _, k, *_ in due(D(2026, 12, 4))] == [
        f"sales:next_step_due:{opp.id}:2026-11-25",
        f"sales:stale_opportunity:{opp.id}:2026-11-20"]
    # a new next step gives a new key; the move itself is an activity (not stale)
    service.move(on(sales, D(2026, 12, 4)), opp.id, "qualified", next_step="2026-12-10")
    assert due(D(2026, 12, 4)) == []
    assert [k for _, k, *_ in due(D(2026, 12, 10))] == [
        f"sales:next_step_due:{opp.id}:2026-12-10"]
    service.move(on(sales, D(2026, 12, 4)), opp.id, "lost")
    assert due(D(2027, 3, 1)) == []  # closed: no reminders


def test_new_opportunity_is_not_stale(sales):
    x = sales.customers.add(name="Y", owner="li")
    service.add(sales, x.id, title="T", amount="1", close="2026-12-31")
    assert [r for r in sales.reminders.due(D(2026, 11, 22)) if r.plugin == "sales"] == []


def _funnel_data(sales):
    c = sales.customers.add(name="F", owner="li")
    oct15, nov2 = on(sales, D(2026, 10, 15)), on(sales, D(2026, 11, 2))
    o6 = service.add(oct15, c.id, title="o6", amount="600", close="2026-12-31")
    service.move(sales, o6.id, "qualified", on=D(2026, 10, 20))   # before the period
    o = [service.add(nov2, c.id, title=f"o{i}", amount=f"{i}00", close="2026-12-31")
         for i in range(1, 6)]                                    # o1..o5 enter lead 11-02
    mv = [(o[0], "qualified", 5), (o[0], "proposal", 10), (o[0], "won", 20),
          (o[1], "qualified", 6), (o[1], "lost", 12),
          (o[2], "lost", 7),
          (o[4], "proposal", 8),                                  # skips qualified
          (o6, "proposal", 9)]
    for opp, stage, day in mv:
        service.move(sales, opp.id, stage, on=D(2026, 11, day))


def test_funnel_conversion(sales, cli):
    _funnel_data(sales)
    r = cli("sales", "funnel", "--from", "2026-11-01", "--to", "2026-11-30", "--json")
    assert r.exit_code == 0, r
    f = r.json
    assert (f["from"], f["to"]) == ("2026-11-01", "2026-11-30")
    # now: lead o4 (400); proposal o5 + o6 = 500 + 600; won o1 (100); lost o2 + o3 = 500
    assert [(s["stage"], s["count"], s["amount"]) for s in f["stages"]] == [
        ("lead", 1, "400.00"), ("qualified", 0, "0.00"), ("proposal", 2, "1100.00"),
        ("negotiation", 0, "0.00"), ("won", 1, "100.00"), ("lost", 2, "500.00")]
    # lead: entered o1..o5 = 5; advanced o1, o2 (qualified), o5 (proposal) = 3 (o2 was
    #       lost later but had advanced); lost without advancing: o3 = 1; 3 / 5 = 0.6
    # qualified: entered o1, o2 = 2 (o6 entered on 10-20, before the period);
    #       advanced o1 = 1; lost o2 = 1; 1 / 2 = 0.5
    # proposal: entered o1, o5, o6 = 3; advanced o1 (won) = 1; 1 / 3 = 0.3333
    # negotiation: nobody entered: rate null
    assert f["conversions"] == [
        {"stage": "lead", "next": "qualified", "entered": 5, "advanced": 3, "lost": 1,
         "rate": 0.6},
        {"stage": "qualified", "next": "proposal", "entered": 2, "advanced": 1, "lost": 1,
         "rate": 0.5},
        {"stage": "proposal", "next": "negotiation", "entered": 3, "advanced": 1, "lost": 0,
         "rate": 0.3333},
        {"stage": "negotiation", "next": "won", "entered": 0, "advanced": 0, "lost": 0,
         "rate": None},
    ]
    # period ending 11-09: only moves up to 11-09 count.
    # lead: entered 5; advanced o1 (11-05), o2 (11-06), o5 (11-08) = 3; lost o3 (11-07) = 1
    # qualified: entered o1, o2; o1 reached proposal on 11-10 and o2 lost on 11-12: 0 / 2
    f = reports.funnel(sales, D(2026, 11, 1), D(2026, 11, 9))
    assert [(x["stage"], x["entered"], x["advanced"], x["lost"], x["rate"])
            for x in f["conversions"]] == [
        ("lead", 5, 3, 1, 0.6), ("qualified", 2, 0, 0, 0.0), ("proposal", 2, 0, 0, 0.0),
        ("negotiation", 0, 0, 0, None)]


def test_funnel_bad_period(sales, cli):
    r = cli("sales", "funnel", "--from", "2026-11-30", "--to", "2026-11-01")
    assert r.exit_code == 1 and "--from 2026-11-30 is after --to 2026-11-01" in r.stderr


def test_team_figures(sales, cli):
    L1 = on(sales, D(2026, 10, 1)).customers.add(name="L1", owner="li")
    L2 = on(sales, D(2026, 11, 3)).customers.add(name="L2", owner="li")
    W1 = on(sales, D(2026, 11, 4)).customers.add(name="W1", owner="wang")
    li3, wang4 = on(sales, D(2026, 11, 3), "li"), on(sales, D(2026, 11, 4), "wang")
    la = service.add(li3, L1.id, title="la", amount="10000", close="2026-12-31")
    lb = service.add(li3, L2.id, title="lb", amount="5000", close="2026-12-31")
    lc = service.add(li3, L1.id, title="lc", amount="3000", close="2026-12-31")
    wa = service.add(wang4, W1.id, title="wa", amount="8000", close="2026-12-31")
    wb = service.add(wang4, W1.id, title="wb", amount="1000", close="2026-12-31")
    wc = service.add(wang4, W1.id, title="wc", amount="2000", close="2026-12-31")
    li, wang = sales.using(user="li"), sales.using(user="wang")
    for who, opp, stage, day in [(li, la, "won", 10), (li, lb, "won", 13), (li, lc, "lost", 15),
                                 (wang, wa, "won", 24), (wang, wb, "lost", 5),
                                 (wang, wc, "lost", 6)]:
        service.move(who, opp.id, stage, on=D(2026, 11, day))
    for at in ("2026-11-05T10:00", "2026-11-06T10:00", "2026-10-30T10:00"):
        li.activities.add(L1.id, kind="call", subject="c", occurred_at=at)
    li.activities.add(L2.id, kind="visit", subject="v", occurred_at="2026-11-07T10:00")
    wang.activities.add(W1.id, kind="meeting", subject="m", occurred_at="2026-11-08T10:00")
    for cust, num, amt, day, status in [(L1, "E1", "600", 5, "open"), (L2, "E2", "300", 20, "open"),
                                        (W1, "E3", "1600", 7, "open"),
                                        (W1, "E4", "500", 8, "void")]:
        sales.documents.add(cust.id, kind="expense", number=num, amount=amt,
                            issued_on=D(2026, 11, day), status=status)
    sales.documents.add(W1.id, kind="expense", number="E5", amount="999",
                        issued_on=D(2026, 10, 31))
    r = cli("sales", "team", "--from", "2026-11-01", "--to", "2026-11-30", "--json")
    assert r.exit_code == 0, r
    # li: notes = 3 opened (11-03) + 3 moves = 6; calls 11-05, 11-06 (10-30 is outside);
    #     visit 1. New customers: L2 (L1 was created 10-01). Won la + lb = 15000.00, lost lc:
    #     win rate 2 / 3 = 0.6667. First wins: L1 10-01 -> 11-10 = 40 days, L2 11-03 ->
    #     11-13 = 10 days: (40 + 10) / 2 = 25.0. Expenses 600 + 300 = 900.00;
    #     ratio 900 / 15000 = 0.06.
    # wang: notes 3 + 3 = 6, meeting 1; new W1; won wa 8000.00, lost wb, wc: 1 / 3 = 0.3333;
    #     W1 11-04 -> 11-24 = 20 days. Expenses 1600 (E4 void, E5 in October); 1600 / 8000
    #     = 0.2.
    # team ratio 2500 / 23000 = 0.1087; × (1 + 50%) = 0.1630: wang (0.2) flagged, li not.
    assert r.json == [
        {"owner": "li", "activities": {"call": 2, "note": 6, "visit": 1},
         "new_customers": 1, "won": 2, "lost": 1, "won_amount": "15000.00",
         "win_rate": 0.6667, "avg_days_to_first_win": 25.0, "expenses": "900.00",
         "expense_ratio": 0.06, "flagged": False},
        {"owner": "wang", "activities": {"meeting": 1, "note": 6}, "new_customers": 1,
         "won": 1, "lost": 2, "won_amount": "8000.00", "win_rate": 0.3333,
         "avg_days_to_first_win": 20.0, "expenses": "1600.00", "expense_ratio": 0.2,
         "flagged": True},
    ]
    # a salesperson sees their own row only
    assert [x["owner"] for x in cli("sales", "team", "--from", "2026-11-01", "--to",
                                    "2026-11-30", "--json", user="li").json] == ["li"]


def test_products(sales, cli):
    c1 = sales.customers.add(name="P1", owner="li")
    c2 = sales.customers.add(name="P2", owner="wang")
    docs = [(c1, "order", "SO-1", 2, "open",
             ["Widget:2:100.00", "Gadget:1.5:40.00", "Bolt:0.333:0.10"]),
            (c2, "invoice", "INV-1", 10, "open", ["Widget:3:90.00"]),
            (c2, "invoice", "INV-2", 12, "void", ["Widget:100:1.00"]),    # void: out
            (c1, "quote", "Q-1", 3, "open", ["Widget:50:10.00"])]         # quote: out
    for cust, kind, num, day, status, lines in docs:
        sales.documents.add(cust.id, kind=kind, number=num, lines=lines, status=status,
                            issued_on=D(2026, 11, day))
    sales.documents.add(c1.id, kind="invoice", number="INV-0", lines=["Gadget:1:50"],
                        issued_on=D(2026, 10, 31))                          # before: out
    r = cli("sales", "products", "--from", "2026-11-01", "--to", "2026-11-30", "--json")
    assert r.exit_code == 0, r
    # Widget: 2 + 3 = 5; 2 × 100 + 3 × 90 = 470.00; customers P1, P2; 470 / 5 = 94.00
    # Gadget: 1.5 × 40 = 60.00; avg 60 / 1.5 = 40.00
    # Bolt: 0.333 × 0.10 = 0.0333 -> 0.03; avg 0.0333 / 0.333 = 0.10
    assert r.json == [
        {"product": "Widget", "quantity": "5", "revenue": "470.00", "customers": 2,
         "avg_price": "94.00", "min_price": "90.00", "max_price": "100.00"},
        {"product": "Gadget", "quantity": "1.5", "revenue": "60.00", "customers": 1,
         "avg_price": "40.00", "min_price": "40.00", "max_price": "40.00"},
        {"product": "Bolt", "quantity": "0.333", "revenue": "0.03", "customers": 1,
         "avg_price": "0.10", "min_price": "0.10", "max_price": "0.10"},
    ]
    # default period: 2026-11-01 .. today (2026-11-22): the same documents
    assert cli("sales", "products", "--json").json == r.json
