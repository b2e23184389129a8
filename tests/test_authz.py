"""One authorization path (issue 11 items 2, 3, 9, 11; issue 20 item 12).

Every admin action is asked of ``crm_permission`` under its name, the built-in
``permissions`` plugin answers from one role table, and a third-party plugin (the
``Policy`` below) can grant or deny each of them. Tenant management and uninstalling a
plugin are operator actions (admins of tenant ``default``); reassigning and changing an
owner are managers' actions; an unknown user can do nothing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import crmkit_grading as grading
import crmkit_insights as insights
import crmkit_marketing as mkt
import crmkit_sales.service as sales
import crmkit_service as service
import pytest
from crmkit_webhooks.deliver import Deliverer
from crmkit_webhooks.endpoints import Webhooks

import crmkit
import crmkit.report as report
from crmkit.builtin.permissions import ACTIONS, OPERATOR_TENANT
from crmkit.errors import NotFound, PermissionDenied
from crmkit.services.plugins import purge, uninstall_plan
from tests.plugins.trust import counts

ROOT = Path(__file__).resolve().parent.parent


class Policy:
    """A third-party plugin with opinions: ``deny`` (actions it answers False to) and
    ``grant`` ((user, action) pairs it answers True to); records what it was asked."""

    def __init__(self) -> None:
        self.PLUGIN = crmkit.PluginSpec(name="policy", version="1.0",
                                        description="test policy")
        self.deny: set[str] = set()
        self.grant: set[tuple[str, str]] = set()
        self.asked: list[str] = []

    @crmkit.hookimpl
    def crm_permission(self, ctx: Any, user: Any, action: str, record: Any) -> bool | None:
        self.asked.append(action)
        if action in self.deny:
            return False
        if (user.name, action) in self.grant:
            return True
        return None


PLUGINS = ("policy", "grading", "webhooks", "sales", "marketing", "service", "insights",
           "receivables")


@pytest.fixture
def world(crm_factory: Callable[..., Any]) -> tuple[Any, Policy]:
    """Tenant default (admin, manager boss, sales li and wang; zhao and carol own nothing)
    and tenant acme (its admin), the policy enabled in both."""
    policy = Policy()
    crm = crm_factory(plugins=[policy], enable=PLUGINS)
    crm.users.add("boss", role="manager")
    for name in ("li", "wang", "zhao", "carol"):
        crm.users.add(name, role="sales")
    crm.tenants.add("acme")
    crm.using(tenant="acme").plugins.enable(*PLUGINS)
    crm.customers.add(name="Li's", owner="li", external_id="LI-1")     # id 1
    crm.customers.add(name="Wang's", owner="wang", external_id="W-1")  # id 2
    crm.customers.add(name="Li's 2", owner="li", external_id="LI-2")   # id 3
    mkt.add(crm, "Spring", channel="print", budget="100")               # campaign 1
    return crm, policy


def _denied(fn: Callable[[], Any], action: str) -> None:
    with pytest.raises(PermissionDenied, match=re.escape(f"may not {action}")):
        fn()


# (action, call as the given crm) - every admin entry point of the core and plugins
ENTRY_POINTS: list[tuple[str, Callable[[Any], Any]]] = [
    ("plugins.manage", lambda c: c.plugins.enable("receivables")),
    ("plugins.manage", lambda c: c.plugins.disable("receivables")),
    ("settings.manage", lambda c: c.plugins.set("grading", "window_days", 30)),
    ("users.manage", lambda c: c.users.add("newbie")),
    ("users.manage", lambda c: c.users.update("carol", email="carol@example.com")),
    ("users.manage", lambda c: c.users.disable("carol")),
    ("tenants.manage", lambda c: c.tenants.add("acme2")),
    ("tenants.manage", lambda c: c.tenants.list()),
    ("customers.reassign", lambda c: c.customers.reassign("zhao", "wang")),
    ("customers.change_owner", lambda c: c.customers.update(1, owner="wang")),
    ("customers.change_owner", lambda c: c.customers.upsert("LI-2", owner="wang")),
    ("jobs.run", lambda c: c.jobs.run("reminders.send")),
    ("jobs.run_all", lambda c: c.jobs.run_all("reminders.send")),
    ("grading.run", lambda c: grading.run(c)),
    ("webhooks.manage", lambda c: Webhooks(c).add("https://example.com/h")),
    ("webhooks.read", lambda c: Webhooks(c).list()),
    ("webhooks.read", lambda c: Webhooks(c).status()),
    ("webhooks.deliver", lambda c: Deliverer(c).run(once=True)),
    ("marketing.manage", lambda c: mkt.add(c, "Fair", channel="print")),
    ("marketing.view", lambda c: mkt.list_campaigns(c)),
    ("marketing.lead", lambda c: mkt.add_lead(c, 1, 1)),
    ("marketing.target", lambda c: mkt.target(c, 1, customers=[1])),
    ("plugins.uninstall", lambda c: uninstall_plan(c, "grading")),
    ("service.view", lambda c: service.list_cases(c)),
    ("service.work", lambda c: service.add(c, 1, subject="Broken")),
    ("service.report", lambda c: service.stats(c)),
    ("report.view", lambda c: report.build(c)),
    ("insights.read", lambda c: insights.profit(c)),
    ("insights.manage", lambda c: insights.add_product(c, "Widget")),
]

#: the report's sections: a denied one is left out of the report (no error)
SECTION_ACTIONS = {"receivables.view": "receivables", "grading.view": "grading",
                   "sales.report": "sales", "insights.read": "insights"}


def test_a_third_party_plugin_can_deny_every_admin_action(world):
    crm, policy = world
    for action, call in ENTRY_POINTS:
        policy.deny = {action}
        before = counts(crm)
        _denied(lambda call=call: call(crm), action)  # the admin of tenant default
        assert counts(crm) == before, action
    policy.deny = set()
    # every action of the table is asked by an entry point above or by the tests below
    asked = {a for a, _ in ENTRY_POINTS} | {"sales.view_all", "audit.read",
                                            "marketing.costs"}
    assert set(ACTIONS) - asked <= {"service.reopen", *SECTION_ACTIONS}
    policy.deny = {"marketing.costs"}  # the admin no longer sees the budget
    assert mkt.show(crm, 1)["budget"] is None
    policy.deny = set()
    assert str(mkt.show(crm, 1)["budget"]) == "100.00"


def test_a_denied_section_action_leaves_that_section_out_of_the_report(world):
    crm, policy = world
    crm.documents.add(customer_id=1, kind="invoice", number="INV-1", amount="100.00",
                      issued_on="2026-11-01", due_on="2026-11-10")
    everything = {s.plugin for s in report.build(crm).sections}
    assert set(SECTION_ACTIONS.values()) <= everything
    for action, plugin in SECTION_ACTIONS.items():
        policy.deny = {action}
        assert {s.plugin for s in report.build(crm).sections} == everything - {plugin}, action
    policy.deny = set()


def test_a_third_party_plugin_can_grant_every_admin_action(world):
    crm, policy = world
    li = crm.using(user="li")
    for action, call in ENTRY_POINTS:
        if ACTIONS[action].roles.count("sales"):
            continue  # the table allows sales already (marketing.view)
        policy.grant = set()
        _denied(lambda call=call: call(li), action)
        policy.grant = {("li", action)}
        call(li)  # the same call, granted: no PermissionDenied
    # li's grants took effect: receivables enabled and disabled again, carol disabled
    assert "receivables" not in crm.plugins.enabled()
    assert not crm.users.get("carol").active
    assert crm.tenants.get("acme2") is not None


def test_a_grant_of_one_action_needs_no_other(world, cli, monkeypatch):
    """jobs run --all-tenants asks jobs.run_all only (not tenants.manage as well)."""
    import crmkit.plugins

    _crm, policy = world
    real = crmkit.plugins.PluginHost
    monkeypatch.setattr(crmkit.plugins, "PluginHost", lambda: real([policy]))  # the CLI's
    r = cli("jobs", "run", "reminders.send", "--all-tenants", "--json", user="li")
    assert r.exit_code == 1 and "may not jobs.run_all" in r.stderr
    policy.grant = {("li", "jobs.run_all")}
    r = cli("jobs", "run", "reminders.send", "--all-tenants", "--json", user="li")
    assert r.exit_code == 0, r.stderr
    assert [(row["tenant"], row["status"]) for row in r.json] == [("default", "ok"),
                                                                  ("acme", "ok")]


def test_sales_view_all_decides_whose_opportunities_a_user_sees(world):
    crm, policy = world
    li_c = 1
    sales.add(crm.using(user="li"), li_c, title="Li's deal", amount="100", close="2026-12-01")
    sales.add(crm, li_c, title="Admin's deal", amount="50", close="2026-12-01",
              owner="admin")
    boss, li = crm.using(user="boss"), crm.using(user="li")
    assert len(sales.list_opportunities(boss)) == 2
    assert [o["title"] for o in sales.list_opportunities(li)] == ["Li's deal"]
    policy.deny = {"sales.view_all"}  # the manager then sees only their own: none
    assert sales.list_opportunities(boss) == []
    policy.deny, policy.grant = set(), {("li", "sales.view_all")}
    assert len(sales.list_opportunities(li)) == 2


def test_audit_read_decides_who_sees_changes_that_concern_no_customer(world):
    crm, policy = world
    crm.users.add("newbie")  # a change about no customer, by admin

    def sees(who: str) -> bool:
        return any(c["table"] == "user" and c["after"]["name"] == "newbie"
                   for c in crm.using(user=who).changes())

    assert sees("admin") and sees("boss") and not sees("li")
    policy.grant = {("li", "audit.read")}
    assert sees("li")
    assert {c["id"] for c in crm.using(user="li").changes()
            if c["table"] == "customer"} == {1, 3}  # her customers only, still
    policy.grant, policy.deny = set(), {"audit.read"}
    assert not sees("boss")
    assert {c["id"] for c in crm.using(user="boss").changes()
            if c["table"] == "customer"} == {1, 2, 3}  # customers' changes stay


def test_the_role_table_by_role_and_tenant(world):
    crm, _policy = world
    expected = {  # (action, user, tenant): allowed - hand-written from the pinned rules
        ("tenants.manage", "admin", "default"): True,
        ("tenants.manage", "admin", "acme"): False,   # operator action
        ("tenants.manage", "boss", "default"): False,
        ("plugins.uninstall", "admin", "acme"): False,
        ("plugins.manage", "admin", "acme"): True,
        ("plugins.manage", "boss", "default"): False,
        ("customers.reassign", "boss", "default"): True,
        ("customers.reassign", "li", "default"): False,
        ("customers.change_owner", "li", "default"): False,
        ("jobs.run", "boss", "default"): True,
        ("jobs.run", "li", "default"): False,
        ("jobs.run_all", "admin", "acme"): False,
        ("grading.run", "li", "default"): False,
        ("webhooks.manage", "boss", "default"): False,
        ("webhooks.read", "boss", "default"): True,
        ("marketing.view", "li", "default"): True,
        ("some.unlisted", "boss", "default"): True,   # admins and managers: yes
        ("some.unlisted", "li", "default"): False,    # nobody else, unless granted
    }
    for (action, user, tenant), allowed in expected.items():
        with crm.using(user=user, tenant=tenant).unit(write=False) as ctx:
            assert ctx.allowed(action, None) is allowed, (action, user, tenant)
    assert OPERATOR_TENANT == "default"


def test_no_authorization_tests_a_role_string_outside_the_role_table():
    offenders = []
    for folder in ("crmkit", "plugins"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel == "crmkit/builtin/permissions.py":
                continue
            for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                invariant = "before.role" in line or "u.c.role" in line  # last admin
                if re.search(r"\buser\.role\b|\.role\s*(==|!=|in\b|not in\b)", line) and \
                        not invariant:
                    offenders.append(f"{rel}:{no}: {line.strip()}")
    assert offenders == []


def test_the_permissions_page_is_the_role_table():
    r = subprocess.run([sys.executable, "tools/gen_permissions_doc.py", "--check"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    page = (ROOT / "docs/admin/permissions.md").read_text(encoding="utf-8")
    for action, rule in ACTIONS.items():
        assert f"| `{action}` |" in page
        assert rule.description in page
    assert "admin/permissions.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")


# --- item 2: tenant management -------------------------------------------------------


def test_an_unknown_user_can_do_nothing_with_tenants(world, cli):
    crm, _policy = world
    before = counts(crm)
    nobody = crm.using(user="nobody")
    for call in (lambda: nobody.tenants.add("x"), nobody.tenants.list):
        with pytest.raises(NotFound, match="user 'nobody' not found"):
            call()
    r = cli("tenant", "add", "x", user="nobody")
    assert r.exit_code == 1 and "user 'nobody' not found" in r.stderr
    assert cli("tenant", "list", user="nobody").exit_code == 1
    assert counts(crm) == before and crm.tenants.get("x", missing_ok=True) is None


def test_only_admins_of_tenant_default_list_and_add_tenants(world, cli):
    crm, _policy = world
    before = counts(crm)
    for who, tenant in (("wang", "default"), ("boss", "default"), ("admin", "acme")):
        view = crm.using(user=who, tenant=tenant)
        _denied(lambda v=view: v.tenants.add("x"), "tenants.manage")
        _denied(view.tenants.list, "tenants.manage")
        r = cli("tenant", "list", "--json", user=who, tenant=tenant)
        assert r.exit_code == 1 and "tenants.manage" in r.stderr and "default" not in r.stdout
    assert counts(crm) == before
    assert [t.slug for t in crm.tenants.list()] == ["default", "acme"]
    assert cli("tenant", "add", "x").exit_code == 0  # the operator
    assert crm.tenants.get("x").slug == "x"


# --- item 11: reassigning and changing an owner --------------------------------------


def test_sales_users_may_not_reassign_or_change_an_owner(world, cli):
    crm, _policy = world
    # zhao owns no customer, but a task and an opportunity on wang's customer 2
    task = crm.activities.add(2, kind="task", subject="call back", owner="zhao",
                              due_on="2026-11-30")
    opp = sales.add(crm, 2, title="zhao's", amount="10", close="2026-12-01", owner="zhao")
    li = crm.using(user="li")
    before = counts(crm)
    _denied(lambda: li.customers.reassign("li", "wang"), "customers.reassign")
    _denied(lambda: li.customers.reassign("zhao", "li"), "customers.reassign")
    _denied(lambda: li.customers.update(1, owner="wang"), "customers.change_owner")
    _denied(lambda: li.customers.upsert("LI-1", owner="wang"), "customers.change_owner")
    r = cli("customer", "reassign", "--from", "zhao", "--to", "li", user="li")
    assert r.exit_code == 1 and "customers.reassign" in r.stderr
    r = cli("customer", "update", "1", "--owner", "wang", user="li")
    assert r.exit_code == 1 and "customers.change_owner" in r.stderr
    assert counts(crm) == before
    assert crm.activities.get(task.id).owner == "zhao"
    assert sales.get(crm, opp.id).owner == "zhao"
    assert crm.customers.get(1).owner == "li"
    # li still updates her own customer, naming herself as owner is no change
    assert li.customers.update(1, name="Li's Ltd", owner=" li ").name == "Li's Ltd"
    # a manager does both
    boss = crm.using(user="boss")
    assert boss.customers.update(1, owner="wang").owner == "wang"
    assert boss.customers.reassign("zhao", "li") == {"customers": 0, "tasks": 1}
    assert crm.activities.get(task.id).owner == "li"


# --- item 9: uninstalling a plugin ---------------------------------------------------


def test_uninstall_is_an_operator_action_refused_while_enabled_and_audited(world, cli):
    crm, _policy = world
    crm.plugins.set("grading", "window_days", 30)  # a setting purge forgets
    before = counts(crm)
    for who, tenant in (("li", "default"), ("boss", "default"), ("admin", "acme")):
        view = crm.using(user=who, tenant=tenant)
        _denied(lambda v=view: uninstall_plan(v, "grading"), "plugins.uninstall")
        _denied(lambda v=view: purge(v, "grading"), "plugins.uninstall")
        for flag in ("--dry-run", "--purge"):
            r = cli("plugins", "uninstall", "grading", flag, "--json", user=who,
                    tenant=tenant)
            assert r.exit_code == 1 and "plugins.uninstall" in r.stderr, (who, flag)
            assert "acme" not in r.stdout + r.stderr.replace(f"tenant '{tenant}'", "")
    r = cli("plugins", "uninstall", "grading", "--purge", user="nobody")
    assert r.exit_code == 1 and "user 'nobody' not found" in r.stderr
    assert counts(crm) == before
    # the operator sees the other tenants in the plan ...
    r = cli("plugins", "uninstall", "grading", "--dry-run", "--json")
    assert r.exit_code == 0 and r.json["enabled_in"] == ["acme", "default"]
    # ... and is refused while any tenant has it enabled: how many, not which
    crm.plugins.disable("grading")
    r = cli("plugins", "uninstall", "grading", "--purge")
    assert r.exit_code == 1
    assert "still enabled for 1 tenant(s)" in r.stderr and "acme" not in r.stderr
    crm.using(tenant="acme").plugins.disable("grading")
    cursor = counts(crm)["cursor"]
    r = cli("plugins", "uninstall", "grading", "--purge")
    assert r.exit_code == 0, r.stderr
    feed = [c for c in crm.changes(since=cursor) if c["table"] == "plugin"]
    assert [(c["op"], c["user"], c["before"]["name"], c["after"]) for c in feed] == [
        ("delete", "admin", "grading", None)]
    assert crm.plugins.settings("grading").window_days != 30  # forgotten


# --- issue 20 item 12: a purged plugin enabled again never re-uses an id -------------


def test_a_purged_plugin_enabled_again_never_reuses_a_record_id(crm_factory):
    crm = crm_factory(enable=("sales",))
    c = crm.customers.add(name="Acme")
    first = [sales.add(crm, c.id, title=f"deal {i}", amount="10", close="2026-12-01").id
             for i in range(3)]
    assert first == [1, 2, 3]
    crm.plugins.disable("sales")
    purge(crm, "sales")
    crm.plugins.enable("sales")
    again = sales.add(crm, c.id, title="after the purge", amount="20", close="2026-12-01")
    assert again.id == 4  # 3 ids were given before the purge: the next is 4, not 1
    inserts = [(x["id"], x["after"]["title"]) for x in crm.changes()
               if x["table"] == "opportunity" and x["op"] == "insert"]
    assert inserts == [(1, "deal 0"), (2, "deal 1"), (3, "deal 2"), (4, "after the purge")]
    # and a second purge keeps counting from there
    crm.plugins.disable("sales")
    purge(crm, "sales")
    crm.plugins.enable("sales")
    assert sales.add(crm, c.id, title="third life", amount="1", close="2026-12-01").id == 5
