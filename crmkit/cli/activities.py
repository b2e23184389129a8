"""activity and reminders commands."""

from __future__ import annotations

from typing import Any

import click

from ..i18n import _
from ..output import (
    Group,
    Page,
    json_option,
    paging,
    parse_date,
    pass_crm,
    print_json,
    stream_json,
    table,
    width,
)


@click.group(cls=Group)
def activity() -> None:
    """Calls, visits, e-mails, meetings, notes and tasks."""


@activity.command("add")
@click.argument("customer_id", type=int)
@click.option("--kind", required=True, metavar="K",
              help="call, visit, email, meeting, note or task.")
@click.option("--subject", required=True, metavar="S")
@click.option("--body", metavar="TEXT")
@click.option("--at", "occurred_at", metavar="DATETIME",
              help="When it happened (ISO 8601, UTC unless an offset is given; default now).")
@click.option("--due", metavar="DATE", help="Due date (tasks).")
@click.option("--owner", metavar="U", help="Who did it / must do it (default: you).")
@json_option
@pass_crm
def activity_add(crm: Any, customer_id: int, kind: str, subject: str, body: str | None,
                 occurred_at: str | None, due: str | None, owner: str | None,
                 as_json: bool) -> None:
    """Log an activity on a customer's timeline; prints its id."""
    a = crm.activities.add(customer_id, kind=kind, subject=subject, body=body, owner=owner,
                           occurred_at=occurred_at, due_on=parse_date(due, "--due"))
    print_json(a) if as_json else click.echo(a.id)


@activity.command("list")
@click.option("--customer", "customer_id", type=int, metavar="ID")
@click.option("--owner", metavar="U")
@click.option("--kind", metavar="K")
@click.option("--open", "open_only", is_flag=True, help="Only tasks not done yet.")
@paging
@json_option
@pass_crm
def activity_list(crm: Any, as_json: bool, page: Page, **filters: Any) -> None:
    """List activities, newest first, with their customer's name."""
    if as_json:
        stream_json(crm.activities.stream(limit=page.limit, offset=page.offset, **filters))
        return
    acts = crm.activities.list(limit=page.limit, offset=page.offset, **filters)
    names = crm.customers.names(a.customer_id for a in acts)
    table([(a.id, a.occurred_at, names.get(a.customer_id, a.customer_id), a.kind, a.subject,
            a.owner, a.due_on, (_("done") if a.done_at else _("open"))
            if a.kind == "task" else "") for a in acts],
          [_("id"), _("when"), _("customer"), _("kind"), _("subject"), _("owner"), _("due"),
           _("task")], empty=_("no activities"),
          more=page.more(crm.activities.count(**filters), len(acts)),
          offset=page.next_offset, optional=(7, 5, 6))


@activity.command("done")
@click.argument("activity_id", type=int)
@json_option
@pass_crm
def activity_done(crm: Any, activity_id: int, as_json: bool) -> None:
    """Mark a task done."""
    a = crm.activities.done(activity_id)
    print_json(a) if as_json else click.echo(_("activity {id} done").format(id=a.id))


@click.command("reminders")
@click.option("--on", metavar="DATE", help="The day (default today).")
@click.option("--send", is_flag=True,
              help="Deliver through the enabled channels; each reminder only once.")
@paging
@json_option
@pass_crm
def reminders(crm: Any, on: str | None, send: bool, as_json: bool, page: Page) -> None:
    """What needs attention: overdue invoices, stale opportunities, tasks, ...

    --limit and --offset apply to the list, not to --send (which delivers all)."""
    day = parse_date(on, "--on")
    if send:
        delivered, already = crm.reminders.send(day, echo=None if as_json else click.echo)
        if as_json:
            return print_json({"delivered": delivered, "already_delivered": already})
        click.echo(_("{delivered} delivered, {already} already delivered").format(
            delivered=len(delivered), already=already))
        return
    rs, more = page.slice(crm.reminders.due(day))
    if as_json:
        return print_json(rs)
    # the kind is in every subject; it gets its own column when there is room for it
    wide = width() >= 110
    table([(r.due_on, r.customer, r.owner, *([r.kind] if wide else []), r.subject, r.amount)
           for r in rs],
          [_("due"), _("customer"), _("owner"), *([_("kind")] if wide else []),
           _("subject"), _("amount")],
          title=_("Reminders for {day}").format(day=day or crm.today),
          empty=_("no reminders"), more=more, offset=page.next_offset)
