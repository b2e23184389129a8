"""The plugin kernel (issue 11, items 5 and 6).

Item 6: hooks are dispatched through pluggy's public API only (``subset_hook_caller``,
built once per set of enabled plugins and kept by the instance), and pluggy is pinned
below its next major version.

Item 5: a plugin raising in an extension hook (``crm_tables``, ``crm_cli``,
``crm_settings``, ``crm_addhooks``, ``crm_demo``) is listed as broken with its error;
the other plugins work and ``crmkit.open()`` never dies of it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

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


def test_a_deprecated_hook_name_reaches_only_tenants_that_enabled_its_plugin(monkeypatch):
    """Implementations of an old hook name are forwarded to the new hook as plugins of
    their own ("<plugin>:<old>"), which belong to their plugin: a tenant that has not
    enabled it does not call them."""
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
        host = PluginHost([Oldie(), Counter("pa")], discover=False)
    assert host.owner == {"oldie:crm_reminders_due": "oldie"}
    on = host.hooks(frozenset({"oldie"})).crm_reminders
    off = host.hooks(frozenset({"pa"})).crm_reminders
    assert on.plugins == ["oldie"] and on(ctx=None, on=None) == [["old"]]
    assert off.plugins == [] and off(ctx=None, on=None) == []
