"""The grading rules as SQL (SQLAlchemy Core): one statement ranks the whole tenant.

Everything is integer arithmetic on integer cents and whole days, so SQLite,
PostgreSQL and MariaDB agree to the last digit:

* a value document is a non-void document of a ``value_kinds`` kind dated on or before
  D; its net amount is its amount minus the non-void credit notes dated on or before D
  that apply to it (on the invoice's own date); a fully credited invoice still counts
  as a document (net 0);
* ``score = ceil(5k/n)`` is written ``CASE WHEN 5k <= n THEN 1 WHEN 5k <= 2n ...`` with
  ``k = COUNT(*) OVER (ORDER BY x)`` (the default RANGE frame counts ties);
* ABC: a customer is ``A`` when the running total *before* it is under 80% of the
  tenant's total (so the one reaching exactly 80% and the one crossing it are ``A``),
  ``B`` likewise under 95%, else ``C``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    true,
    type_coerce,
)

from crmkit.sql import days_between, money, rare


def _cents(expr: Any) -> Any:
    return type_coerce(expr, BigInteger)


def factor_fraction(factor: float) -> Fraction:
    """The repurchase factor as an exact fraction (1.5 -> 3/2) for integer SQL."""
    return Fraction(repr(float(factor))).limit_denominator(10_000)


def _documents(ctx: Any, on: dt.date, settings: Any, spans: bool = True) -> Any:
    """Per customer with value documents up to ``on``: last, first and count (``spans``:
    for the repurchase rhythm), frequency and gross monetary (cents) in the window.
    Grouped straight off the documents table, as a hand-written RFM query would be."""
    d = ctx.crm.table("documents")
    in_window = d.c.issued_on > on - dt.timedelta(days=settings.window_days)
    span_cols = ([func.min(d.c.issued_on).label("first"), func.count().label("count")]
                 if spans else [])
    return (
        select(
            d.c.customer_id,
            func.max(d.c.issued_on).label("last"),
            *span_cols,
            cast(func.sum(case((in_window, 1), else_=0)), Integer).label("frequency"),
            func.sum(case((in_window, _cents(d.c.base_amount)), else_=0)).label("gross"),
        )
        .where(d.c.tenant_id == ctx.tenant.id, d.c.kind.in_(list(settings.value_kinds)),
               d.c.status != "void", d.c.issued_on <= on)
        .group_by(d.c.customer_id)
        .subquery("docs")
    )


def _credits(ctx: Any, on: dt.date, settings: Any) -> Any:
    """Per customer: the non-void credit notes dated up to ``on`` that apply to a value
    invoice of the same customer in the window, in cents (they count on the invoice's
    date).

    Driven from the credit notes (a few per cent of the documents), each looking its
    invoice up by number through the unique ``(tenant_id, kind, number)`` index: one
    invoice at most matches, so ``EXISTS`` is the join without its cost (joining the
    invoices of the window to their credit notes probed every invoice). The credit
    notes are found through the ``(tenant_id, kind, issued_on)`` index: ``rare`` tells
    SQLite's planner they are few (it took them for half the documents and read every
    document in customer order instead, a quarter of the aggregate's cost)."""
    d = ctx.crm.table("documents")
    cn, inv = d.alias("cn"), d.alias("inv")
    tid = ctx.tenant.id
    start = on - dt.timedelta(days=settings.window_days)
    # by number AND customer: a number re-used by another customer's invoice (after a
    # renumbering) never carries this customer's credit to it
    applies = (select(inv.c.id)
               .where(inv.c.tenant_id == tid, inv.c.kind == "invoice",
                      inv.c.number == cn.c.applies_to, inv.c.customer_id == cn.c.customer_id,
                      inv.c.status != "void", inv.c.issued_on <= on,
                      inv.c.issued_on > start)
               .exists())
    return (
        select(cn.c.customer_id, func.sum(_cents(cn.c.base_amount)).label("credit"))
        .where(cn.c.tenant_id == tid, rare(cn.c.kind == "credit_note"), cn.c.status != "void",
               cn.c.issued_on <= on, applies)
        .group_by(cn.c.customer_id)
        .subquery("credits")
    )


def per_customer(ctx: Any, on: dt.date, settings: Any, spans: bool = True) -> Any:
    """Subquery per customer with value documents up to ``on``: ``last``, ``first``,
    ``count`` (all of them; ``spans`` False leaves these two out), ``frequency`` and
    ``monetary`` (net, cents) in the window.

    A value document is a non-void document of a ``value_kinds`` kind dated on or before
    ``on``; credit notes reduce the invoice they apply to, on the invoice's date (a fully
    credited invoice still counts as a document, worth 0)."""
    docs = _documents(ctx, on, settings, spans)
    if "invoice" not in settings.value_kinds:  # credit notes only apply to invoices
        net = docs.c.gross
        src = docs
    else:
        cr = _credits(ctx, on, settings)
        net = docs.c.gross - func.coalesce(cr.c.credit, 0)
        src = docs.outerjoin(cr, cr.c.customer_id == docs.c.customer_id)
    return (
        select(docs.c.customer_id, docs.c.last,
               *([docs.c.first, docs.c.count] if spans else []),
               docs.c.frequency, net.label("monetary"))
        .select_from(src)
        .cte("agg")
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


def _abc(before: Any, total: Any) -> Any:
    """``A`` while the running total before the customer is under 80% of the total,
    ``B`` under 95%, else ``C``."""
    return case(
        (before * 5 < total * 4, literal("A")),
        (before * 20 < total * 19, literal("B")),
        else_=literal("C"),
    )


def _tagged_special(tags: Any) -> Any:
    return tags.like("%,special,%")


def grades_query(ctx: Any, on: dt.date, settings: Any) -> Any:
    """Subquery of every non-archived customer's grade as of ``on`` (risk aside).

    Columns: customer_id, customer, owner, status, recency_days, frequency, monetary
    (cents), r, f, m, segment, abc, tier (``special`` by tag, ``important`` for A,
    else ``general``; the risk hook's customers are made special by the caller).
    Ranks are over the whole tenant, whoever asks.
    """
    c = ctx.crm.table("customers")
    tid = ctx.tenant.id
    agg = per_customer(ctx, on, settings, spans=False)
    day = literal(on, Date)
    # The window functions run over the scored customers alone (a value document in the
    # window, not archived), on narrow rows: each distinct ORDER BY is a sort of every
    # row it sees, so the customers without a score and the names stay out of them.
    # Scored rows then find their customer by primary key; the others come from the
    # customers table, UNION ALL (joining the windowed rows to the customers instead
    # would be a nested scan in SQLite: no automatic index on a window subquery).
    archived = select(c.c.id).where(c.c.tenant_id == tid, c.c.status == "archived")
    ranked = (
        select(
            agg.c.customer_id, agg.c.last, agg.c.frequency, agg.c.monetary,
            # k for r: customers whose recency_days >= this one's, i.e. last <= this last
            func.count().over(order_by=agg.c.last).label("kr"),
            func.count().over(order_by=agg.c.frequency).label("kf"),
            func.count().over(order_by=agg.c.monetary).label("km"),
            func.count().over().label("n"),
            func.sum(agg.c.monetary).over(order_by=(agg.c.monetary.desc(), agg.c.customer_id),
                                          rows=(None, 0)).label("running"),
            func.sum(agg.c.monetary).over().label("total"),
        )
        .where(agg.c.frequency > 0, agg.c.customer_id.not_in(archived))
        .subquery("ranked")
    )
    sc = ranked.c
    abc = _abc(sc.running - sc.monetary, sc.total)
    cust = c.alias("cust")
    scored = (
        select(
            sc.customer_id, cust.c.name.label("customer"), cust.c.owner, cust.c.status,
            cust.c.tags, days_between(day, sc.last).label("recency_days"),
            sc.frequency, sc.monetary,
            _score(sc.kr, sc.n).label("r"), _score(sc.kf, sc.n).label("f"),
            _score(sc.km, sc.n).label("m"), abc.label("abc"),
        )
        .select_from(ranked.join(cust, cust.c.id == sc.customer_id))
    )
    freq = func.coalesce(agg.c.frequency, 0)
    unscored = (
        select(
            c.c.id, c.c.name, c.c.owner, c.c.status, c.c.tags,
            days_between(day, agg.c.last), freq, func.coalesce(agg.c.monetary, 0),
            null(), null(), null(), null(),
        )
        .select_from(c.outerjoin(agg, agg.c.customer_id == c.c.id))
        .where(c.c.tenant_id == tid, c.c.status != "archived", freq == 0)
    )
    inner = scored.union_all(unscored).subquery("g")
    tier = case(
        (_tagged_special(inner.c.tags), literal("special")),
        (inner.c.abc == "A", literal("important")),
        else_=literal("general"),
    )
    return select(
        inner.c.customer_id, inner.c.customer, inner.c.owner, inner.c.status,
        inner.c.recency_days, inner.c.frequency, inner.c.monetary,
        inner.c.r, inner.c.f, inner.c.m,
        _segment(inner.c.r, inner.c.f).label("segment"), inner.c.abc, tier.label("tier"),
    ).subquery("grades")


Stage = tuple[Any, Callable[[Any], Any], str]


def stage_grades(ctx: Any, stage: Stage, raw: Stage, on: dt.date, settings: Any) -> None:
    """Write every non-archived customer's grade as of ``on`` (risk aside) into the
    run's stage: the rules of :func:`grades_query`, in three statements instead of one.
    ``stage`` and ``raw`` are each ``(table, mine_of, run)``: the table, ``mine_of(t)``
    the run's rows of it (or of an alias of it), the token the run's rows carry; ``raw``
    holds the raw values between the steps.

    1. the customers with value documents, grouped straight off the documents in
       customer order (the stage's key order), with the raw recency, frequency and
       monetary, into ``raw``; tier ``special`` (tagged) or ``general`` stands until
       step 3;
    2. the customers without any, one key look-up each, into ``raw``;
    3. every row of ``raw`` into ``stage`` in key order, the scored ones (frequency
       > 0) with their scores, ABC class, segment and tier from one pass of window
       functions over ``raw``'s narrow rows. Whole rows inserted in key order cost
       about two thirds of the ``UPDATE`` in place they replace (0.39 s against 0.55 s
       for 79,000 scored customers on SQLite).

    One statement ranked the customers on the documents' aggregate as a stack of
    window layers and joined every customer back in with a UNION and a final sort: a
    next-day run of 10,000 customers took 1,927M instructions that way, 1,462M with
    these (callgrind; the raw R, F, M query 525M; see bench/bench_grading.py)."""
    st, _mine_of, run = stage
    rt, raw_of, raw_run = raw
    c = ctx.crm.table("customers")
    tid = ctx.tenant.id
    agg = per_customer(ctx, on, settings, spans=False)
    day = literal(on, Date)
    tier0 = case((_tagged_special(c.c.tags), literal("special")), else_=literal("general"))
    cols = ["tenant_id", "run", "customer_id", "as_of", "recency_days", "frequency",
            "monetary", "segment", "tier"]
    ctx.conn.execute(rt.insert().from_select(cols, (
        select(literal(tid), literal(raw_run), agg.c.customer_id, day,
               days_between(day, agg.c.last), agg.c.frequency, agg.c.monetary,
               literal("no_purchases"), tier0)
        .select_from(agg.join(c, c.c.id == agg.c.customer_id))
        .where(c.c.tenant_id == tid, c.c.status != "archived"))))
    s = rt.alias("s")
    ctx.conn.execute(rt.insert().from_select(cols, (
        select(literal(tid), literal(raw_run), c.c.id, day, null(), literal(0), literal(0),
               literal("no_purchases"), tier0)
        .where(c.c.tenant_id == tid, c.c.status != "archived",
               ~select(s.c.customer_id).where(raw_of(s), s.c.customer_id == c.c.id)
               .exists()))))
    scored = and_(raw_of(s), s.c.frequency > 0)
    cents = _cents(s.c.monetary)  # the stage's Money column, read as the cents it holds
    ranks = (select(
        s.c.customer_id, cents.label("monetary"),
        # k for r: customers whose recency is this one's or longer
        func.count().over(order_by=s.c.recency_days.desc()).label("kr"),
        func.count().over(order_by=s.c.frequency).label("kf"),
        func.count().over(order_by=s.c.monetary).label("km"),
        func.sum(cents).over(order_by=(s.c.monetary.desc(), s.c.customer_id),
                             rows=(None, 0)).label("running"))
        .where(scored).subquery("ranks"))
    # n and total over the scored rows: one row, joined to every ranked row (a window
    # over the whole set would be one more pass of the window machinery)
    t = select(func.count().label("n"), func.sum(cents).label("total")) \
        .where(scored).subquery("t")
    k = ranks.c
    w = (select(k.customer_id, _score(k.kr, t.c.n).label("r"), _score(k.kf, t.c.n).label("f"),
                _score(k.km, t.c.n).label("m"), _abc(k.running - k.monetary, t.c.total)
                .label("abc"))
         .select_from(ranks.join(t, true())).subquery("w"))
    r = rt.alias("r")
    ctx.conn.execute(st.insert().from_select(
        [*cols[:-2], "r", "f", "m", "segment", "abc", "tier"],
        select(r.c.tenant_id, literal(run), r.c.customer_id, r.c.as_of, r.c.recency_days,
               r.c.frequency, r.c.monetary, w.c.r, w.c.f, w.c.m, _segment(w.c.r, w.c.f),
               w.c.abc, case((r.c.tier == "special", literal("special")),
                             (w.c.abc == "A", literal("important")),
                             else_=literal("general")))
        .select_from(r.outerjoin(w, w.c.customer_id == r.c.customer_id))
        .where(raw_of(r)).order_by(r.c.customer_id)))


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
