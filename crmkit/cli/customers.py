"""customer and contact commands (``customer show`` is in :mod:`crmkit.cli.show`)."""

from __future__ import annotations

from typing import Any

import click

from ..i18n import _
from ..output import (
    Group,
    Page,
    json_option,
    paging,
    pass_crm,
    print_json,
    progress,
    stream_json,
    table,
)
from .show import customer_show


@click.group(cls=Group)
def customer() -> None:
    """Customers: add, list, show (the 360° view), update, archive, reassign."""


customer.add_command(customer_show)


@customer.command("add")
@click.argument("name")
@click.option("--kind", default="company", show_default=True, help="company or person.")
@click.option("--status", default="prospect", show_default=True,
              help="prospect, active, lost or archived.")
@click.option("--email")
@click.option("--phone")
@click.option("--address")
@click.option("--owner", metavar="USER", help="Responsible user (default: you).")
@click.option("--tag", "tags", multiple=True, metavar="T", help="A tag; repeat for more.")
@click.option("--external-id", metavar="X", help="The id in another system (ERP).")
@json_option
@pass_crm
def customer_add(crm: Any, name: str, as_json: bool, tags: tuple[str, ...],
                 **fields: Any) -> None:
    """Add a customer; prints its id."""
    fields = {k: v for k, v in fields.items() if v is not None}
    c = crm.customers.add(name=name, tags=list(tags), **fields)
    print_json(c) if as_json else click.echo(c.id)


@customer.command("list")
@click.option("--owner", metavar="U")
@click.option("--tag", metavar="T")
@click.option("--status", metavar="S")
@click.option("--search", metavar="Q", help="Part of the name, e-mail, phone or external id.")
@paging
@json_option
@pass_crm
def customer_list(crm: Any, as_json: bool, page: Page, **filters: Any) -> None:
    """List customers you may see, by id."""
    if as_json:
        stream_json(crm.customers.stream_dicts(limit=page.limit, offset=page.offset,
                                               **filters))
        return
    cs = crm.customers.list(limit=page.limit, offset=page.offset, **filters)
    table([(c.id, c.name, c.status, c.owner, c.email or c.phone, ", ".join(c.tags))
           for c in cs],
          [_("id"), _("name"), _("status"), _("owner"), _("e-mail / phone"), _("tags")],
          empty=_("no customers"), more=page.more(crm.customers.count(**filters), len(cs)),
          offset=page.next_offset, optional=(5, 4, 3))


@customer.command("update")
@click.argument("customer_id", type=int)
@click.option("--name")
@click.option("--kind")
@click.option("--status")
@click.option("--owner", metavar="USER")
@click.option("--email")
@click.option("--phone")
@click.option("--address")
@click.option("--tag", "tags", multiple=True, metavar="T", help="Replace the tags.")
@click.option("--external-id", metavar="X")
@json_option
@pass_crm
def customer_update(crm: Any, customer_id: int, as_json: bool, tags: tuple[str, ...],
                    **fields: Any) -> None:
    """Change fields of a customer (an empty value clears an optional field)."""
    changes = {k: (v if v != "" else None) for k, v in fields.items() if v is not None}
    if tags:
        changes["tags"] = list(tags)
    c = crm.customers.update(customer_id, **changes)
    print_json(c) if as_json else click.echo(c.id)


@customer.command("archive")
@click.argument("customer_id", type=int)
@json_option
@pass_crm
def customer_archive(crm: Any, customer_id: int, as_json: bool) -> None:
    """Archive a customer (kept, with its history, but out of the way)."""
    c = crm.customers.archive(customer_id)
    print_json(c) if as_json else click.echo(_("customer {id} archived").format(id=c.id))


@customer.command("reassign")
@click.option("--from", "from_user", required=True, metavar="USER")
@click.option("--to", "to_user", required=True, metavar="USER")
@click.option("--disable", is_flag=True,
              help="Then disable USER (--from), in the same transaction.")
@json_option
@pass_crm
def customer_reassign(crm: Any, from_user: str, to_user: str, disable: bool,
                      as_json: bool) -> None:
    """Hand over every customer and open item of a leaving salesperson."""
    with progress(_("reassigning customers")) as bar:
        counts = crm.customers.reassign(from_user, to_user, disable=disable, progress=bar)
    if as_json:
        return print_json({"from": from_user, "to": to_user, **counts, "disabled": disable})
    click.echo(_("{customers} customers and {tasks} open tasks moved from {src} to {dst}"
                 ).format(customers=counts["customers"], tasks=counts["tasks"],
                          src=from_user, dst=to_user))
    if disable:
        click.echo(_("user {name} disabled").format(name=from_user))


@click.group(cls=Group)
def contact() -> None:
    """People at a customer."""


@contact.command("add")
@click.argument("customer_id", type=int)
@click.argument("name")
@click.option("--title")
@click.option("--email")
@click.option("--phone")
@json_option
@pass_crm
def contact_add(crm: Any, customer_id: int, name: str, as_json: bool, **fields: Any) -> None:
    """Add a contact person to a customer; prints its id."""
    c = crm.contacts.add(customer_id, name, **fields)
    print_json(c) if as_json else click.echo(c.id)


@contact.command("list")
@click.option("--customer", "customer_id", type=int, metavar="ID")
@paging
@json_option
@pass_crm
def contact_list(crm: Any, customer_id: int | None, as_json: bool, page: Page) -> None:
    """List contacts, with their customer's name."""
    if as_json:
        stream_json(crm.contacts.stream(customer_id=customer_id, limit=page.limit,
                                        offset=page.offset))
        return
    cs = crm.contacts.list(customer_id=customer_id, limit=page.limit, offset=page.offset)
    names = crm.customers.names(c.customer_id for c in cs)
    table([(c.id, names.get(c.customer_id, c.customer_id), c.name, c.title, c.email,
            c.phone) for c in cs],
          [_("id"), _("customer"), _("name"), _("title"), _("email"), _("phone")],
          empty=_("no contacts"),
          more=page.more(crm.contacts.count(customer_id=customer_id), len(cs)),
          offset=page.next_offset, optional=(5, 3))
