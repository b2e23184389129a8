"""``customer show``: the 360° view, for people and (``--json``) for scripts."""

from __future__ import annotations

from typing import Any

import click

from ..i18n import _
from ..output import fields, json_option, parse_date, pass_crm, print_json, section, table

#: Activities and documents shown in the human view (``--json`` has all).
LATEST = 8


@click.command("show")
@click.argument("customer", metavar="CUSTOMER")
@click.option("--on", metavar="DATE", help="Compute the plugins' sections as of DATE.")
@json_option
@pass_crm
def customer_show(crm: Any, customer: str, on: str | None, as_json: bool) -> None:
    """The 360° view of one customer: CUSTOMER is an id, an exact external id, or an
    exact name that one customer has."""
    day = parse_date(on, "--on")
    c = crm.customers.lookup(customer)
    if as_json:
        return print_json(crm.customers.view(c.id, on=day))
    fields([(_("Status"), f"{c.status} · {c.kind}"), (_("Owner"), c.owner),
            (_("E-mail"), c.email), (_("Phone"), c.phone), (_("Address"), c.address),
            (_("External id"), c.external_id), (_("Tags"), ", ".join(c.tags) or None)],
           title=_("{name} · customer {id}").format(name=c.name, id=c.id))
    contacts = crm.contacts.list(customer_id=c.id)
    if contacts:
        click.echo("")
        table([(x.name, x.title, x.email, x.phone) for x in contacts],
              [_("name"), _("title"), _("email"), _("phone")], title=_("Contacts"))
    _activities(crm, c.id)
    _documents(crm, c.id)
    for s in crm.customers.sections(c.id, on=day):
        click.echo("")
        section(s)


def _recent(service: Any, customer_id: int, title: str, row: Any, headers: list[str],
            optional: tuple[int, ...], command: str) -> None:
    """The latest records of one kind, with how many there are and where the rest is."""
    records = service.list(customer_id=customer_id, limit=LATEST)
    if not records:
        return
    total = service.count(customer_id=customer_id)
    if total > len(records):
        title = _("{title} (latest {shown} of {total})").format(
            title=title, shown=len(records), total=total)
    click.echo("")
    table([row(x) for x in records], headers, title=title, optional=optional)
    if total > len(records):
        click.echo(_("all of them: crmkit {command} --customer {id}").format(
            command=command, id=customer_id))


def _activities(crm: Any, customer_id: int) -> None:
    _recent(crm.activities, customer_id, _("Activities"),
            lambda a: (a.occurred_at, a.kind, a.subject, a.owner, a.due_on,
                       (_("done") if a.done_at else _("open")) if a.kind == "task" else ""),
            [_("when"), _("kind"), _("subject"), _("owner"), _("due"), _("task")],
            (5, 4, 3), "activity list")


def _documents(crm: Any, customer_id: int) -> None:
    _recent(crm.documents, customer_id, _("Documents"),
            lambda d: (d.id, d.number, d.kind, d.status, d.amount, d.issued_on, d.due_on,
                       d.applies_to),
            [_("id"), _("number"), _("kind"), _("status"), _("amount"), _("issued"),
             _("due"), _("applies to")], (7, 3, 5), "doc list")
