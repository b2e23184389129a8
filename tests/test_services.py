"""Services: records round-trip, bulk paths, upsert, reassign, change feed, and bad
input that changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

import crmkit
from tests.test_hooks import counts


def test_customer_round_trips_unicode_tags_and_extra(crm):
    crm.users.add("li")
    c = crm.customers.add(name="  上海大众 ", owner="li", email="a@dz.cn",
                          tags=["vip", "vip", "汽车"], extra={"erp": {"code": "Z-1"}},
                          kind="company")
    got = crm.customers.get(c.id)
    assert (got.name, got.owner, got.tags, got.extra, got.status) == (
        "上海大众", "li", ("vip", "汽车"), {"erp": {"code": "Z-1"}}, "prospect")
    assert got.created_at.tzinfo is not None
    assert [x.id for x in crm.customers.list(tag="汽车")] == [c.id]
    assert crm.customers.list(tag="vi") == []
    assert [x.id for x in crm.customers.list(search="大众")] == [c.id]


def test_document_money_is_exact_and_lines_sum(crm):
    c = crm.customers.add(name="A")
    d = crm.documents.add(c.id, kind="invoice", number="INV-1",
                          lines=["widget:3:0.10", "gadget:1.5:1999.99"])
    # 3 x 0.10 = 0.30; 1.5 x 1999.99 = 2999.985 -> 2999.99 (line total to the cent)
    assert d.amount == Decimal("3000.29")
    assert [ln.quantity for ln in d.lines] == [Decimal("3"), Decimal("1.5")]
    assert crmkit.to_dict(d)["amount"] == "3000.29"
    big = crm.documents.add(c.id, kind="order", number="SO-1", amount="999999999.99")
    assert crm.documents.get(big.id).amount == Decimal("999999999.99")


def test_first_invoice_makes_a_prospect_active_and_is_audited(crm):
    c = crm.customers.add(name="A")
    crm.documents.add(c.id, kind="quote", number="Q1", amount="5")
    assert crm.customers.get(c.id).status == "prospect"
    crm.documents.add(c.id, kind="invoice", number="I1", amount="5")
    assert crm.customers.get(c.id).status == "active"
    ops = [(ch["table"], ch["op"], (ch["after"] or {}).get("status")) for ch in crm.changes()]
    assert ("customer", "update", "active") in ops


def test_add_many_fires_hooks_and_is_all_or_nothing(crm_factory, monkeypatch):
    from tests.plugins.recorder import Recorder

    rec = Recorder()
    crm = crm_factory(plugins=[rec], enable=["recorder"])
    crm.users.add("li")
    n = crm.customers.add_many({"name": f"客户{i}", "owner": "li", "external_id": f"E{i}"}
                               for i in range(12))
    assert n == 12
    assert len([c for c in rec.calls if c[0] == "crm_customer_created"]) == 12
    # tenant + its admin (init), plugin enable, user li, then the 12 customers
    assert [ch["table"] for ch in crm.changes()] == (["tenant", "user", "plugin", "user"]
                                                     + ["customer"] * 12)
    before = counts(crm)
    with pytest.raises(crmkit.ValidationError) as err:
        crm.customers.add_many([{"name": "ok"}, {"name": "bad", "email": "nope"},
                                {"name": "dup", "external_id": "E3"}], batch_size=2)
    assert err.value.errors == ["record 2: invalid e-mail address 'nope'"]
    with pytest.raises(crmkit.ValidationError, match="record 3: external id 'E3' is already"):
        crm.customers.add_many([{"name": "ok"}, {"name": "x"}, {"name": "dup",
                                                                "external_id": "E3"}])
    # an external id twice in one batch; in zh_CN the record prefix and the message are
    # translated (they were English f-strings)
    monkeypatch.setenv("CRMKIT_LANG", "zh_CN")
    with pytest.raises(crmkit.ValidationError) as err:
        crm.customers.add_many([{"name": "a", "external_id": "N1"},
                                {"name": "b", "external_id": "N1"}])
    assert err.value.errors == ["第 2 条记录：外部编号 'N1' 与第 1 条记录重复"]
    monkeypatch.delenv("CRMKIT_LANG")
    assert counts(crm) == before
    ids = [c.id for c in crm.customers.list()]
    assert ids == sorted(ids) and len(set(ids)) == 12


def test_activity_and_document_bulk_paths(crm):
    c = crm.customers.add(name="A")
    n = crm.activities.add_many({"customer_id": c.id, "kind": "call", "subject": f"call {i}"}
                                for i in range(7))
    assert n == 7 and len(crm.activities.list(customer_id=c.id)) == 7
    before = counts(crm)
    with pytest.raises(crmkit.ValidationError, match="record 2: unknown activity kind 'fax'"):
        crm.activities.add_many([{"customer_id": c.id, "kind": "call", "subject": "a"},
                                 {"customer_id": c.id, "kind": "fax", "subject": "b"}])
    assert counts(crm) == before
    assert crm.documents.add_many([{"customer_id": c.id, "kind": "invoice", "number": "I1",
                                    "amount": "10"},
                                   {"customer_id": c.id, "kind": "payment", "number": "P1",
                                    "amount": "4", "applies_to": "I1"}]) == 2


def test_upsert_by_external_id(crm):
    c, created = crm.customers.upsert("ERP-1", name="A", phone="1")
    assert created
    c2, created2 = crm.customers.upsert("ERP-1", name="A", phone="2")
    assert (created2, c2.id, c2.phone) == (False, c.id, "2")
    assert len(crm.customers.list()) == 1


def test_reassign_moves_customers_and_open_tasks_audited(crm):
    crm.users.add("li")
    crm.users.add("wang")
    a = crm.customers.add(name="A", owner="li")
    crm.customers.add(name="B", owner="wang")
    t_open = crm.activities.add(a.id, kind="task", subject="call back", owner="li",
                                due_on=dt.date(2026, 12, 1))
    t_done = crm.activities.add(a.id, kind="task", subject="old", owner="li")
    crm.activities.done(t_done.id)
    assert crm.customers.reassign("li", "wang") == {"customers": 1, "tasks": 1}
    assert crm.customers.get(a.id).owner == "wang"
    assert crm.activities.get(t_open.id).owner == "wang"
    assert crm.activities.get(t_done.id).owner == "li"
    owners = [(ch["table"], ch["after"]["owner"]) for ch in crm.changes()[-2:]]
    assert owners == [("customer", "wang"), ("activity", "wang")]


BAD = [
    ("duplicate external id", lambda crm, c: crm.customers.add(name="X", external_id="E1"),
     "external id 'E1' is already used by customer"),
    ("unknown owner", lambda crm, c: crm.customers.add(name="X", owner="ghost"),
     "unknown owner 'ghost'"),
    # a 200-character owner is quoted to 80 characters: 79 of them and the cut mark
    ("unknown long owner", lambda crm, c: crm.customers.add(name="X", owner="g" * 200),
     "unknown owner '" + "g" * 79 + "…'; add the user first (`crmkit user add "
     + "g" * 79 + "…`)"),
    ("malformed e-mail", lambda crm, c: crm.customers.add(name="X", email="a@b"),
     "invalid e-mail address 'a@b'"),
    ("negative invoice", lambda crm, c: crm.documents.add(c.id, kind="invoice", number="I9",
                                                          amount="-5.00"),
     "amount must not be negative, got -5.00"),
    ("payment to unknown invoice", lambda crm, c: crm.documents.add(
        c.id, kind="payment", number="P9", amount="5", applies_to="INV-404"),
     "payment applies to unknown invoice 'INV-404'"),
    ("unknown customer", lambda crm, c: crm.documents.add(424242, kind="invoice", number="I9",
                                                          amount="5"),
     "customer 424242 not found"),
    ("unknown plugin", lambda crm, c: crm.plugins.enable("foo"), "unknown plugin 'foo'"),
    ("credit note larger than invoice", lambda crm, c: crm.documents.add(
        c.id, kind="credit_note", number="C1", amount="100.01", applies_to="I1"),
     "credit note of 100.01 is larger than invoice 'I1' (100.00)"),
    ("due before issue", lambda crm, c: crm.documents.add(
        c.id, kind="invoice", number="I2", amount="1", issued_on="2026-11-10",
        due_on="2026-11-01"), "due date 2026-11-01 is before the issue date 2026-11-10"),
    ("float money", lambda crm, c: crm.documents.add(c.id, kind="order", number="O", amount=0.1),
     "floats are inexact"),
    ("rounding money", lambda crm, c: crm.documents.add(c.id, kind="order", number="O",
                                                         amount="0.005"),
     "more than 2 decimal places"),
    ("NUL in name", lambda crm, c: crm.customers.add(name="a\x00b"), "NUL character"),
    ("too long", lambda crm, c: crm.customers.add(name="x" * 10_000),
     "customer name is 10000 characters long; the limit is 200"),
    ("unknown kind", lambda crm, c: crm.documents.add(c.id, kind="invoce", number="N",
                                                      amount="1"),
     "unknown document kind 'invoce'; valid: quote, contract"),
    ("duplicate number", lambda crm, c: crm.documents.add(c.id, kind="invoice", number="I1",
                                                          amount="1"),
     "invoice number 'I1' already exists"),
]


@pytest.mark.parametrize("case", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_clear_error_and_changes_nothing(crm, case):
    _, action, message = case
    c = crm.customers.add(name="Seed", external_id="E1")
    crm.documents.add(c.id, kind="invoice", number="I1", amount="100.00")
    before, feed = counts(crm), crm.changes()
    with pytest.raises(crmkit.CrmError) as err:
        action(crm, c)
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    assert counts(crm) == before and crm.changes() == feed


def test_unreachable_database_is_a_clear_error():
    crm = crmkit.open("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(crmkit.DatabaseError, match="cannot reach database postgresql://"):
        crm.customers.list()


def test_sales_user_sees_and_changes_only_own_customers(crm):
    crm.users.add("li")
    crm.users.add("wang")
    mine = crm.customers.add(name="mine", owner="li")
    theirs = crm.customers.add(name="theirs", owner="wang")
    crm.contacts.add(theirs.id, "张三")
    crm.documents.add(theirs.id, kind="invoice", number="I1", amount="1")
    li = crm.using(user="li")
    assert [c.id for c in li.customers.list()] == [mine.id]
    assert li.contacts.list() == [] and li.documents.list() == []
    with pytest.raises(crmkit.PermissionDenied, match="user 'li' may not view customer"):
        li.customers.get(theirs.id)
    with pytest.raises(crmkit.PermissionDenied):
        li.customers.update(theirs.id, name="hijack")
    with pytest.raises(crmkit.PermissionDenied):
        li.activities.add(theirs.id, kind="call", subject="x")
    with pytest.raises(crmkit.PermissionDenied):
        li.customers.add(name="for wang", owner="wang")
    assert li.customers.add(name="own new").owner == "li"
    with pytest.raises(crmkit.PermissionDenied):
        li.users.add("eve")
    assert crm.using(user="admin").customers.get(theirs.id).name == "theirs"


def test_tenants_are_isolated(crm):
    a = crm.customers.add(name="A in default")
    crm.tenants.add("acme", name="Acme", currency="USD")
    acme = crm.using(tenant="acme")
    assert acme.customers.list() == []
    with pytest.raises(crmkit.NotFound, match=f"customer {a.id} not found"):
        acme.customers.get(a.id)
    b = acme.customers.add(name="B in acme")
    assert acme.documents.add(b.id, kind="invoice", number="I1", amount="1").currency == "USD"
    crm.documents.add(a.id, kind="invoice", number="I1", amount="1")  # same number, other tenant
    assert [c.name for c in crm.customers.list()] == ["A in default"]
    assert all(ch["table"] != "customer" or ch["id"] != b.id for ch in crm.changes())


def test_customers_join_reads_only_this_tenants_customers(crm):
    """``crm.customers.join(ctx, src, col)``: a subquery holding every tenant's customer
    ids, joined, gives this tenant's customers only (the tenant is in the join)."""
    from sqlalchemy import select

    crm.tenants.add("acme", name="Acme")
    acme = crm.using(tenant="acme")
    mine = crm.customers.add(name="ours")
    acme.customers.add(name="theirs")
    t = crm.table("customers")
    with crm.unit(write=False) as ctx:
        every = select(t.c.id.label("customer_id")).subquery("every")  # all tenants
        rows = ctx.conn.execute(select(t.c.id, t.c.name).select_from(
            ctx.crm.customers.join(ctx, every, every.c.customer_id))).all()
    assert [tuple(r) for r in rows] == [(mine.id, "ours")]
