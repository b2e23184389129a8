"""crmkit demo."""

from __future__ import annotations

import os
from typing import Any

import click

from ..output import table


@click.command("demo")
@click.option("--force", is_flag=True, help="Replace an existing demo database file.")
@click.pass_context
def demo_cmd(ctx: click.Context, force: bool) -> None:
    """Create a sample business (crmkit.db by default) and show what to look at first."""
    from .. import demo
    from . import get_crm

    state = ctx.find_root().obj
    path = state.db.split("sqlite:///", 1)[1] if state.db.startswith("sqlite:///") else None
    if path and os.path.exists(path):
        if not force:
            raise click.UsageError(f"{path} already exists; use --force to replace it")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    crm: Any = get_crm()
    crm.init()
    result = demo.build(crm)
    click.echo(f"Sample business created in {state.db}: {len(result['customers'])} customers, "
               f"plugins enabled: {', '.join(result['enabled']) or 'none'}.\n")
    rs = crm.reminders.due()
    table([(r.due_on, r.owner, r.customer, r.kind, r.subject) for r in rs[:20]],
          ["due", "owner", "customer", "kind", "subject"],
          title=f"Today's reminders ({crm.today}): {len(rs)}", empty="No reminders today.")
    first = result["customers"][0]
    click.echo("")
    ctx.invoke(ctx.find_root().command.get_command(ctx, "customer").commands["show"],
               customer_id=first.id, on=None, as_json=False)
    click.echo("\nNext: `crmkit customer list`, `crmkit reminders`, `crmkit plugins list`, "
               "`crmkit --help`.")
