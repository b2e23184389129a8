"""Per-tenant plugin enablement and settings."""

from __future__ import annotations

import builtins
import json
from typing import Any

import attrs
from sqlalchemy import select

from ..context import Context
from ..convert import structure_settings, unstructure_settings
from ..errors import PermissionDenied, PluginNotEnabled, ValidationError
from ..i18n import _
from ._base import Service


def parse_value(text: str) -> Any:
    """``plugins set`` values: JSON when it parses (``30``, ``[15,45]``), else a string."""
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return text


def describe(host: Any, state: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The ``plugins list`` rows: every installed plugin, built-ins first. ``state`` is
    the tenant's plugin state rows by name; without it (no database) ``enabled`` is
    None, "unknown", except for built-ins, which are always on."""
    out = []
    for name, p in sorted(host.installed.items(), key=lambda kv: (not kv[1].builtin, kv[0])):
        st = state.get(name) if state is not None else None
        out.append({
            "name": name,
            "version": p.spec.version if p.spec else None,
            "description": p.spec.description if p.spec else "",
            "requires": list(p.spec.requires) if p.spec else [],
            "builtin": p.builtin,
            "enabled": (True if p.builtin else None if state is None
                        else bool(st and st.enabled)),
            "error": p.error,
        })
    for name, st in sorted((state or {}).items()):
        if name not in host.installed:
            out.append({"name": name, "version": None, "description": "",
                        "requires": [], "builtin": False, "enabled": bool(st.enabled),
                        "error": "not installed"})
    return out


class PluginService(Service):
    """``crm.plugins``: which plugins a tenant has switched on, and their settings."""

    def _state(self, ctx: Context) -> dict[str, Any]:
        ps = self.table("plugin_state")
        rows = ctx.conn.execute(select(ps).where(ps.c.tenant_id == ctx.tenant.id))
        return {r.plugin: r for r in rows}

    def list(self) -> builtins.list[dict[str, Any]]:
        """Every installed plugin (built-ins and broken ones too) with its status here."""
        with self.crm.unit(write=False) as ctx:
            return describe(self.crm.host, self._state(ctx))

    def enabled(self) -> builtins.list[str]:
        with self.crm.unit(write=False) as ctx:
            return sorted(ctx.hooks.plugins or ())

    def require(self, ctx: Context, name: str) -> None:
        """Refuse, with :class:`crmkit.PluginNotEnabled`, unless plugin ``name`` is
        enabled for ``ctx.tenant``. Plugins call it at the top of their public API
        functions (``crm.plugins.require(ctx, "receivables")``), so that their API
        answers only for the tenants that switched them on, as their hooks and
        commands do. Since 0.2."""
        if name in (ctx.hooks.plugins or ()):
            return
        slug = ctx.tenant.slug
        if self.crm._shared.get("cli"):
            how = _("`crmkit plugins enable {name}`").format(name=name)
        else:
            how = _("crm.plugins.enable({name!r}) or `crmkit plugins enable {name}`").format(
                name=name)
        raise PluginNotEnabled(name, slug, _(
            "plugin '{plugin}' is not enabled for tenant '{tenant}'; enable it with {how}"
        ).format(plugin=name, tenant=slug, how=how))

    def lock(self, ctx: Context, name: str) -> None:
        """Hold plugin ``name``'s state row of this tenant until ``ctx``'s transaction
        ends, so that two runs of the plugin's work for one tenant queue instead of
        overlapping (``SELECT ... FOR UPDATE`` on PostgreSQL and MariaDB; SQLite write
        transactions are serialised already). Since 0.2."""
        ps = self.table("plugin_state")
        ctx.conn.execute(select(ps.c.plugin).where(ps.c.tenant_id == ctx.tenant.id,
                                                   ps.c.plugin == name).with_for_update())

    def _admin(self, ctx: Context) -> None:
        if ctx.user.role != "admin":
            raise PermissionDenied(_("permission denied: user '{name}' may not "
                                     "change plugins (role admin needed)").format(
                                       name=ctx.user.name))

    def _closure(self, names: tuple[str, ...]) -> builtins.list[str]:
        """The plugins to enable for ``names``: requirements first."""
        host = self.crm.host
        todo: builtins.list[str] = []

        def visit(n: str, by: str | None) -> None:
            if n in todo:
                return
            if n not in host.installed:
                if by:
                    raise ValidationError(
                        _("cannot enable '{by}': it requires '{n}', which is not "
                          "installed").format(by=by, n=n))
                host.get(n)
            p = host.installed[n]
            if not p.loaded:
                raise ValidationError(_("cannot enable '{n}': it failed to load "
                                        "({error})").format(n=n, error=p.error))
            for r in p.spec.requires:  # type: ignore[union-attr]
                visit(r, n)
            todo.append(n)

        for n in names:
            visit(n, None)
        return [n for n in todo if not host.installed[n].builtin]

    def enable(self, *names: str) -> builtins.list[str]:
        """Enable plugins and whatever they require; returns the names newly enabled."""
        todo = self._closure(names)
        with self.crm.unit(write=False) as ctx:
            self._admin(ctx)
        # DDL runs before the write transaction: migrating is idempotent, and on SQLite
        # it could not run on a second connection while this one holds the lock.
        from ..migrations import upgrade_plugin

        for n in todo:
            upgrade_plugin(self.crm, n)
        with self.crm.unit() as ctx:
            state = self._state(ctx)
            new = [n for n in todo if not (n in state and state[n].enabled)]
            for n in new:
                self._write_state(ctx, n, enabled=True, state=state)
                ctx.audit("plugin", None, "update", {"name": n, "enabled": False},
                          {"name": n, "enabled": True})
            self.crm.invalidate_plugins(ctx.tenant.id)
            return new

    def disable(self, *names: str) -> builtins.list[str]:
        """Disable plugins (their data stays); refuses while an enabled plugin needs one."""
        host = self.crm.host
        with self.crm.unit() as ctx:
            self._admin(ctx)
            state = self._state(ctx)
            enabled = {n for n, st in state.items() if st.enabled}
            for n in names:
                if n in host.installed and host.installed[n].builtin:
                    raise ValidationError(_("built-in plugin '{n}' cannot be "
                                            "disabled").format(n=n))
                if n not in host.installed and n not in state:
                    host.get(n)
            remaining = enabled - set(names)
            for n in names:
                for other in sorted(remaining):
                    p = host.installed.get(other)
                    if p and p.spec and n in p.spec.requires:
                        raise ValidationError(
                            _("cannot disable '{n}': enabled plugin '{other}' "
                              "requires it; disable '{other}' first").format(
                                n=n, other=other))
            done = []
            for n in names:
                if n in enabled:
                    self._write_state(ctx, n, enabled=False, state=state)
                    ctx.audit("plugin", None, "update", {"name": n, "enabled": True},
                              {"name": n, "enabled": False})
                    done.append(n)
            self.crm.invalidate_plugins(ctx.tenant.id)
            return done

    def _write_state(self, ctx: Context, name: str, *, state: dict[str, Any],
                     enabled: bool | None = None, settings: Any = attrs.NOTHING) -> None:
        ps = self.table("plugin_state")
        st = state.get(name)
        values: dict[str, Any] = {"updated_at": ctx.now()}
        if enabled is not None:
            values["enabled"] = enabled
        if settings is not attrs.NOTHING:
            values["settings"] = settings
        if st is None:
            ctx.conn.execute(ps.insert().values(tenant_id=ctx.tenant.id, plugin=name,
                                                enabled=bool(enabled), **{
                                                    k: v for k, v in values.items()
                                                    if k != "enabled"}))
        else:
            ctx.conn.execute(ps.update().where(ps.c.tenant_id == ctx.tenant.id,
                                               ps.c.plugin == name).values(**values))

    def settings(self, name: str) -> Any:
        """The plugin's settings for this tenant: defaults merged with stored values."""
        cls = self.crm.host.settings_class(name)
        if cls is None:
            return None
        with self.crm.unit(write=False) as ctx:
            ps = self.table("plugin_state")
            row = ctx.conn.execute(select(ps.c.settings).where(
                ps.c.tenant_id == ctx.tenant.id, ps.c.plugin == name)).first()
            stored = (row.settings if row else None) or {}
            return structure_settings(stored, cls, name)

    def set(self, name: str, key: str, value: Any) -> Any:
        """Set one setting (``value`` as given; strings from the CLI go through
        :func:`parse_value`). Validated by the settings class; nothing is written when
        it is refused."""
        host = self.crm.host
        host.get(name)
        cls = host.settings_class(name)
        if cls is None:
            raise ValidationError(_("plugin '{name}' has no settings").format(name=name))
        fields = [f.name for f in attrs.fields(cls)]
        if key not in fields:
            raise ValidationError(_("unknown setting '{key}' of {name}; valid: "
                                    "{valid}").format(
                                      key=key, name=name, valid=', '.join(fields)))
        with self.crm.unit() as ctx:
            self._admin(ctx)
            state = self._state(ctx)
            stored = dict((state[name].settings or {}) if name in state else {})
            before = dict(stored)
            stored[key] = value
            obj = structure_settings(stored, cls, name)
            stored = {k: v for k, v in unstructure_settings(obj).items() if k in stored}
            self._write_state(ctx, name, state=state, settings=stored)
            ctx.audit("plugin", None, "update", {"name": name, "settings": _mask(cls, before)},
                      {"name": name, "settings": _mask(cls, stored)})
            return obj

    def info(self, name: str) -> dict[str, Any]:
        host = self.crm.host
        p = host.get(name)
        info: dict[str, Any] = {
            "name": name, "version": p.spec.version if p.spec else None,
            "description": p.spec.description if p.spec else "",
            "requires": list(p.spec.requires) if p.spec else [], "builtin": p.builtin,
            "source": p.source, "error": p.error, "hooks": host.implemented_hooks(name),
            "tables": p.tables, "commands": p.commands,
        }
        with self.crm.unit(write=False) as ctx:
            st = self._state(ctx).get(name)
            info["enabled"] = p.builtin or bool(st and st.enabled)
        cls = host.settings_class(name) if p.loaded else None
        info["settings"] = (_mask(cls, unstructure_settings(self.settings(name)))
                            if cls else {})
        return info


def _mask(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    secret = {f.name for f in attrs.fields(cls) if f.metadata.get("secret")}
    return {k: ("****" if k in secret and v else v) for k, v in values.items()}


def uninstall_plan(crm: Any, name: str) -> dict[str, Any]:
    """What removing a plugin's data would drop: its tables with row counts (all
    tenants), and the tenants that still have it enabled."""
    from sqlalchemy import func, inspect

    p = crm.host.get(name)
    if p.builtin:
        raise ValidationError(_("built-in plugin '{name}' cannot be uninstalled").format(
                                  name=name))
    ps = crm.table("plugin_state")
    t = crm.table("tenants")
    existing = set(inspect(crm.engine).get_table_names())
    tables: dict[str, int] = {}
    with crm.engine.connect() as conn:
        for tname in p.tables:
            if tname in existing:
                tables[tname] = conn.execute(
                    select(func.count()).select_from(crm.metadata.tables[tname])).scalar_one()
        enabled_in = list(conn.scalars(
            select(t.c.slug).join(ps, ps.c.tenant_id == t.c.id)
            .where(ps.c.plugin == name, ps.c.enabled.is_(True)).order_by(t.c.slug)))
    return {"plugin": name, "tables": tables, "enabled_in": enabled_in}


def purge(crm: Any, name: str) -> dict[str, Any]:
    """Drop a plugin's tables (its Alembic branch down to base) and forget its settings
    and delivered reminders, so that enabling it again starts cleanly. Refuses while
    any tenant has it enabled."""
    from ..migrations import purge_plugin

    plan = uninstall_plan(crm, name)
    if plan["enabled_in"]:
        raise ValidationError(
            _("cannot uninstall '{name}': still enabled for tenant(s) {valid}; run "
              "`crmkit --tenant SLUG plugins disable {name}` in each first").format(
                name=name, valid=', '.join(plan['enabled_in'])))
    purge_plugin(crm, name)
    ps, d = crm.table("plugin_state"), crm.table("deliveries")
    with crm.engine.begin() as conn:
        conn.execute(ps.delete().where(ps.c.plugin == name))
        conn.execute(d.delete().where(d.c.plugin == name))
    return plan
