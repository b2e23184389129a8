"""Worked examples for the insights plugin, with the arithmetic written out.

Today is 2026-11-22. Users: admin, li and wang (role sales). The shop sells books:

=========  ========  ==========  =============================================
customer   owner     created     value documents (lines are PRODUCT QTY × PRICE)
=========  ========  ==========  =============================================
A          li        2026-09-10  order O-A0 09-15 倚天 1×40;
                                 invoice I-A1 11-02 倚天 2×40, 笑傲 1×50 (own cost 30)
B          wang      2026-10-03  contract K-B0 10-20 500.00 (no lines);
                                 invoice I-B1 11-03 围城 3×15, 倚天 1×40
C          admin     2026-11-01  invoice I-C0 10-31 倚天 1×40; void I-C2 11-06 倚天 10×40;
                                 order O-C3 11-07 倚天 1×40; invoice I-C4 11-08 礼品卡 1×100
D          wang      2026-10-01  invoice I-D1 10-05 1000.00 (no lines)
=========  ========  ==========  =============================================

Catalogue: 倚天屠龙记 (武侠, cost 20.00), 笑傲江湖 (武侠, cost 25.00), 围城 (文学, no
cost); 礼品卡 is not in the catalogue.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import crmkit_insights as ins
import pytest

import crmkit

D = dt.date
NOV1, NOV22 = D(2026, 11, 1), D(2026, 11, 22)
YT, XA, WC, GIFT = "倚天屠龙记", "笑傲江湖", "围城", "礼品卡"


@pytest.fixture
def shop(crm_factory):
    crm = crm_factory(enable=("insights",))
    crm.users.add("li", role="sales")
    crm.users.add("wang", role="sales")
    ins.add_product(crm, YT, category="武侠", cost="20.00", price="40.00")
    ins.add_product(crm, XA, category="武侠", cost="25.00")
    ins.add_product(crm, WC, category="文学")
    cu = {}
    for name, owner, day in (("A", "li", D(2026, 9, 10)), ("B", "wang", D(2026, 10, 3)),
                             ("C", "admin", D(2026, 11, 1)), ("D", "wang", D(2026, 10, 1))):
        cu[name] = crm.using(today=day).customers.add(name=name, owner=owner)

    def doc(name, kind, number, day, *lines, **kw):
        return crm.documents.add(cu[name].id, kind=kind, number=number, issued_on=day,
                                 lines=list(lines), **kw)

    doc("A", "order", "O-A0", D(2026, 9, 15), f"{YT}:1:40")
    doc("A", "invoice", "I-A1", D(2026, 11, 2), f"{YT}:2:40", f"{XA}:1:50:30")
    doc("B", "contract", "K-B0", D(2026, 10, 20), amount="500.00")
    doc("B", "invoice", "I-B1", D(2026, 11, 3), f"{WC}:3:15", f"{YT}:1:40")
    doc("C", "invoice", "I-C0", D(2026, 10, 31), f"{YT}:1:40")
    doc("C", "invoice", "I-C2", D(2026, 11, 6), f"{YT}:10:40", status="void")
    doc("C", "order", "O-C3", D(2026, 11, 7), f"{YT}:1:40")
    doc("C", "invoice", "I-C4", D(2026, 11, 8), f"{GIFT}:1:100")
    doc("D", "invoice", "I-D1", D(2026, 10, 5), amount="1000.00")
    return crm, cu


def money(rows, *keys):
    return [tuple(str(r[k]) if isinstance(r[k], Decimal) else r[k] for k in keys)
            for r in rows]


# --- lines carry a unit cost -----------------------------------------------------------


def test_a_line_keeps_its_unit_cost_and_a_product_name_may_hold_colons(crm):
    c = crm.customers.add(name="X")
    d = crm.documents.add(c.id, kind="invoice", number="1",
                          lines=["A:B:2:10.00:4.50", "Model: X7:1:5", "P:1:2:", "M:7:1:5:"])
    assert [(ln.product, ln.quantity, ln.unit_price, ln.unit_cost) for ln in d.lines] == [
        ("A:B", 2, Decimal("10.00"), Decimal("4.50")),   # four parts: the last three numbers
        ("Model: X7", 1, Decimal("5.00"), None),        # " X7" is no number: three parts
        ("P", 1, Decimal("2.00"), None),                # an empty cost is unknown
        ("M:7", 1, Decimal("5.00"), None)]              # a name ending in a number: COST empty
    assert crmkit.to_dict(d)["lines"][:2] == [  # unit_cost in JSON only when known
        {"product": "A:B", "quantity": "2", "unit_price": "10.00", "unit_cost": "4.50"},
        {"product": "Model: X7", "quantity": "1", "unit_price": "5.00"}]
    assert crm.documents.get(d.id).lines == d.lines


def test_a_cost_that_is_not_money_is_refused_and_nothing_is_written(crm, cli):
    cli("customer", "add", "X")
    r = cli("doc", "add", "1", "--kind", "invoice", "--number", "1",
            "--line", "book:1:10.00:1.234")
    assert r.exit_code == 1
    assert "unit cost of 'book'" in r.stderr and "1.234" in r.stderr
    r = cli("doc", "add", "1", "--kind", "invoice", "--number", "1",
            "--line", "book:1:10.00:-1")
    assert r.exit_code == 1 and "unit cost of 'book' must not be negative" in r.stderr
    # a cost that is no number at all is the cost that is wrong (before: read as a
    # three-part line, "invalid unit price of 'book:1' 'abc'")
    r = cli("doc", "add", "1", "--kind", "invoice", "--number", "1",
            "--line", "book:1:10.00:abc")
    assert r.exit_code == 1
    assert "unit cost of 'book'" in r.stderr and "'abc'" in r.stderr
    assert "unit price" not in r.stderr
    assert crm.documents.count() == 0


# --- the catalogue ---------------------------------------------------------------------


def test_products_add_list_update_with_audit(crm_factory, cli):
    crm = crm_factory(enable=("insights",))
    assert cli("product", "add", YT, "--category", "武侠", "--cost", "20").exit_code == 0
    r = cli("product", "add", YT)
    assert r.exit_code == 1 and f"product '{YT}' already exists" in r.stderr
    r = cli("product", "add", "Y", "--cost", "abc")
    assert r.exit_code == 1 and "cost of 'Y'" in r.stderr and "abc" in r.stderr
    assert cli("product", "update", YT, "--price", "45.5", "--category", "").exit_code == 0
    rows = json.loads(cli("product", "list", "--json").stdout)
    assert rows == [{"id": 1, "tenant_id": 1, "name": YT, "category": None,
                     "cost": "20.00", "price": "45.50"}]
    feed = [(c["table"], c["op"], c["user"]) for c in crm.changes(0)]
    assert feed[-2:] == [("product", "insert", "admin"), ("product", "update", "admin")]
    crm.users.add("li", role="sales")
    r = cli("product", "add", "Z", user="li")
    assert r.exit_code == 1 and "may not insights.manage" in r.stderr
    assert len(json.loads(cli("product", "list", "--json").stdout)) == 1


# --- profit ----------------------------------------------------------------------------


def test_profit_by_customer_known_and_unknown_costs(shop):
    crm, cu = shop
    rows = ins.profit(crm, "customer", NOV1, NOV22)
    # A: I-A1 倚天 2×40 = 80 (catalogue cost 2×20 = 40) + 笑傲 1×50 (own cost 30)
    #    revenue 130, cost 70, margin 60, margin_pct 60/130 = 0.461538 -> 0.4615
    # B: I-B1 围城 3×15 = 45 (no cost) + 倚天 40 (cost 20): revenue 85, known 40,
    #    cost 20, margin 20, margin_pct 20/40 = 0.5, unknown 45
    # C: I-C4 礼品卡 100 (not in the catalogue); I-C2 is void, O-C3 an order, I-C0 in Oct
    assert money(rows, "key", "customer_id", "revenue", "cost", "margin", "margin_pct",
                 "unknown_cost_revenue") == [
        ("A", cu["A"].id, "130.00", "70.00", "60.00", 0.4615, "0.00"),
        ("B", cu["B"].id, "85.00", "20.00", "20.00", 0.5, "45.00"),
        ("C", cu["C"].id, "100.00", "0.00", "0.00", None, "100.00")]


def test_profit_by_product_category_and_owner(shop):
    crm, _cu = shop
    by_product = ins.profit(crm, "product", NOV1, NOV22)
    # 倚天: 80 + 40 = 120, cost 40 + 20 = 60, margin 60 (0.5); 笑傲: 50 - 30 = 20 (0.4);
    # margins of 0 after: larger revenue first (礼品卡 100, 围城 45)
    assert money(by_product, "key", "revenue", "cost", "margin", "margin_pct") == [
        (YT, "120.00", "60.00", "60.00", 0.5), (XA, "50.00", "30.00", "20.00", 0.4),
        (GIFT, "100.00", "0.00", "0.00", None), (WC, "45.00", "0.00", "0.00", None)]
    by_cat = ins.profit(crm, "category", NOV1, NOV22)
    # 武侠: 120 + 50 = 170, cost 90, margin 80, 80/170 = 0.470588 -> 0.4706
    assert money(by_cat, "key", "revenue", "margin", "margin_pct",
                 "unknown_cost_revenue") == [
        ("武侠", "170.00", "80.00", 0.4706, "0.00"),
        ("uncategorised", "100.00", "0.00", None, "100.00"),
        ("文学", "45.00", "0.00", None, "45.00")]
    by_owner = ins.profit(crm, "owner", NOV1, NOV22)
    assert money(by_owner, "key", "margin") == [("li", "60.00"), ("wang", "20.00"),
                                                ("admin", "0.00")]


def test_profit_limit_keeps_the_largest_margins_chosen_by_the_database(shop):
    # the report's "most profitable customers": the database orders and cuts; the two
    # largest margins are A (60.00) and B (20.00); C (0.00) is left out; a sales user
    # gets only their own customer even with room for more
    crm, cu = shop
    from crmkit_insights.analyses import profit_in

    with crm.unit(write=False) as ctx:
        top = profit_in(ctx, "customer", NOV1, NOV22, limit=2)
    assert money(top, "key", "customer_id", "margin") == [
        ("A", cu["A"].id, "60.00"), ("B", cu["B"].id, "20.00")]
    with crm.using(user="wang").unit(write=False) as ctx:
        mine = profit_in(ctx, "customer", NOV1, NOV22, limit=5)
    assert money(mine, "key", "margin") == [("B", "20.00")]


def test_profit_of_a_usd_invoice_counts_in_base_currency(crm_factory):
    crm = crm_factory(enable=("insights",))
    if "base_amount" not in crm.table("documents").c:
        pytest.skip("needs documents.base_amount (core_0004, the money branch)")
    c = crm.customers.add(name="Acme")
    crm.documents.add(c.id, kind="invoice", number="US-1", currency="USD", rate="7.2",
                      issued_on=NOV1, lines=[f"{XA}:2:10.00:6.00", f"{YT}:1:5.00"])
    ins.add_product(crm, YT, cost="20.00")  # base currency
    # amount 25.00 USD, base 25 × 7.2 = 180.00
    # 笑傲 2 × 10 USD = 20 USD = 144.00 CNY, cost 2 × 6 USD × 7.2 = 86.40
    # 倚天 1 × 5 USD = 36.00 CNY, catalogue cost 20.00 CNY (already base)
    # revenue 180.00, cost 106.40, margin 73.60, 73.60 / 180 = 0.408888 -> 0.4089
    (row,) = ins.profit(crm, "customer", NOV1, NOV22)
    assert money([row], "revenue", "cost", "margin", "margin_pct") == [
        ("180.00", "106.40", "73.60", 0.4089)]


def test_profit_is_in_the_sales_users_scope(shop):
    crm, cu = shop
    li = crm.using(user="li")
    assert [r["key"] for r in ins.profit(li, "customer", NOV1, NOV22)] == ["A"]
    # li's category figures come from A's lines only: 130 revenue, 70 cost
    assert money(ins.profit(li, "category", NOV1, NOV22), "key", "revenue", "cost") == [
        ("武侠", "130.00", "70.00")]


def test_profit_bad_input_is_one_sentence_and_exit_1(shop, cli):
    r = cli("insights", "profit", "--by", "colour")
    assert r.exit_code == 1
    assert r.stderr.strip() == ("Error: unknown --by 'colour'; valid: customer, product, "
                                "owner, category")
    r = cli("insights", "profit", "--from", "2026-11-20", "--to", "2026-11-01")
    assert r.exit_code == 1 and "--from 2026-11-20 is after --to 2026-11-01" in r.stderr
    r = cli("insights", "expenses", "--by", "x" * 200)
    assert r.exit_code == 1 and "x" * 81 not in r.stderr


def test_profit_json_from_the_command_line(shop, cli):
    r = cli("insights", "profit", "--by", "category", "--from", "2026-11-01", "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)[0] == {"key": "武侠", "revenue": "170.00", "cost": "90.00",
                                       "margin": "80.00", "margin_pct": 0.4706,
                                       "unknown_cost_revenue": "0.00"}


# --- expenses --------------------------------------------------------------------------


@pytest.fixture
def spending(shop):
    crm, cu = shop

    def exp(name, number, day, amount, *lines, **kw):
        crm.documents.add(cu[name].id, kind="expense", number=number, issued_on=day,
                          amount=amount, lines=list(lines), **kw)

    exp("A", "E1", D(2026, 11, 5), "300.00", "差旅:1:300")
    exp("B", "E2", D(2026, 11, 10), "200.00", "差旅:1:200")
    exp("A", "E3", D(2026, 10, 20), "400.00", "差旅:1:400")
    exp("C", "E4", D(2026, 11, 12), "150.00", "招待:1:150")
    exp("C", "E5", D(2026, 10, 15), "100.00", "招待:1:100")
    exp("B", "E6", D(2026, 11, 15), "80.00")                      # no lines: unspecified
    exp("A", "E7", D(2026, 10, 5), "999.00", "差旅:1:999")        # before the previous period
    exp("C", "E8", D(2026, 11, 6), "500.00", "招待:1:500", status="void")
    exp("B", "E9", D(2026, 11, 16), "60.00", "礼品:1:40", "差旅:1:20")  # first line: 礼品
    return crm, cu


def test_expenses_by_item_growth_and_flags(spending):
    crm, _cu = spending
    rows = ins.expenses(crm, "item", NOV1, NOV22)
    # the period is 11-01..11-22 (22 days); the one before is 10-10..10-31
    # 差旅: 300 + 200 = 500, before 400 (E3; E7 is 10-05): (500-400)/400 × 100 = 25.0 > 20
    # 招待: 150 (E8 void), before 100: 50.0 > 20; unspecified 80 and 礼品 60: nothing before
    assert money(rows, "item", "amount", "previous", "growth_pct", "flagged") == [
        ("差旅", "500.00", "400.00", 25.0, True), ("招待", "150.00", "100.00", 50.0, True),
        ("unspecified", "80.00", "0.00", None, False), ("礼品", "60.00", "0.00", None, False)]
    crm.plugins.set("insights", "expense_growth_alert_pct", 30)
    assert [r["flagged"] for r in ins.expenses(crm, "item", NOV1, NOV22)] == [
        False, True, False, False]  # 25.0 ≤ 30 < 50.0


def test_expenses_by_owner_against_sales(spending):
    crm, _cu = spending
    rows = ins.expenses(crm, "owner", NOV1, NOV22)
    # expenses: li (A) 300; wang (B) 200 + 80 + 60 = 340; admin (C) 150
    # sales (invoices): li 130 (I-A1), wang 85 (I-B1), admin 100 (I-C4)
    # ratios 300/130 = 2.3077, 340/85 = 4.0, 150/100 = 1.5; team 790/315 = 2.5079
    # flagged above 2.5079 × 1.5 = 3.7619: wang (340·315·100 = 10,710,000 >
    # 790·85·150 = 10,072,500); li: 9,450,000 < 15,405,000
    assert money(rows, "owner", "expenses", "sales", "ratio", "flagged") == [
        ("admin", "150.00", "100.00", 1.5, False), ("li", "300.00", "130.00", 2.3077, False),
        ("wang", "340.00", "85.00", 4.0, True)]
    li = ins.expenses(crm.using(user="li"), "owner", NOV1, NOV22)
    assert money(li, "owner", "expenses", "sales") == [("li", "300.00", "130.00")]


def test_expenses_by_month(spending):
    crm, _cu = spending
    rows = ins.expenses(crm, "month", D(2026, 9, 1), NOV22)
    # Oct: 400 + 100 + 999 = 1499 (Sep 0: no growth); Nov: 300+200+150+80+60 = 790
    # (790 - 1499) / 1499 × 100 = -47.2982 -> -47.3
    assert money(rows, "month", "amount", "growth_pct") == [
        ("2026-09", "0.00", None), ("2026-10", "1499.00", None),
        ("2026-11", "790.00", -47.3)]


# --- trend and cohorts -----------------------------------------------------------------


def test_trend(shop):
    crm, _cu = shop
    rows = ins.trend(crm, 3, NOV22)
    # Sep: A created; A's first value document O-A0 (an order: no revenue)
    # Oct: B and D created; first purchases B (K-B0), C (I-C0), D (I-D1);
    #      revenue I-C0 40 + I-D1 1000 = 1040
    # Nov: C created; buying A, B, C; revenue 130 + 85 + 100 = 315 (I-C2 void)
    assert money(rows, "month", "new", "first_purchase", "buying", "revenue") == [
        ("2026-09", 1, 1, 1, "0.00"), ("2026-10", 2, 3, 3, "1040.00"),
        ("2026-11", 1, 0, 3, "315.00")]
    assert [r["month"] for r in ins.trend(crm, 12, NOV22)][:2] == ["2025-12", "2026-01"]
    # the report passes the cohorts' sizes as the first purchases (one query fewer):
    # the same figures
    from crmkit_insights.analyses import cohort_counts, trend_in

    with crm.unit(write=False) as ctx:
        counts = cohort_counts(ctx, NOV22)
        firsts = {c: n for (c, k), n in counts.items() if k == 0}
        assert trend_in(ctx, 3, NOV22, firsts=firsts) == rows
    with pytest.raises(crmkit.ValidationError, match="invalid --months 0"):
        ins.trend(crm, 0, NOV22)


def test_cohorts(shop):
    crm, _cu = shop
    rows = ins.cohorts(crm, NOV22)
    # 2026-09: A; A bought in Oct? no (0/1); in Nov yes (1/1); Dec starts after D: null
    # 2026-10: B, C, D; in Nov B and C did: 2/3 = 0.6667
    assert rows == [
        {"cohort": "2026-09", "customers": 1, "retention": [0.0, 1.0] + [None] * 10},
        {"cohort": "2026-10", "customers": 3, "retention": [0.6667] + [None] * 11}]
    wang = ins.cohorts(crm.using(user="wang"), NOV22)
    # wang's customers B and D: in Nov only B: 1/2
    assert wang == [{"cohort": "2026-10", "customers": 2, "retention": [0.5] + [None] * 11}]


# --- the 360° panel --------------------------------------------------------------------


def test_customer_section(shop):
    crm, cu = shop
    from crmkit_insights.section import section_data

    with crm.unit(write=False) as ctx:
        data = section_data(ctx, cu["A"].id, NOV22)
    # A: value documents in Sep and Nov: months active 2 of Sep..Nov (3): 0.6667
    assert data["persistency"] == {"first_purchase": "2026-09-15", "months_active": 2,
                                   "repeat_rate": 0.6667}
    assert data["profitability"] == {"revenue": "130.00", "margin": "60.00",
                                     "margin_pct": 0.4615}
    # top products of orders and invoices: 倚天 1 + 2 = 3, 40 + 80 = 120; 笑傲 1, 50
    assert data["product"]["top"] == [{"product": YT, "quantity": "3", "revenue": "120.00"},
                                      {"product": XA, "quantity": "1", "revenue": "50.00"}]
    assert data["product"]["suggestions"] == []  # no pair is bought by 2 customers


def test_customer_show_has_the_insights_section(shop, cli):
    _crm, cu = shop
    r = cli("customer", "show", str(cu["B"].id), "--json")
    assert r.exit_code == 0
    sec = json.loads(r.stdout)["sections"]["insights"]
    # B: K-B0 in Oct, I-B1 in Nov: 2 of 2 months; I-B1: 85 revenue, margin 20 of 40 known
    assert sec["persistency"] == {"first_purchase": "2026-10-20", "months_active": 2,
                                  "repeat_rate": 1.0}
    assert sec["profitability"] == {"revenue": "85.00", "margin": "20.00",
                                    "margin_pct": 0.5}


def test_the_csv_import_reads_a_line_cost_and_profit_uses_it(crm_factory, cli, tmp_path):
    crm = crm_factory(enable=("insights", "csv"))
    c = crm.customers.add(name="上海大众")
    f = tmp_path / "d.csv"
    f.write_text("customer_id,kind,number,issued_on,lines\n"
                 f"{c.id},invoice,I-1,2026-11-02,零件A:2:617.25:400;服务:1:100\n"
                 f"{c.id},invoice,I-2,2026-11-03,零件A:1:600:1.005\n", encoding="utf-8")
    r = cli("import", "documents", str(f), "--skip-invalid")
    assert r.exit_code == 0, r.stderr
    assert "unit cost of '零件A'" in r.stderr  # I-2: 1.005 is no amount; skipped
    inv = crm.documents.by_number("invoice", "I-1")
    assert [ln.unit_cost for ln in inv.lines] == [Decimal("400.00"), None]
    # revenue 2 × 617.25 + 100 = 1334.50; known 1234.50 - cost 800 = 434.50 margin;
    # 434.50 / 1234.50 = 0.351964 -> 0.3520
    (row,) = ins.profit(crm, "customer", NOV1, NOV22)
    assert money([row], "revenue", "cost", "margin", "margin_pct",
                 "unknown_cost_revenue") == [("1334.50", "800.00", "434.50", 0.352, "100.00")]


def test_customer_show_prints_the_insights_panel_for_people(shop, cli):
    _crm, cu = shop
    r = cli("customer", "show", str(cu["A"].id))
    assert r.exit_code == 0
    panel = r.stdout.split("Insights", 1)[1]
    # 2 of 3 months active: 66.7%; margin 60 of 130: 46.2%
    assert "66.7%" in panel and "46.2%" in panel and "倚天屠龙记" in panel
    assert "None" not in panel and "[]" not in panel


def test_trend_counts_new_customers_in_the_tenants_zone(crm_factory):
    crm = crm_factory(enable=("insights",))
    c = crm.customers.add(name="夜猫子")
    # no service sets a zone yet: the column money's core_0004 added, by hand
    t, tn = crm.table("customers"), crm.table("tenants")
    with crm.engine.begin() as conn:
        conn.execute(tn.update().values(timezone="Asia/Shanghai"))
        # 2026-10-31 20:00 UTC is 2026-11-01 04:00 in Shanghai: a November customer
        conn.execute(t.update().where(t.c.id == c.id).values(
            created_at=dt.datetime(2026, 10, 31, 20, 0, tzinfo=dt.UTC)))
    rows = ins.trend(crm.using(today=NOV22), 2, NOV22)
    assert [(r["month"], r["new"]) for r in rows] == [("2026-10", 0), ("2026-11", 1)]


def test_whole_tenant_reads_give_the_same_figures(shop):
    # the report reads a year and more of documents "whole" (crmkit.sql.whole_tenant):
    # after ANALYZE the one tenant holds every row, so SQLite reads the documents
    # without the tenant index; every figure must be the one the indexed read gives
    crm, _cu = shop
    from crmkit_insights.analyses import cohorts_in, profit_in, trend_in

    from crmkit.sql import tenant_holds_most

    with crm.unit() as ctx:
        if ctx.conn.dialect.name == "sqlite":
            ctx.conn.exec_driver_sql("ANALYZE")
    with crm.unit(write=False) as ctx:
        if ctx.conn.dialect.name == "sqlite":
            assert tenant_holds_most(ctx.conn, ctx.crm.table("documents"))
        for by in ("customer", "category", "owner", "product"):
            assert profit_in(ctx, by, D(2025, 11, 23), NOV22, whole=True) == \
                profit_in(ctx, by, D(2025, 11, 23), NOV22)
        assert trend_in(ctx, 12, NOV22, whole=True) == trend_in(ctx, 12, NOV22)
        # the hand-computed cohorts of test_cohorts, read whole
        assert cohorts_in(ctx, NOV22) == [
            {"cohort": "2026-09", "customers": 1, "retention": [0.0, 1.0] + [None] * 10},
            {"cohort": "2026-10", "customers": 3, "retention": [0.6667] + [None] * 11}]
    assert money(ins.profit(crm, "customer", NOV1, NOV22), "key", "margin") == [
        ("A", "60.00"), ("B", "20.00"), ("C", "0.00")]
