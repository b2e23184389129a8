"""The conformance kit (crmkit.conformance), hook deprecations and the testing kit."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import crmkit
from crmkit import deprecations
from crmkit.conformance import check_installed, check_plugin
from crmkit.plugins import PluginHost
from crmkit.testing import Recorder, assert_conformant, emitted_events

FIRST_PARTY = sorted(ep.name for ep in entry_points(group="crmkit.plugins")
                     if ep.dist is not None and ep.dist.name == "crmkit")


def _module(tmp_path, monkeypatch, name: str, source: str):
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(name, None)
    return importlib.import_module(name)


@pytest.mark.parametrize("name", FIRST_PARTY)
def test_first_party_plugin_conforms(name):
    ep = next(ep for ep in entry_points(group="crmkit.plugins") if ep.name == name)
    spec = ep.load().PLUGIN
    if not spec.description or spec.description.startswith("(in progress)"):
        pytest.skip(f"plugin '{name}' is still a stub (no description)")
    assert_conformant(name)


@pytest.mark.parametrize("module", ["crmkit.builtin.permissions", "crmkit.builtin.lifecycle",
                                    "crmkit.builtin.terminal"])
def test_builtin_plugins_conform(module):
    assert check_plugin(module) == []


BROKEN = '''
    import attrs
    import click
    from sqlalchemy import Column, Integer, Table

    import crmkit


    @attrs.define
    class Settings:
        limit: int


    PLUGIN = crmkit.PluginSpec(name="broken", version="one", description="",
                               requires=("nonexistent",), settings=Settings)


    @crmkit.hookimpl
    def crm_reminder(ctx, on):
        return []


    @crmkit.hookimpl
    def crm_customer_created(ctx, custmer):
        pass


    def crm_deliver(ctx, reminders):
        pass


    @crmkit.hookimpl
    def crm_tables(metadata, prefix):
        Table("broken_things", metadata, Column("id", Integer, primary_key=True))


    @crmkit.hookimpl
    def crm_cli(cli):
        @click.group("broken")
        def group():
            pass

        @group.command("run")
        def run():
            """Run it."""

        cli.add_command(group)
'''


def test_broken_plugin_problems(tmp_path, monkeypatch):
    mod = _module(tmp_path, monkeypatch, "crmkit_broken_t", BROKEN)
    assert check_plugin(mod) == [
        "broken: PLUGIN.version 'one' is not a version like 0.1.0",
        "broken: PLUGIN.description is empty",
        "broken: PLUGIN.requires 'nonexistent', which is not installed",
        "broken: crm_customer_created: argument 'custmer' is not in the hookspec "
        "(ctx, customer); did you mean 'customer'?",
        "broken: 'crm_reminder' is not a known hook; did you mean 'crm_reminders'?",
        "broken: function 'crm_deliver' looks like a hook but is not marked @crmkit.hookimpl",
        "broken: setting 'limit' has no default",
        "broken: table 'broken_things' should be named 'crm_broken_...' (use the prefix "
        "argument)",
        "broken: table 'broken_things' has no tenant_id column",
        "broken: command 'crmkit broken' has no help text",
    ]
    with pytest.raises(AssertionError, match="crm_reminder"):
        assert_conformant(mod)


def test_settings_that_do_not_round_trip_or_are_not_frozen(tmp_path, monkeypatch):
    mod = _module(tmp_path, monkeypatch, "crmkit_unfrozen_t", '''
        import attrs
        import crmkit

        @attrs.define
        class Settings:
            days: int = 3

        PLUGIN = crmkit.PluginSpec(name="unfrozen", description="x", settings=Settings)
    ''')
    assert check_plugin(mod) == ["unfrozen: settings class is not frozen (use @attrs.frozen)"]


def test_host_lists_a_plugin_with_a_misspelled_argument_and_keeps_going(tmp_path, monkeypatch):
    mod = _module(tmp_path, monkeypatch, "crmkit_typo_t", '''
        import crmkit

        PLUGIN = crmkit.PluginSpec(name="typo", description="A typo.")

        @crmkit.hookimpl
        def crm_cli(cli):
            raise AssertionError("a plugin that failed to load must not be called")

        @crmkit.hookimpl
        def crm_reminders(ctx, today):
            return []
    ''')
    host = PluginHost([mod], discover=False)
    assert "today" in host.installed["typo"].error
    assert host.impls_by_plugin("crm_cli") == []  # unregistered, not half-registered
    rows = {r["plugin"]: r for r in check_installed(host)}
    assert rows["typo"]["ok"] is False
    assert rows["typo"]["problems"] == [
        "crm_reminders: argument 'today' is not in the hookspec (ctx, on)"]
    assert rows["terminal"] == {"plugin": "terminal", "source": "crmkit (built-in)",
                                "loaded": True, "ok": True, "problems": []}


OLD_NAME = '''
    import crmkit

    PLUGIN = crmkit.PluginSpec(name="oldie", description="Uses a renamed hook.")

    @crmkit.hookimpl
    def crm_reminders_due(ctx, on):
        return [crmkit.Reminder(key="oldie:1", plugin="oldie", kind="k", subject="still here",
                                due_on=on, owner="admin")]
'''


def test_deprecated_hook_name_warns_and_keeps_working(tmp_path, monkeypatch):
    monkeypatch.setattr(deprecations, "DEPRECATED", {
        "crm_reminders_due": deprecations.Deprecation(
            "crm_reminders_due", new="crm_reminders", since="0.2", removal="0.3")})
    mod = _module(tmp_path, monkeypatch, "crmkit_oldie_t", OLD_NAME)
    with pytest.warns(deprecations.CrmkitDeprecationWarning,
                      match="hook 'crm_reminders_due' is deprecated since crmkit 0.2 and "
                            "will be removed in 0.3; use 'crm_reminders' instead"):
        crm = crmkit.open(f"sqlite:///{tmp_path / 'd.db'}", plugins=[mod], discover=False)
    crm.init()
    crm.plugins.enable("oldie")
    assert [r.subject for r in crm.reminders.due() if r.plugin == "oldie"] == ["still here"]
    message = ("hook 'crm_reminders_due' is deprecated since crmkit 0.2 and will be removed "
               "in 0.3; use 'crm_reminders' instead")
    assert check_plugin(mod) == [f"oldie: {message}"]
    rows = {r["plugin"]: r for r in check_installed(crm.host)}
    assert rows["oldie"]["problems"] == [message]
    crm.close()


def test_without_the_deprecation_the_old_name_is_unknown(tmp_path, monkeypatch):
    mod = _module(tmp_path, monkeypatch, "crmkit_oldie2_t", OLD_NAME)
    assert check_plugin(mod) == [
        "oldie: 'crm_reminders_due' is not a known hook; did you mean 'crm_reminders'?"]


def test_hooks_declared_by_plugins_are_known(tmp_path, monkeypatch):
    """A plugin implementing a hook another plugin adds with crm_addhooks conforms."""
    _module(tmp_path, monkeypatch, "crmkit_decl_specs_t", '''
        import crmkit

        @crmkit.hookspec
        def crm_decl_thing(ctx, thing):
            """A thing happened. Since 0.1."""
    ''')
    decl = _module(tmp_path, monkeypatch, "crmkit_decl_t", '''
        import crmkit
        import crmkit_decl_specs_t

        PLUGIN = crmkit.PluginSpec(name="decl", description="Declares a hook.")

        @crmkit.hookimpl
        def crm_addhooks(pluginmanager):
            pluginmanager.add_hookspecs(crmkit_decl_specs_t)
    ''')
    user = _module(tmp_path, monkeypatch, "crmkit_user_t", '''
        import crmkit

        PLUGIN = crmkit.PluginSpec(name="user", description="Uses it.", requires=("decl",))

        @crmkit.hookimpl
        def crm_decl_thing(ctx, thng):
            pass
    ''')
    host = PluginHost([decl], discover=False)
    assert check_plugin(user, host=host) == [
        "user: crm_decl_thing: argument 'thng' is not in the hookspec (ctx, thing); "
        "did you mean 'thing'?"]


def test_recorder_and_emitted_events(crm_factory, tmp_path, monkeypatch):
    events = _module(tmp_path, monkeypatch, "crmkit_events_t", '''
        import crmkit

        PLUGIN = crmkit.PluginSpec(name="events", description="Emits an event.")

        @crmkit.hookimpl
        def crm_customer_created(ctx, customer):
            if customer.name == "refuse":
                raise crmkit.ValidationError("refused")
            ctx.emit("events.hello", {"name": customer.name}, customer_id=customer.id)

        @crmkit.hookimpl
        def crm_reminders(ctx, on):
            return [crmkit.Reminder(key=f"events:{on}", plugin="events", kind="k",
                                    subject="hi", due_on=on, owner="admin")]
    ''')
    rec = Recorder()
    crm = crm_factory(plugins=[events, rec], enable=("events", "recorder"))
    c = crm.customers.add(name="Acme")
    with pytest.raises(crmkit.ValidationError):
        crm.customers.add(name="refuse")
    got = emitted_events(crm, "events.hello")
    assert [(e["event"], e["customer_id"], e["payload"]) for e in got] == [
        ("events.hello", c.id, {"name": "Acme"})]  # the refused one rolled back
    crm.reminders.send()
    crm.reminders.send()
    assert rec.keys == ["events:2026-11-22"]  # delivered once


def test_tables_must_use_the_prefix_and_lead_indexes_with_tenant(tmp_path, monkeypatch):
    mod = _module(tmp_path, monkeypatch, "crmkit_hard_t", '''
        from sqlalchemy import Column, Index, Integer, Table

        import crmkit

        PLUGIN = crmkit.PluginSpec(name="hard", description="Hard-coded table names.")

        @crmkit.hookimpl
        def crm_tables(metadata, prefix):
            Table("crm_hard_things", metadata, Column("tenant_id", Integer, nullable=False),
                  Column("n", Integer), Index(f"{prefix}ix_hard_n", "n", "tenant_id"))
    ''')
    assert check_plugin(mod) == [
        "hard: index 'crm_ix_hard_n' of 'crm_hard_things' does not lead with tenant_id",
        "hard: table(s) crm_hard_things ignore the prefix argument",
    ]


def test_plugins_check_command_on_the_installed_plugins():
    """Every installed plugin (built-in, first-party, and the example if installed) passes
    `crmkit plugins check`; --json prints one row per plugin."""
    from click.testing import CliRunner

    from crmkit.cli import cli

    res = CliRunner().invoke(cli, ["plugins", "check", "--json"])
    rows = json.loads(res.stdout)
    assert [r["plugin"] for r in rows if not r["ok"]] == [], rows
    assert res.exit_code == 0
    names = {r["plugin"] for r in rows}
    assert {"permissions", "terminal", *FIRST_PARTY} <= names


def test_first_party_plugins_have_a_test_named_after_every_hook_they_implement():
    """The check offered to plugin authors (`plugins check --tests`), held by the
    first-party plugins themselves against this folder."""
    from click.testing import CliRunner

    from crmkit.cli import cli

    tests = str(Path(__file__).resolve().parent)
    res = CliRunner().invoke(cli, ["plugins", "check", *FIRST_PARTY, "--tests", tests,
                                   "--json"])
    rows = json.loads(res.stdout)
    assert {r["plugin"]: r["problems"] for r in rows if r["problems"]} == {}
    assert res.exit_code == 0 and {r["plugin"] for r in rows} == set(FIRST_PARTY)


TWO_HOOKS = '''
    import crmkit

    PLUGIN = crmkit.PluginSpec(name="twohooks", description="Two hooks.")

    @crmkit.hookimpl
    def crm_cli(cli):
        pass

    @crmkit.hookimpl(specname="crm_reminders")
    def quiet(ctx, on):
        return []
'''


def test_every_hook_needs_a_test_named_after_it(tmp_path, monkeypatch):
    mod = _module(tmp_path, monkeypatch, "crmkit_twohooks_t", TWO_HOOKS)
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_two.py").write_text(textwrap.dedent('''
        def test_crm_reminders_are_quiet():
            pass


        class TestMore:
            def test_cli_mentions_crm_nothing(self):
                pass
    '''), encoding="utf-8")
    # specname counts: quiet() implements crm_reminders, which a test names
    assert check_plugin(mod, tests=tests) == [
        f"twohooks: hook 'crm_cli' has no test named after it in {tests} "
        "(e.g. test_crm_cli_...)"]
    assert check_plugin(mod) == []  # without tests=, no such check
    (tests / "test_cli.py").write_text("def test_crm_cli_adds_nothing():\n    pass\n",
                                       encoding="utf-8")
    assert check_plugin(mod, tests=tests) == []
    assert check_plugin(mod, tests=tmp_path / "nowhere") == [
        f"twohooks: no tests at {tmp_path / 'nowhere'}"]
    with pytest.raises(AssertionError, match="'crm_cli' has no test"):
        assert_conformant(mod, tests=tests / "test_two.py")


def test_plugins_check_with_tests_on_the_example_plugin():
    """`plugins check NAME --tests DIR` runs datasette's check on one plugin: every hook
    of examples/crmkit-birthday has a test named after it, none of a folder without."""
    from pathlib import Path

    from click.testing import CliRunner

    from crmkit.cli import cli

    example = Path(__file__).resolve().parent.parent / "examples" / "crmkit-birthday"
    if "birthday" not in {ep.name for ep in entry_points(group="crmkit.plugins")}:
        pytest.skip("examples/crmkit-birthday is not installed (pip install -e it)")
    ok = CliRunner().invoke(cli, ["plugins", "check", "birthday", "--tests",
                                  str(example / "tests"), "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout) == [{"plugin": "birthday", "source": "crmkit_birthday",
                                      "loaded": True, "ok": True, "problems": []}]
    bare = CliRunner().invoke(cli, ["plugins", "check", "birthday", "--tests",
                                    str(example / "crmkit_birthday" / "service.py")])
    assert bare.exit_code == 1
    assert "no test functions in" in bare.stdout
    assert bare.stderr == "Error: 1 plugin(s) with problems: birthday\n"
    unknown = CliRunner().invoke(cli, ["plugins", "check", "nope"])
    assert unknown.exit_code == 1 and "unknown plugin 'nope'" in unknown.stderr
