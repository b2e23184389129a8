"""crmkit demo."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ..errors import CrmError
from ..i18n import _
from ..output import echo


@click.command("demo")
@click.option("--force", is_flag=True, help="Replace an existing database file.")
@click.pass_context
def demo_cmd(ctx: click.Context, force: bool) -> None:
    """Create a sample business (crmkit.db by default) and show its day.

    Refuses an existing SQLite file (exit 1) unless --force replaces it."""
    from .. import demo
    from . import get_crm, sqlite_path
    from .today import show_today

    state = ctx.find_root().obj
    path = sqlite_path(state.db)
    if path and os.path.exists(path):
        if not force:
            raise CrmError(_("{path} already exists; use --force to replace it, or --db "
                             "to choose another file").format(path=path))
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    crm: Any = get_crm(create=True)
    crm.init()
    result = demo.build(crm)
    for name, exc in sorted(result["failed"].items()):
        click.echo(_("Warning: plugin '{name}' is not in the demo: {error} (run with "
                     "--debug for the traceback)").format(
                         name=name, error=f"{type(exc).__name__}: {exc}"[:300]), err=True)
        if state.debug:
            import traceback

            traceback.print_exception(exc, file=sys.stderr)
    echo(_("Sample business created in {db}: {n} customers; plugins enabled: "
           "{plugins}.").format(db=crm.url, n=len(result["customers"]),
                                plugins=", ".join(result["enabled"]) or _("none")))
    click.echo("")
    show_today(crm)
    click.echo("")
    echo(_("Next: crmkit reminders · crmkit customer show 1 · crmkit receivables aging · "
           "crmkit --help"))
