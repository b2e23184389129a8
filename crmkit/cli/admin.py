"""init, tenant, user, changes, audit."""

from __future__ import annotations

from typing import Any

import click

from ..output import json_option, pass_crm, print_json, table


@click.command("init")
@pass_crm
def init_cmd(crm: Any) -> None:
    """Create or upgrade the schema; tenant "default" with user "admin". Idempotent."""
    crm.init()
    click.echo(f"crmkit database ready: {crm.url}")


@click.group()
def tenant() -> None:
    """Businesses sharing this database."""


@tenant.command("add")
@click.argument("slug")
@click.option("--name", help="Display name (default: the slug).")
@click.option("--currency", default="CNY", show_default=True, help="ISO 4217 code.")
@json_option
@pass_crm
def tenant_add(crm: Any, slug: str, name: str | None, currency: str, as_json: bool) -> None:
    """Add a tenant (and its user "admin")."""
    t = crm.tenants.add(slug, name=name, currency=currency)
    print_json(t) if as_json else click.echo(t.id)


@tenant.command("list")
@json_option
@pass_crm
def tenant_list(crm: Any, as_json: bool) -> None:
    """List tenants."""
    ts = crm.tenants.list()
    if as_json:
        return print_json(ts)
    table([(t.id, t.slug, t.name, t.currency) for t in ts], ["id", "slug", "name", "currency"])


@click.group()
def user() -> None:
    """People of the current tenant."""


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
@json_option
@pass_crm
def user_list(crm: Any, as_json: bool) -> None:
    """List the tenant's users."""
    us = crm.users.list()
    if as_json:
        return print_json(us)
    table([(u.id, u.name, u.role, u.email) for u in us], ["id", "name", "role", "email"])


@click.command("changes")
@click.option("--since", default=0, show_default=True, type=int, metavar="N",
              help="Only changes with a cursor greater than N.")
@click.option("--limit", type=int, help="At most this many.")
@json_option
@pass_crm
def changes(crm: Any, since: int, limit: int | None, as_json: bool) -> None:
    """The change feed: every insert and update, oldest first."""
    rows = crm.changes(since=since, limit=limit)
    if as_json:
        return print_json(rows)
    table([(r["cursor"], r["at"][:19], r["user"], r["table"], r["id"], r["op"]) for r in rows],
          ["cursor", "at", "user", "table", "id", "op"], empty="no changes")


@click.command("audit")
@click.argument("customer_id", type=int)
@json_option
@pass_crm
def audit(crm: Any, customer_id: int, as_json: bool) -> None:
    """Every change to a customer and its items, with who and when."""
    rows = crm.customers.history(customer_id)
    if as_json:
        return print_json(rows)
    table([(r["cursor"], r["at"][:19], r["user"], r["table"], r["id"], r["op"],
            ", ".join(sorted(_changed(r)))) for r in rows],
          ["cursor", "at", "user", "table", "id", "op", "fields"], empty="no changes")


def _changed(r: dict[str, Any]) -> set[str]:
    before, after = r["before"] or {}, r["after"] or {}
    return {k for k in set(before) | set(after) if before.get(k) != after.get(k)} - {
        "updated_at"}
