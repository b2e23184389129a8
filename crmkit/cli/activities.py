"""activity and reminders commands."""

from __future__ import annotations

from typing import Any

import click

from ..output import json_option, money, parse_date, pass_crm, print_json, table


@click.group()
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
@click.option("--limit", type=int)
@json_option
@pass_crm
def activity_list(crm: Any, as_json: bool, **filters: Any) -> None:
    """List activities, newest first."""
    acts = crm.activities.list(**filters)
    if as_json:
        return print_json(acts)
    table([(a.id, a.customer_id, a.occurred_at.strftime("%Y-%m-%d %H:%M"), a.kind,
            a.subject, a.owner, a.due_on, "done" if a.done_at else "") for a in acts],
          ["id", "customer", "when", "kind", "subject", "owner", "due", ""],
          empty="no activities")


@activity.command("done")
@click.argument("activity_id", type=int)
@json_option
@pass_crm
def activity_done(crm: Any, activity_id: int, as_json: bool) -> None:
    """Mark a task done."""
    a = crm.activities.done(activity_id)
    print_json(a) if as_json else click.echo(f"activity {a.id} done")


@click.command("reminders")
@click.option("--on", metavar="DATE", help="The day (default today).")
@click.option("--send", is_flag=True,
              help="Deliver through the enabled channels; each reminder only once.")
@json_option
@pass_crm
def reminders(crm: Any, on: str | None, send: bool, as_json: bool) -> None:
    """What needs attention: overdue invoices, stale opportunities, tasks, ..."""
    day = parse_date(on, "--on")
    if send:
        delivered, already = crm.reminders.send(day, echo=None if as_json else click.echo)
        if as_json:
            return print_json({"delivered": delivered, "already_delivered": already})
        click.echo(f"{len(delivered)} delivered, {already} already delivered")
        return
    rs = crm.reminders.due(day)
    if as_json:
        return print_json(rs)
    table([(r.due_on, r.owner, r.customer, r.kind, r.subject, money(r.amount), r.level)
           for r in rs], ["due", "owner", "customer", "kind", "subject", "amount", "level"],
          title=f"Reminders for {day or crm.today}", empty="no reminders")
