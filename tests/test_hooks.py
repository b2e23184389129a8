"""The hooks: lifecycle order and rollback, per-tenant enablement, call order,
isolation of instances, broken plugins, settings, sections, reminders."""

from __future__ import annotations

import datetime as dt

import pytest

import crmkit
from crmkit.plugins import PluginHost
from tests.plugins.recorder import LIFECYCLE, Failing, Ordered, Recorder


def counts(crm):
    """Row counts of the tables a change could touch, plus the audit cursor."""
    from sqlalchemy import func, select

    out = {}
    with crm.engine.connect() as conn:
        for name in ("customers", "contacts", "activities", "documents", "document_lines",
                     "audit", "outbox"):
            t = crm.table(name)
            out[name] = conn.execute(select(func.count()).select_from(t)).scalar_one()
    return out


def test_every_lifecycle_hook_fires_with_its_record(crm_factory):
    rec = Recorder()
    crm = crm_factory(plugins=[rec], enable=["recorder"])
    c = crm.customers.add(name="上海大众")
    crm.customers.update(c.id, phone="021-1")
    a = crm.activities.add(c.id, kind="call", subject="hello")
    crm.activities.done(a.id)
    d = crm.documents.add(c.id, kind="quote", number="Q1", amount="10.00")
    crm.documents.set_status(d.id, "accepted")
    crm.customers.archive(c.id)
    assert rec.calls == [
        ("crm_customer_created", c.id),
        ("crm_customer_updated", c.id), ("changes", ("phone",)),
        ("crm_activity_logged", a.id),
        ("crm_activity_updated", a.id),
        ("crm_document_created", d.id),
        ("crm_document_updated", d.id),
        ("crm_customer_archived", c.id),
    ]


@pytest.mark.parametrize("hook", LIFECYCLE)
def test_plugin_raising_in_a_lifecycle_hook_leaves_nothing_written(crm_factory, hook):
    crm = crm_factory(plugins=[Failing(hook)], enable=["failing"])
    # a customer to act on, created before the failing hook matters
    with pytest.raises(crmkit.PluginError) if hook == "crm_customer_created" else _noop():
        crm.customers.add(name="seed")
    seed = crm.customers.list()
    if not seed:  # the hook under test is crm_customer_created: nothing was written
        assert counts(crm)["customers"] == 0
        return
    cid = seed[0].id
    act = None if hook.startswith("crm_activity_logged") else _try(
        lambda: crm.activities.add(cid, kind="task", subject="t"))
    doc = None if hook == "crm_document_created" else _try(
        lambda: crm.documents.add(cid, kind="quote", number="Q0", amount="1.00"))
    before = counts(crm)
    actions = {
        "crm_customer_updated": lambda: crm.customers.update(cid, email="a@b.cn"),
        "crm_customer_archived": lambda: crm.customers.archive(cid),
        "crm_activity_logged": lambda: crm.activities.add(cid, kind="call", subject="x"),
        "crm_activity_updated": lambda: crm.activities.done(act.id),
        "crm_document_created": lambda: crm.documents.add(cid, kind="invoice", number="I1",
                                                          amount="5.00", lines=["p:1:5"]),
        "crm_document_updated": lambda: crm.documents.set_status(doc.id, "void"),
    }
    with pytest.raises(crmkit.PluginError) as err:
        actions[hook]()
    assert err.value.plugin == "failing"
    assert str(err.value) == f"plugin 'failing' failed in {hook}: RuntimeError: boom"
    assert counts(crm) == before
    assert crm.customers.get(cid).status in ("prospect", "active")


class _noop:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _try(fn):
    return fn()


def test_validate_errors_of_all_plugins_are_collected_and_nothing_is_written(crm_factory):
    crm = crm_factory(plugins=[Failing("crm_customer_validate", "a"),
                               Failing("crm_customer_validate", "b")], enable=["a", "b"])
    before = counts(crm)
    with pytest.raises(crmkit.ValidationError) as err:
        crm.customers.add(name="x")
    assert sorted(err.value.errors) == ["a refuses", "b refuses"]
    assert counts(crm) == before


def test_hooks_reach_only_plugins_enabled_for_the_tenant(crm_factory):
    rec = Recorder()
    crm = crm_factory(plugins=[rec])
    crm.customers.add(name="not recorded")
    assert rec.calls == []
    crm.plugins.enable("recorder")
    c = crm.customers.add(name="recorded")
    assert rec.calls == [("crm_customer_created", c.id)]
    crm.tenants.add("other")
    crm.using(tenant="other").customers.add(name="other tenant")
    assert len(rec.calls) == 1  # not enabled in tenant "other"
    crm.plugins.disable("recorder")
    crm.customers.add(name="disabled again")
    assert len(rec.calls) == 1


def test_requirements_are_called_before_the_plugins_that_need_them(crm_factory):
    log: list[str] = []
    # registered in an order that would put 'app' first by accident
    plugins = [Ordered("zbase", log), Ordered("app", log, requires=("zbase",)),
               Ordered("first", log, tryfirst=True)]
    crm = crm_factory(plugins=plugins, enable=["app", "first"])
    assert set(crm.plugins.enabled()) >= {"app", "zbase", "first"}  # app pulled zbase in
    crm.customers.add(name="x")
    assert log == ["first", "zbase", "app"]


def test_enable_refuses_missing_requirement_and_disable_refuses_needed_plugin(crm_factory):
    crm = crm_factory(plugins=[Ordered("app", [], requires=("ghost",)),
                               Ordered("base", []), Ordered("top", [], requires=("base",))])
    with pytest.raises(crmkit.ValidationError,
                       match="cannot enable 'app': it requires 'ghost', which is not installed"):
        crm.plugins.enable("app")
    crm.plugins.enable("top")
    with pytest.raises(crmkit.ValidationError, match="enabled plugin 'top' requires it"):
        crm.plugins.disable("base")
    with pytest.raises(crmkit.ValidationError, match="unknown plugin 'nope'; installed: "):
        crm.plugins.enable("nope")


def test_two_open_instances_share_nothing(tmp_path, today):
    a = crmkit.open(f"sqlite:///{tmp_path / 'a.db'}", plugins=[Recorder()], today=today)
    b = crmkit.open(f"sqlite:///{tmp_path / 'b.db'}", plugins=[Recorder("other")],
                    today=today)
    a.init()
    b.init()
    a.plugins.enable("recorder")
    assert a.host.pm is not b.host.pm
    assert "recorder" not in b.host.installed and "other" not in a.host.installed
    a.customers.add(name="only in a")
    assert [c.name for c in b.customers.list()] == []
    assert b.plugins.enabled() == sorted(b.host.builtin_names())
    a.plugins.set("recorder", "label", "A")
    assert a.plugins.settings("recorder").label == "A"
    b.plugins.enable("other")
    assert b.plugins.settings("other").label == "x"


def test_a_plugin_that_fails_to_import_is_listed_and_can_be_disabled(crm_factory):
    crm = crm_factory(plugins=["tests.plugins.does_not_exist", Recorder()])
    listed = {p["name"]: p for p in crm.plugins.list()}
    assert listed["does_not_exist"]["error"].startswith("ModuleNotFoundError")
    assert listed["recorder"]["error"] is None
    with pytest.raises(crmkit.ValidationError, match="failed to load"):
        crm.plugins.enable("does_not_exist")
    # an admin can still switch off a broken plugin left enabled in the database
    from sqlalchemy import insert

    with crm.engine.begin() as conn:
        conn.execute(insert(crm.table("plugin_state")).values(
            tenant_id=1, plugin="does_not_exist", enabled=True,
            updated_at=dt.datetime.now(dt.UTC)))
    assert crm.plugins.disable("does_not_exist") == ["does_not_exist"]


def test_settings_are_validated_and_secrets_masked(crm_factory):
    crm = crm_factory(plugins=[Recorder()], enable=["recorder"])
    before = counts(crm)
    with pytest.raises(crmkit.ValidationError, match="limit"):
        crm.plugins.set("recorder", "limit", -1)
    with pytest.raises(crmkit.ValidationError, match="unknown setting 'nope'"):
        crm.plugins.set("recorder", "nope", 1)
    assert counts(crm) == before
    crm.plugins.set("recorder", "token", "s3cret")
    info = crm.plugins.info("recorder")
    assert info["settings"]["token"] == "****"
    assert "s3cret" not in str(crm.changes())
    assert crm.plugins.settings("recorder").token == "s3cret"


def test_hook_dispatch_uses_cached_callers_per_enabled_set():
    host = PluginHost([Recorder()], discover=False)
    one = host.hooks(frozenset({"recorder"}))
    assert host.hooks(frozenset({"recorder"})) is one
    caller = one.crm_customer_created
    assert one.crm_customer_created is caller  # built once, then kept
    assert caller.plugins == ["recorder"]
    assert host.hooks(frozenset()).crm_customer_created.plugins == []


def test_reminders_are_delivered_once_and_channels_see_them(crm_factory):
    delivered: list[str] = []

    class Channel:
        PLUGIN = crmkit.PluginSpec(name="channel")

        @crmkit.hookimpl
        def crm_reminders(self, ctx, on):
            return [crmkit.Reminder(key=f"k:{on}", plugin="channel", kind="ping",
                                    subject="ping", owner="admin", due_on=on)]

        @crmkit.hookimpl
        def crm_deliver(self, ctx, reminders):
            delivered.extend(r.key for r in reminders)

    crm = crm_factory(plugins=[Channel()], enable=["channel"])
    new, already = crm.reminders.send()
    assert ([r.key for r in new], already) == (["k:2026-11-22"], 0)
    new, already = crm.reminders.send()
    assert (new, already) == ([], 1)
    assert delivered == ["k:2026-11-22"]


def test_sections_appear_in_the_360_view_under_the_plugin_name(crm_factory):
    class Panel:
        PLUGIN = crmkit.PluginSpec(name="panel")

        @crmkit.hookimpl
        def crm_customer_sections(self, ctx, customer, on):
            return crmkit.Section(plugin="panel", title="Panel",
                                  data={"on": on, "name": customer.name})

    crm = crm_factory(plugins=[Panel()], enable=["panel"])
    c = crm.customers.add(name="北京华信")
    view = crm.customers.view(c.id, on=dt.date(2026, 1, 31))
    assert view["sections"] == {"panel": {"on": "2026-01-31", "name": "北京华信"}}


def test_addhooks_lets_plugins_publish_hooks_to_each_other(crm_factory):
    import types

    specs = types.ModuleType("specs")

    @crmkit.hookspec
    def crm_ping(ctx):
        """A test hook. Since 0.1."""

    specs.crm_ping = crm_ping

    class Publisher:
        PLUGIN = crmkit.PluginSpec(name="publisher")

        @crmkit.hookimpl
        def crm_addhooks(self, pluginmanager):
            pluginmanager.add_hookspecs(specs)

        @crmkit.hookimpl
        def crm_ping(self, ctx):
            return "pong"

    crm = crm_factory(plugins=[Publisher()])
    with crm.unit(write=False) as ctx:
        assert ctx.hooks.crm_ping(ctx=ctx) == []  # not enabled yet
    crm.plugins.enable("publisher")
    with crm.unit(write=False) as ctx:
        assert ctx.hooks.crm_ping(ctx=ctx) == ["pong"]


def test_plugin_tables_are_prefixed_and_created_on_enable(crm_factory):
    from sqlalchemy import Column, Integer, Table, inspect

    class Tables:
        PLUGIN = crmkit.PluginSpec(name="tables")

        @crmkit.hookimpl
        def crm_tables(self, metadata, prefix):
            Table(f"{prefix}tables_things", metadata,
                  Column("id", Integer, primary_key=True),
                  Column("tenant_id", Integer, nullable=False))

    crm = crm_factory(plugins=[Tables()])
    assert crm.table("tables_things").name == "crm_tables_things"
    assert "crm_tables_things" not in inspect(crm.engine).get_table_names()
    crm.plugins.enable("tables")
    assert "crm_tables_things" in inspect(crm.engine).get_table_names()
    assert crm.host.installed["tables"].tables == ["crm_tables_things"]
