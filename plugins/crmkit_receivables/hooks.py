"""The receivables plugin's hook implementations."""

from __future__ import annotations

import datetime as dt
from typing import Any

import crmkit
from crmkit.i18n import Domain

from . import hookspecs

# api and queries (and SQLAlchemy's statements in them) are imported by the hooks that
# run them: loading the plugin, as every command does (`crmkit --help` too), stays cheap

_ = Domain("crmkit_receivables").gettext

KINDS = ("overdue", "due_today", "due_tomorrow", "due_this_week")


@crmkit.hookimpl
def crm_addhooks(pluginmanager: Any) -> None:
    """Add ``crm_customers_at_risk`` (see :mod:`crmkit_receivables.hookspecs`)."""
    pluginmanager.add_hookspecs(hookspecs)


@crmkit.hookimpl
def crm_customers_at_risk(ctx: Any, on: dt.date) -> list[int]:
    """Customers with an invoice more than 90 days overdue and still owing, as of ``on``."""
    from . import api

    return api.customers_at_risk(ctx, on)


def _reminder(r: Any, on: dt.date) -> crmkit.Reminder:
    from . import api

    days = int(r.days_due)
    due = api._date(r.due)
    # an invoice with terms is reminded per installment: "INV-1 #2" in the key (an
    # invoice without terms keeps the key it always had, so nothing is sent twice)
    n = int(r.n)
    ref = r.number if n == 1 else f"{r.number}#{int(r.no)}"
    what = (_("Invoice {number}").format(number=r.number) if n == 1 else
            _("Invoice {number} installment {no}/{n}").format(number=r.number,
                                                               no=int(r.no), n=n))
    if days > 0:
        kind, level = "overdue", int(r.level)
        key = f"receivables:overdue:{ref}:L{level}"
        subject = _("{what} is {days} days overdue").format(what=what, days=days)
    else:
        kind = ("due_today" if days == 0 else "due_tomorrow" if days == -1
                else "due_this_week")
        level = None
        key = f"receivables:{kind}:{ref}:{due.isoformat()}"
        subject = {"due_today": _("{what} is due today"),
                   "due_tomorrow": _("{what} is due tomorrow"),
                   "due_this_week": _("{what} is due on {day}")}[kind].format(
                       what=what, day=due.isoformat())
    return crmkit.Reminder(
        key=key, plugin="receivables", kind=kind, subject=subject, customer_id=r.customer_id,
        customer=r.customer, owner=r.owner, due_on=due, amount=r.outstanding, level=level,
        document=r.number, days_overdue=days if days > 0 else None)


@crmkit.hookimpl
def crm_reminders(ctx: Any, on: dt.date) -> list[crmkit.Reminder]:
    """Installments of invoices with an outstanding amount that are overdue (``level`` =
    overdue bucket index), due today, tomorrow, or later this week (up to Sunday); one
    reminder per installment (an invoice without terms is one)."""
    from . import queries

    s = ctx.settings("receivables")
    return [_reminder(r, on) for r in ctx.conn.execute(queries.reminder_rows(ctx, on, s))]


@crmkit.hookimpl
def crm_customer_sections(ctx: Any, customer: Any, on: dt.date) -> crmkit.Section:
    """The customer's receivables as of ``on``: outstanding, overdue, oldest overdue
    days, credit and the aging buckets."""
    from . import api

    data = api.customer_summary(ctx, customer.id, on)
    days = data["oldest_overdue_days"]
    summary = [(_("Outstanding"), data["outstanding"]), (_("Overdue"), data["overdue"]),
               (_("Oldest overdue"), None if days is None
                else _("{n} days").format(n=days)),
               (_("Credit"), data["credit"] if data["credit"] != "0.00" else None),
               (_("Aging"), data["buckets"])]
    return crmkit.Section(plugin="receivables", title=_("Receivables"), data=data,
                          summary=summary)


@crmkit.hookimpl
def crm_today(ctx: Any, on: dt.date) -> dict[str, Any]:
    """``crmkit today``'s receivables part: outstanding, overdue and the five
    customers owing the most overdue, in the user's scope. Read-only. Since 0.2."""
    from . import api

    return {"receivables": api.today_part(ctx, on)}


@crmkit.hookimpl
def crm_report_sections(ctx: Any, on: dt.date) -> Any:
    """The report's receivables section as of ``on``: aging buckets and the largest
    overdue balances, in the user's scope. Read-only. Since 0.2."""
    from .report_section import sections

    return sections(ctx, on)


@crmkit.hookimpl
def crm_cli(cli: Any) -> None:
    """Add ``crmkit receivables aging`` and ``crmkit receivables open``."""
    from .cli import receivables

    cli.add_command(receivables)


@crmkit.hookimpl
def crm_demo(crm: Any, customers: list[Any], rng: Any) -> None:
    """Add an unapplied payment, so that the demo shows FIFO allocation at work."""
    if not customers:
        return
    crm.documents.add(customers[0].id, kind="payment", number="PAY-ADV-0001",
                      amount=rng.choice(["300.00", "500.00"]),
                      issued_on=crm.today - dt.timedelta(days=3))
