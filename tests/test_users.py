"""Changing and deactivating users: user update/disable/enable, customer reassign
--disable; a disabled user cannot act."""

from __future__ import annotations

import pytest

import crmkit
from tests.test_hooks import counts


@pytest.fixture
def team(cli):
    assert cli("init").exit_code == 0
    for name, role in (("li", "sales"), ("zhao", "sales"), ("mgr", "manager")):
        assert cli("user", "add", name, "--role", role).exit_code == 0
    cli("customer", "add", "A", "--owner", "li")
    cli("customer", "add", "B", "--owner", "li")
    cli("activity", "add", "1", "--kind", "task", "--subject", "call", "--due",
        "2026-11-25", "--owner", "li")
    return cli


def test_user_update_sets_role_and_email_and_is_audited(team):
    cli = team
    u = cli("user", "update", "li", "--role", "manager", "--email", "li@example.cn",
            "--json").json
    assert (u["name"], u["role"], u["email"], u["active"]) == ("li", "manager",
                                                             "li@example.cn", True)
    feed = cli("changes", "--json").json
    assert feed[-1]["table"] == "user" and feed[-1]["op"] == "update"
    assert (feed[-1]["before"]["role"], feed[-1]["after"]["role"]) == ("sales", "manager")
    r = cli("user", "update", "li", "--email", "")
    assert r.exit_code == 0 and r.stdout.strip() == "user li: role manager, e-mail -"
    listed = {x["name"]: x for x in cli("user", "list", "--json").json}
    assert listed["li"]["email"] is None


@pytest.mark.parametrize("args,message", [
    (("user", "update", "li", "--role", "boss"), "unknown user role 'boss'; valid: "),
    (("user", "update", "li", "--email", "not-an-address"), "invalid e-mail address"),
    (("user", "update", "ghost", "--role", "sales"), "user 'ghost' not found"),
    (("user", "disable", "ghost"), "user 'ghost' not found"),
    (("user", "disable", "admin"), "you cannot disable yourself ('admin')"),
    (("user", "update", "admin", "--role", "sales"),
     "'admin' is the tenant's last active admin; make another user admin first"),
])
def test_bad_user_changes_are_one_sentence_and_change_nothing(team, crm_db_url, args,
                                                              message):
    crm = crmkit.open(crm_db_url)
    before, feed = counts(crm), crm.changes()
    users = crm.users.list()
    r = team(*args)
    assert r.exit_code == 1, r
    assert r.stderr.startswith("Error: ") and message in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) == 1
    assert counts(crm) == before and crm.changes() == feed and crm.users.list() == users
    crm.close()


def test_a_disabled_user_cannot_act(team):
    cli = team
    assert cli("user", "disable", "li").stdout.strip() == "user li disabled"
    for args in (("customer", "list"), ("customer", "add", "C"), ("today",)):
        r = cli(*args, user="li")
        assert r.exit_code == 1, (args, r)
        assert r.stderr == ("Error: user 'li' is disabled in tenant 'default' and cannot "
                            "act; an admin can enable it again with `crmkit user enable "
                            "li`\n")
    # nobody can hand them new customers, and list shows them as disabled
    r = cli("customer", "add", "C", "--owner", "li")
    assert r.exit_code == 1 and "owner 'li' is a disabled user" in r.stderr
    assert "disabled" in cli("user", "list").stdout
    assert cli("user", "enable", "li").exit_code == 0
    assert cli("customer", "list", "--json", user="li").exit_code == 0


def test_only_who_may_manage_users_may_change_them(team):
    r = team("user", "disable", "zhao", user="li")
    assert r.exit_code == 1 and "permission denied: user 'li' may not users.manage" in r.stderr
    r = team("user", "update", "zhao", "--role", "admin", user="li")
    assert r.exit_code == 1 and "permission denied" in r.stderr


def test_reassign_disable_hands_over_then_disables_in_one_transaction(team, crm_db_url):
    cli = team
    r = cli("customer", "reassign", "--from", "li", "--to", "zhao", "--disable", "--json")
    assert r.exit_code == 0, r
    assert r.json == {"from": "li", "to": "zhao", "customers": 2, "tasks": 1,
                      "disabled": True}
    owners = {c["name"]: c["owner"] for c in cli("customer", "list", "--json").json}
    assert owners == {"A": "zhao", "B": "zhao"}
    assert cli("customer", "list", user="li").exit_code == 1  # li can no longer act
    # a disabled user is no target
    r = cli("customer", "reassign", "--from", "zhao", "--to", "li")
    assert r.exit_code == 1 and "user 'li' is disabled" in r.stderr


def test_reassign_disable_that_fails_moves_nothing(team, crm_db_url):
    cli = team
    cli("customer", "add", "D")  # owned by admin
    crm = crmkit.open(crm_db_url)
    before, feed = counts(crm), crm.changes()
    # the customers move first, then disabling the acting admin is refused: the whole
    # hand-over rolls back with it
    r = cli("customer", "reassign", "--from", "admin", "--to", "zhao", "--disable")
    assert r.exit_code == 1 and "you cannot disable yourself ('admin')" in r.stderr
    assert counts(crm) == before and crm.changes() == feed
    assert crm.customers.get(3).owner == "admin"
    assert all(u.active for u in crm.users.list())
    crm.close()
