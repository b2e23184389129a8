"""Schema creation and upgrades."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import storage

if TYPE_CHECKING:
    from .app import Crm


def upgrade(crm: Crm) -> None:
    """Create the core tables and those of every loaded plugin that is enabled."""
    core = [crm.prefix + n for n in storage.CORE_TABLES]
    crm.create_tables(core)
    enabled: set[str] = set()
    from sqlalchemy import select

    ps = crm.table("plugin_state")
    with crm.engine.connect() as conn:
        enabled = {r.plugin for r in conn.execute(select(ps.c.plugin).where(ps.c.enabled))}
    names = [t for n, p in crm.host.installed.items() if n in enabled for t in p.tables]
    crm.create_tables(names)
