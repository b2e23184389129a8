"""crmkit plugin ``sales``: opportunities through configurable stages, a weighted
forecast, prospect classes, follow-up reminders, funnel, team and product reports.

See docs/plugins/sales.md. Commands hang under ``crmkit sales``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import crmkit

from .settings import SalesSettings

PLUGIN = crmkit.PluginSpec(
    name="sales", version="0.1.0",
    description="Sales pipeline: opportunities, forecast, prospect classes, follow-up "
                "reminders, funnel, team and product reports.",
    settings=SalesSettings)


@crmkit.hookimpl
def crm_tables(metadata: Any, prefix: str) -> None:
    """Define ``sales_opportunities`` and ``sales_stage_changes``. Since 0.1."""
    from .tables import define_tables

    define_tables(metadata, prefix)


@crmkit.hookimpl
def crm_cli(cli: Any) -> None:
    """Add the ``crmkit sales`` command group. Since 0.1."""
    from .cli import sales

    cli.add_command(sales)


@crmkit.hookimpl
def crm_permission(ctx: Any, user: Any, action: str, record: Any) -> bool | None:
    """A user without ``sales.view_all`` (by default: ``sales`` users) may see and
    change only the opportunities they own (the built-in rule on the customer's owner
    applies as well). No opinion on anything else. Since 0.1."""
    from .service import Opportunity, sees_all

    if isinstance(record, Opportunity) and record.owner != user.name:
        return None if sees_all(ctx) else False
    return None


@crmkit.hookimpl
def crm_activity_scope(ctx: Any, user: Any, activities: Any) -> Any:
    """The timeline notes about an opportunity (``extra.sales.opportunity_id``) follow
    the opportunity: a ``sales`` user sees only those of the opportunities they own.
    Read-only. Since 0.2."""
    from .service import note_scope

    return note_scope(ctx, user, activities)


@crmkit.hookimpl
def crm_change_scope(ctx: Any, user: Any, audit: Any) -> Any:
    """The change feed's ``opportunity`` rows follow the opportunity: a ``sales`` user
    reads only the changes of the opportunities they own. Read-only. Since 0.2."""
    from .service import change_scope

    return change_scope(ctx, user, audit)


@crmkit.hookimpl
def crm_reminders(ctx: Any, on: dt.date) -> list[crmkit.Reminder]:
    """``stale_opportunity`` and ``next_step_due`` reminders for date ``on``, to the
    opportunity's owner. Read-only. Since 0.1."""
    from .followup import reminders

    return reminders(ctx, on)


@crmkit.hookimpl
def crm_customer_sections(ctx: Any, customer: Any, on: dt.date) -> crmkit.Section:
    """The 360° view's "Opportunities" panel: open ones with weighted value, and the
    stage history up to ``on``. Read-only. Since 0.1."""
    from .followup import section

    return section(ctx, customer, on)


@crmkit.hookimpl
def crm_today(ctx: Any, on: dt.date) -> dict[str, Any]:
    """``crmkit today``'s sales part: open pipeline, weighted pipeline and the amount
    won this month, for the opportunities the user may see. Read-only. Since 0.2."""
    from .reports import today_part

    return {"sales": today_part(ctx, on)}


@crmkit.hookimpl
def crm_reassign(ctx: Any, from_user: str, to_user: str) -> None:
    """Fires in ``customer reassign``'s transaction: hands ``from_user``'s open
    opportunities to ``to_user`` (audited). Returns nothing. Since 0.1."""
    from .service import reassign

    reassign(ctx, from_user, to_user)


@crmkit.hookimpl
def crm_demo(crm: Any, customers: list[Any], rng: Any) -> None:
    """Add a small pipeline to ``crmkit demo``: opportunities in every stage, some won
    (one with a contract) and one lost. Returns nothing. Since 0.1."""
    from .service import add, move

    today = crm.today
    titles = ["ERP rollout", "年度维保合同", "Hardware refresh", "培训服务", "Cloud migration",
              "Support renewal", "新门店设备", "Pilot project"]
    stages = ["lead", "qualified", "proposal", "negotiation", "proposal", "qualified",
              "won", "lost"]
    for i, (title, stage) in enumerate(zip(titles, stages, strict=True)):
        c = customers[i % len(customers)]
        amount = f"{rng.randint(20, 300) * 100}.00"
        close = today + dt.timedelta(days=rng.randint(5, 120))
        opp = add(crm, c.id, title=title, amount=amount, close=close,
                  next_step=today + dt.timedelta(days=rng.randint(-3, 10)))
        s = crm.plugins.settings("sales")
        path = s.open_stages[1:s.open_stages.index(stage) + 1] if stage in s.open_stages \
            else [s.open_stages[1], stage]
        for st in path:
            kw: dict[str, Any] = {}
            if st == s.won and i == 6:
                kw["contract_number"] = f"C-SALES-{opp.id:04d}"
            if st == s.lost:
                kw["reason"] = "price too high / 价格过高"
            move(crm, opp.id, st, **kw)  # type: ignore[arg-type]  # stored: has an id


def opportunity_facts(ctx: crmkit.Context) -> Any:
    """For other plugins' SQL reports (the marketing plugin's campaign report): a
    ``select`` of the opportunities ``ctx.user`` may see, one row each, with
    ``customer_id``, ``opened_on``, ``closed_on`` (NULL while open), ``won`` (1 in the
    won stage, else 0) and ``amount`` (integer cents, base currency). Use it inside an
    open unit of work (``ctx``). Since 0.2."""
    from sqlalchemy import BigInteger, case, select, type_coerce

    from .service import opp_scope, settings

    o = ctx.crm.table("sales_opportunities")
    return select(o.c.customer_id, o.c.created_on.label("opened_on"), o.c.closed_on,
                  case((o.c.stage == settings(ctx).won, 1), else_=0).label("won"),
                  type_coerce(o.c.amount, BigInteger).label("amount")
                  ).where(opp_scope(ctx, o))


@crmkit.hookimpl
def crm_report_sections(ctx: Any, on: dt.date) -> Any:
    """The report's sales section as of ``on``: the forecast by month and the funnel,
    in the user's scope. Read-only. Since 0.2."""
    from .report_section import sections

    return sections(ctx, on)
