"""The public API plugins are written against: plugin APIs refuse tenants that have not
enabled them, and messages from Python name the Python way."""

from __future__ import annotations

import datetime as dt

import pytest

import crmkit

DAY = dt.date(2026, 11, 22)


def _calls(tmp_path):
    """(plugin, what, call) for every first-party plugin's public API entry point."""
    from crmkit_csv import export_file, import_file
    from crmkit_grading import grades, run
    from crmkit_receivables import api
    from crmkit_sales import reports, service
    from crmkit_webhooks.endpoints import Webhooks

    src = tmp_path / "in.csv"
    src.write_text("name\nAcme\n", encoding="utf-8")
    return [
        ("receivables", "api.aging", lambda crm: api.aging(crm, DAY)),
        ("receivables", "api.open_items", lambda crm: api.open_items(crm, DAY)),
        ("grading", "grades", lambda crm: grades(crm, DAY)),
        ("grading", "run", lambda crm: run(crm, DAY)),
        ("sales", "service.list_opportunities", lambda crm: service.list_opportunities(crm)),
        ("sales", "reports.forecast", lambda crm: reports.forecast(crm)),
        ("sales", "reports.funnel", lambda crm: reports.funnel(crm)),
        ("csv", "import_file", lambda crm: import_file(crm, "customers", src, dry_run=True)),
        ("csv", "export_file", lambda crm: export_file(crm, "customers",
                                                        tmp_path / "out.csv")),
        ("webhooks", "Webhooks.list", lambda crm: Webhooks(crm).list()),
    ]


def test_plugin_apis_refuse_a_tenant_that_has_not_enabled_them(crm, tmp_path):
    # the defect: receivables' aging answered for a tenant that never enabled it
    for plugin, what, call in _calls(tmp_path):
        with pytest.raises(crmkit.PluginNotEnabled) as info:
            call(crm)
        assert (info.value.plugin, info.value.tenant) == (plugin, "default"), what
        assert str(info.value) == (
            f"plugin '{plugin}' is not enabled for tenant 'default'; enable it with "
            f"crm.plugins.enable('{plugin}') or `crmkit plugins enable {plugin}`"), what
        assert isinstance(info.value, crmkit.CrmError)
    assert not (tmp_path / "out.csv").exists()
    crm.plugins.enable("receivables", "grading", "sales", "csv", "webhooks")
    for _plugin, _what, call in _calls(tmp_path):
        call(crm)  # answers now
    assert crmkit.PluginNotEnabled.__module__ == "crmkit.errors"
    assert "PluginNotEnabled" in crmkit.__all__


def test_require_is_per_tenant(crm):
    from crmkit_receivables import api

    crm.tenants.add("acme", name="Acme")
    crm.plugins.enable("receivables")
    assert api.aging(crm, DAY)["rows"] == []
    acme = crm.using(tenant="acme")
    with pytest.raises(crmkit.PluginNotEnabled, match="tenant 'acme'"):
        api.aging(acme, DAY)
    with acme.unit(write=False) as ctx:
        acme.plugins.require(ctx, "tasks")  # built-in plugins are always enabled
        with pytest.raises(crmkit.PluginNotEnabled, match="'nonexistent'"):
            acme.plugins.require(ctx, "nonexistent")


def test_a_plugin_command_says_the_command_line_way(cli, crm):
    r = cli("grading", "show")
    assert r.exit_code == 1
    assert r.stderr == ("Error: plugin 'grading' is not enabled for tenant 'default'; "
                        "enable it with `crmkit plugins enable grading`\n")


def test_unknown_tenant_from_python_names_the_python_way(crm):
    acme = crm.using(tenant="acme")
    with pytest.raises(crmkit.NotFound) as info:
        acme.customers.list()
    # the defect: "add it with `crmkit tenant add acme`", a CLI hint raised from Python
    assert str(info.value) == "tenant 'acme' not found; add it with crm.tenants.add('acme')"


def test_unknown_tenant_on_the_command_line_names_the_command(cli, crm):
    r = cli("customer", "list", tenant="acme")
    assert r.exit_code == 1
    assert r.stderr == "Error: tenant 'acme' not found; add it with `crmkit tenant add acme`\n"


GOOD = '''
import crmkit

PLUGIN = crmkit.PluginSpec(name="zztypo", description="Says hello to new customers.")


@crmkit.hookimpl
def crm_customer_created(ctx, {arg}):
    pass
'''


def test_an_enabled_plugin_that_fails_to_load_is_named_on_every_command(cli, crm, tmp_path,
                                                                        monkeypatch):
    """A misspelled hook argument (pluggy's PluginValidationError) kept the plugin's hooks
    from running, and `customer add` said nothing. Now every command warns, and works."""
    import sys

    pkg = tmp_path / "crmkit_zztypo"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(GOOD.format(arg="customer"), encoding="utf-8")
    info = tmp_path / "crmkit_zztypo-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crmkit-zztypo\n"
                                   "Version: 0.1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[crmkit.plugins]\nzztypo = crmkit_zztypo\n",
                                           encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cli("plugins", "enable", "zztypo").exit_code == 0
    assert cli("customer", "add", "Acme").stderr == ""  # a working plugin: no warning
    # the next release of the plugin misspells the argument
    (pkg / "__init__.py").write_text(GOOD.format(arg="custmer"), encoding="utf-8")
    sys.modules.pop("crmkit_zztypo", None)
    added = cli("customer", "add", "Blue")
    assert added.exit_code == 0 and added.stdout == "2\n"
    assert added.stderr == (
        "Warning: plugin 'zztypo' is enabled but not loaded: PluginValidationError: "
        "Plugin 'zztypo' for hook 'crm_customer_created'; hookimpl definition: "
        "crm_customer_created(ctx, custmer); Argument(s) {'custmer'} are declared in the "
        "hookimpl but can not be found in the hookspec; see `crmkit plugins list`\n")
    listed = cli("customer", "list", "--json")
    assert "Warning: plugin 'zztypo'" in listed.stderr and len(listed.json) == 2
    crm.tenants.add("acme", name="Acme")  # a tenant that did not enable it hears nothing
    assert cli("customer", "list", tenant="acme").stderr == ""
    sys.modules.pop("crmkit_zztypo", None)
