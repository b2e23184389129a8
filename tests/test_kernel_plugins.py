"""The plugin kernel (issue 11, items 5 and 6).

Item 6: hooks are dispatched through pluggy's public API only (a plugin manager of the
enabled plugins, built once per set and kept by the instance), and pluggy is pinned
below its next major version.

Item 5: a plugin raising in an extension hook (``crm_tables``, ``crm_cli``,
``crm_settings``, ``crm_addhooks``, ``crm_demo``) is listed as broken with its error;
the other plugins work and ``crmkit.open()`` never dies of it.
"""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path

import attrs
import pytest
from sqlalchemy import Column, Integer, Table, func, select

import crmkit
from crmkit.errors import PluginError
from crmkit.plugins import PluginHost

ROOT = Path(__file__).resolve().parents[1]


class Counter:
    """A plugin counting ``crm_customer_created`` calls (raises on a name "boom")."""

    def __init__(self, name: str):
        self.PLUGIN = crmkit.PluginSpec(name=name)
        self.calls = 0

    @crmkit.hookimpl
    def crm_customer_created(self, ctx, customer):
        self.calls += 1
        if customer.name == "boom":
            raise RuntimeError(f"{self.PLUGIN.name} exploded")


# --- item 6: public pluggy API ----------------------------------------------------------


def test_no_private_pluggy_api_in_crmkit():
    """``pm._hookexec``, ``HookCaller._add_hookimpl`` and building ``pluggy.HookImpl``
    are pluggy internals that change without notice; none is used anywhere."""
    private = re.compile(r"\._hookexec\b|\._add_hookimpl\b|HookImpl\(|\._hookimpls\b")
    offenders = [f"{p.relative_to(ROOT)}:{n}"
                 for base in ("crmkit", "plugins", "tools", "bench")
                 for p in sorted((ROOT / base).rglob("*.py"))
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if private.search(line)]
    assert offenders == []


def test_pluggy_is_pinned_below_the_next_major():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "pluggy>=1.5,<2" in [d.replace(" ", "") for d in deps]


def test_tenant_hooks_call_only_the_enabled_plugins_and_are_built_once():
    a, b, c = Counter("pa"), Counter("pb"), Counter("pc")
    host = PluginHost([a, b, c], discover=False)
    enabled = frozenset({"pa", "pc"}) | host.builtin_names()
    hooks = host.hooks(enabled)
    assert host.hooks(frozenset(enabled)) is hooks  # cached per enabled set
    caller = hooks.crm_customer_created
    assert hooks.crm_customer_created is caller  # built once
    assert caller.plugins == ["pa", "pc"]
    cust = crmkit.Customer(id=1, tenant_id=1, name="x")
    caller(ctx=None, customer=cust)
    caller(ctx=None, customer=cust)
    assert (a.calls, b.calls, c.calls) == (2, 0, 2)
    host.hooks(None).crm_customer_created(ctx=None, customer=cust)  # None: all of them
    assert (a.calls, b.calls, c.calls) == (3, 1, 3)


def test_a_raising_implementation_is_named_in_the_plugin_error():
    a, b = Counter("pa"), Counter("pb")
    host = PluginHost([a, b], discover=False)
    caller = host.hooks(frozenset({"pb"})).crm_customer_created
    with pytest.raises(PluginError, match="plugin 'pb' failed in crm_customer_created: "
                                          "RuntimeError: pb exploded"):
        caller(ctx=None, customer=crmkit.Customer(id=1, tenant_id=1, name="boom"))
    assert a.calls == 0


def test_two_instances_have_their_own_callers(tmp_path):
    one = crmkit.open(f"sqlite:///{tmp_path / 'a.db'}", plugins=[Counter("pa")],
                      discover=False)
    two = crmkit.open(f"sqlite:///{tmp_path / 'b.db'}", plugins=[Counter("pa")],
                      discover=False)
    try:
        assert one.host.pm is not two.host.pm
        assert one.host.hooks(None) is not two.host.hooks(None)
    finally:
        one.close()
        two.close()


@pytest.fixture
def oldie_host(monkeypatch):
    """A host with ``oldie`` (implements the old name of ``crm_reminders``) and ``pa``."""
    import warnings

    from crmkit import deprecations

    monkeypatch.setattr(deprecations, "DEPRECATED", {
        "crm_reminders_due": deprecations.Deprecation(
            "crm_reminders_due", new="crm_reminders", since="0.2", removal="0.3")})

    class Oldie:
        PLUGIN = crmkit.PluginSpec(name="oldie")

        @crmkit.hookimpl
        def crm_reminders_due(self, ctx, on):
            return ["old"]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", deprecations.CrmkitDeprecationWarning)
        return PluginHost([Oldie(), Counter("pa")], discover=False)


def test_a_deprecated_hook_name_reaches_only_tenants_that_enabled_its_plugin(oldie_host):
    """Implementations of an old hook name are forwarded to the new hook as plugins of
    their own ("<plugin>:<old>"), which belong to their plugin: a tenant that has not
    enabled it does not call them."""
    host = oldie_host
    assert host.owner == {"oldie:crm_reminders_due": "oldie"}
    on = host.hooks(frozenset({"oldie"})).crm_reminders
    off = host.hooks(frozenset({"pa"})).crm_reminders
    assert on.plugins == ["oldie"] and on(ctx=None, on=None) == [["old"]]
    assert off.plugins == [] and off(ctx=None, on=None) == []


def test_impls_by_plugin_names_a_forwarded_implementation_after_its_plugin(oldie_host):
    names = [n for n, _ in oldie_host.impls_by_plugin("crm_reminders")]
    assert "oldie" in names and all(n in oldie_host.installed for n in names)


# --- item 5: extension hooks are fault-isolated ----------------------------------------


class Good:
    """A plugin with a table, settings and a lifecycle hook: it must keep working
    whatever the others do."""

    PLUGIN = crmkit.PluginSpec(name="good")
    created: list[str] = []

    @attrs.frozen
    class Settings:
        days: int = 7

    @crmkit.hookimpl
    def crm_tables(self, metadata, prefix):
        Table(f"{prefix}good_things", metadata, Column("id", Integer, primary_key=True),
              Column("tenant_id", Integer, nullable=False))

    @crmkit.hookimpl
    def crm_settings(self):
        return Good.Settings

    @crmkit.hookimpl
    def crm_customer_created(self, ctx, customer):
        ctx.conn.execute(ctx.crm.table("good_things").insert(), {"tenant_id": ctx.tenant.id})


def _bad(hook: str):
    """A plugin named bad_<hook> whose ``hook`` raises (``crm_tables`` first defines a
    table, so that a half-defined schema must be taken back)."""

    class Bad:
        PLUGIN = crmkit.PluginSpec(name=f"bad_{hook.removeprefix('crm_')}")

        @crmkit.hookimpl
        def crm_customer_created(self, ctx, customer):
            raise AssertionError("a broken plugin must not be called")

    def raising(self, **kwargs):
        if hook == "crm_tables":
            Table(f"{kwargs['prefix']}bad_half", kwargs["metadata"],
                  Column("id", Integer, primary_key=True))
        raise RuntimeError(f"{hook} exploded")

    params = {"crm_tables": "metadata, prefix", "crm_settings": "",
              "crm_addhooks": "pluginmanager", "crm_demo": "crm, customers, rng"}[hook]
    ns: dict = {}
    exec(f"def {hook}(self{', ' if params else ''}{params}):\n"
         f"    return raising(self{''.join(f', {p}={p}' for p in params.split(', ') if p)})",
         {"raising": raising}, ns)
    setattr(Bad, hook, crmkit.hookimpl(ns[hook]))
    return Bad()


@pytest.mark.parametrize("hook", ["crm_tables", "crm_settings", "crm_addhooks"])
def test_a_plugin_raising_in_an_extension_hook_is_listed_broken_and_open_survives(
        crm_factory, hook):
    bad = _bad(hook)
    name = bad.PLUGIN.name
    crm = crm_factory(plugins=[Good(), bad], discover=False)  # before: RuntimeError here
    rows = {p["name"]: p for p in crm.plugins.list()}
    assert rows[name]["error"] == f"{hook} failed: RuntimeError: {hook} exploded"
    assert rows["good"]["error"] is None
    assert isinstance(crm.host.installed[name].cause, RuntimeError)  # the cause is kept
    assert f"{crm.prefix}bad_half" not in crm.metadata.tables  # half-defined: taken back
    with pytest.raises(crmkit.ValidationError, match=f"cannot enable '{name}': it failed "
                                                     "to load"):
        crm.plugins.enable(name)
    crm.plugins.enable("good")
    assert crm.plugins.settings("good").days == 7
    c = crm.customers.add(name="Acme")  # the broken plugin's lifecycle hook is not called
    assert c.id
    with crm.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(crm.table("good_things"))) == 1


def test_a_plugin_raising_in_crm_demo_is_listed_broken_and_the_demo_goes_on(
        tmp_path, caplog):
    import datetime as dt

    from crmkit import demo

    class Demoer:
        PLUGIN = crmkit.PluginSpec(name="demoer")
        seen = 0

        @crmkit.hookimpl
        def crm_demo(self, crm, customers, rng):
            Demoer.seen += 1

    crm = crmkit.open(f"sqlite:///{tmp_path / 'd.db'}", discover=False,
                      plugins=[_bad("crm_demo"), Demoer()], today=dt.date(2026, 11, 22))
    try:
        crm.init()
        with caplog.at_level(logging.WARNING, logger="crmkit"):
            result = demo.build(crm)  # before: RuntimeError out of build()
        assert Demoer.seen == 1 and len(result["customers"]) == 10
        assert result["enabled"] == ["demoer"]
        assert str(result["failed"]["bad_demo"]) == "crm_demo exploded"
        assert crm.host.installed["bad_demo"].error == (
            "crm_demo failed: RuntimeError: crm_demo exploded")
        logged = [r for r in caplog.records if r.name == "crmkit.plugins"]
        assert logged and logged[0].exc_info[1] is result["failed"]["bad_demo"]
    finally:
        crm.close()


BAD_CLI = '''
import crmkit

PLUGIN = crmkit.PluginSpec(name="badcli", description="Breaks in crm_cli.")


@crmkit.hookimpl
def crm_cli(cli):
    import click

    @cli.command("badcli-half")
    def half():
        """Added before the plugin raised: must not be offered."""

    raise RuntimeError("crm_cli exploded")
'''


@pytest.fixture
def badcli(tmp_path, monkeypatch):
    """The installed plugins plus ``badcli`` (an entry point), for the command line."""
    from importlib.metadata import EntryPoint

    import crmkit.plugins as plugins_mod

    (tmp_path / "crmkit_badcli_t.py").write_text(BAD_CLI, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    real = plugins_mod.entry_points

    def entry_points(group):
        return [*real(group=group),
                EntryPoint(name="badcli", value="crmkit_badcli_t", group=group)]

    monkeypatch.setattr(plugins_mod, "entry_points", entry_points)


def test_a_plugin_raising_in_crm_cli_is_listed_broken_and_the_cli_works(
        cli, badcli, caplog):
    assert cli("init").exit_code == 0
    with caplog.at_level(logging.WARNING, logger="crmkit"):
        listed = cli("plugins", "list", "--json")
    assert listed.exit_code == 0, listed
    rows = {p["name"]: p for p in listed.json}
    assert rows["badcli"]["error"] == "crm_cli failed: RuntimeError: crm_cli exploded"
    assert rows["receivables"]["error"] is None
    assert "Traceback" not in listed.stderr  # no traceback without --debug ...
    assert any(r.exc_info and "crm_cli exploded" in str(r.exc_info[1])
               for r in caplog.records)  # ... but logged, with the exception
    assert cli("receivables", "--help").exit_code == 0  # the others' commands work
    assert cli("badcli-half").exit_code == 2  # what it half-added is not offered


def test_debug_shows_the_traceback_of_a_broken_plugin(cli, badcli):
    cli("init")
    r = cli("--debug", "plugins", "list")
    assert r.exit_code == 0
    assert "Plugin 'badcli' is broken: crm_cli failed: RuntimeError: crm_cli exploded" in (
        r.stderr)
    assert "Traceback (most recent call last)" in r.stderr
    assert 'raise RuntimeError("crm_cli exploded")' in r.stderr


# --- item 7: init creates the core only ----------------------------------------------


def _present(crm) -> set[str]:
    from sqlalchemy import inspect

    return set(inspect(crm.engine).get_table_names())


def test_init_creates_the_core_only_and_enabling_creates_a_plugins_tables(crm_factory, cli):
    from crmkit import migrations

    crm = crm_factory()  # discovered: grading, sales, webhooks, marketing, ... installed
    plugins = {n: p.tables for n, p in crm.host.installed.items()
               if p.loaded and not p.builtin and p.tables}
    assert {"grading", "sales", "webhooks"} <= set(plugins)
    present = _present(crm)
    assert {crm.prefix + t for t in ("customers", "documents", "plugin_state")} <= present
    # before the fix, init made 8+ tables of grading, sales and webhooks, enabled nowhere
    assert {n: sorted(set(t) & present) for n, t in plugins.items()} == {
        n: [] for n in plugins}
    at = migrations.current(crm)
    assert (at["grading"], at["sales"], at["webhooks"]) == (None, None, None)

    crm.plugins.enable("grading")  # first enabled for any tenant: its branch, to head
    assert set(plugins["grading"]) <= _present(crm)
    assert migrations.current(crm)["grading"] == migrations.heads(crm)["grading"]
    crm.tenants.add("acme")
    crm.using(tenant="acme").plugins.enable("grading")  # again: nothing to do, no error
    crm.init()  # init again: grading (in use) stays at head, the others stay absent
    assert set(plugins["sales"]) & _present(crm) == set()

    r = cli("db", "upgrade")  # `db upgrade`: every installed branch
    assert r.exit_code == 0, r
    assert {t for ts in plugins.values() for t in ts} <= _present(crm)


def test_a_plugin_without_migrations_gets_its_tables_when_enabled(crm_factory):
    crm = crm_factory(plugins=[Good()], discover=False)
    assert "crm_good_things" not in _present(crm)
    crm.plugins.enable("good")
    assert "crm_good_things" in _present(crm)


FLAKY_TABLES = '''
import os

import crmkit
from sqlalchemy import Column, Integer, Table

PLUGIN = crmkit.PluginSpec(name="flaky", description="Breaks in crm_tables on demand.")


@crmkit.hookimpl
def crm_tables(metadata, prefix):
    Table(f"{prefix}flaky_rows", metadata, Column("id", Integer, primary_key=True),
          Column("tenant_id", Integer, nullable=False))
    if os.environ.get("FLAKY_BREAK") == "1":
        raise RuntimeError("crm_tables exploded")
'''


def test_an_enabled_plugin_broken_in_crm_tables_is_warned_about_and_the_cli_works(
        cli, tmp_path, monkeypatch):
    from importlib.metadata import EntryPoint

    import crmkit.plugins as plugins_mod

    (tmp_path / "crmkit_flaky_t.py").write_text(FLAKY_TABLES, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    real = plugins_mod.entry_points
    monkeypatch.setattr(plugins_mod, "entry_points", lambda group: [
        *real(group=group), EntryPoint(name="flaky", value="crmkit_flaky_t", group=group)])
    assert cli("init").exit_code == 0
    assert cli("plugins", "enable", "flaky").exit_code == 0  # healthy when enabled
    assert cli("customer", "add", "Acme").exit_code == 0

    monkeypatch.setenv("FLAKY_BREAK", "1")  # the next release of the plugin breaks
    r = cli("customer", "list", "--json")  # before: the raw RuntimeError, exit 1
    assert r.exit_code == 0, r
    assert [c["name"] for c in r.json] == ["Acme"]
    assert ("Warning: plugin 'flaky' is enabled but not loaded: crm_tables failed: "
            "RuntimeError: crm_tables exploded") in r.stderr
    assert "Traceback" not in r.stderr

