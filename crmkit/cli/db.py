"""db commands (schema migrations) and `plugins uninstall`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..i18n import _
from ..output import Group, json_option, pass_crm, print_json, table
from .plugins import plugins


@click.group(cls=Group)
def db() -> None:
    """Schema migrations (Alembic): one branch for the core and one per plugin."""


@db.command("upgrade")
@click.argument("target", default="heads")
@pass_crm
def db_upgrade(crm: Any, target: str) -> None:
    """Upgrade the schema to TARGET (default: every branch to its head)."""
    from .. import migrations

    migrations.upgrade(crm, target)
    click.echo(", ".join(f"{k}: {v}" for k, v in sorted(migrations.current(crm).items())))


@db.command("current")
@json_option
@pass_crm
def db_current(crm: Any, as_json: bool) -> None:
    """The revision each branch is at, and its head."""
    from .. import migrations

    cur, heads = migrations.current(crm), migrations.heads(crm)
    rows = [{"branch": b, "current": cur.get(b), "head": heads.get(b)}
            for b in sorted(set(cur) | set(heads))]
    if as_json:
        return print_json(rows)
    table([(r["branch"], r["current"] or "-", r["head"],
            _("up to date") if r["current"] == r["head"] else _("upgrade available"))
           for r in rows], [_("branch"), _("current"), _("head"), _("status")])


@db.command("history")
@json_option
@pass_crm
def db_history(crm: Any, as_json: bool) -> None:
    """Every revision of every branch, newest first."""
    from .. import migrations

    rows = migrations.history(crm)
    if as_json:
        return print_json(rows)
    table([(r["revision"], r["down_revision"], ", ".join(r["branch"]), r["message"])
           for r in rows], [_("revision"), _("revises"), _("branch"), _("message")])


@db.command("revision")
@click.option("--plugin", "plugin", required=True, metavar="NAME",
              help="The installed plugin whose branch gets the revision.")
@click.option("-m", "--message", required=True,
              help="What the revision changes (also names its file).")
@click.option("--empty", is_flag=True,
              help="Write empty upgrade() and downgrade() to fill in by hand (data "
                   "migrations).")
@pass_crm
def db_revision(crm: Any, plugin: str, message: str, empty: bool) -> None:
    """Write the plugin's next Alembic revision into its own migrations/versions folder.

    The first revision of a branch creates the tables the plugin defines; a later one
    holds what the plugin's tables (crm_tables) have that the database has not
    (autogenerate: the database must be at the branch's head). Then `crmkit db upgrade`.
    """
    from .. import migrations
    from ..i18n import _

    made = migrations.revision(crm, plugin, message, empty=empty)
    path = Path(made["path"])
    shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
    click.echo(_("created {path}").format(path=shown))
    if made["tables_exist"]:
        click.echo(_("the database has {name}'s tables already (made without "
                     "migrations): record them with `crmkit db stamp --plugin {name} "
                     "heads` instead of upgrading").format(name=plugin), err=True)
    else:
        click.echo(_("apply it with `crmkit db upgrade`"), err=True)


@db.command("stamp")
@click.argument("revision")
@click.option("--plugin", "plugin", metavar="NAME",
              help="Stamp this plugin's branch: REVISION is one of its revisions, "
                   "heads or base.")
@pass_crm
def db_stamp(crm: Any, revision: str, plugin: str | None) -> None:
    """Record REVISION as applied without running it.

    For a database whose tables were created without migrations: `crmkit db stamp
    --plugin NAME heads` when they match the plugin's latest revision. Without --plugin,
    REVISION is any Alembic target (core@core_0002, heads).
    """
    from .. import migrations

    after = migrations.stamp(crm, revision, plugin=plugin)
    click.echo(", ".join(f"{k}: {v or '-'}" for k, v in sorted(after.items())))


@plugins.command("uninstall")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="List the tables and rows removal would drop.")
@click.option("--purge", is_flag=True,
              help="Drop the plugin's tables (Alembic branch to base), settings and "
                   "delivery records.")
@json_option
@pass_crm
def plugins_uninstall(crm: Any, name: str, dry_run: bool, purge: bool, as_json: bool) -> None:
    """Remove a plugin's data from the database (disabling keeps it)."""
    from ..errors import ValidationError
    from ..services import plugins as svc

    if dry_run == purge:
        raise ValidationError(_("say --dry-run to see what would be dropped, or --purge to "
                                "drop it"))
    # both ask plugins.uninstall: an operator action (admins of tenant "default"), since
    # the plan names other tenants and the purge drops every tenant's data
    plan = svc.uninstall_plan(crm, name) if dry_run else svc.purge(crm, name)
    if as_json:
        return print_json({**plan, "dropped": purge})
    if dry_run and plan["enabled_in"]:
        click.echo(_("still enabled for: {tenants} (disable it there before --purge)").format(
            tenants=", ".join(plan["enabled_in"])))
    table([(t, n) for t, n in plan["tables"].items()], [_("table"), _("rows")],
          title=(_("{plugin}: dropped") if purge else _("{plugin}: would drop")).format(
              plugin=name), empty=_("{plugin} has no tables").format(plugin=name))
    if purge:
        click.echo(_("{plugin} uninstalled; its settings and delivery records are gone "
                     "too").format(plugin=name))
