"""user add, list, update, disable, enable."""

from __future__ import annotations

from typing import Any

import click

from ..i18n import _
from ..output import Group, Page, json_option, paging, pass_crm, print_json, table


@click.group(cls=Group)
def user() -> None:
    """People of the current tenant: add, list, update, disable, enable."""


@user.command("add")
@click.argument("name")
@click.option("--role", default="sales", show_default=True, help="admin, manager or sales.")
@click.option("--email", help="Where reminders reach this user (e-mail channel).")
@json_option
@pass_crm
def user_add(crm: Any, name: str, role: str, email: str | None, as_json: bool) -> None:
    """Add a user to the current tenant."""
    u = crm.users.add(name, role=role, email=email)
    print_json(u) if as_json else click.echo(u.id)


@user.command("list")
@paging
@json_option
@pass_crm
def user_list(crm: Any, as_json: bool, page: Page) -> None:
    """List the tenant's users."""
    us, more = page.slice(crm.users.list())
    if as_json:
        return print_json(us)
    table([(u.id, u.name, u.role, u.email, "" if u.active else _("disabled")) for u in us],
          [_("id"), _("name"), _("role"), _("email"), _("status")], more=more,
          offset=page.next_offset)


@user.command("update")
@click.argument("name")
@click.option("--role", help="admin, manager or sales.")
@click.option("--email", help="A new e-mail address (\"\" clears it).")
@json_option
@pass_crm
def user_update(crm: Any, name: str, role: str | None, email: str | None,
                as_json: bool) -> None:
    """Change a user's role or e-mail address."""
    u = crm.users.update(name, role=role, email=email)
    if as_json:
        return print_json(u)
    click.echo(_("user {name}: role {role}, e-mail {email}").format(
        name=u.name, role=u.role, email=u.email or "-"))


@user.command("disable")
@click.argument("name")
@json_option
@pass_crm
def user_disable(crm: Any, name: str, as_json: bool) -> None:
    """Disable a user: they can no longer act (`--user NAME` is refused); their
    customers keep them as owner until `crmkit customer reassign`."""
    u = crm.users.disable(name)
    print_json(u) if as_json else click.echo(_("user {name} disabled").format(name=u.name))


@user.command("enable")
@click.argument("name")
@json_option
@pass_crm
def user_enable(crm: Any, name: str, as_json: bool) -> None:
    """Let a disabled user act again."""
    u = crm.users.enable(name)
    print_json(u) if as_json else click.echo(_("user {name} enabled").format(name=u.name))
