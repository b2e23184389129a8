"""The demo, and the hooks not exercised elsewhere: crm_settings, crm_reassign,
crm_cli (a disabled plugin's command says how to enable it), crm_demo."""

from __future__ import annotations

import attrs
import pytest
from click.testing import CliRunner

import crmkit
from crmkit.cli import cli as root
from tests.plugins.recorder import Recorder


def _demo(tmp_path, name):
    url = f"sqlite:///{tmp_path / name}"
    r = CliRunner().invoke(root, ["--db", url, "--today", "2026-11-22", "demo"])
    assert r.exit_code == 0, r.output
    return url, r.stdout


def test_demo_builds_a_deterministic_sample_business(tmp_path):
    url1, out = _demo(tmp_path, "a.db")
    url2, _ = _demo(tmp_path, "b.db")
    assert "Sample business created" in out and "上海大众贸易有限公司" in out
    # the demo ends with `crmkit today`: the figures first, then what to act on
    assert "Today 2026-11-22 · admin (all customers)" in out
    assert out.index("Receivables") < out.index("Largest overdue balances")
    snaps = []
    for url in (url1, url2):
        crm = crmkit.open(url, today=__import__("datetime").date(2026, 11, 22))
        snaps.append((
            [(c.name, c.owner, c.status, c.tags) for c in crm.customers.list()],
            [(d.kind, d.number, d.amount, d.issued_on, d.due_on, d.applies_to)
             for d in crm.documents.list()],
            [r.key for r in crm.reminders.due()],
        ))
        names = [c.name for c in crm.customers.list()]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in names[0]) and "Northwind Traders" in names
        kinds = {d.kind for d in crm.documents.list()}
        assert {"quote", "order", "invoice", "payment", "expense"} <= kinds
        crm.close()
    assert snaps[0] == snaps[1]


def test_demo_refuses_to_overwrite_without_force(tmp_path):
    # an existing file is a domain error (exit 1, nothing touched), not a usage error
    url, _ = _demo(tmp_path, "c.db")
    before = (tmp_path / "c.db").read_bytes()
    r = CliRunner().invoke(root, ["--db", url, "demo"])
    assert r.exit_code == 1 and "already exists; use --force" in r.stderr
    assert (tmp_path / "c.db").read_bytes() == before
    assert CliRunner().invoke(root, ["--db", url, "demo", "--force"]).exit_code == 0


def test_crm_settings_hook_supplies_a_settings_class(crm_factory):
    @attrs.frozen
    class S:
        days: int = 7

    class P:
        PLUGIN = crmkit.PluginSpec(name="withhook")

        @crmkit.hookimpl
        def crm_settings(self):
            return S

    crm = crm_factory(plugins=[P()], enable=["withhook"])
    assert crm.plugins.settings("withhook") == S(days=7)
    crm.plugins.set("withhook", "days", 9)
    assert crm.plugins.settings("withhook").days == 9


def test_crm_reassign_hook_fires_once_in_the_transaction(crm_factory):
    rec = Recorder()
    crm = crm_factory(plugins=[rec], enable=["recorder"])
    crm.users.add("li")
    crm.users.add("wang")
    crm.customers.add(name="A", owner="li")
    rec.calls.clear()
    crm.customers.reassign("li", "wang")
    assert ("crm_reassign", ("li", "wang")) in rec.calls
    assert [c for c in rec.calls if c[0] == "crm_reassign"] == [("crm_reassign", ("li", "wang"))]


def test_crm_demo_hook_is_called_for_enabled_plugins(tmp_path):
    seen = []

    class P:
        PLUGIN = crmkit.PluginSpec(name="demoer")

        @crmkit.hookimpl
        def crm_demo(self, crm, customers, rng):
            seen.append((len(customers), rng.random() < 1))

    import datetime as dt

    from crmkit import demo

    crm = crmkit.open(f"sqlite:///{tmp_path / 'd.db'}", plugins=[P()], discover=False,
                      today=dt.date(2026, 11, 22))
    crm.init()
    result = demo.build(crm)
    assert "demoer" in result["enabled"] and seen == [(10, True)]


def test_a_disabled_plugins_command_says_how_to_enable_it(cli):
    cli("init")
    listed = {p["name"]: p for p in cli("plugins", "list", "--json").json}
    if "receivables" not in listed or listed["receivables"]["error"]:
        pytest.skip("receivables plugin not installed")
    r = cli("receivables", "aging")
    assert r.exit_code == 1
    assert ("plugin 'receivables' is not enabled for tenant 'default'; enable it with "
            "`crmkit plugins enable receivables`") in r.stderr
    assert cli("receivables", "--help").exit_code == 0
