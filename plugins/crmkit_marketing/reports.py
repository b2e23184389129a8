"""``campaign report``: one SQL statement gives every campaign's figures as of D.

The statement (SQLAlchemy Core, the same figures on SQLite, PostgreSQL and MariaDB):

* ``src`` (a CTE): each visible customer's source, i.e. the campaign of its earliest
  lead dated on or before D (ties: lowest campaign id), and that lead's date;
* per campaign, outer-joined to the campaigns: costs dated up to D; distinct leads up
  to D; source customers and those converted (a value document from the lead date to
  D); revenue, the items of ``crm_campaign_revenue`` (by default invoices less credit
  notes) of the source customers dated in their attribution window; with ``sales``
  enabled, the source customers' opportunities opened from the lead date to D and
  those won; targets up to D and those that bought again after their target date.

Money is summed as integer cents in the tenant's base currency; the divisions
(``cost_per_*``, ``roi``, ``return_rate``) are done in Python on the per-campaign rows
only, rounded half up.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import BigInteger, and_, case, exists, func, select, type_coerce

import crmkit
from crmkit.i18n import Domain
from crmkit.sql import add_days

from .service import COSTS, VIEW, enabled

_ = Domain("crmkit_marketing").gettext

CENT = Decimal("0.01")
#: Documents that make a customer "converted" or "returned".
VALUE_KINDS = ("order", "contract", "invoice")
FIELDS = ("campaign_id", "name", "channel", "cost", "leads", "customers", "converted",
          "revenue", "cost_per_lead", "cost_per_customer", "roi", "opportunities", "won",
          "won_amount", "targets", "returned", "return_rate")


def _cents(col: Any) -> Any:
    return type_coerce(col, BigInteger)


def _value(documents: Any) -> Any:
    """A document's amount in the tenant's base currency, as integer cents: the ONE
    place money of documents is read (``base_amount`` once documents carry it)."""
    return _cents(documents.c.base_amount)


def default_revenue(ctx: crmkit.Context, on: dt.date) -> list[Any]:
    """The default revenue items: invoices (not void) dated up to ``on``, and minus the
    non-void credit notes dated up to ``on`` applied to them (the invoice of that number
    of the credit note's own customer), on the invoice's date."""
    d = ctx.crm.table("documents")
    tid = ctx.tenant.id
    invoices = (select(d.c.customer_id, d.c.issued_on, _value(d).label("amount"))
                .where(d.c.tenant_id == tid, d.c.kind == "invoice", d.c.status != "void",
                       d.c.issued_on <= on))
    cn, inv = d.alias("cn"), d.alias("inv")
    credits = (select(inv.c.customer_id, inv.c.issued_on, (-_value(cn)).label("amount"))
               .select_from(cn.join(inv, and_(inv.c.tenant_id == tid, inv.c.kind == "invoice",
                                              inv.c.number == cn.c.applies_to,
                                              inv.c.customer_id == cn.c.customer_id)))
               .where(cn.c.tenant_id == tid, cn.c.kind == "credit_note",
                      cn.c.status != "void", cn.c.issued_on <= on, inv.c.status != "void",
                      inv.c.issued_on <= on))
    return [invoices, credits]


def _scope(ctx: crmkit.Context, col: Any) -> list[Any]:
    """``col`` limited to the customers this user may see (nothing for unscoped users,
    so an admin's report stays a plain scan)."""
    return [col.in_(ctx.crm.customers.visible_ids(ctx))] if ctx.crm.customers.scoped(ctx) \
        else []


def _has_value_doc(ctx: crmkit.Context, customer_col: Any, after: Any, on: dt.date,
                   strictly: bool) -> Any:
    d = ctx.crm.table("documents")
    return exists().where(d.c.tenant_id == ctx.tenant.id, d.c.customer_id == customer_col,
                          d.c.kind.in_(VALUE_KINDS), d.c.status != "void",
                          d.c.issued_on > after if strictly else d.c.issued_on >= after,
                          d.c.issued_on <= on)


def report_query(ctx: crmkit.Context, on: dt.date, *, costs: bool, sales: Any,
                 limit: int | None = None, offset: int = 0) -> Any:
    """The one statement; ``sales`` is the sales plugin's opportunity subquery or None."""
    tid = ctx.tenant.id
    days = ctx.settings("marketing").attribution_days
    cp = ctx.crm.table("marketing_campaigns")
    ld = ctx.crm.table("marketing_leads")
    tt = ctx.crm.table("marketing_targets")
    k = ctx.crm.table("marketing_costs")

    mine = [ld.c.tenant_id == tid, ld.c.lead_on <= on, *_scope(ctx, ld.c.customer_id)]
    first = (select(ld.c.customer_id, ld.c.campaign_id, ld.c.lead_on,
                    func.row_number().over(partition_by=ld.c.customer_id,
                                           order_by=(ld.c.lead_on, ld.c.campaign_id))
                    .label("rn"))
             .where(*mine).subquery("first"))
    src = (select(first.c.customer_id, first.c.campaign_id, first.c.lead_on)
           .where(first.c.rn == 1).cte("src"))

    parts: list[tuple[Any, list[tuple[str, Any]]]] = []
    leads = (select(ld.c.campaign_id, func.count(func.distinct(ld.c.customer_id)).label("n"))
             .where(*mine).group_by(ld.c.campaign_id).subquery("leads"))
    parts.append((leads, [("leads", leads.c.n)]))
    converted = _has_value_doc(ctx, src.c.customer_id, src.c.lead_on, on, strictly=False)
    cust = (select(src.c.campaign_id, func.count().label("n"),
                   func.sum(case((converted, 1), else_=0)).label("converted"))
            .group_by(src.c.campaign_id).subquery("cust"))
    parts.append((cust, [("customers", cust.c.n), ("converted", cust.c.converted)]))
    if costs:
        spent = (select(k.c.campaign_id, func.sum(_cents(k.c.amount)).label("cents"))
                 .where(k.c.tenant_id == tid, k.c.spent_on <= on)
                 .group_by(k.c.campaign_id).subquery("spent"))
        parts.append((spent, [("cost", spent.c.cents)]))
    for i, items in enumerate(revenue_items(ctx, on)):
        r = items.subquery(f"items{i}")
        rev = (select(src.c.campaign_id, func.sum(r.c.amount).label("cents"))
               .select_from(src.join(r, r.c.customer_id == src.c.customer_id))
               .where(r.c.issued_on >= src.c.lead_on,
                      r.c.issued_on < add_days(src.c.lead_on, days), r.c.issued_on <= on)
               .group_by(src.c.campaign_id).subquery(f"rev{i}"))
        parts.append((rev, [(f"revenue{i}", rev.c.cents)]))
    if sales is not None:
        won = and_(sales.c.won == 1, sales.c.closed_on <= on)
        opp = (select(src.c.campaign_id, func.count().label("n"),
                      func.sum(case((won, 1), else_=0)).label("won"),
                      func.sum(case((won, sales.c.amount), else_=0)).label("cents"))
               .select_from(src.join(sales, sales.c.customer_id == src.c.customer_id))
               .where(sales.c.opened_on >= src.c.lead_on, sales.c.opened_on <= on)
               .group_by(src.c.campaign_id).subquery("opp"))
        parts.append((opp, [("opportunities", opp.c.n), ("won", opp.c.won),
                            ("won_amount", opp.c.cents)]))
    returned = _has_value_doc(ctx, tt.c.customer_id, tt.c.target_on, on, strictly=True)
    tgt = (select(tt.c.campaign_id, func.count().label("n"),
                  func.sum(case((returned, 1), else_=0)).label("returned"))
           .where(tt.c.tenant_id == tid, tt.c.target_on <= on, *_scope(ctx, tt.c.customer_id))
           .group_by(tt.c.campaign_id).subquery("tgt"))
    parts.append((tgt, [("targets", tgt.c.n), ("returned", tgt.c.returned)]))

    joined: Any = cp
    cols: list[Any] = [cp.c.id.label("campaign_id"), cp.c.name, cp.c.channel]
    for sub, named in parts:
        joined = joined.outerjoin(sub, sub.c.campaign_id == cp.c.id)
        cols += [c.label(n) for n, c in named]
    q = select(*cols).select_from(joined).where(cp.c.tenant_id == tid).order_by(cp.c.id)
    if offset:
        q = q.offset(offset)
    return q if limit is None else q.limit(limit)


def revenue_items(ctx: crmkit.Context, on: dt.date) -> list[Any]:
    """The selects of revenue items (``crm_campaign_revenue``; a list is added up)."""
    answer = ctx.hooks.crm_campaign_revenue(ctx=ctx, on=on)
    if answer is None:  # pragma: no cover - the plugin's own trylast default answers
        answer = default_revenue(ctx, on)
    return list(answer) if isinstance(answer, list | tuple) else [answer]


def _money(cents: Any) -> Decimal:
    return (Decimal(int(cents or 0)) / 100).quantize(CENT)


def _per(amount: Decimal | None, n: int) -> Decimal | None:
    if amount is None or not n:
        return None
    return (amount / n).quantize(CENT, rounding=ROUND_HALF_UP)


def _ratio(num: Decimal | int, den: Decimal | int) -> float | None:
    if not den:
        return None
    return float((Decimal(num) / Decimal(den)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


def report(crm: crmkit.Crm, as_of: dt.date | None = None, *, limit: int | None = None,
           offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """One row per campaign (by id) as of ``as_of`` (default today), in the user's
    scope, and the number of campaigns. Costs (and what is computed from them) are
    None for users who may not see costs (``marketing.costs``); the opportunity
    figures are None without the sales plugin."""
    with crm.unit(write=False) as ctx:
        ctx.check(VIEW, None, _("the campaign report"))
        on = as_of or ctx.today
        costs = ctx.allowed(COSTS, None)
        sales = None
        if enabled(ctx, "sales"):
            import crmkit_sales

            sales = crmkit_sales.opportunity_facts(ctx).subquery("opps")
        cp = ctx.crm.table("marketing_campaigns")
        total = int(ctx.conn.execute(select(func.count()).select_from(cp).where(
            cp.c.tenant_id == ctx.tenant.id)).scalar_one())
        q = report_query(ctx, on, costs=costs, sales=sales, limit=limit, offset=offset)
        rows = [_row(r, costs, sales is not None) for r in ctx.conn.execute(q)]
        return rows, total


def _row(r: Any, costs: bool, sales: bool) -> dict[str, Any]:
    m = r._mapping
    cost = _money(m["cost"]) if costs else None
    revenue = _money(sum(int(v or 0) for k, v in m.items() if k.startswith("revenue")))
    leads, converted = int(m["leads"] or 0), int(m["converted"] or 0)
    targets, returned = int(m["targets"] or 0), int(m["returned"] or 0)
    return {
        "campaign_id": m["campaign_id"], "name": m["name"], "channel": m["channel"],
        "cost": cost, "leads": leads, "customers": int(m["customers"] or 0),
        "converted": converted, "revenue": revenue,
        "cost_per_lead": _per(cost, leads), "cost_per_customer": _per(cost, converted),
        "roi": None if cost is None else _ratio(revenue - cost, cost),
        "opportunities": int(m["opportunities"] or 0) if sales else None,
        "won": int(m["won"] or 0) if sales else None,
        "won_amount": _money(m["won_amount"]) if sales else None,
        "targets": targets, "returned": returned, "return_rate": _ratio(returned, targets),
    }
