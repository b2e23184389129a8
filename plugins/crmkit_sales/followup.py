"""Follow-up discipline (reminders) and the 360° section."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, func, or_, select

import crmkit
from crmkit.i18n import Domain

from .service import Opportunity, opp_scope, settings, weighted

_ = Domain("crmkit_sales").gettext


def _as_dt(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))  # pragma: no cover - raw SQLite text


def reminders(ctx: crmkit.Context, on: dt.date) -> list[crmkit.Reminder]:
    """``stale_opportunity``: an open opportunity whose customer has had no activity for
    ``stale_days`` days as of ``on`` (last activity on or before ``on - stale_days``);
    ``next_step_due``: an open opportunity whose next step date is on or before ``on``.
    Both go to the opportunity's owner. Keys carry the last activity's date / the next
    step date, so a new situation gives a new reminder."""
    s = settings(ctx)
    o = ctx.crm.table("sales_opportunities")
    c = ctx.crm.table("customers")
    a = ctx.crm.table("activities")
    tid = ctx.tenant.id
    zone = getattr(ctx, "zone", dt.UTC)  # days start at the tenant's midnight
    next_midnight = dt.datetime.combine(on + dt.timedelta(days=1), dt.time(), zone)
    cutoff = dt.datetime.combine(on - dt.timedelta(days=s.stale_days - 1), dt.time(), zone)
    # the customer's last activity up to ``on``: one index seek per open opportunity
    last_at = (select(func.max(a.c.occurred_at))
               .where(a.c.tenant_id == tid, a.c.customer_id == o.c.customer_id,
                      a.c.occurred_at < next_midnight).scalar_subquery())
    inner = (select(o.c.id, o.c.customer_id, o.c.title, o.c.amount, o.c.stage, o.c.owner,
                    o.c.next_step, o.c.created_on, last_at.label("last_at"))
             .where(opp_scope(ctx, o), o.c.closed_on.is_(None), o.c.created_on <= on)
             .subquery())
    q = (select(inner, c.c.name.label("customer"))
         .select_from(inner.join(c, c.c.id == inner.c.customer_id))
         .where(or_(and_(inner.c.last_at.is_(None),
                         inner.c.created_on <= on - dt.timedelta(days=s.stale_days)),
                    inner.c.last_at < cutoff,
                    and_(inner.c.next_step.is_not(None), inner.c.next_step <= on)))
         .order_by(inner.c.id))
    out: list[crmkit.Reminder] = []
    stale_days = dt.timedelta(days=s.stale_days)
    for oid, cid, title, amount, stage, owner, next_step, created_on, last, customer in (
            ctx.conn.execute(q)):
        last = _as_dt(last)
        last_day = last.date() if last else created_on
        if on - last_day >= stale_days:
            out.append(crmkit.Reminder(
                key=f"sales:stale_opportunity:{oid}:{last_day.isoformat()}",
                plugin="sales", kind="stale_opportunity", customer_id=cid,
                customer=customer, owner=owner, due_on=last_day + stale_days, amount=amount,
                subject=_("No activity with {customer} for {days} days (since "
                          "{last_day}): opportunity #{oid} '{title}' ({stage})").format(
                    customer=customer, days=(on - last_day).days, last_day=last_day, oid=oid,
                    title=title, stage=stage)))
        if next_step is not None and next_step <= on:
            out.append(crmkit.Reminder(
                key=f"sales:next_step_due:{oid}:{next_step.isoformat()}",
                plugin="sales", kind="next_step_due", customer_id=cid,
                customer=customer, owner=owner, due_on=next_step,
                amount=amount, days_overdue=(on - next_step).days,
                subject=_("Next step due for opportunity #{oid} '{title}' with "
                          "{customer} ({stage})").format(
                    oid=oid, title=title, customer=customer, stage=stage)))
    return out


def section(ctx: crmkit.Context, customer: Any, on: dt.date) -> crmkit.Section:
    """Open opportunities (with probability and weighted amount) and the stage history
    up to ``on``."""
    s = settings(ctx)
    o = ctx.crm.table("sales_opportunities")
    ch = ctx.crm.table("sales_stage_changes")
    rows = ctx.conn.execute(select(o).where(opp_scope(ctx, o), o.c.customer_id == customer.id)
                            .order_by(o.c.expected_close, o.c.id)).all()
    opps = {r.id: Opportunity.from_row(r) for r in rows}
    open_ = []
    for opp in opps.values():
        if opp.closed_on is None:
            p = s.probability.get(opp.stage, 0)
            open_.append({"id": opp.id, "title": opp.title, "stage": opp.stage,
                          "probability": p, "amount": opp.amount,
                          "weighted": weighted(opp.amount, p),
                          "expected_close": opp.expected_close, "owner": opp.owner,
                          "next_step": opp.next_step})
    history = []
    if opps:
        for r in ctx.conn.execute(
                select(ch).where(ch.c.tenant_id == ctx.tenant.id,
                                 ch.c.opportunity_id.in_(list(opps)), ch.c.changed_on <= on)
                .order_by(ch.c.id)):
            history.append({"opportunity_id": r.opportunity_id,
                            "title": opps[r.opportunity_id].title, "from_stage": r.from_stage,
                            "to_stage": r.to_stage, "on": r.changed_on, "user": r.changed_by,
                            "reason": r.reason})
    summary = [
        (_("Open opportunities"),
         [{_("id"): x["id"], _("title"): x["title"], _("stage"): x["stage"],
           _("prob %"): x["probability"], _("amount"): x["amount"],
           _("weighted"): x["weighted"], _("close"): x["expected_close"],
           _("next step"): x["next_step"]} for x in open_]),
        (_("Stage changes"),
         [{_("on"): h["on"], _("opportunity"): h["title"],
           _("change"): f"{h['from_stage']} → {h['to_stage']}" if h["from_stage"]
           else h["to_stage"], _("by"): h["user"], _("reason"): h["reason"]}
          for h in history[-5:]]),
    ]
    return crmkit.Section(plugin="sales", title=_("Opportunities"),
                          data={"open": open_, "history": history}, summary=summary)
