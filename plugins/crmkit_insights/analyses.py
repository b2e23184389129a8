"""``insights profit|expenses|trend|cohorts``: each one to three SQL aggregations.

Every figure is in the tenant's base currency and the user's scope (a ``sales`` user
sees their own customers only), computed by the database; Python only divides and
rounds the aggregated rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, literal, select

import crmkit
from crmkit.i18n import Domain
from crmkit.sql import whole_tenant

from .common import (
    LINE_SCALE,
    READ,
    VALUE_KINDS,
    base_cents,
    choice,
    index_of,
    money_of,
    month_index,
    month_of,
    month_start,
    period,
    ratio,
    raw,
    scope,
    to_base,
)

_ = Domain("crmkit_insights").gettext

PROFIT_BY = ("customer", "product", "owner", "category")
EXPENSES_BY = ("item", "owner", "month")
UNCATEGORISED = "uncategorised"
UNSPECIFIED = "unspecified"


# --- profit ----------------------------------------------------------------------------


def line_facts(ctx: crmkit.Context, kinds: tuple[str, ...] = ("invoice",), *,
               whole: bool = False) -> Any:
    """Lines of the tenant's non-void documents of ``kinds`` with their base revenue,
    known base cost (NULL when unknown) and catalogue category; all in 10**-5 units.

    Columns: ``customer_id``, ``issued_on``, ``product``, ``quantity`` (thousandths),
    ``category``, ``revenue``, ``cost``. Scoped to the user's customers. ``whole``: the
    caller reads most of the tenant's documents (a year or more; see
    :func:`crmkit.sql.whole_tenant`)."""
    tid = ctx.tenant.id
    d = _documents(ctx, whole)
    ln = ctx.crm.table("document_lines")
    p = ctx.crm.table("insights_products")
    qty = raw(ln.c.quantity)
    revenue = to_base(d, qty * raw(ln.c.unit_price))
    cost = case((ln.c.unit_cost.is_not(None), to_base(d, qty * raw(ln.c.unit_cost))),
                (p.c.cost.is_not(None), qty * raw(p.c.cost)), else_=None)
    return (select(d.c.customer_id, d.c.issued_on, ln.c.product, qty.label("quantity"),
                   p.c.category, revenue.label("revenue"), cost.label("cost"))
            .select_from(d.join(ln, and_(ln.c.tenant_id == tid, ln.c.document_id == d.c.id))
                         .outerjoin(p, and_(p.c.tenant_id == tid, p.c.name == ln.c.product)))
            .where(d.c.tenant_id == tid, d.c.kind.in_(kinds), d.c.status != "void",
                   *scope(ctx, d.c.customer_id)))


def profit_sums(lines: Any) -> list[Any]:
    """Aggregates of ``line_facts`` rows: revenue, known-cost revenue, cost, unknown."""
    known = lines.c.cost.is_not(None)
    return [func.sum(lines.c.revenue).label("revenue"),
            func.sum(case((known, lines.c.revenue), else_=0)).label("known"),
            func.sum(func.coalesce(lines.c.cost, 0)).label("cost"),
            func.sum(case((known, 0), else_=lines.c.revenue)).label("unknown")]


def profit_figures(r: Any) -> dict[str, Any]:
    """``revenue``, ``cost``, ``margin``, ``margin_pct``, ``unknown_cost_revenue``."""
    revenue = money_of(r.revenue, LINE_SCALE)
    known = money_of(r.known, LINE_SCALE)
    cost = money_of(r.cost, LINE_SCALE)
    margin = known - cost
    return {"revenue": revenue, "cost": cost, "margin": margin,
            "margin_pct": ratio(margin, known) if r.known else None,
            "unknown_cost_revenue": money_of(r.unknown, LINE_SCALE)}


def profit(crm: crmkit.Crm, by: str = "customer", frm: dt.date | None = None,
           to: dt.date | None = None) -> list[dict[str, Any]]:
    """Profit per customer, product, owner or category over invoice lines (not void)
    issued from ``frm`` to ``to``; largest margin first."""
    choice(by, PROFIT_BY, "--by")
    with crm.unit(write=False) as ctx:
        ctx.check(READ, None, _("insights"))
        frm, to = period(ctx, frm, to)
        return profit_in(ctx, by, frm, to)


def profit_in(ctx: crmkit.Context, by: str, frm: dt.date, to: dt.date,
              limit: int | None = None, *, whole: bool = False) -> list[dict[str, Any]]:
    """:func:`profit` inside an open unit (no permission check); ``limit``: only the
    rows with the largest margins, chosen by the database; ``whole``: as for
    :func:`line_facts`."""
    facts = line_facts(ctx, whole=whole).subquery("lines")
    lines = select(facts).where(facts.c.issued_on >= frm,
                                facts.c.issued_on <= to).subquery("period")
    c = ctx.crm.table("customers")
    sums = profit_sums(lines)
    if by in ("customer", "owner"):
        # the lines are summed per customer first; the customers table is joined to
        # those sums (one row a customer), not to every line
        per = select(lines.c.customer_id, *sums).group_by(lines.c.customer_id).subquery("per")
        src = per.join(c, c.c.id == per.c.customer_id)
        if by == "customer":
            q = select(c.c.id.label("customer_id"), c.c.name.label("key"), per.c.revenue,
                       per.c.known, per.c.cost, per.c.unknown).select_from(src)
            if limit is not None:
                q = q.order_by((per.c.known - per.c.cost).desc(), per.c.revenue.desc(),
                               c.c.name).limit(limit)
        else:
            q = (select(c.c.owner.label("key"),
                        *[func.sum(per.c[k]).label(k)
                          for k in ("revenue", "known", "cost", "unknown")])
                 .select_from(src).group_by(c.c.owner))
    else:
        key = (lines.c.product if by == "product"
               else func.coalesce(lines.c.category, literal(UNCATEGORISED))).label("key")
        q = select(key, *sums).group_by(key)
    out = []
    for r in ctx.conn.execute(q):
        head = {"key": r.key, "customer_id": r.customer_id} if by == "customer" \
            else {"key": r.key}
        out.append({**head, **profit_figures(r)})
    out.sort(key=lambda x: (-x["margin"], -x["revenue"], str(x["key"] or "")))
    return out


# --- expenses --------------------------------------------------------------------------


def _expenses(ctx: crmkit.Context) -> Any:
    """Non-void expenses with their base amount (cents), item and customer's owner."""
    tid = ctx.tenant.id
    d = ctx.crm.table("documents")
    ln = ctx.crm.table("document_lines")
    c = ctx.crm.table("customers")
    # the item is the product of the expense's first line: one indexed look-up per
    # expense, not a grouping of every line of the tenant
    l1 = ln.alias("l1")
    first = (select(l1.c.product).where(l1.c.tenant_id == tid, l1.c.document_id == d.c.id)
             .order_by(l1.c.position).limit(1).scalar_subquery())
    item = func.coalesce(first, literal(UNSPECIFIED))
    return (select(d.c.issued_on, base_cents(d).label("cents"), item.label("item"),
                   c.c.owner)
            .select_from(d.join(c, c.c.id == d.c.customer_id))
            .where(d.c.tenant_id == tid, d.c.kind == "expense", d.c.status != "void",
                   *scope(ctx, d.c.customer_id)))


def expenses(crm: crmkit.Crm, by: str = "item", frm: dt.date | None = None,
             to: dt.date | None = None) -> list[dict[str, Any]]:
    """Expenses by item (with growth on the period before), by owner (against their
    sales) or by month (with growth on the month before)."""
    choice(by, EXPENSES_BY, "--by")
    with crm.unit(write=False) as ctx:
        ctx.check(READ, None, _("insights"))
        frm, to = period(ctx, frm, to)
        s = ctx.settings("insights")
        e = _expenses(ctx).subquery("e")
        if by == "item":
            return _by_item(ctx, e, frm, to, s.expense_growth_alert_pct)
        if by == "owner":
            return _by_owner(ctx, e, frm, to, s.expense_alert_pct)
        return _by_month(ctx, e, frm, to)


def growth(amount: Decimal, previous: Decimal) -> float | None:
    """(amount - previous) / previous × 100, 1 decimal; None when previous is 0."""
    return ratio((amount - previous) * 100, previous, "0.1")


def _by_item(ctx: crmkit.Context, e: Any, frm: dt.date, to: dt.date, alert: int
             ) -> list[dict[str, Any]]:
    before = frm - dt.timedelta(days=(to - frm).days + 1)
    now = and_(e.c.issued_on >= frm, e.c.issued_on <= to)
    q = (select(e.c.item, func.sum(case((now, e.c.cents), else_=0)).label("amount"),
                func.sum(case((now, 0), else_=e.c.cents)).label("previous"))
         .where(e.c.issued_on >= before, e.c.issued_on <= to).group_by(e.c.item))
    out = []
    for r in ctx.conn.execute(q):
        amount, previous = money_of(r.amount), money_of(r.previous)
        g = growth(amount, previous)
        out.append({"item": r.item, "amount": amount, "previous": previous,
                    "growth_pct": g, "flagged": g is not None and g > alert})
    out.sort(key=lambda x: (-x["amount"], x["item"]))
    return out


def _by_owner(ctx: crmkit.Context, e: Any, frm: dt.date, to: dt.date, pct: int
              ) -> list[dict[str, Any]]:
    tid = ctx.tenant.id
    d = ctx.crm.table("documents")
    c = ctx.crm.table("customers")
    spent = dict(ctx.conn.execute(
        select(e.c.owner, func.sum(e.c.cents)).where(e.c.issued_on >= frm,
                                                     e.c.issued_on <= to)
        .group_by(e.c.owner)).all())
    sold = dict(ctx.conn.execute(
        select(c.c.owner, func.sum(base_cents(d)))
        .select_from(d.join(c, c.c.id == d.c.customer_id))
        .where(d.c.tenant_id == tid, d.c.kind == "invoice", d.c.status != "void",
               d.c.issued_on >= frm, d.c.issued_on <= to, *scope(ctx, d.c.customer_id))
        .group_by(c.c.owner)).all())
    out = [{"owner": o, "expenses": money_of(spent.get(o)), "sales": money_of(sold.get(o)),
            "ratio": None, "flagged": False}
           for o in sorted(set(spent) | set(sold), key=lambda o: (o is None, o or ""))]
    team_e = sum((x["expenses"] for x in out), Decimal(0))
    team_s = sum((x["sales"] for x in out), Decimal(0))
    for x in out:
        ex, sa = x["expenses"], x["sales"]
        x["ratio"] = ratio(ex, sa)
        if ex > 0 and sa == 0:
            x["flagged"] = True
        elif ex > 0 and team_s > 0:  # ratio > team ratio × (1 + pct/100), exactly
            x["flagged"] = ex * team_s * 100 > team_e * sa * (100 + pct)
    return out


def _by_month(ctx: crmkit.Context, e: Any, frm: dt.date, to: dt.date
              ) -> list[dict[str, Any]]:
    first, last = index_of(frm), index_of(to)
    m = month_index(e.c.issued_on)
    sums = {int(k): v for k, v in ctx.conn.execute(
        select(m.label("m"), func.sum(e.c.cents))
        .where(e.c.issued_on >= month_start(first - 1), e.c.issued_on <= to)
        .group_by(m)).all()}
    out = []
    for i in range(first, last + 1):
        amount, previous = money_of(sums.get(i)), money_of(sums.get(i - 1))
        out.append({"month": month_of(i), "amount": amount,
                    "growth_pct": growth(amount, previous)})
    return out


# --- trend and cohorts -----------------------------------------------------------------


def _documents(ctx: crmkit.Context, whole: bool) -> Any:
    d = ctx.crm.table("documents")
    return whole_tenant(ctx.conn, d) if whole else d


def value_docs(ctx: crmkit.Context, on: dt.date, *, whole: bool = False) -> Any:
    """The user's customers' value documents (order, contract, invoice; not void) issued
    on or before ``on``: ``customer_id``, ``issued_on``, ``kind``, ``cents`` (base);
    ``whole``: as for :func:`line_facts`."""
    d = _documents(ctx, whole)
    return (select(d.c.customer_id, d.c.issued_on, d.c.kind, base_cents(d).label("cents"))
            .where(d.c.tenant_id == ctx.tenant.id, d.c.kind.in_(VALUE_KINDS),
                   d.c.status != "void", d.c.issued_on <= on, *scope(ctx, d.c.customer_id)))


def trend(crm: crmkit.Crm, months: int = 12, as_of: dt.date | None = None
          ) -> list[dict[str, Any]]:
    """For each of the ``months`` months ending with ``as_of``'s month, oldest first:
    customers created, first purchases, buying customers and invoice revenue."""
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 600:
        raise crmkit.ValidationError(_("invalid --months {n}; expected 1 to 600")
                                     .format(n=str(months)[:80]))
    with crm.unit(write=False) as ctx:
        ctx.check(READ, None, _("insights"))
        return trend_in(ctx, months, as_of or ctx.today)


def trend_in(ctx: crmkit.Context, months: int, on: dt.date,
             firsts: Mapping[int, int] | None = None, *, whole: bool = False
             ) -> list[dict[str, Any]]:
    """:func:`trend` inside an open unit (no permission check); ``firsts``: the first
    purchases per month index when the caller has them already (the cohort sizes of
    :func:`cohort_counts`), to spare the query; ``whole``: as for :func:`line_facts`."""
    last = index_of(on)
    first = last - months + 1
    start = month_start(first)
    v = value_docs(ctx, on, whole=whole).subquery("v")
    m = month_index(v.c.issued_on)
    buying = {int(r.m): r for r in ctx.conn.execute(
        select(m.label("m"), func.count(func.distinct(v.c.customer_id)).label("n"),
               func.sum(case((v.c.kind == "invoice", v.c.cents), else_=0)).label("rev"))
        .where(v.c.issued_on >= start).group_by(m))}
    if firsts is None:
        fp = (select(v.c.customer_id, func.min(v.c.issued_on).label("day"))
              .group_by(v.c.customer_id).subquery("fp"))
        fm = month_index(fp.c.day)
        firsts = {int(k): int(n) for k, n in ctx.conn.execute(
            select(fm.label("m"), func.count()).where(fp.c.day >= start).group_by(fm))}
    c = ctx.crm.table("customers")
    # a customer's month is that of its creation in the tenant's zone: the month
    # starts as instants, and the month index from comparisons (no zone math in SQL)
    zone = _zone(ctx)
    starts = [_midnight(month_start(i), zone) for i in range(first + 1, last + 1)]
    cm = case(*[(c.c.created_at < t, first + n) for n, t in enumerate(starts)],
              else_=last) if starts else literal(last)
    t0, t1 = _midnight(start, zone), _midnight(on + dt.timedelta(days=1), zone)
    new = {int(k): int(n) for k, n in ctx.conn.execute(
        select(cm.label("m"), func.count()).where(
            ctx.crm.customers.visible(ctx), c.c.created_at >= t0, c.c.created_at < t1)
        .group_by(cm))}
    out = []
    for i in range(first, last + 1):
        b = buying.get(i)
        out.append({"month": month_of(i), "new": new.get(i, 0),
                    "first_purchase": firsts.get(i, 0),
                    "buying": int(b.n) if b else 0,
                    "revenue": money_of(b.rev if b else 0)})
    return out


def _zone(ctx: crmkit.Context) -> Any:
    from zoneinfo import ZoneInfo

    return getattr(ctx, "zone", None) or ZoneInfo(getattr(ctx.tenant, "timezone", None)
                                                  or "UTC")


def _midnight(day: dt.date, zone: Any) -> dt.datetime:
    """The instant ``day`` starts in ``zone``, in UTC."""
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)


def cohorts(crm: crmkit.Crm, as_of: dt.date | None = None) -> list[dict[str, Any]]:
    """Per month of customers' first value document (oldest first): the cohort's size
    and, for months +1 .. +12, the share of it with a value document that month."""
    with crm.unit(write=False) as ctx:
        ctx.check(READ, None, _("insights"))
        return cohorts_in(ctx, as_of or ctx.today)


def cohorts_in(ctx: crmkit.Context, on: dt.date,
               counts: Mapping[tuple[int, int], int] | None = None) -> list[dict[str, Any]]:
    """:func:`cohorts` inside an open unit (no permission check), from
    :func:`cohort_counts` when the caller has them already."""
    last = index_of(on)
    kept = cohort_counts(ctx, on) if counts is None else counts
    sizes = {cohort: n for (cohort, j), n in kept.items() if j == 0}
    out = []
    for cohort in sorted(sizes):
        size = sizes[cohort]
        out.append({"cohort": month_of(cohort), "customers": size, "retention": [
            None if cohort + j > last else ratio(kept.get((cohort, j), 0), size)
            for j in range(1, 13)]})
    return out


def cohort_counts(ctx: crmkit.Context, on: dt.date) -> dict[tuple[int, int], int]:
    """Per (month index of the first value document, months after it k = 0 .. 12) the
    number of customers with a value document that month; k = 0 is the cohort's size,
    that is the month's first purchases. All the tenant's history is read, from the
    covering index ``ix_documents_aging`` (customer, kind, issued_on, status, amount:
    every column the query needs), which is cheaper than reading the table whole."""
    v = value_docs(ctx, on).subquery("v")
    # the months each customer bought in (computed once), its first one, and per
    # cohort and month offset k the customers who bought
    m = month_index(v.c.issued_on)
    act = select(v.c.customer_id, m.label("m")).distinct().cte("act")  # DISTINCT: 2.0 s
    # where GROUP BY took 2.4 s (SQLite, 490,000 documents)
    fp = (select(act.c.customer_id, func.min(act.c.m).label("c"))
          .group_by(act.c.customer_id).subquery("fp"))
    k = act.c.m - fp.c.c
    return {(int(a), int(b)): int(n) for a, b, n in ctx.conn.execute(
        select(fp.c.c, k.label("k"), func.count())
        .select_from(fp.join(act, act.c.customer_id == fp.c.customer_id))
        .where(k <= 12).group_by(fp.c.c, k))}
