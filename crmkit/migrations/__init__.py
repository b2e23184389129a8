"""Schema migrations with Alembic: one branch for the core, one per plugin.

The core's revisions live in ``crmkit/migrations/versions`` (branch ``core``); a
plugin's in ``<plugin package>/migrations/versions`` (branch = the plugin's name). The
version table is ``crmkit_alembic_version`` (``<prefix>alembic_version`` for a prefix
other than ``crm_``), so a host application's own Alembic history is untouched.
Revision scripts read the table prefix from ``op.get_context().opts["crmkit_prefix"]``.

``crm.init()`` (``crmkit init``) upgrades the core, and only the plugins in use: those
enabled for some tenant, or whose branch is in the database already
(:func:`upgrade_in_use`). A plugin's branch is first upgraded when the plugin is first
enabled for any tenant (:func:`upgrade_plugin`); ``crmkit db upgrade`` (:func:`upgrade`,
target ``heads``) upgrades every installed branch.

Plugins without a ``migrations`` folder (quick third-party plugins, tests) get their
tables created with ``create_all`` when enabled. ``crmkit db revision --plugin NAME``
writes a plugin's revisions (its first one creates the tables it has), and ``crmkit db
stamp`` records tables made without migrations (see :mod:`.authoring`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

if TYPE_CHECKING:
    from ..app import Crm

CORE_VERSIONS = Path(__file__).parent / "versions"


def version_table(prefix: str) -> str:
    return "crmkit_alembic_version" if prefix == "crm_" else f"{prefix}alembic_version"


def plugin_versions_dir(obj: Any) -> Path | None:
    """``<package>/migrations/versions`` of a plugin module, if it has one."""
    path = getattr(obj, "__file__", None)
    if not path:
        return None
    d = Path(path).parent / "migrations" / "versions"
    return d if d.is_dir() else None


def migrating_plugins(crm: Crm) -> dict[str, Path]:
    """Loaded plugins that ship Alembic revisions, with their versions folder."""
    out = {}
    for name, p in crm.host.installed.items():
        if p.loaded:
            d = plugin_versions_dir(p.obj)
            if d is not None:
                out[name] = d
    return out


def config(crm: Crm, connection: Any = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent))
    cfg.set_main_option("path_separator", "os")
    locations = [str(CORE_VERSIONS), *map(str, migrating_plugins(crm).values())]
    cfg.set_main_option("version_locations", os.pathsep.join(locations))
    cfg.attributes["connection"] = connection
    cfg.attributes["prefix"] = crm.prefix
    cfg.attributes["metadata"] = crm.metadata
    cfg.attributes["version_table"] = version_table(crm.prefix)
    return cfg


def scripts(crm: Crm, cfg: Config | None = None) -> ScriptDirectory:
    """The installed revision scripts, loaded once per ``crmkit.open()`` while their
    folders hold the same files: the key is the version folders (a plugin's appears
    with its first revision) and each ``.py`` file's name and modification time, so a
    revision written by ``crmkit db revision`` or copied in is read at once.

    Loading them runs every revision file (about 0.1 s for the first-party plugins');
    ``init()`` did it 4 times plus 3 per plugin in use, and each enable 3 times."""
    cfg = cfg or config(crm)
    key = tuple((loc, tuple(sorted((e.name, e.stat().st_mtime_ns) for e in os.scandir(loc)
                                   if e.name.endswith(".py"))))
                for loc in cfg.get_version_locations_list() or () if os.path.isdir(loc))
    cached = crm._shared.get("scripts")
    if cached is not None and cached[0] == key:
        return cached[1]
    script = ScriptDirectory.from_config(cfg)
    crm._shared["scripts"] = (key, script)
    return script


def _run(crm: Crm, fn: Any, *args: Any, **kw: Any) -> Any:
    with crm.engine.begin() as conn:
        cfg = config(crm, conn)
        return fn(cfg, *args, **kw)


def _migrate(crm: Crm, target: str, *, down: bool = False) -> None:
    """``alembic upgrade``/``downgrade`` to ``target`` with the scripts of
    :func:`scripts` (what ``alembic.command.upgrade`` and ``downgrade`` do, minus loading
    every revision file again), in one transaction."""
    from alembic.runtime.environment import EnvironmentContext

    with crm.engine.begin() as conn:
        cfg = config(crm, conn)
        script = scripts(crm, cfg)

        def step(rev: Any, _context: Any) -> Any:
            return (script._downgrade_revs(target, rev) if down
                    else script._upgrade_revs(target, rev))

        with EnvironmentContext(cfg, script, fn=step, as_sql=False, starting_rev=None,
                                destination_rev=target, tag=None):
            script.run_env()


def unknown_revisions(crm: Crm) -> list[str]:
    """Revisions recorded in the database that no installed package provides (a plugin
    removed without ``plugins uninstall --purge``)."""
    from alembic.util import CommandError

    script = scripts(crm)
    with crm.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "version_table": version_table(crm.prefix)})
        at = ctx.get_current_heads()
    out = []
    for rev in at:
        try:
            script.get_revision(rev)
        except CommandError:
            out.append(rev)
    return sorted(out)


def _refuse_unknown(crm: Crm) -> None:
    missing = unknown_revisions(crm)
    if missing:
        from ..errors import DatabaseError

        raise DatabaseError(
            f"the database has migrations of plugins that are not installed "
            f"({', '.join(missing)}); install them again, or remove their branch with "
            "`crmkit plugins uninstall NAME --purge` before removing the package")


def upgrade(crm: Crm, target: str = "heads") -> None:
    """``alembic upgrade`` (default: every branch to its head), then ``create_all`` for
    the tables of enabled plugins that have no migrations."""
    _refuse_unknown(crm)
    _refuse_unrecorded(crm, target)
    _migrate(crm, target)
    if target == "heads":
        _create_unmigrated(crm)


def upgrade_in_use(crm: Crm) -> list[str]:
    """What ``crm.init()`` migrates: the core to its head, then each plugin in use (enabled
    for any tenant, or with its branch recorded in the database) to its head, or its
    tables created when it has no migrations. Installed plugins no tenant has enabled
    are left alone: their tables are made when one first enables them. Returns the
    plugins brought up."""
    _refuse_unknown(crm)
    _refuse_unrecorded(crm, "core@head")
    _migrate(crm, "core@head")
    at = current(crm)
    in_use = sorted(n for n, p in crm.host.installed.items()
                    if p.loaded and not p.builtin
                    and (n in _enabled_anywhere(crm) or at.get(n) is not None))
    for name in in_use:
        upgrade_plugin(crm, name)
    return in_use


def _enabled_anywhere(crm: Crm) -> set[str]:
    """Plugins enabled for at least one tenant."""
    from sqlalchemy import select

    ps = crm.table("plugin_state")
    with crm.engine.connect() as conn:
        return set(conn.scalars(select(ps.c.plugin).where(ps.c.enabled.is_(True))))


def unrecorded_tables(crm: Crm) -> dict[str, list[str]]:
    """Plugin branch -> its tables that exist in the database although none of its
    revisions is recorded: tables made without migrations (``create_all``), which an
    upgrade would try to create again."""
    from sqlalchemy import inspect

    at = current(crm)
    todo = [n for n in migrating_plugins(crm) if at.get(n) is None]
    if not todo:
        return {}
    present = set(inspect(crm.engine).get_table_names())
    out = {n: sorted(set(crm.host.installed[n].tables) & present) for n in todo}
    return {n: t for n, t in out.items() if t}


def _refuse_unrecorded(crm: Crm, target: str) -> None:
    from ..errors import DatabaseError
    from ..i18n import _

    for name, tables in sorted(unrecorded_tables(crm).items()):
        if target == "heads" or target.startswith(f"{name}@"):
            raise DatabaseError(_(
                "plugin '{name}' has tables in the database ({tables}) but none of its "
                "migrations is recorded: they were created without Alembic; if they "
                "match its latest revision, record it with `crmkit db stamp --plugin "
                "{name} heads` (from Python: crmkit.migrations.stamp(crm, 'heads', "
                "plugin='{name}')), then upgrade again").format(
                name=name, tables=", ".join(tables)))


def stamp(crm: Crm, target: str, *, plugin: str | None = None) -> dict[str, str | None]:
    """Record ``target`` as applied without running it (see :mod:`.authoring`)."""
    from .authoring import stamp as _stamp

    return _stamp(crm, target, plugin=plugin)


def revision(crm: Crm, branch: str, message: str, *, empty: bool = False) -> dict[str, Any]:
    """Write the next revision of ``branch`` (see :mod:`.authoring`)."""
    from .authoring import revision as _revision

    return _revision(crm, branch, message, empty=empty)


def downgrade(crm: Crm, target: str) -> None:
    _migrate(crm, target, down=True)


def _create_unmigrated(crm: Crm) -> None:
    migrating = migrating_plugins(crm)
    enabled = _enabled_anywhere(crm)
    crm.create_tables(t for n, p in crm.host.installed.items()
                      if n in enabled and n not in migrating for t in p.tables)


def heads(crm: Crm) -> dict[str, str]:
    """Branch label -> head revision of the scripts installed."""
    script = scripts(crm)
    out = {}
    for rev in script.get_revisions("heads"):
        for label in rev.branch_labels or (rev.revision,):
            out[label] = rev.revision
    return out


def current(crm: Crm) -> dict[str, str | None]:
    """Branch -> revision the database is at (None: not installed)."""
    script = scripts(crm)
    with crm.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "version_table": version_table(crm.prefix)})
        at = set(ctx.get_current_heads())
    out: dict[str, str | None] = {}
    for rev in script.walk_revisions():
        for label in rev.branch_labels:
            out.setdefault(label, None)
    for rev_id in at:
        rev = script.get_revision(rev_id)
        labels = _branch_of(script, rev)
        for label in labels:
            out[label] = rev_id
    return out


def _branch_of(script: ScriptDirectory, rev: Any) -> set[str]:
    """Branch labels down the ``down_revision`` chain (not through ``depends_on``)."""
    labels: set[str] = set()
    todo = [rev]
    while todo:
        r = todo.pop()
        labels |= set(r.branch_labels or ())
        down = r.down_revision
        for d in (down,) if isinstance(down, str) else (down or ()):
            todo.append(script.get_revision(d))
    return labels


def history(crm: Crm) -> list[dict[str, Any]]:
    script = scripts(crm)
    rows = []
    for rev in script.walk_revisions():
        rows.append({"revision": rev.revision, "down_revision": rev.down_revision,
                     "branch": sorted(_branch_of(script, rev)), "message": rev.doc})
    return rows


def upgrade_plugin(crm: Crm, name: str) -> None:
    """Bring one plugin's tables to its head (or create them if it has no migrations):
    when it is enabled (the first time for any tenant, it creates them). Idempotent."""
    if name in migrating_plugins(crm):
        upgrade(crm, f"{name}@head")
    else:
        crm.create_tables(crm.host.installed[name].tables)


def purge_plugin(crm: Crm, name: str) -> None:
    """Drop a plugin's tables: downgrade its branch to base (or drop_all)."""
    if name in migrating_plugins(crm):
        if current(crm).get(name):
            downgrade(crm, f"{name}@base")
    else:
        tables = [crm.metadata.tables[t] for t in crm.host.installed[name].tables]
        crm.metadata.drop_all(crm.engine, tables=tables)
