"""A stateful test of the trust promises (issue 11): random sequences of adds, updates,
moves, reassigns, imports, plugin enables and reports by the users of two tenants in
three roles, through the Python API and the CLI.

A model keeps what should be in each tenant: customers (owner, status), activities
(customer, owner), documents (customer) and the change feed (a multiset of ``(table,
id, op)``). Each rule computes from the model whether the caller may act and checks
the outcome: success, ``PermissionDenied`` (a record of their tenant they may not
touch) or ``NotFound`` (a record of the other tenant). After every step the invariants
check, for every user of both tenants, that lists and the change feed show exactly
their scope, and that the admin's feed holds exactly the successful changes.

Each run gets two fresh tenants in the test's database, so a run's cost does not grow
with the runs before it. The machine sets its own example and step counts.
"""

from __future__ import annotations

import itertools
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from crmkit.builtin import permissions
from crmkit.errors import NotFound, PermissionDenied
from tests.plugins.trust import examples_on

USERS = {"admin": "admin", "mgr": "manager", "s1": "sales", "s2": "sales"}
UNSCOPED = ("admin", "manager")
PLUGINS = ("csv", "receivables", "grading")
# issue 11.11 (helper kauthz): reassigning and changing an owner are managers' actions.
# Until that rule is in the role table, the machine does not try them as a sales user.
MANAGERS_REASSIGN = "customers.reassign" in getattr(permissions, "ACTIONS", {})

_RUNS = itertools.count(1)


class Tenant:
    """The model of one tenant."""

    def __init__(self, slug: str):
        self.slug = slug
        self.customers: dict[int, dict[str, Any]] = {}   # id -> {"owner", "status", "ext"}
        self.activities: dict[int, dict[str, Any]] = {}  # id -> {"customer", "owner"}
        self.documents: dict[int, int] = {}              # id -> customer id
        self.enabled: set[str] = set()
        self.feed: Counter[tuple[str, int | None, str]] = Counter()
        self.cursor = 0  # the feed before the run's first step (setup rows)

    def sees(self, user: str, customer_id: int) -> bool:
        return USERS[user] in UNSCOPED or self.customers[customer_id]["owner"] == user

    def visible(self, user: str) -> set[int]:
        return {c for c in self.customers if self.sees(user, c)}


class TrustMachine(RuleBasedStateMachine):
    """Set ``root`` (the admin's crm of tenant default), ``cli`` and ``tmp`` first."""

    root: Any = None
    cli: Any = None
    tmp: Path = Path(".")

    def __init__(self) -> None:
        super().__init__()
        n = next(_RUNS)
        self.n = n
        self.seq = itertools.count(1)
        self.t: dict[str, Tenant] = {}
        self.touched: set[str] = {"a", "b"}
        for side in ("a", "b"):
            slug = f"st{n}{side}"
            self.root.tenants.add(slug, name=f"Stateful {slug}")
            admin = self.root.using(tenant=slug)
            for name, role in USERS.items():
                if name != "admin":
                    admin.users.add(name, role=role)
            model = Tenant(slug)
            model.cursor = max([ch["cursor"] for ch in admin.changes()] or [0])
            self.t[side] = model

    # --- helpers -----------------------------------------------------------------------

    def api(self, side: str, user: str) -> Any:
        """``user``'s view of tenant ``side``; a rule acting on a side marks it for the
        full check of every user's scope after the step."""
        self.touched.add(side)
        return self.view(side, user)

    def view(self, side: str, user: str) -> Any:
        return self.root.using(tenant=self.t[side].slug, user=user)

    def other(self, side: str) -> str:
        return "b" if side == "a" else "a"

    def _target(self, data: Any, side: str, what: str) -> tuple[int, str]:
        """An id of ``what`` from this tenant or, sometimes, from the other one; and the
        side it belongs to."""
        pools = [(i, s) for s in ("a", "b") for i in getattr(self.t[s], what)]
        return data.draw(st.sampled_from(sorted(pools)), label=what)

    def _expect(self, expected: type[Exception] | None, call: Any) -> Any:
        """``call()``'s result when ``expected`` is None; else check that it raises
        exactly ``expected`` (NotFound or PermissionDenied) and give None."""
        try:
            result = call()
        except (NotFound, PermissionDenied) as exc:
            assert type(exc) is expected, (exc, expected)
            return None
        assert expected is None, expected
        return result

    def _on_customer(self, side: str, user: str, cid: int, where: str) -> Any:
        """What acting on customer ``cid`` (of tenant ``where``) as ``user`` of ``side``
        must give: NotFound across tenants, PermissionDenied outside the scope."""
        if where != side:
            return NotFound
        return None if self.t[side].sees(user, cid) else PermissionDenied

    # --- rules ---------------------------------------------------------------------

    @initialize()
    def seed(self) -> None:
        """Each tenant starts with a customer of each salesperson and of the manager, a
        task on each (so that every rule has targets from the first step on); tenant a
        has the csv plugin (imports work there from the start, and are refused in b until
        an admin enables it)."""
        self.enable("a", "admin", "csv")
        for side in "ab":
            for owner in ("s1", "s2", "mgr"):
                self.add_customer(side, "admin", owner)
            for cid in sorted(self.t[side].customers):
                self.add_task_on(side, self.t[side].customers[cid]["owner"], cid)

    @rule(side=st.sampled_from("ab"), user=st.sampled_from(sorted(USERS)),
          owner=st.sampled_from(sorted(USERS)))
    def add_customer(self, side: str, user: str, owner: str) -> None:
        m = self.t[side]
        k = next(self.seq)
        allowed = USERS[user] in UNSCOPED or owner == user
        try:
            c = self.api(side, user).customers.add(name=f"客户 {k}", owner=owner,
                                                    external_id=f"X{self.n}-{k}")
        except PermissionDenied:
            assert not allowed
            return
        assert allowed
        assert (c.owner, c.status) == (owner, "prospect")
        m.customers[c.id] = {"owner": owner, "status": "prospect", "ext": c.external_id}
        m.feed[("customer", c.id, "insert")] += 1

    @precondition(lambda self: any(self.t[s].customers for s in "ab"))
    @rule(side=st.sampled_from("ab"), user=st.sampled_from(sorted(USERS)), data=st.data())
    def update_customer(self, side: str, user: str, data: Any) -> None:
        cid, where = self._target(data, side, "customers")
        m = self.t[side]
        k = next(self.seq)
        c = self._expect(self._on_customer(side, user, cid, where), lambda: self.api(
            side, user).customers.update(cid, name=f"改名 {k}"))
        if c is None:
            return
        assert c.name == f"改名 {k}"
        m.feed[("customer", cid, "update")] += 1

    @precondition(lambda self: any(self.t[s].customers for s in "ab"))
    @rule(side=st.sampled_from("ab"), user=st.sampled_from(sorted(USERS)), data=st.data())
    def add_task(self, side: str, user: str, data: Any) -> None:
        cid, where = self._target(data, side, "customers")
        self.add_task_on(side, user, cid, where)

    def add_task_on(self, side: str, user: str, cid: int, where: str | None = None) -> None:
        where = where or side
        m = self.t[side]
        a = self._expect(self._on_customer(side, user, cid, where), lambda: self.api(
            side, user).activities.add(cid, kind="task", subject="回访", due_on="2026-11-30"))
        if a is None:
            return
        m.activities[a.id] = {"customer": cid, "owner": user}
        m.feed[("activity", a.id, "insert")] += 1

    @precondition(lambda self: any(self.t[s].activities for s in "ab"))
    @rule(side=st.sampled_from("ab"), user=st.sampled_from(sorted(USERS)), data=st.data())
    def move_task(self, side: str, user: str, data: Any) -> None:
        """Move an activity to another customer (issue 11.10): refused unless the user
        may change both customers, and never across tenants."""
        aid, a_where = self._target(data, side, "activities")
        cid, c_where = self._target(data, side, "customers")
        m = self.t[side]
        # the order of the checks: the activity (its tenant, then its customer's
        # permission), then the new customer (tenant, permission)
        if a_where != side:
            expected: type[Exception] | None = NotFound
        elif not m.sees(user, m.activities[aid]["customer"]):
            expected = PermissionDenied
        else:
            expected = self._on_customer(side, user, cid, c_where)
        if self._expect(expected, lambda: self.api(side, user).activities.update(
                aid, customer_id=cid)) is None:
            return
        if m.activities[aid]["customer"] != cid:
            m.activities[aid]["customer"] = cid
            m.feed[("activity", aid, "update")] += 1

    @precondition(lambda self: any(self.t[s].customers for s in "ab"))
    @rule(side=st.sampled_from("ab"), user=st.sampled_from(sorted(USERS)),
          kind=st.sampled_from(["quote", "invoice"]), data=st.data())
    def add_document(self, side: str, user: str, kind: str, data: Any) -> None:
        cid, where = self._target(data, side, "customers")
        m = self.t[side]
        k = next(self.seq)
        d = self._expect(self._on_customer(side, user, cid, where), lambda: self.api(
            side, user).documents.add(cid, kind=kind, number=f"D-{k}", amount="100.00"))
        if d is None:
            return
        m.documents[d.id] = cid
        m.feed[("document", d.id, "insert")] += 1
        if kind == "invoice" and m.customers[cid]["status"] == "prospect":
            # the built-in lifecycle plugin: the first invoice makes a prospect active
            m.customers[cid]["status"] = "active"
            m.feed[("customer", cid, "update")] += 1

    @rule(side=st.sampled_from("ab"), user=st.sampled_from(sorted(USERS)),
          frm=st.sampled_from(sorted(USERS)), to=st.sampled_from(sorted(USERS)))
    def reassign(self, side: str, user: str, frm: str, to: str) -> None:
        if frm == to or (USERS[user] == "sales" and not MANAGERS_REASSIGN):
            return
        m = self.t[side]
        try:
            got = self.api(side, user).customers.reassign(frm, to)
        except PermissionDenied:
            assert USERS[user] == "sales"
            return
        assert USERS[user] in UNSCOPED
        moved = sorted(c for c, v in m.customers.items() if v["owner"] == frm)
        tasks = sorted(a for a, v in m.activities.items() if v["owner"] == frm)
        assert got == {"customers": len(moved), "tasks": len(tasks)}
        for c in moved:
            m.customers[c]["owner"] = to
            m.feed[("customer", c, "update")] += 1
        for a in tasks:
            m.activities[a]["owner"] = to
            m.feed[("activity", a, "update")] += 1

    @rule(side=st.sampled_from("ab"), user=st.sampled_from(sorted(USERS)),
          plugin=st.sampled_from(PLUGINS))
    def enable(self, side: str, user: str, plugin: str) -> None:
        m = self.t[side]
        try:
            new = self.api(side, user).plugins.enable(plugin)
        except PermissionDenied:
            assert USERS[user] != "admin"
            return
        assert USERS[user] == "admin"
        assert new == ([] if plugin in m.enabled else [plugin])
        m.enabled.add(plugin)
        if new:
            m.feed[("plugin", None, "update")] += 1

    @rule(side=st.sampled_from("ab"), user=st.sampled_from(sorted(USERS)),
          rows=st.integers(1, 3), data=st.data())
    def import_customers(self, side: str, user: str, rows: int, data: Any) -> None:
        """``crmkit import customers`` (CLI): new rows are added for the importing user;
        a row repeating an existing customer's external id is skipped, and named only
        when the user may see that customer (issue 11.4)."""
        m = self.t[side]
        ks = [next(self.seq) for _ in range(rows)]
        lines = ["name,external_id", *[f"导入 {k},X{self.n}-{k}" for k in ks]]
        dup = None
        if m.customers and data.draw(st.booleans(), label="duplicate row"):
            dup = data.draw(st.sampled_from(sorted(m.customers)), label="duplicate of")
            lines.append(f"dup,{m.customers[dup]['ext']}")
        f = self.tmp / f"import-{self.n}-{next(self.seq)}.csv"
        f.write_text("\n".join(lines) + "\n", encoding="utf-8")
        before = {c.id for c in self.api(side, "admin").customers.list()}
        r = self.cli("import", "customers", str(f), tenant=m.slug, user=user)
        if "csv" not in m.enabled:
            assert r.exit_code == 1 and "csv" in r.stderr, r
            return
        assert r.exit_code == 0, r
        if dup is not None:
            named = f"duplicate of customer {dup} " in r.stderr
            assert named == m.sees(user, dup), r.stderr
        added = {c.id: c for c in self.api(side, "admin").customers.list()
                 if c.id not in before}
        assert sorted(c.external_id for c in added.values()) == sorted(
            f"X{self.n}-{k}" for k in ks)
        for cid, c in added.items():
            assert c.owner == user
            m.customers[cid] = {"owner": user, "status": "prospect", "ext": c.external_id}
            m.feed[("customer", cid, "insert")] += 1

    @rule(side=st.sampled_from("ab"), user=st.sampled_from(sorted(USERS)),
          report=st.sampled_from(["customer", "doc", "activity", "changes"]))
    def report(self, side: str, user: str, report: str) -> None:
        """A report on the command line shows exactly the user's scope."""
        m = self.t[side]
        args = ("changes", "--json") if report == "changes" else (report, "list", "--json")
        r = self.cli(*args, tenant=m.slug, user=user)
        assert r.exit_code == 0, r
        rows = json.loads(r.stdout)
        seen = m.visible(user)
        if report == "customer":
            assert {x["id"] for x in rows} == seen
        elif report == "doc":
            assert {x["id"] for x in rows} == {d for d, c in m.documents.items() if c in seen}
        elif report == "activity":
            assert {x["id"] for x in rows} == {
                a for a, v in m.activities.items() if v["customer"] in seen}
        else:
            for ch in rows:
                assert self._may_read(m, user, ch), ch

    @rule(side=st.sampled_from("ab"), user=st.sampled_from(sorted(USERS)), data=st.data())
    def change_owner(self, side: str, user: str, data: Any) -> None:
        """``update(owner=...)``: a manager's action (issue 11.11) on a visible customer
        of the tenant, to an existing user."""
        if not self.t[side].customers or (USERS[user] == "sales" and not MANAGERS_REASSIGN):
            return
        cid, where = self._target(data, side, "customers")
        owner = data.draw(st.sampled_from(sorted(USERS)), label="new owner")
        m = self.t[side]
        expected = self._on_customer(side, user, cid, where)
        if expected is None and USERS[user] == "sales" and m.customers[cid]["owner"] != owner:
            expected = PermissionDenied  # customers.change_owner: managers only
        c = self._expect(expected, lambda: self.api(side, user).customers.update(
            cid, owner=owner))
        if c is None:
            return
        assert c.owner == owner
        if m.customers[cid]["owner"] != owner:
            m.customers[cid]["owner"] = owner
            m.feed[("customer", cid, "update")] += 1

    # --- invariants ----------------------------------------------------------------

    def _may_read(self, m: Tenant, user: str, ch: dict[str, Any]) -> bool:
        cid = (ch["after"] or ch["before"] or {}).get("customer_id")
        if ch["table"] == "customer":
            cid = ch["id"]
        if cid is None:
            return USERS[user] in UNSCOPED or ch["user"] == user
        return cid in m.customers and m.sees(user, cid)

    @invariant()
    def everyone_sees_exactly_their_scope(self) -> None:
        """Both tenants: the admin's feed is exactly the successful changes, and the
        admin's and the salespeople's lists and feeds are exactly their scope (so a write
        or a read that crosses tenants shows on either side). The manager, whose scope is
        the admin's, is checked in the tenant(s) the step acted on: checking them in an
        untouched tenant as well would add a third to a step's cost."""
        for side in self.t:
            other = self.t[self.other(side)]
            admin_feed = self._check_user(side, "admin", other, None)
            for user in USERS:
                if user != "admin" and (USERS[user] == "sales" or side in self.touched):
                    self._check_user(side, user, other, admin_feed)
        self.touched.clear()

    def _check_user(self, side: str, user: str, other: Tenant,
                    admin_feed: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        m = self.t[side]
        crm = self.view(side, user)
        seen = m.visible(user)
        # one read-only unit: the calls below join it (one connection, one resolve)
        with crm.unit(write=False):
            customers = {c.id for c in crm.customers.list()}
            activities = {a.id for a in crm.activities.list()}
            documents = {d.id for d in crm.documents.list()}
            feed = crm.changes(since=m.cursor)
        assert customers == seen and not customers & set(other.customers)
        assert activities == {a for a, v in m.activities.items() if v["customer"] in seen}
        assert documents == {d for d, c in m.documents.items() if c in seen}
        if admin_feed is None:
            # the change feed holds exactly the successful changes, no more, no less
            assert Counter((ch["table"], ch["id"], ch["op"]) for ch in feed) == m.feed
        else:
            assert [ch["cursor"] for ch in feed] == [
                ch["cursor"] for ch in admin_feed if self._may_read(m, user, ch)]
        return feed


def test_random_sequences_keep_every_user_in_their_scope(crm_factory, cli, tmp_path):
    TrustMachine.root = crm_factory()
    TrustMachine.cli = staticmethod(cli)
    TrustMachine.tmp = tmp_path
    ci = os.environ.get("HYPOTHESIS_PROFILE") == "ci"
    # sequences of the rules: a quarter on the servers (tests/plugins/trust.py)
    run_state_machine_as_test(TrustMachine, settings=settings(
        max_examples=examples_on(TrustMachine.root, 20 if ci else 8),
        stateful_step_count=15 if ci else 10,
        deadline=None, suppress_health_check=list(HealthCheck)))


def test_the_model_would_see_a_leak(crm_factory, cli, tmp_path):
    """The invariant fails when a sales user sees a customer that is not theirs: the
    detector works (the model is not simply what the code says)."""
    TrustMachine.root = crm_factory()
    TrustMachine.cli = staticmethod(cli)
    TrustMachine.tmp = tmp_path
    machine = TrustMachine()
    machine.add_customer("a", "admin", "s2")
    cid = next(iter(machine.t["a"].customers))
    machine.t["a"].customers[cid]["owner"] = "s1"  # the model now says s1 owns it
    with pytest.raises(AssertionError):
        machine.everyone_sees_exactly_their_scope()
