"""customer and contact commands."""

from __future__ import annotations

from typing import Any

import click

from ..output import json_option, parse_date, pass_crm, print_json, table


@click.group()
def customer() -> None:
    """Customers: add, list, show (the 360° view), update, archive, reassign."""


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
@click.option("--limit", type=int)
@json_option
@pass_crm
def customer_list(crm: Any, as_json: bool, **filters: Any) -> None:
    """List customers you may see."""
    cs = crm.customers.list(**filters)
    if as_json:
        return print_json(cs)
    table([(c.id, c.name, c.kind, c.status, c.owner, c.email, c.phone, ",".join(c.tags))
           for c in cs], ["id", "name", "kind", "status", "owner", "email", "phone", "tags"],
          empty="no customers")


@customer.command("show")
@click.argument("customer_id", type=int)
@click.option("--on", metavar="DATE", help="Compute the plugins' sections as of DATE.")
@json_option
@pass_crm
def customer_show(crm: Any, customer_id: int, on: str | None, as_json: bool) -> None:
    """The 360° view of one customer."""
    day = parse_date(on, "--on")
    view = crm.customers.view(customer_id, on=day)
    if as_json:
        return print_json(view)
    c = view["customer"]
    click.echo(f"# {c['name']}  (customer {c['id']}, {c['kind']}, {c['status']})")
    for k in ("owner", "email", "phone", "address", "external_id"):
        if c.get(k):
            click.echo(f"  {k}: {c[k]}")
    if c["tags"]:
        click.echo(f"  tags: {', '.join(c['tags'])}")
    if view["contacts"]:
        table([(x["id"], x["name"], x["title"], x["email"], x["phone"])
               for x in view["contacts"]], ["id", "name", "title", "email", "phone"],
              title="Contacts")
    if view["activities"]:
        table([(a["id"], a["occurred_at"][:16].replace("T", " "), a["kind"], a["subject"],
                a["owner"], a["due_on"], "done" if a["done_at"] else "")
               for a in view["activities"][:15]],
              ["id", "when", "kind", "subject", "owner", "due", ""], title="Activities")
    if view["documents"]:
        table([(d["id"], d["kind"], d["number"], d["status"], d["amount"], d["issued_on"],
                d["due_on"], d["applies_to"]) for d in view["documents"][:15]],
              ["id", "kind", "number", "status", "amount", "issued", "due", "applies to"],
              title="Documents")
    for s in crm.customers.sections(customer_id, on=day):
        click.echo(f"\n## {s.title}")
        _show_data(s.data, "  ")


def _show_data(data: Any, indent: str) -> None:
    if isinstance(data, dict):
        for k, v in data.items():
            if isinstance(v, dict | list) and v:
                click.echo(f"{indent}{k}:")
                _show_data(v, indent + "  ")
            else:
                click.echo(f"{indent}{k}: {v}")
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, dict):
                click.echo(indent + ", ".join(f"{k}={v}" for k, v in item.items()))
            else:
                click.echo(f"{indent}- {item}")
    else:
        click.echo(f"{indent}{data}")


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
    print_json(c) if as_json else click.echo(f"customer {c.id} archived")


@customer.command("reassign")
@click.option("--from", "from_user", required=True, metavar="USER")
@click.option("--to", "to_user", required=True, metavar="USER")
@json_option
@pass_crm
def customer_reassign(crm: Any, from_user: str, to_user: str, as_json: bool) -> None:
    """Hand over every customer and open item of a leaving salesperson."""
    counts = crm.customers.reassign(from_user, to_user)
    if as_json:
        return print_json({"from": from_user, "to": to_user, **counts})
    click.echo(f"{counts['customers']} customers and {counts['tasks']} open tasks moved "
               f"from {from_user} to {to_user}")


@click.group()
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
@json_option
@pass_crm
def contact_list(crm: Any, customer_id: int | None, as_json: bool) -> None:
    """List contacts."""
    cs = crm.contacts.list(customer_id=customer_id)
    if as_json:
        return print_json(cs)
    table([(c.id, c.customer_id, c.name, c.title, c.email, c.phone) for c in cs],
          ["id", "customer", "name", "title", "email", "phone"], empty="no contacts")

