"""``crm.customers.update_many`` / ``change_many``: the core's bulk update path.

Per record: the permission (``update``, ``customers.change_owner`` for a new owner), the
core checks, ``crm_customer_validate``; then ``crm_customer_updated`` (or
``crm_customer_archived``) and one audit row per changed customer. All or nothing, on
every backend: one refused or invalid record leaves the database as it was, also when
earlier batches were already written.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import crmkit
from crmkit.errors import NotFound, PermissionDenied, ValidationError
from tests.plugins.recorder import Recorder
from tests.plugins.trust import counts


class Guard:
    """Validates every customer change it is asked about (recording each call) and
    refuses a customer named ``refuse me``; denies ``update`` of a customer tagged
    ``locked``."""

    PLUGIN = crmkit.PluginSpec(name="guard", description="refuses on purpose")

    def __init__(self) -> None:
        self.validated: list[tuple[int, tuple[str, ...]]] = []

    @crmkit.hookimpl
    def crm_customer_validate(self, ctx: Any, customer: Any, changes: dict,
                              before: Any) -> list[str]:
        if before is not None:
            self.validated.append((customer.id, tuple(sorted(changes))))
        return ["guard refuses"] if customer.name == "refuse me" else []

    @crmkit.hookimpl
    def crm_permission(self, ctx: Any, user: Any, action: str, record: Any) -> bool | None:
        if action == "update" and "locked" in getattr(record, "tags", ()):
            return False
        return None


@pytest.fixture
def setup(crm_factory):
    rec, guard = Recorder(), Guard()
    crm = crm_factory(plugins=[rec, guard], enable=["recorder", "guard"])
    crm.users.add("li", role="sales")
    crm.users.add("wang", role="sales")
    a, b, c = (crm.customers.add(name=n, owner="li") for n in ("甲", "乙", "丙"))
    rec.calls.clear()
    return crm, rec, guard, (a, b, c)


def _feed(crm: Any, since: int) -> list[tuple[int, str, Any, Any]]:
    return [(x["id"], x["op"], x["before"], x["after"]) for x in crm.changes(since)
            if x["table"] == "customer"]


def test_update_many_hooks_and_audits_each_changed_customer(setup):
    crm, rec, guard, (a, b, c) = setup
    mark = crm.changes()[-1]["cursor"]
    n = crm.customers.update_many([(a.id, {"status": "lost"}),
                                   (b.id, {"tags": ["vip"], "email": "b@k.cn"}),
                                   (c.id, {"name": "丙"})])        # the same name: no-op
    assert n == 2
    assert rec.calls == [("crm_customer_updated", a.id), ("changes", ("status",)),
                         ("crm_customer_updated", b.id), ("changes", ("email", "tags"))]
    assert guard.validated == [(a.id, ("status",)), (b.id, ("email", "tags"))]
    a2, b2, c2 = (crm.customers.get(x.id) for x in (a, b, c))
    assert (a2.status, b2.tags, b2.email, c2) == ("lost", ("vip",), "b@k.cn", c)
    # one audit row per changed customer, its images what to_dict gives (as ``update``)
    feed = _feed(crm, mark)
    assert [(i, op) for i, op, _b, _a in feed] == [(a.id, "update"), (b.id, "update")]
    assert feed[0][2] == crmkit.to_dict(a) and feed[0][3] == crmkit.to_dict(a2)
    assert feed[1][2] == crmkit.to_dict(b) and feed[1][3] == crmkit.to_dict(b2)
    assert a2.updated_at > a.updated_at


def test_update_many_archiving_fires_archived_as_update_does(setup):
    crm, rec, _guard, (a, b, _c) = setup
    crm.customers.update_many([(a.id, {"status": "archived", "phone": "123"}),
                               (b.id, {"status": "archived"})])
    assert rec.calls == [("crm_customer_updated", a.id), ("changes", ("phone",)),
                         ("crm_customer_archived", a.id), ("crm_customer_archived", b.id)]


@pytest.mark.parametrize("batch_size", [1, 5000])
def test_an_invalid_record_writes_nothing(setup, batch_size):
    crm, rec, _guard, (a, b, c) = setup
    before = counts(crm)
    with pytest.raises(ValidationError) as err:   # core check on the second record
        crm.customers.update_many([(a.id, {"status": "lost"}), (b.id, {"email": "nope"}),
                                   (c.id, {"status": "lost"})], batch_size=batch_size)
    assert err.value.errors == [f"customer {b.id}: invalid e-mail address 'nope'"]
    assert err.value.fields == ["email"]
    with pytest.raises(ValidationError) as err:   # a plugin's validate hook on the third
        crm.customers.update_many([(a.id, {"status": "lost"}), (b.id, {"status": "lost"}),
                                   (c.id, {"name": "refuse me"})], batch_size=batch_size)
    assert err.value.errors == [f"customer {c.id}: guard refuses"]
    assert counts(crm) == before
    assert [x.status for x in crm.customers.list()] == ["prospect"] * 3
    # one record a batch: the batches before the bad one were written and hooked (1 in
    # the first call, 2 in the second), then rolled back with it
    assert [h for h, _ in rec.calls if h != "changes"] == (
        ["crm_customer_updated"] * 3 if batch_size == 1 else [])


@pytest.mark.parametrize("batch_size", [1, 5000])
def test_a_refused_record_writes_nothing(setup, batch_size):
    crm, _rec, guard, (a, b, c) = setup
    crm.customers.update(c.id, tags=["locked"])
    before = counts(crm)
    guard.validated.clear()
    with pytest.raises(PermissionDenied, match=f"may not update customer {c.id}"):
        crm.customers.update_many([(a.id, {"status": "lost"}), (b.id, {"status": "lost"}),
                                   (c.id, {"status": "lost"})], batch_size=batch_size)
    # permission is asked before validation, for the whole batch
    assert guard.validated == ([(a.id, ("status",)), (b.id, ("status",))]
                               if batch_size == 1 else [])
    # a salesperson: her own customers only, and never a new owner
    crm.customers.update(a.id, owner="wang")
    li = crm.using(user="li")
    with pytest.raises(PermissionDenied, match=f"may not update customer {a.id}"):
        li.customers.update_many([(b.id, {"status": "lost"}), (a.id, {"status": "lost"})])
    with pytest.raises(PermissionDenied, match="customers.change_owner"):
        li.customers.update_many([(b.id, {"owner": "wang"})])
    # the change feed holds only the owner change above
    assert [(x["id"], x["after"]["owner"]) for x in crm.changes(before["cursor"])] == [
        (a.id, "wang")]
    assert [x.status for x in crm.customers.list()] == ["prospect"] * 3
    assert li.customers.update_many([(b.id, {"status": "active"})]) == 1


def test_unknown_repeated_and_other_tenants_ids(setup):
    crm, _rec, _guard, (a, _b, _c) = setup
    crm.tenants.add("acme")
    other = crm.using(tenant="acme").customers.add(name="外")
    before = counts(crm)
    with pytest.raises(NotFound, match=f"customer {other.id} not found"):
        crm.customers.update_many([(a.id, {"status": "lost"}), (other.id, {"tags": ["x"]})])
    with pytest.raises(ValidationError, match=f"customer {a.id} is changed twice"):
        crm.customers.update_many([(a.id, {"status": "lost"}), (a.id, {"phone": "1"})],
                                  batch_size=1)
    with pytest.raises(ValidationError, match="whole number"):
        crm.customers.update_many([("x", {"status": "lost"})])
    assert counts(crm) == before
    assert crm.customers.update_many([]) == 0


def test_external_ids_checked_against_the_table_and_each_other(setup):
    crm, _rec, _guard, (a, b, c) = setup
    crm.customers.update(c.id, external_id="E-3")
    before = counts(crm)
    with pytest.raises(ValidationError) as err:
        crm.customers.update_many([(a.id, {"external_id": "E-1"}),
                                   (b.id, {"external_id": "E-1"})])
    assert err.value.errors == [f"customer {b.id}: external id 'E-1' is also given to "
                                f"customer {a.id}"]
    with pytest.raises(ValidationError, match=f"customer {a.id}: external id 'E-3' is "
                                              f"already used by customer {c.id}"):
        crm.customers.update_many([(a.id, {"external_id": "E-3"})])
    assert counts(crm) == before


def test_change_many_joins_the_callers_unit(setup):
    crm, rec, _guard, (a, b, _c) = setup
    before = counts(crm)
    with pytest.raises(RuntimeError), crm.unit() as ctx:
        assert crm.customers.change_many(ctx, [(a.id, {"status": "lost"}),
                                               (b.id, {"status": "lost"})]) == 2
        assert [h for h, _ in rec.calls if h != "changes"] == ["crm_customer_updated"] * 2
        raise RuntimeError("the caller fails after")
    assert counts(crm) == before
    with crm.unit() as ctx:
        crm.customers.change_many(ctx, [(a.id, {"status": "lost"})])
    assert crm.customers.get(a.id).status == "lost"


_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False, places=2,
                min_value=-10**12, max_value=10**12),
    st.dates(), st.datetimes(timezones=st.just(dt.UTC)))
_tree = st.recursive(_leaf, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.tuples(kids, kids),
    st.dictionaries(st.one_of(st.text(), st.integers()), kids, max_size=4)), max_leaves=12)


@given(_tree)
def test_jsonable_is_the_json_round_trip(value):
    """The audit and outbox images: the direct conversion of plain values gives what the
    round trip through JSON gives (int keys, NaN, tuples and all)."""
    from crmkit.context import _jsonable
    from crmkit.convert import _default, to_dict

    want = json.loads(json.dumps(to_dict(value), default=_default, ensure_ascii=False))
    got = _jsonable(value)
    assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)


def _audit_selects(crm: Any) -> tuple[list[str], Any]:
    """The INSERT ... SELECT statements into the audit table run while it is listened."""
    from sqlalchemy import event

    seen: list[str] = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith(f"INSERT INTO {crm.prefix}audit") and \
                "SELECT" in statement:
            seen.append(statement)

    event.listen(crm.engine, "before_cursor_execute", listen)
    return seen, lambda: event.remove(crm.engine, "before_cursor_execute", listen)


def _tricky(crm: Any) -> list[Any]:
    """Customers whose images test the database's JSON: quotes, backslashes, control
    characters and Chinese in tags and text, nested extra, empty and NULL values, an
    instant with and one without microseconds."""
    crm.users.add("li", role="sales")
    out = [crm.customers.add(name='引号 "甲" \\ 反斜杠', owner="li",
                             tags=["vip", 'a"b', "back\\slash", "中文", "tab\tx", "ü"],
                             extra={"来源": "展会", "n": [1, {"k": None}], "q": 'x"y'},
                             email="jia@example.cn", phone="+86 10 1234",
                             address="北京\n朝阳区"),
           crm.customers.add(name="乙", kind="person"),
           crm.customers.add(name="丙", tags=["一"], extra={}),
           crm.customers.add(name="丁", status="lost")]   # already lost: no change
    t = crm.table("customers")
    with crm.engine.begin() as conn:  # an instant without microseconds, NULL extra
        conn.execute(t.update().where(t.c.id == out[1].id).values(
            created_at=dt.datetime(2026, 11, 1, 8, 30), extra=None))
    return [crm.customers.get(c.id) for c in out]


def test_a_uniform_change_is_written_set_wise_as_record_by_record(crm_factory):
    """With no plugin looking at customer changes and the built-in role table alone
    answering, one status for many customers is written set-wise, the audit images built
    by the database: each is what ``to_dict`` gives of the record before and after, as
    the record-by-record form writes (the test above), in id order; a customer already
    in that status is not changed."""
    crm = crm_factory()
    cs = _tricky(crm)
    mark = crm.changes()[-1]["cursor"]
    seen, stop = _audit_selects(crm)
    try:
        n = crm.customers.update_many((c.id, {"status": "lost"}) for c in cs)
    finally:
        stop()
    assert len(seen) == 1, seen                     # the set-wise form ran (one chunk)
    assert n == 3
    after = [crm.customers.get(c.id) for c in cs]
    feed = _feed(crm, mark)
    assert [(i, op) for i, op, _b, _a in feed] == [(c.id, "update") for c in cs[:3]]
    from crmkit.services.bulk_update import IMAGE_KEYS, image

    for (_i, _op, b, a), old, new in zip(feed, cs, after, strict=False):
        assert b == crmkit.to_dict(old)
        assert a == crmkit.to_dict(new)
        assert tuple(b) == tuple(a) == tuple(image(old)) == IMAGE_KEYS  # one key order
        assert new.status == "lost" and new.updated_at > old.updated_at
    assert after[1].created_at == dt.datetime(2026, 11, 1, 8, 30, tzinfo=dt.UTC)
    assert after[3] == cs[3]                        # untouched
    # audited at the instant written
    assert {x["at"] for x in crm.changes(mark)} == {after[0].updated_at.isoformat()}
    # kind too; several batches; a sales user's own customers
    li = crm.using(user="li")
    assert li.customers.update_many([(cs[0].id, {"kind": "person"})], batch_size=1) == 1
    assert crm.customers.get(cs[0].id).kind == "person"


def test_a_set_wise_batch_is_a_few_statements_whatever_its_size_on_sqlite(crm_factory):
    """1,200 customers lost in one batch: on SQLite one audit ``INSERT ... SELECT`` for
    the batch, the ids one JSON parameter (``crmkit.sql.in_ids``); elsewhere one per
    500 customers. Every customer changed and audited either way."""
    crm = crm_factory()
    crm.customers.add_many({"name": f"客户{i}"} for i in range(1200))
    ids = [c.id for c in crm.customers.stream()]
    mark = crm.changes()[-1]["cursor"]
    seen, stop = _audit_selects(crm)
    try:
        n = crm.customers.update_many((i, {"status": "lost"}) for i in ids)
    finally:
        stop()
    assert n == 1200
    assert len(seen) == (1 if crm.engine.dialect.name == "sqlite" else 3), len(seen)
    assert [(i, op, a["status"]) for i, op, _b, a in _feed(crm, mark)] == \
        [(i, "update", "lost") for i in ids]
    assert {c.status for c in crm.customers.stream()} == {"lost"}


def test_a_set_wise_batch_that_would_fail_raises_as_record_by_record(crm_factory):
    """A missing or refused customer in a uniform batch: the same error as the
    record-by-record form (which the batch then goes through), nothing written; an
    unsorted or mixed batch goes record by record and ends the same."""
    crm = crm_factory()
    cs = _tricky(crm)
    before = counts(crm)
    ids = [c.id for c in cs]
    with pytest.raises(NotFound, match=f"customer {max(ids) + 99} not found"):
        crm.customers.update_many((i, {"status": "active"}) for i in [*ids, max(ids) + 99])
    li = crm.using(user="li")     # owns the first only
    with pytest.raises(PermissionDenied, match=f"may not update customer {ids[1]}"):
        li.customers.update_many((i, {"status": "active"}) for i in ids)
    with pytest.raises(ValidationError, match="customer .* is changed twice"):
        crm.customers.update_many([(ids[0], {"status": "active"})] * 2)
    assert counts(crm) == before
    mark = crm.changes()[-1]["cursor"]
    seen, stop = _audit_selects(crm)
    try:
        assert crm.customers.update_many((i, {"status": "active"})
                                         for i in reversed(ids)) == 4
    finally:
        stop()
    assert seen == []                               # record by record
    assert [x[0] for x in _feed(crm, mark)] == ids[::-1]
