"""Per-tenant plugin enablement and settings."""

from __future__ import annotations

import builtins
import json
from typing import Any

import attrs
from sqlalchemy import select

from ..context import Context
from ..convert import structure_settings, unstructure_settings
from ..errors import PluginNotEnabled, ValidationError
from ..i18n import _
from ._base import Service


def parse_value(text: str) -> Any:
    """``plugins set`` values: JSON when it parses (``30``, ``[15,45]``), else a string."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, TypeError):
        return text


def _no_constant(name: str) -> Any:
    """``NaN``, ``Infinity`` and ``-Infinity`` are not JSON: they stay text (and a
    number setting refuses them)."""
    raise ValueError(name)


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
        with self.crm.unit(write=False) as ctx:
            ctx.check("plugins.manage", None, _("plugins {names}").format(
                names=", ".join(names)[:80]))
        todo = self._closure(names)
        # DDL runs before the write transaction: migrating is idempotent, and on SQLite
        # it could not run on a second connection while this one holds the lock.
        from ..migrations import upgrade_plugin

        for n in todo:
            upgrade_plugin(self.crm, n)
            restore_ids(self.crm, n)
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
            ctx.check("plugins.manage", None, _("plugins {names}").format(
                names=", ".join(names)[:80]))
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
        with self.crm.unit() as ctx:
            ctx.check("settings.manage", None, _("settings of {plugin}").format(
                plugin=str(name)[:80]))
            host.get(name)
            cls = host.settings_class(name)
            if cls is None:
                raise ValidationError(_("plugin '{name}' has no settings").format(
                                          name=name))
            fields = [f.name for f in attrs.fields(cls)]
            if key not in fields:
                raise ValidationError(_("unknown setting '{key}' of {name}; valid: "
                                        "{valid}").format(
                                          key=key, name=name, valid=', '.join(fields)))
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


def _authorize_uninstall(crm: Any, name: str) -> None:
    """``plugins.uninstall`` is an operator action (admins of tenant ``default``): it
    reaches every tenant's data, and its plan names other tenants."""
    with crm.unit(write=False) as ctx:
        ctx.check("plugins.uninstall", None, _("plugin '{plugin}'").format(
            plugin=str(name)[:80]))


def uninstall_plan(crm: Any, name: str) -> dict[str, Any]:
    """What removing a plugin's data would drop: its tables with row counts (all
    tenants), and the tenants that still have it enabled. Permission
    ``plugins.uninstall``."""
    _authorize_uninstall(crm, name)
    return _plan(crm, name)


def _plan(crm: Any, name: str) -> dict[str, Any]:
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
    and delivered reminders, so that enabling it again starts cleanly. Permission
    ``plugins.uninstall``; refuses while any tenant has it enabled (saying how many,
    not which). The audit row (table ``plugin``, op ``delete``, in the operator's
    tenant) keeps each table's next id, so that ids are never given twice."""
    from ..migrations import purge_plugin

    _authorize_uninstall(crm, name)
    plan = _plan(crm, name)
    floors = next_ids(crm, name)
    if plan["enabled_in"]:
        raise ValidationError(_(
            "cannot uninstall '{plugin}': it is still enabled for {n} tenant(s); it must "
            "be disabled in each (`crmkit --tenant SLUG plugins disable {plugin}`)"
        ).format(plugin=name, n=len(plan["enabled_in"])))
    purge_plugin(crm, name)
    ps, d = crm.table("plugin_state"), crm.table("deliveries")
    with crm.unit() as ctx:
        ctx.conn.execute(ps.delete().where(ps.c.plugin == name))
        ctx.conn.execute(d.delete().where(d.c.plugin == name))
        ctx.audit("plugin", None, "delete", {"name": name, "tables": plan["tables"],
                                             "next_ids": floors}, None)
        crm.invalidate_plugins()
    return plan


# --- ids are never given twice -------------------------------------------------------
#
# Purging drops a plugin's tables, and with them their id counters: enabled again, the
# plugin would number its records from 1, and the change feed would hold two different
# "opportunity 1" inserts. So the purge's audit row keeps each table's next id, and
# enabling the plugin raises the counters of its re-created tables to at least that.


def _id_tables(crm: Any, name: str) -> builtins.list[Any]:
    """The plugin's tables numbered by the database (one integer autoincrement key)."""
    tables = [crm.metadata.tables[t] for t in crm.host.installed[name].tables]
    return [t for t in tables if t.autoincrement_column is not None]


def _next_id(conn: Any, table: Any) -> int:
    """The id the database would give the next row of ``table`` (at least max + 1)."""
    from sqlalchemy import func, text

    col = table.autoincrement_column
    nxt = int(conn.execute(select(func.coalesce(func.max(col), 0))).scalar_one()) + 1
    dialect = conn.dialect.name
    if dialect == "postgresql":
        seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                           {"t": table.name, "c": col.name}).scalar()
        if seq:
            last, called = conn.execute(text(f"SELECT last_value, is_called FROM {seq}")).one()
            nxt = max(nxt, int(last) + 1 if called else int(last))
    elif dialect in ("mysql", "mariadb"):
        auto = conn.execute(text(
            "SELECT AUTO_INCREMENT FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t"), {"t": table.name}).scalar()
        nxt = max(nxt, int(auto or 1))
    elif dialect == "sqlite":
        if conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")
                        ).first():
            seq = conn.execute(text("SELECT seq FROM sqlite_sequence WHERE name = :t"),
                               {"t": table.name}).scalar()
            nxt = max(nxt, int(seq or 0) + 1)
    return nxt


def next_ids(crm: Any, name: str) -> dict[str, int]:
    """Each numbered table of plugin ``name`` with the next id it would give."""
    existing = set(_inspect_tables(crm))
    with crm.engine.connect() as conn:
        return {t.name: _next_id(conn, t) for t in _id_tables(crm, name) if t.name in existing}


def _inspect_tables(crm: Any) -> builtins.list[str]:
    from sqlalchemy import inspect

    return inspect(crm.engine).get_table_names()


def _floors(crm: Any, name: str) -> dict[str, int]:
    """The next ids recorded by every purge of plugin ``name`` (the highest of each)."""
    a = crm.table("audit")
    out: dict[str, int] = {}
    with crm.engine.connect() as conn:
        rows = conn.execute(select(a.c.before).where(
            a.c.table_name == "plugin", a.c.op == "delete", a.c.row_id.is_(None)))
        for (before,) in rows:
            if isinstance(before, dict) and before.get("name") == name:
                for t, n in (before.get("next_ids") or {}).items():
                    out[t] = max(out.get(t, 0), int(n))
    return out


def restore_ids(crm: Any, name: str) -> None:
    """Raise the id counters of plugin ``name``'s tables to what its last purge recorded,
    so that a re-created table never gives an id that the change feed already names.
    DDL on MariaDB and SQLite: runs outside any unit of work (as migrations do)."""
    tables = _id_tables(crm, name)
    with crm.engine.connect() as conn:
        behind = {t.name: _next_id(conn, t) for t in tables}
    if not any(n == 1 for n in behind.values()):
        return  # no counter starts afresh: nothing was re-created
    floors = _floors(crm, name)
    for t in tables:
        floor = floors.get(t.name, 0)
        if floor > behind[t.name]:
            _raise_counter(crm, t, floor)


def _raise_counter(crm: Any, table: Any, floor: int) -> None:
    """Make the next id of ``table`` at least ``floor`` (> 1)."""
    from sqlalchemy import text

    col = table.autoincrement_column
    dialect = crm.engine.dialect.name
    with crm.engine.begin() as conn:
        if dialect == "postgresql":
            seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                               {"t": table.name, "c": col.name}).scalar()
            conn.execute(text("SELECT setval(:s, :v, true)"), {"s": seq, "v": floor - 1})
        elif dialect in ("mysql", "mariadb"):
            conn.execute(text(f"ALTER TABLE {conn.dialect.identifier_preparer.quote(table.name)}"
                              f" AUTO_INCREMENT = {int(floor)}"))
        elif dialect == "sqlite":
            ddl = conn.execute(text("SELECT sql FROM sqlite_master WHERE type = 'table' "
                                    "AND name = :t"), {"t": table.name}).scalar() or ""
            if "AUTOINCREMENT" not in ddl.upper():
                # only AUTOINCREMENT tables keep a counter apart from their rows: rebuild
                # the table (empty, just re-created) with it, as Alembic's batch mode does
                from alembic.migration import MigrationContext
                from alembic.operations import Operations

                ops = Operations(MigrationContext.configure(conn))
                with ops.batch_alter_table(table.name, recreate="always", copy_from=table,
                                           table_kwargs={"sqlite_autoincrement": True}):
                    pass
            updated = conn.execute(text("UPDATE sqlite_sequence SET seq = :v WHERE name = :t"),
                                   {"v": floor - 1, "t": table.name}).rowcount
            if not updated:
                conn.execute(text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :v)"),
                             {"v": floor - 1, "t": table.name})
