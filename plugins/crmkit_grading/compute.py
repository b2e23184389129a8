"""The grading rules as SQL (SQLAlchemy Core): one statement ranks the whole tenant.

Everything is integer arithmetic on integer cents and whole days, so SQLite,
PostgreSQL and MariaDB agree to the last digit:

* a value document is a non-void document of a ``value_kinds`` kind dated on or before
  D; its net amount is its amount minus the non-void credit notes dated on or before D
  that apply to it (on the invoice's own date); one with a net amount of zero or less
  (fully credited) does not count;
* ``score = ceil(5k/n)`` is written ``CASE WHEN 5k <= n THEN 1 WHEN 5k <= 2n ...`` with
  ``k = COUNT(*) OVER (ORDER BY x)`` (the default RANGE frame counts ties);
* ABC: a customer is ``A`` when the running total *before* it is under 80% of the
  tenant's total (so the one reaching exactly 80% and the one crossing it are ``A``),
  ``B`` likewise under 95%, else ``C``.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    and_,
    case,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
)

from crmkit.sql import days_between, money


def _cents(expr: Any) -> Any:
    return type_coerce(expr, BigInteger)


def factor_fraction(factor: float) -> Fraction:
    """The repurchase factor as an exact fraction (1.5 -> 3/2) for integer SQL."""
    return Fraction(repr(float(factor))).limit_denominator(10_000)


def value_documents(ctx: Any, on: dt.date, settings: Any) -> Any:
    """Subquery ``(customer_id, issued_on, net)`` of the tenant's value documents up to
    ``on``; ``net`` in integer cents."""
    d = ctx.crm.table("documents")
    cn = d.alias("cn")
    tid = ctx.tenant.id
    credits = (
        select(cn.c.applies_to.label("number"), func.sum(_cents(cn.c.amount)).label("credit"))
        .where(cn.c.tenant_id == tid, cn.c.kind == "credit_note", cn.c.status != "void",
               cn.c.issued_on <= on, cn.c.applies_to.is_not(None))
        .group_by(cn.c.applies_to)
        .subquery("credits")
    )
    kinds = list(settings.value_kinds)
    amount = _cents(d.c.amount)
    if "invoice" in kinds:
        net = amount - func.coalesce(credits.c.credit, 0)
        src = d.outerjoin(credits, and_(d.c.kind == "invoice", credits.c.number == d.c.number))
    else:  # credit notes only ever apply to invoices
        net, src = amount, d
    return (
        select(d.c.customer_id, d.c.issued_on, net.label("net"))
        .select_from(src)
        .where(d.c.tenant_id == tid, d.c.kind.in_(kinds), d.c.status != "void",
               d.c.issued_on <= on, net > 0)
        .subquery("vd")
    )


def per_customer(ctx: Any, on: dt.date, settings: Any) -> Any:
    """Subquery per customer with value documents up to ``on``: ``last``, ``first``,
    ``count`` (all of them), ``frequency`` and ``monetary`` (cents) in the window."""
    vd = value_documents(ctx, on, settings)
    start = on - dt.timedelta(days=settings.window_days)  # window: start < date <= on
    in_window = vd.c.issued_on > start
    return (
        select(
            vd.c.customer_id,
            func.max(vd.c.issued_on).label("last"),
            func.min(vd.c.issued_on).label("first"),
            func.count().label("count"),
            func.sum(case((in_window, 1), else_=0)).label("frequency"),
            func.sum(case((in_window, vd.c.net), else_=0)).label("monetary"),
        )
        .group_by(vd.c.customer_id)
        .subquery("agg")
    )


def _score(k: Any, n: Any) -> Any:
    """ceil(5k/n) in integers; NULL for customers that are not scored."""
    return case(
        (k.is_(None), null()),
        (k * 5 <= n, 1), (k * 5 <= n * 2, 2), (k * 5 <= n * 3, 3), (k * 5 <= n * 4, 4),
        else_=5,
    )


def _segment(r: Any, f: Any) -> Any:
    return case(
        (r.is_(None), literal("no_purchases")),
        (and_(r >= 4, f >= 4), literal("champions")),
        (and_(r >= 3, f >= 3), literal("loyal")),
        (and_(r >= 4, f <= 2), literal("potential")),
        (and_(r <= 2, f >= 3), literal("at_risk")),
        (and_(r <= 2, f <= 2), literal("hibernating")),
        else_=literal("needs_attention"),
    )


def grades_query(ctx: Any, on: dt.date, settings: Any) -> Any:
    """Subquery of every non-archived customer's grade as of ``on`` (risk aside).

    Columns: customer_id, customer, owner, status, recency_days, frequency, monetary
    (cents), r, f, m, segment, abc, tier (``special`` by tag, ``important`` for A,
    else ``general``; the risk hook's customers are made special by the caller).
    Ranks are over the whole tenant, whoever asks.
    """
    c = ctx.crm.table("customers")
    agg = per_customer(ctx, on, settings)
    day = literal(on, Date)
    scored = agg.c.frequency > 0
    sc = (
        select(
            agg.c.customer_id,
            # k for r: customers whose recency_days >= this one's, i.e. last <= this last
            func.count().over(order_by=agg.c.last).label("kr"),
            func.count().over(order_by=agg.c.frequency).label("kf"),
            func.count().over(order_by=agg.c.monetary).label("km"),
            func.count().over().label("n"),
            func.sum(agg.c.monetary).over(order_by=(agg.c.monetary.desc(), agg.c.customer_id),
                                          rows=(None, 0)).label("running"),
            func.sum(agg.c.monetary).over().label("total"),
        )
        .where(scored)
        .subquery("sc")
    )
    before = sc.c.running - agg.c.monetary
    abc = case(
        (sc.c.customer_id.is_(None), null()),
        (before * 5 < sc.c.total * 4, literal("A")),
        (before * 20 < sc.c.total * 19, literal("B")),
        else_=literal("C"),
    )
    inner = (
        select(
            c.c.id.label("customer_id"), c.c.name.label("customer"), c.c.owner,
            c.c.status, c.c.tags,
            days_between(day, agg.c.last).label("recency_days"),
            func.coalesce(agg.c.frequency, 0).label("frequency"),
            func.coalesce(agg.c.monetary, 0).label("monetary"),
            _score(sc.c.kr, sc.c.n).label("r"),
            _score(sc.c.kf, sc.c.n).label("f"),
            _score(sc.c.km, sc.c.n).label("m"),
            abc.label("abc"),
        )
        .select_from(c.outerjoin(agg, agg.c.customer_id == c.c.id)
                     .outerjoin(sc, sc.c.customer_id == c.c.id))
        .where(c.c.tenant_id == ctx.tenant.id, c.c.status != "archived")
        .subquery("g")
    )
    tier = case(
        (inner.c.tags.like("%,special,%"), literal("special")),
        (inner.c.abc == "A", literal("important")),
        else_=literal("general"),
    )
    return select(
        inner.c.customer_id, inner.c.customer, inner.c.owner, inner.c.status,
        inner.c.recency_days, inner.c.frequency, inner.c.monetary,
        inner.c.r, inner.c.f, inner.c.m,
        _segment(inner.c.r, inner.c.f).label("segment"), inner.c.abc, tier.label("tier"),
    ).subquery("grades")


def at_risk(ctx: Any, on: dt.date) -> set[int]:
    """Customer ids the receivables plugin (or any enabled plugin) calls at risk on
    ``on``; empty when no enabled plugin implements ``crm_customers_at_risk``."""
    caller = getattr(ctx.hooks, "crm_customers_at_risk", None)
    if caller is None:
        return set()
    return {int(i) for i in set().union(*[r or () for r in caller(ctx=ctx, on=on)])}


def followups_query(ctx: Any, on: dt.date, settings: Any) -> Any:
    """Customers this user may see that are lost or overdue for a repurchase on ``on``.

    Columns: customer_id, customer, owner, status, last, first, count, days_since,
    lost (bool-ish), overdue (bool-ish). Uses every value document up to ``on``.
    """
    c = ctx.crm.table("customers")
    agg = per_customer(ctx, on, settings)
    fr = factor_fraction(settings.repurchase_factor)
    since = days_between(literal(on, Date), agg.c.last)
    span = days_between(agg.c.last, agg.c.first)
    lost = since >= settings.lost_after_days
    # days since last > factor * (last - first) / (count - 1), in integers
    overdue = and_(agg.c.count >= 2, ~lost,
                   since * (agg.c.count - 1) * fr.denominator > span * fr.numerator)
    return (
        select(c.c.id.label("customer_id"), c.c.name.label("customer"), c.c.owner,
               c.c.status, agg.c.last, agg.c.first, agg.c.count,
               since.label("days_since"), case((lost, 1), else_=0).label("lost"))
        .select_from(c.join(agg, agg.c.customer_id == c.c.id))
        .where(ctx.crm.customers.visible(ctx), c.c.status != "archived", or_(lost, overdue))
        .order_by(c.c.id)
    )


def monetary(expr: Any) -> Any:
    """Integer cents read back as Decimal."""
    return money(expr)
