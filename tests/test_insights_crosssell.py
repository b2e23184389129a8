"""Cross-sell on a 6-customer example, support, confidence and lift by hand.

Baskets (products on order and invoice lines, not void, up to 2026-11-22):

====  =====  ==========================
C1    li     倚天, 笑傲
C2    li     倚天, 笑傲, 射雕
C3    wang   倚天, 射雕
C4    wang   笑傲      (+ a void order of 射雕, an order of 倚天 dated 12-01)
C5    admin  倚天, 笑傲
C6    admin  围城      (+ a quote of 倚天: quotes are no purchase)
====  =====  ==========================

N = 6; n(倚天) = 4 (C1 C2 C3 C5), n(笑傲) = 4 (C1 C2 C4 C5), n(射雕) = 2 (C2 C3),
n(围城) = 1. Pairs: 倚天+笑傲 3 (C1 C2 C5), 倚天+射雕 2 (C2 C3), 笑傲+射雕 1 (C2).
"""

from __future__ import annotations

import datetime as dt
import json

import crmkit_insights as ins
import pytest

import crmkit

D = dt.date
NOV22 = D(2026, 11, 22)
YT, XA, SD, WC = "倚天屠龙记", "笑傲江湖", "射雕英雄传", "围城"


@pytest.fixture
def books(crm_factory):
    crm = crm_factory(enable=("insights",))
    crm.users.add("li", role="sales")
    crm.users.add("wang", role="sales")
    cu = {n: crm.customers.add(name=n, owner=o) for n, o in (
        ("C1", "li"), ("C2", "li"), ("C3", "wang"), ("C4", "wang"), ("C5", "admin"),
        ("C6", "admin"))}
    n = iter(range(1, 100))

    def buy(name, kind, *products, day=D(2026, 11, 1), **kw):
        crm.documents.add(cu[name].id, kind=kind, number=str(next(n)), issued_on=day,
                          lines=[f"{p}:1:10" for p in products], **kw)

    buy("C1", "invoice", YT, XA)
    buy("C2", "order", YT)
    buy("C2", "invoice", XA, SD, YT)         # 倚天 twice: one basket item
    buy("C3", "invoice", YT)
    buy("C3", "order", SD)
    buy("C4", "invoice", XA)
    buy("C4", "order", SD, status="void")
    buy("C4", "order", YT, day=D(2026, 12, 1))
    buy("C5", "order", YT, XA)
    buy("C6", "invoice", WC)
    buy("C6", "quote", YT)
    return crm, cu


def test_rules_support_confidence_lift(books):
    crm, _cu = books
    rows = ins.cross_sell(crm, as_of=NOV22)
    # 射雕→倚天: support 2/6 = 0.3333, confidence 2/2 = 1, lift 1 / (4/6) = 1.5
    # 倚天→射雕: support 0.3333, confidence 2/4 = 0.5, lift 0.5 / (2/6) = 1.5
    # 倚天→笑傲 and 笑傲→倚天: support 3/6 = 0.5, confidence 3/4 = 0.75,
    #   lift 0.75 / (4/6) = 1.125; same lift and confidence: P ascending (倚 < 笑)
    # 笑傲+射雕 has 1 customer < --min-customers 2
    assert rows == [
        {"if": SD, "then": YT, "customers": 2, "support": 0.3333, "confidence": 1.0,
         "lift": 1.5},
        {"if": YT, "then": SD, "customers": 2, "support": 0.3333, "confidence": 0.5,
         "lift": 1.5},
        {"if": YT, "then": XA, "customers": 3, "support": 0.5, "confidence": 0.75,
         "lift": 1.125},
        {"if": XA, "then": YT, "customers": 3, "support": 0.5, "confidence": 0.75,
         "lift": 1.125}]
    # with --min-customers 1: 射雕→笑傲 1/2 = 0.5, lift 0.5 / (4/6) = 0.75;
    # 笑傲→射雕 1/4 = 0.25, lift 0.25 / (2/6) = 0.75, support 1/6 = 0.1667
    one = ins.cross_sell(crm, as_of=NOV22, min_customers=1)
    assert [(r["if"], r["then"], r["support"], r["confidence"], r["lift"])
            for r in one[4:]] == [(SD, XA, 0.1667, 0.5, 0.75), (XA, SD, 0.1667, 0.25, 0.75)]
    assert ins.cross_sell(crm, as_of=NOV22, min_customers=4) == []


def test_suggestions_for_a_customer(books):
    crm, cu = books
    # C4 has 笑傲: 笑傲→倚天 (0.75, 1.125); 笑傲→射雕 has only 1 customer
    assert ins.cross_sell(crm, customer_id=cu["C4"].id, as_of=NOV22) == [
        {"product": YT, "confidence": 0.75, "lift": 1.125, "because": XA}]
    # with --min-customers 1 射雕 joins, after 倚天 (confidence 0.25 < 0.75)
    assert [r["product"] for r in ins.cross_sell(crm, customer_id=cu["C4"].id,
                                                 min_customers=1, as_of=NOV22)] == [YT, SD]
    # C3 has 倚天 and 射雕: 倚天→笑傲 (0.75) is the one rule to a product it lacks
    assert ins.cross_sell(crm, customer_id=cu["C3"].id, as_of=NOV22) == [
        {"product": XA, "confidence": 0.75, "lift": 1.125, "because": YT}]
    # C6 (围城) is in no rule
    assert ins.cross_sell(crm, customer_id=cu["C6"].id, as_of=NOV22) == []


def test_cross_sell_is_in_the_users_scope(books):
    crm, cu = books
    li = crm.using(user="li")
    # li sees C1 and C2 only: N = 2, n(倚天) = n(笑傲) = 2, pair 2: support 1, conf 1, lift 1
    assert ins.cross_sell(li, as_of=NOV22) == [
        {"if": YT, "then": XA, "customers": 2, "support": 1.0, "confidence": 1.0,
         "lift": 1.0},
        {"if": XA, "then": YT, "customers": 2, "support": 1.0, "confidence": 1.0,
         "lift": 1.0}]
    with pytest.raises(crmkit.PermissionDenied):
        ins.cross_sell(li, customer_id=cu["C4"].id, as_of=NOV22)


def test_cross_sell_command_line(books, cli):
    _crm, cu = books
    r = cli("insights", "cross-sell", "--as-of", "2026-11-22", "--json")
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == 4
    r = cli("insights", "cross-sell", "--customer", str(cu["C4"].id))
    assert r.exit_code == 0 and YT in r.stdout and XA in r.stdout
    r = cli("insights", "cross-sell", "--min-customers", "0")
    assert r.exit_code == 1 and "invalid --min-customers 0" in r.stderr
    r = cli("insights", "cross-sell", "--customer", str(cu["C4"].id), user="li")
    assert r.exit_code == 1 and "C4" not in r.stderr  # never names what li may not see


def test_a_disabled_plugin_says_how_to_enable_it(crm, cli):
    r = cli("insights", "trend")
    assert r.exit_code == 1 and "crmkit plugins enable insights" in r.stderr
