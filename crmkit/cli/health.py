"""Warnings every command prints before it runs: plugins the tenant enabled that are
not working (they failed to import, to register with pluggy, or in ``crm_cli``)."""

from __future__ import annotations

import os
from typing import Any

import click


def warn_unloaded_plugins(crm: Any) -> list[str]:
    """One line on stderr for each plugin enabled for ``crm``'s tenant that failed to
    load or validate (a misspelled hook argument: pluggy's PluginValidationError), whose
    hooks would otherwise silently not run. Returns the plugins named. Costs no query
    while every installed plugin loads."""
    from sqlalchemy import select
    from sqlalchemy.exc import DBAPIError

    from ..i18n import _

    broken = {n: p.error or "" for n, p in crm.host.installed.items() if not p.loaded}
    if not broken:
        return []
    url = crm.engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not os.path.exists(url.database):
        return []  # connecting would create the file
    ps, t = crm.table("plugin_state"), crm.table("tenants")
    try:
        with crm.engine.connect() as conn:
            names = sorted(conn.scalars(
                select(ps.c.plugin).join(t, t.c.id == ps.c.tenant_id)
                .where(t.c.slug == crm.tenant_slug, ps.c.enabled.is_(True),
                       ps.c.plugin.in_(sorted(broken)))))
    except DBAPIError:  # no database (yet): the command itself says what is wrong
        return []
    for name in names:
        error = "; ".join(line.strip() for line in broken[name].splitlines() if line.strip())
        click.echo(_("Warning: plugin '{name}' is enabled but not loaded: {error}; see "
                     "`crmkit plugins list`").format(name=name, error=error[:300]), err=True)
    return names
