"""A unit of work belongs to one tenant and one user (issue 11, item 1).

``crm.unit()`` joins an open unit only for the same tenant and user; a nested call for
another tenant or user is refused with ``UnitConflict`` and writes nothing. The open
unit lives in a ContextVar of each instance: threads and asyncio tasks working for two
tenants at once never see each other's unit. Each test counts rows with raw SQL, by
tenant, so "0 rows in the wrong tenant" is what is checked, not what a service says.
"""

from __future__ import annotations

import asyncio
import threading
import types

import attrs
import pytest
from sqlalchemy import func, select

import crmkit
from crmkit.errors import UnitConflict
from crmkit.i18n import current_locale


def _rows(crm, tenant_slug: str, prefix: str | None = None) -> list[str]:
    """Names of the customers stored in ``tenant_slug`` (raw SQL, no scope)."""
    c, t = crm.table("customers"), crm.table("tenants")
    q = (select(c.c.name).join(t, t.c.id == c.c.tenant_id).where(t.c.slug == tenant_slug)
         .order_by(c.c.name))
    if prefix is not None:
        q = q.where(c.c.name.like(prefix + "%"))
    with crm.engine.connect() as conn:
        return list(conn.scalars(q))


@pytest.fixture
def two(crm):
    crm.tenants.add("acme", name="Acme")
    crm.users.add("li", role="sales")
    return crm


def test_nested_call_for_another_tenant_is_refused_and_lands_nowhere(two):
    crm = two
    acme = crm.using(tenant="acme")
    with crm.unit() as ctx:
        crm.customers.add(name="D-own")
        with pytest.raises(UnitConflict, match="tenant 'default'.*tenant 'acme'"):
            acme.customers.add(name="A-nested")
        assert crm.current is ctx  # the open unit is still this one
    # before the fix, A-nested was written into tenant default, inside the open unit
    assert _rows(crm, "default") == ["D-own"]
    assert _rows(crm, "acme") == []


def test_nested_call_for_another_user_is_refused(two):
    crm = two
    li = crm.using(user="li")
    with crm.unit():
        with pytest.raises(UnitConflict, match="user 'admin'.*user 'li'"):
            li.customers.add(name="as-li", owner="li")
    # before the fix it ran as admin (owner li set by an admin, audit user "admin")
    assert _rows(crm, "default") == []
    a = crm.table("audit")
    with crm.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(a)
                           .where(a.c.table_name == "customer")) == 0


def test_nested_call_for_the_same_tenant_and_user_joins_and_rolls_back_with_it(two):
    crm = two
    same = crm.using(tenant="default", user="admin")
    with pytest.raises(RuntimeError, match="boom"):
        with crm.unit() as ctx:
            assert same.current is ctx
            same.customers.add(name="joined")
            raise RuntimeError("boom")
    assert _rows(crm, "default") == []  # one transaction: rolled back together


def test_threads_on_two_tenants_write_only_their_own(two):
    crm = two
    n = 15
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(slug: str) -> None:
        view = crm.using(tenant=slug)
        try:
            barrier.wait()
            for i in range(n):
                with view.unit() as ctx:
                    assert ctx.tenant.slug == slug
                    view.customers.add(name=f"{slug}-{i:02d}")  # joins this thread's unit
                    assert view.current is ctx
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in ("default", "acme")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(_rows(crm, "default", "default-")) == n
    assert len(_rows(crm, "acme", "acme-")) == n
    assert _rows(crm, "default", "acme-") == []  # 0 rows in the wrong tenant
    assert _rows(crm, "acme", "default-") == []


def test_asyncio_tasks_on_two_tenants_write_only_their_own(two):
    """Two tasks on one event loop (one thread): each holds a read unit across an
    ``await`` while the other writes. With a thread-local unit, the second task's
    write joined the first task's unit and landed in its tenant."""
    crm = two
    n = 10
    seen: list[tuple[str, str | None]] = []

    async def work(slug: str) -> None:
        view = crm.using(tenant=slug)
        for i in range(n):
            with view.unit(write=False):
                await asyncio.sleep(0)  # the other task runs here
                cur = view.current
                seen.append((slug, cur.tenant.slug if cur else None))
            view.customers.add(name=f"{slug}-{i:02d}")
            await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(work("default"), work("acme"))

    asyncio.run(main())
    assert seen == [(s, s) for s, _ in seen] and len(seen) == 2 * n
    assert len(_rows(crm, "default", "default-")) == n
    assert len(_rows(crm, "acme", "acme-")) == n
    assert _rows(crm, "default", "acme-") == []  # 0 rows in the wrong tenant
    assert _rows(crm, "acme", "default-") == []


def test_a_task_or_thread_started_inside_a_unit_opens_its_own(two):
    """``asyncio.create_task`` and threads run with a copy of the context; the unit
    open in it is not theirs: a task that outlives the unit (fire and forget) must not
    join its closed connection, a thread must not share its connection."""
    import contextvars

    crm = two
    seen: dict[str, object] = {}

    async def later() -> None:
        await asyncio.sleep(0.05)  # the unit that created this task is closed by now
        seen["task"] = crm.current
        crm.customers.add(name="from-task")

    async def main() -> None:
        with crm.unit(write=False) as ctx:
            task = asyncio.create_task(later())
            copied = contextvars.copy_context()
            t = threading.Thread(target=copied.run,
                                 args=(lambda: seen.setdefault("thread", crm.current),))
            t.start()
            t.join()
            assert crm.current is ctx
        await task

    asyncio.run(main())
    assert seen == {"task": None, "thread": None}
    assert _rows(crm, "default") == ["from-task"]


def test_two_open_instances_share_no_unit(crm_factory, crm_db_url):
    a = crm_factory()
    b = crmkit.open(crm_db_url)
    try:
        with pytest.raises(RuntimeError):
            with a.unit(write=False) as ctx:
                assert a.current is ctx and b.current is None
                b.customers.add(name="b-own")  # its own unit, committed on its own
                raise RuntimeError("a fails")
        assert _rows(a, "default") == ["b-own"]
        assert a._shared["current"] is not b._shared["current"]
    finally:
        b.close()


def test_unit_takes_the_tenant_locale_unless_crmkit_lang(two, monkeypatch):
    crm = two
    resolve = crmkit.Crm._resolve

    def with_locale(self, conn):
        tenant, user = resolve(self, conn)
        fields = attrs.asdict(tenant) if attrs.has(type(tenant)) else vars(tenant)
        return types.SimpleNamespace(**{**fields, "locale": "zh_CN"}), user

    monkeypatch.setattr(crmkit.Crm, "_resolve", with_locale)
    monkeypatch.delenv("CRMKIT_LANG", raising=False)
    assert current_locale() == "en"
    with crm.unit():
        assert current_locale() == "zh_CN"
    assert current_locale() == "en"  # reset when the unit ends
    monkeypatch.setenv("CRMKIT_LANG", "en")
    with crm.unit():
        assert current_locale() == "en"


def test_unit_takes_the_locale_stored_on_the_tenant(two, monkeypatch):
    crm = two
    t = crm.table("tenants")
    if "locale" not in t.c:
        pytest.skip("the tenants table has no locale column yet (issue 12)")
    with crm.engine.begin() as conn:
        conn.execute(t.update().where(t.c.slug == "acme").values(locale="zh_CN"))
    monkeypatch.delenv("CRMKIT_LANG", raising=False)
    with crm.using(tenant="acme").unit() as ctx:
        assert ctx.tenant.locale == "zh_CN" and current_locale() == "zh_CN"
    with crm.unit():  # default keeps en
        assert current_locale() == "en"
    assert current_locale() == "en"


def test_audit_many_and_emit_many_store_what_audit_and_emit_store(crm):
    """The bulk writers (on SQLite through the driver, the JSON encoded once) store rows
    that read back exactly as the one-row writers' do: Chinese text, Decimal, dates,
    None, tuples, an attrs record; ``at`` dates the audit rows."""
    import datetime as dt
    from decimal import Decimal

    c = crm.customers.add(name="客户 甲")
    image = {"name": "客户 甲", "amount": Decimal("12.5"), "on": dt.date(2026, 11, 30),
             "tags": ("a", "乙"), "none": None, "n": 3, "ok": True, "x": 1.25,
             "nested": {"k": [Decimal("1"), None]}}
    at = dt.datetime(2026, 11, 30, 8, 15, 30, 123456, tzinfo=dt.UTC)
    with crm.unit() as ctx:
        ctx.audit("probe", 1, "update", None, image, c.id)
        ctx.audit("probe", 2, "update", c, image, c.id)
        ctx.audit_many([("probe", 11, "update", None, image, c.id),
                        ("probe", 12, "update", c, image, c.id)], at=at)
        ctx.emit("probe.one", image, c.id)
        ctx.emit_many([("probe.many", image, c.id)])
    a, o = crm.table("audit"), crm.table("outbox")
    with crm.engine.connect() as conn:
        rows = {r.row_id: r for r in conn.execute(select(a).where(a.c.table_name == "probe"))}
        events = {r.event: r for r in conn.execute(select(o).where(o.c.event.like("probe.%")))}
    for one, many in ((1, 11), (2, 12)):
        assert rows[many].before == rows[one].before
        assert rows[many].after == rows[one].after
        assert (rows[many].user, rows[many].op, rows[many].customer_id) == ("admin", "update",
                                                                          c.id)
    assert rows[11].after["amount"] == "12.50" and rows[11].after["tags"] == ["a", "乙"]
    assert rows[12].before["name"] == "客户 甲"
    assert rows[11].at == at and rows[11].at.tzinfo is not None
    assert events["probe.many"].payload == events["probe.one"].payload
    assert events["probe.many"].payload["on"] == "2026-11-30"
    assert events["probe.many"].customer_id == c.id
    assert abs(events["probe.many"].created_at - events["probe.one"].created_at) < \
        dt.timedelta(minutes=1)


def test_audit_select_and_emit_select_store_what_the_bulk_writers_store(crm):
    """The INSERT ... SELECT writers store rows that read back as ``audit_many`` and
    ``emit_many`` rows do (user, op, customer, images, a dated instant), in the
    SELECT's order; ``json_null()`` reads back as None."""
    import datetime as dt

    from sqlalchemy import String, literal

    from crmkit import sql

    a_, b_ = crm.customers.add(name="客户 甲"), crm.customers.add(name="b")
    t = crm.table("customers")
    mine = select(t).where(t.c.id.in_([a_.id, b_.id])).order_by(t.c.id.desc()).subquery()
    with crm.unit() as ctx:
        ctx.audit_select(select(
            literal("probe_sel", String()), mine.c.id, literal("update", String()),
            sql.json_null(), sql.json_object(("id", mine.c.id), ("name", mine.c.name)),
            mine.c.id).order_by(mine.c.id.desc()))
        ctx.audit_many([("probe_many", c.id, "update", None, {"id": c.id, "name": c.name},
                         c.id) for c in (b_, a_)])
        ctx.emit_select(select(
            literal("probe.sel", String()),
            sql.json_object(("id", mine.c.id), ("name", mine.c.name)), mine.c.id)
            .order_by(mine.c.id.desc()))
        ctx.emit_many([("probe.many", {"id": c.id, "name": c.name}, c.id) for c in (b_, a_)])
    a, o = crm.table("audit"), crm.table("outbox")
    with crm.engine.connect() as conn:
        rows = conn.execute(select(a).where(a.c.table_name.like("probe_%"))
                            .order_by(a.c.id)).all()
        events = conn.execute(select(o).where(o.c.event.like("probe.%"))
                              .order_by(o.c.id)).all()
    assert len(rows) == 4 and len(events) == 4
    sel = [r for r in rows if r.table_name == "probe_sel"]
    many = [r for r in rows if r.table_name == "probe_many"]
    assert [r.row_id for r in sel] == [b_.id, a_.id]   # the SELECT's order
    for s, m in zip(sel, many, strict=True):
        assert (s.user, s.op, s.row_id, s.customer_id, s.before, s.after) == (
            m.user, m.op, m.row_id, m.customer_id, m.before, m.after)
        assert s.at.tzinfo is not None and abs(s.at - m.at) < dt.timedelta(minutes=1)
    assert sel[1].after == {"id": a_.id, "name": "客户 甲"} and sel[1].before is None
    ev_sel = [e for e in events if e.event == "probe.sel"]
    ev_many = [e for e in events if e.event == "probe.many"]
    assert [(e.customer_id, e.payload) for e in ev_sel] == [
        (e.customer_id, e.payload) for e in ev_many]


class _Opinion:
    """A plugin with a permission opinion of its own (it only ever abstains)."""

    PLUGIN = crmkit.PluginSpec(name="opinion", description="abstains")

    @crmkit.hookimpl
    def crm_permission(self, ctx, user, action, record):
        return None


def test_allowed_where_is_allowed_for_every_row_while_the_role_table_alone_answers(
        crm_factory):
    """``ctx.allowed_where`` selects exactly the customers ``ctx.allowed`` says yes to,
    for an admin and for a salesperson; it is None (ask per record) for an action that
    is not a record action and as soon as another plugin answers ``crm_permission``."""
    crm = crm_factory(plugins=[_Opinion()])
    crm.users.add("li", role="sales")
    for name, owner in (("甲", "li"), ("乙", "admin"), ("丙", None), ("丁", "li")):
        crm.customers.add(name=name, owner=owner)
    t = crm.table("customers")
    for user in ("admin", "li"):
        with crm.using(user=user).unit(write=False) as ctx:
            assert ctx.builtin_permissions_only
            rows = ctx.conn.execute(select(t)).all()
            want = {r.id for r in rows
                    if ctx.allowed("update", crmkit.Customer.from_row(r))}
            where = ctx.allowed_where("update", t)
            got = set(ctx.conn.scalars(select(t.c.id).where(where)))
            assert got == want and want   # not vacuous: li sees two, admin four
            assert len(want) == (4 if user == "admin" else 2)
            assert ctx.allowed_where("grading.run", t) is None
    crm.plugins.enable("opinion")
    with crm.unit(write=False) as ctx:
        assert not ctx.builtin_permissions_only
        assert ctx.allowed_where("update", t) is None


def test_audit_select_with_emit_announces_the_rows_it_wrote_with_their_images(crm):
    """``audit_select(..., emit=event)``: one event per audit row that statement wrote,
    in its order, carrying the row's customer (not its row id), that customer's name
    (Chinese, quoted as JSON) or null, and the row's own before/after images; audit
    rows written before it, by another statement of the unit or in another tenant are
    not announced."""
    import json

    from sqlalchemy import Integer, String, literal, union_all

    from crmkit import sql as csql

    a = crm.customers.add(name="甲公司 \"引号\"", kind="company")
    crm.tenants.add("other")
    with crm.using(tenant="other").unit() as octx:
        octx.audit("probe", 7, "insert", None, {"x": 0}, customer_id=None)
    with crm.unit() as ctx:
        ctx.audit("probe", 1, "insert", None, {"n": 1}, customer_id=a.id)

        def row(k: int, op: str, before: object, after: object, cid: int | None) -> object:
            return select(literal("probe", String()).label("t"),
                          literal(900 + k, Integer()).label("id"),
                          literal(op, String()).label("op"), before, after,
                          literal(cid, Integer()).label("cid"), literal(k).label("k"))

        src = union_all(
            row(3, "insert", csql.json_null(), csql.json_object(("n", literal(4))), None),
            row(1, "update", csql.json_object(("n", literal(1))),
                csql.json_object(("n", literal(2)), ("s", literal("é"))), a.id),
        ).subquery("rows")
        ctx.audit_select(select(*list(src.c)[:6]).order_by(src.c.k.desc()),
                         emit="probe.changed")
        ctx.audit("probe", 2, "insert", None, {"n": 5}, customer_id=a.id)
        o = ctx.crm.table("outbox")
        rows = ctx.conn.execute(select(o.c.payload, o.c.customer_id)
                                .where(o.c.tenant_id == ctx.tenant.id,
                                       o.c.event == "probe.changed").order_by(o.c.id)).all()
    got = [(p if isinstance(p, dict) else json.loads(p), cid) for p, cid in rows]
    assert got == [
        ({"customer_id": None, "customer": None, "before": None, "after": {"n": 4}}, None),
        ({"customer_id": a.id, "customer": "甲公司 \"引号\"", "before": {"n": 1},
          "after": {"n": 2, "s": "é"}}, a.id),
    ]
