"""``crmkit today``: the owner's one screen (figures first, then what to act on)."""

from __future__ import annotations

from typing import Any

import click

from ..i18n import _, ngettext
from ..output import amount, fields, json_option, pass_crm, print_json, table

#: Rows of each "act on" list shown on the screen (``--json`` has them all).
SHOWN = 5


@click.command("today")
@json_option
@pass_crm
def today_cmd(crm: Any, as_json: bool) -> None:
    """The day at a glance, for your customers: what is owed and overdue, the
    pipeline and this month's wins, customer counts, reminders; then the largest
    overdue balances and the tasks due."""
    if as_json:
        from ..summary import today

        return print_json(today(crm))
    show_today(crm)


def _not_enabled(plugin: str) -> str:
    return _("not enabled (crmkit plugins enable {plugin})").format(plugin=plugin)


def show_today(crm: Any) -> None:
    """Print ``crmkit today``'s screen (``crmkit demo`` ends with it)."""
    from ..summary import today

    day = today(crm)
    with crm.unit(write=False) as ctx:
        scoped = crm.customers.scoped(ctx)
    scope = _("your customers") if scoped else _("all customers")
    rec, sales, cust, rem = day["receivables"], day["sales"], day["customers"], day["reminders"]
    sep = " · "
    figures: list[tuple[str, Any]] = [
        (_("Receivables"), _not_enabled("receivables") if rec is None else sep.join([
            _("outstanding {amount}").format(amount=amount(rec["outstanding"])),
            _("overdue {amount}").format(amount=amount(rec["overdue"]))])),
        (_("Sales"), _not_enabled("sales") if sales is None else sep.join([
            _("pipeline {amount}").format(amount=amount(sales["pipeline"])),
            _("weighted {amount}").format(amount=amount(sales["weighted"])),
            _("won this month {amount}").format(amount=amount(sales["won_this_month"]))])),
        (_("Customers"), sep.join(
            [_("{n} active").format(n=cust["active"]),
             ngettext("{n} prospect", "{n} prospects", cust["prospect"]).format(
                 n=cust["prospect"]),
             _("{n} lost").format(n=cust["lost"]),
             _("{n} new this month").format(n=cust["new_this_month"])]
            + ([] if cust["at_risk"] is None
               else [_("{n} at risk").format(n=cust["at_risk"])]))),
        (_("Reminders"), _("{n}: {kinds}").format(n=rem["total"], kinds=", ".join(
            f"{n} {k}" for k, n in sorted(rem["by_kind"].items(), key=lambda kv: -kv[1])))
         if rem["total"] else _("none")),
    ]
    fields(figures, title=_("Today {date} · {user} ({scope})").format(
        date=day["date"], user=day["user"], scope=scope))
    if rec and rec["top_overdue"]:
        click.echo("")
        table([(r["customer"], r["overdue"]) for r in rec["top_overdue"]],
              [_("customer"), _("overdue")], title=_("Largest overdue balances"))
    tasks = day["tasks_due"]
    if tasks:
        click.echo("")
        names = crm.customers.names(t["customer_id"] for t in tasks[:SHOWN])
        table([(t["due_on"], names.get(t["customer_id"], t["customer_id"]), t["subject"],
                t["owner"]) for t in tasks[:SHOWN]],
              [_("due"), _("customer"), _("task"), _("owner")],
              title=_("Tasks due ({n})").format(n=len(tasks)))
        if len(tasks) > SHOWN:
            click.echo(_("… {n} more: crmkit activity list --open").format(
                n=len(tasks) - SHOWN))
