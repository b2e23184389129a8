"""The command line: every core command, --json shapes, exit codes 0/1/2, errors as one
line on stderr, and the database unchanged after bad input."""

from __future__ import annotations

import pytest

from tests.test_hooks import counts


@pytest.fixture
def ready(cli):
    assert cli("init").exit_code == 0
    assert cli("user", "add", "li").stdout.strip() == "2"
    return cli


def test_init_is_idempotent(cli):
    assert cli("init").exit_code == 0
    r = cli("init")
    assert r.exit_code == 0 and "ready" in r.stdout
    assert [t["slug"] for t in cli("tenant", "list", "--json").json] == ["default"]


def test_customer_commands(ready):
    cli = ready
    cid = cli("customer", "add", "上海大众", "--owner", "li", "--tag", "vip", "--email",
              "a@dz.cn", "--external-id", "ERP-1").stdout.strip()
    assert cid == "1"
    rec = cli("customer", "add", "Acme", "--kind", "person", "--json").json
    assert (rec["name"], rec["kind"], rec["status"], rec["owner"]) == (
        "Acme", "person", "prospect", "admin")
    rows = cli("customer", "list", "--json").json
    assert [r["name"] for r in rows] == ["上海大众", "Acme"]
    assert [r["id"] for r in cli("customer", "list", "--tag", "vip", "--json").json] == [1]
    assert [r["id"] for r in cli("customer", "list", "--owner", "li", "--json").json] == [1]
    assert [r["id"] for r in cli("customer", "list", "--search", "acm", "--json").json] == [2]
    up = cli("customer", "update", "1", "--phone", "021-1", "--json").json
    assert up["phone"] == "021-1" and up["tags"] == ["vip"]
    assert cli("customer", "archive", "2", "--json").json["status"] == "archived"
    human = cli("customer", "list")
    assert "上海大众" in human.stdout and human.exit_code == 0


def test_customer_show_is_the_360_view(ready):
    cli = ready
    cli("customer", "add", "北京华信")
    assert cli("contact", "add", "1", "张伟", "--title", "采购经理").stdout.strip() == "1"
    cli("activity", "add", "1", "--kind", "visit", "--subject", "季度回访",
        "--at", "2026-11-20T10:30")
    cli("doc", "add", "1", "--kind", "invoice", "--number", "INV-1", "--amount", "1234.5",
        "--due", "2026-12-22", "--line", "widget:2:617.25")
    view = cli("customer", "show", "1", "--json").json
    assert set(view) == {"customer", "contacts", "activities", "documents", "sections"}
    assert view["customer"]["status"] == "active"
    assert view["contacts"][0]["name"] == "张伟"
    assert view["activities"][0]["occurred_at"] == "2026-11-20T10:30:00+00:00"
    assert view["documents"][0]["amount"] == "1234.50"
    human = cli("customer", "show", "1")
    assert "北京华信" in human.stdout and "季度回访" in human.stdout


def test_doc_and_activity_commands(ready):
    cli = ready
    cli("customer", "add", "A")
    d = cli("doc", "add", "1", "--kind", "invoice", "--number", "I1", "--line", "p:3:0.10",
            "--json").json
    assert (d["amount"], d["lines"]) == ("0.30", [{"product": "p", "quantity": "3",
                                                   "unit_price": "0.10"}])
    assert cli("doc", "show", "1", "--json").json["number"] == "I1"
    assert cli("doc", "status", "1", "void", "--json").json["status"] == "void"
    assert [x["number"] for x in cli("doc", "list", "--kind", "invoice", "--json").json] == ["I1"]
    aid = cli("activity", "add", "1", "--kind", "task", "--subject", "call back", "--due",
              "2026-11-20").stdout.strip()
    assert [a["id"] for a in cli("activity", "list", "--open", "--json").json] == [int(aid)]
    rem = cli("reminders", "--json").json
    assert [(r["kind"], r["days_overdue"], r["document"]) for r in rem] == [("task_due", 2, None)]
    sent = cli("reminders", "--send")
    assert sent.stdout.strip().endswith("1 delivered, 0 already delivered")
    assert "call back" in sent.stdout
    again = cli("reminders", "--send", "--json").json
    assert again == {"delivered": [], "already_delivered": 1}
    assert cli("activity", "done", aid, "--json").json["done_at"] is not None
    assert cli("reminders", "--json").json == []


def test_changes_feed_and_audit(ready):
    cli = ready
    cli("customer", "add", "A")
    cli("customer", "update", "1", "--email", "a@b.cn")
    feed = cli("changes", "--since", "3", "--json").json  # 1-3: tenant, admin, li
    assert [(c["table"], c["op"]) for c in feed] == [("customer", "insert"),
                                                     ("customer", "update")]
    assert set(feed[0]) == {"cursor", "at", "user", "table", "id", "op", "before", "after"}
    assert feed[0]["before"] is None and feed[1]["before"]["email"] is None
    assert feed[1]["after"]["email"] == "a@b.cn" and feed[1]["user"] == "admin"
    last = feed[-1]["cursor"]
    assert cli("changes", "--since", str(last), "--json").json == []
    history = cli("audit", "1", "--json").json
    assert [h["op"] for h in history] == ["insert", "update"]


def test_tenant_user_and_plugin_commands(ready):
    cli = ready
    assert cli("tenant", "add", "acme", "--name", "Acme", "--currency", "USD").exit_code == 0
    assert cli("customer", "list", "--json", tenant="acme").json == []
    users = cli("user", "list", "--json", tenant="acme").json
    assert [(u["name"], u["role"]) for u in users] == [("admin", "admin")]
    listed = {p["name"]: p for p in cli("plugins", "list", "--json").json}
    assert listed["permissions"]["builtin"] and listed["permissions"]["enabled"]
    hooks = {h["hook"]: h["plugins"] for h in cli("hooks", "--json").json}
    assert "permissions" in hooks["crm_permission"]
    info = cli("plugins", "info", "permissions", "--json").json
    assert "crm_permission" in info["hooks"]


@pytest.mark.parametrize("args,message", [
    (("customer", "show", "42"), "customer 42 not found"),
    (("customer", "add", "X", "--email", "bad"), "invalid e-mail address 'bad'"),
    (("customer", "add", "X", "--owner", "ghost"), "unknown owner 'ghost'"),
    (("customer", "add", "X", "--kind", "robot"), "unknown customer kind 'robot'; valid: "),
    (("plugins", "enable", "foo"), "unknown plugin 'foo'; installed: "),
    (("doc", "add", "1", "--kind", "invoice", "--number", "N", "--amount", "-5"),
     "amount must not be negative"),
    (("doc", "add", "1", "--kind", "payment", "--number", "P", "--amount", "5",
      "--applies-to", "NOPE"), "payment applies to unknown invoice 'NOPE'"),
    (("doc", "add", "1", "--kind", "invoice", "--number", "N", "--amount", "1e3"),
     "invalid amount '1e3'"),
    (("reminders", "--on", "2026-13-01"), "invalid --on '2026-13-01'"),
    (("customer", "add", "X", "--external-id", "E1"), "external id 'E1' is already used"),
    (("user", "add", "li"), "user 'li' already exists"),
])
def test_domain_errors_exit_1_with_one_line_and_change_nothing(ready, crm_db_url, args,
                                                               message):
    import crmkit

    cli = ready
    cli("customer", "add", "Seed", "--external-id", "E1")
    crm = crmkit.open(crm_db_url)
    before, feed = counts(crm), crm.changes()
    r = cli(*args)
    assert r.exit_code == 1, r
    assert r.stderr.startswith("Error: ") and message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert r.stdout == ""
    assert counts(crm) == before and crm.changes() == feed
    crm.close()


def test_usage_errors_exit_2(ready):
    r = ready("customer", "add")
    assert r.exit_code == 2 and "Missing argument" in r.stderr
    assert ready("customer", "list", "--limit", "abc").exit_code == 2
    # `customer show` takes a name too: an unknown one is "not found" (exit 1)
    r = ready("customer", "show", "abc")
    assert r.exit_code == 1 and "no customer with the external id or name 'abc'" in r.stderr


def test_unreachable_database_exit_1(cli):
    from click.testing import CliRunner

    from crmkit.cli import cli as root

    r = CliRunner().invoke(root, ["--db", "postgresql://x@127.0.0.1:1/none", "customer",
                                  "list"])
    assert r.exit_code == 1
    assert r.stderr.startswith("Error: cannot reach database postgresql://x@127.0.0.1:1/none")


def test_sales_user_cli_sees_own_only(ready):
    cli = ready
    cli("user", "add", "wang")
    cli("customer", "add", "li's", "--owner", "li")
    cli("customer", "add", "wang's", "--owner", "wang")
    assert [c["name"] for c in cli("customer", "list", "--json", user="li").json] == ["li's"]
    r = cli("customer", "show", "2", user="li")
    assert r.exit_code == 1 and "permission denied" in r.stderr


def test_every_command_has_help(cli):
    from crmkit.cli import CORE_COMMANDS

    for name in CORE_COMMANDS:
        r = cli(name, "--help")
        assert r.exit_code == 0 and "Usage:" in r.stdout, name
        import click

        from crmkit.cli import cli as root

        cmd = root.get_command(click.Context(root), name)
        for sub in getattr(cmd, "commands", {}).values():
            assert sub.help, f"{name} {sub.name} has no help"


def test_plugins_set_takes_negative_numbers_as_values(ready):
    r = ready("plugins", "set", "grading", "window_days", "-5")
    assert r.exit_code == 1, r  # refused by the settings class, not a usage error
    assert "window_days" in r.stderr and "No such option" not in r.stderr
    assert ready("plugins", "set", "grading", "window_days", "30").exit_code == 0
