"""``grading run`` and the read-side API (``grades``, ``section``, ``reminders``)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from itertools import islice
from typing import Any

from sqlalchemy import (
    Column,
    MetaData,
    String,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)

import crmkit
from crmkit import Customer, Reminder, ValidationError, fmt_money, sql
from crmkit.batching import gc_paused
from crmkit.i18n import Domain

from .compute import _cents, at_risk, followups_query, grades_query, monetary, stage_grades
from .tables import GRADE_COLUMNS, SEGMENTS, TIERS

_domain = Domain("crmkit_grading")
_, ngettext = _domain.gettext, _domain.ngettext
PAGE = 5000
SHOW_FIELDS = ("customer_id", "customer", "owner", "recency_days", "frequency", "monetary",
               "r", "f", "m", "segment", "abc", "tier")
#: What makes a grade: a change in one of these is a "grade change".
GRADE_KEY = ("segment", "abc", "tier")


def _settings(ctx: Any) -> Any:
    return ctx.settings("grading")


def _grade(row: Any, prefix: str = "") -> dict[str, Any]:
    g = {"as_of": getattr(row, prefix + "as_of")}
    for col in GRADE_COLUMNS:
        g[col] = getattr(row, prefix + col)
    return g


# --- read side ------------------------------------------------------------------------


def check_choice(value: str | None, valid: tuple[str, ...], what: str) -> None:
    if value is not None and value not in valid:
        raise ValidationError(_("unknown {what} '{value}'; valid: {valid}").format(
                                  what=what, value=value, valid=', '.join(valid)))


def grades(crm: Any, on: dt.date | None = None, *, segment: str | None = None,
           tier: str | None = None, customer_id: int | None = None) -> list[dict[str, Any]]:
    """Grades as of ``on`` computed from the data (not read from the last run), for the
    customers this user may see; ranks are over the whole tenant. Rows have the
    ``grading show`` fields; ``monetary`` is a Decimal. Largest monetary first."""
    return list(stream_grades(crm, on, segment=segment, tier=tier, customer_id=customer_id))


def stream_grades(crm: Any, on: dt.date | None = None, *, segment: str | None = None,
                  tier: str | None = None, customer_id: int | None = None,
                  limit: int | None = None, offset: int = 0) -> Iterator[dict[str, Any]]:
    """:func:`grades` as a generator, rows read as they are consumed; ``limit`` and
    ``offset`` count the rows after the filters."""
    check_choice(segment, SEGMENTS, "segment")
    check_choice(tier, TIERS, "tier")
    with crm.unit(write=False) as ctx:
        ctx.crm.plugins.require(ctx, "grading")
        rows = _iter_grades(ctx, on or ctx.today, segment=segment, tier=tier,
                            customer_id=customer_id)
        yield from islice(rows, offset, None if limit is None else offset + limit)


def _grades(ctx: Any, on: dt.date, *, segment: str | None = None, tier: str | None = None,
            customer_id: int | None = None) -> list[dict[str, Any]]:
    return list(_iter_grades(ctx, on, segment=segment, tier=tier, customer_id=customer_id))


def _iter_grades(ctx: Any, on: dt.date, *, segment: str | None = None,
                 tier: str | None = None,
                 customer_id: int | None = None) -> Iterator[dict[str, Any]]:
    g = grades_query(ctx, on, _settings(ctx))
    q = select(g.c.customer_id, g.c.customer, g.c.owner, g.c.recency_days, g.c.frequency,
               monetary(g.c.monetary).label("monetary"), g.c.r, g.c.f, g.c.m, g.c.segment,
               g.c.abc, g.c.tier).where(g.c.customer_id.in_(ctx.crm.customers.visible_ids(ctx)))
    if customer_id is not None:
        q = q.where(g.c.customer_id == customer_id)
    if segment is not None:
        q = q.where(g.c.segment == segment)
    q = q.order_by(g.c.monetary.desc(), g.c.customer_id)
    risky = at_risk(ctx, on)
    for row in sql.stream(ctx.conn, q):
        d = {k: getattr(row, k) for k in SHOW_FIELDS}
        d["monetary"] = Decimal(d["monetary"] or 0).quantize(Decimal("0.01"))
        if d["customer_id"] in risky:
            d["tier"] = "special"
        if tier is None or d["tier"] == tier:
            yield d


def history(ctx: Any, customer_id: int) -> list[dict[str, Any]]:
    ctx.crm.plugins.require(ctx, "grading")
    h = ctx.crm.table("grading_history")
    rows = ctx.conn.execute(select(h).where(h.c.tenant_id == ctx.tenant.id,
                                            h.c.customer_id == customer_id)
                            .order_by(h.c.as_of, h.c.id))
    return [_grade(r) for r in rows]


def section(ctx: Any, customer: Customer, on: dt.date) -> crmkit.Section:
    assert customer.id is not None  # a stored customer
    rows = _grades(ctx, on, customer_id=customer.id)
    data: dict[str, Any] = {"as_of": on}
    if rows:
        data |= {k: rows[0][k] for k in GRADE_COLUMNS}
    else:  # archived: not graded
        data |= dict.fromkeys(GRADE_COLUMNS)
    data["history"] = history(ctx, customer.id)
    return crmkit.Section(plugin="grading", title=_("Grade"), data=data,
                          summary=_summary_pairs(data, _settings(ctx)))


def _summary_pairs(data: dict[str, Any], settings: Any) -> list[tuple[str, Any]]:
    """The grade as people read it: segment with its RFM scores, value class, tier,
    last purchase, purchases and value in the window, and the last grade changes."""
    if data.get("segment") is None:
        return [(_("Segment"), _("not graded (archived)"))]
    rfm = (None if data["r"] is None else
           _("R {r} · F {f} · M {m} (5 is best)").format(r=data["r"], f=data["f"],
                                                      m=data["m"]))
    last = data["recency_days"]
    return [
        (_("Segment"), data["segment"]),
        (_("RFM scores"), rfm),
        (_("Value class"), data["abc"]),
        (_("Tier"), data["tier"]),
        (_("Last purchase"), None if last is None else
         ngettext("{n} day ago", "{n} days ago", last).format(n=last)),
        (_("Purchases in {days} days").format(days=settings.window_days),
         data["frequency"]),
        (_("Value in {days} days").format(days=settings.window_days), data["monetary"]),
        (_("Grade changes"), [{_("as of"): h["as_of"], _("segment"): h["segment"],
                               _("class"): h["abc"], _("tier"): h["tier"]}
                              for h in data["history"][-5:]]),
    ]


def today_part(ctx: Any, on: dt.date) -> dict[str, Any]:
    """``crmkit today``'s ``customers.at_risk``: visible customers in the RFM segment
    ``at_risk`` or at payment risk (``crm_customers_at_risk``) as of ``on``."""
    g = grades_query(ctx, on, _settings(ctx))
    ids = set(ctx.conn.scalars(select(g.c.customer_id).where(
        g.c.segment == "at_risk", g.c.customer_id.in_(ctx.crm.customers.visible_ids(ctx)))))
    risky = at_risk(ctx, on)
    if risky:
        c = ctx.crm.table("customers")
        ids |= set(ctx.conn.scalars(select(c.c.id).where(
            ctx.crm.customers.visible(ctx), c.c.status != "archived",
            c.c.id.in_(sorted(risky)))))
    return {"customers": {"at_risk": len(ids)}}


def reminders(ctx: Any, on: dt.date) -> list[Reminder]:
    s = _settings(ctx)
    fr_num = s.repurchase_factor
    out: list[Reminder] = []
    for r in ctx.conn.execute(followups_query(ctx, on, s)):
        last = r.last if isinstance(r.last, dt.date) else dt.date.fromisoformat(str(r.last))
        if r.lost:
            out.append(Reminder(
                key=f"grading:lost:{r.customer_id}:{last.isoformat()}", plugin="grading",
                kind="lost_customer", customer_id=r.customer_id, customer=r.customer,
                owner=r.owner, due_on=last + dt.timedelta(days=s.lost_after_days),
                subject=_("Win back {customer}: no purchase for {days_since} days "
                          "(last {last})").format(
                    customer=r.customer, days_since=r.days_since, last=last.isoformat())))
        else:
            first = (r.first if isinstance(r.first, dt.date)
                     else dt.date.fromisoformat(str(r.first)))
            mean = (last - first).days / (r.count - 1)
            out.append(Reminder(
                key=f"grading:repurchase:{r.customer_id}:{last.isoformat()}",
                plugin="grading", kind="repurchase_overdue", customer_id=r.customer_id,
                customer=r.customer, owner=r.owner, due_on=on,
                subject=_("{customer} usually buys every {mean:.0f} days; last "
                          "purchase {days_since} days ago ({last}), more than "
                          "{factor:g} x the usual").format(
                    customer=r.customer, mean=mean, days_since=r.days_since,
                    last=last.isoformat(), factor=fr_num)))
    return out


# --- run --------------------------------------------------------------------------------


def run(crm: Any, on: dt.date | None = None,
        progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Grade every customer of the tenant as of ``on`` and store the grades.

    Stores the grades (``grading_grades``), adds a history row, an audit row (table
    ``grading``), a ``grade.changed`` outbox event and a ``crm_grade_changed`` hook call
    for each customer whose segment, ABC class or tier changed; marks newly lost
    customers ``lost`` through the core. Admins and managers only. Returns counts.
    ``progress(step, steps)`` is called as each of its four steps ends.
    """
    step = progress or (lambda _done, _total: None)
    with crm.unit() as ctx:
        ctx.crm.plugins.require(ctx, "grading")
        ctx.check("grading.run", None, _("for the tenant"))
        on = on or ctx.today
        ctx.crm.plugins.lock(ctx, "grading")  # one run at a time per tenant
        settings = _settings(ctx)
        token = uuid.uuid4().hex
        tid = ctx.tenant.id
        st, mine_of, clear_stage = _stage(ctx, token, "run")
        raw_token = uuid.uuid4().hex
        raw, raw_of, clear_raw = _stage(ctx, raw_token, "raw")
        mine = mine_of(st)
        gt = ctx.crm.table("grading_grades")
        ht = ctx.crm.table("grading_history")
        cols = ("as_of", *GRADE_COLUMNS)

        # 1. compute every grade into the stage (three statements, see stage_grades)
        stage_grades(ctx, (st, mine_of, token), (raw, raw_of, raw_token), on, settings)
        clear_raw()
        for chunk in sql.id_chunks(ctx.conn, sorted(at_risk(ctx, on))):
            ctx.conn.execute(update(st).where(mine, sql.in_ids(ctx.conn, st.c.customer_id,
                                                               chunk))
                             .values(tier="special"))
        step(1, 4)

        # 2. which grades changed (segment, abc or tier)
        joined = st.outerjoin(gt, and_(gt.c.tenant_id == tid,
                                       gt.c.customer_id == st.c.customer_id))
        changed_cond = and_(mine, or_(gt.c.customer_id.is_(None),
                                      *[st.c[k].is_distinct_from(gt.c[k]) for k in GRADE_KEY]))
        # 3. a history row for each change, in one statement; then audit, outbox and
        # hook for each, read back from those new history rows (by id, past the highest
        # id before them, any tenant's: one primary key look-up; the run holds the
        # tenant's grading lock, no other run adds this tenant's) with the stored grade
        # they replace: when a plugin listens to crm_grade_changed a page at a time
        # (memory stays flat; in a steady state few grades change, so this is one
        # short page), else in two INSERT ... SELECT
        start = ctx.conn.scalar(select(func.coalesce(func.max(ht.c.id), 0)))
        ctx.conn.execute(insert(ht).from_select(
            ["tenant_id", "customer_id", *cols],
            select(literal(tid), st.c.customer_id, *[st.c[k] for k in cols])
            .select_from(joined).where(changed_cond).order_by(st.c.customer_id)))
        hook = getattr(ctx.hooks, "crm_grade_changed", None)
        announce = _announce_pages if hook is not None and hook.plugins else _announce_set
        n_changed, n_first = announce(ctx, ht, gt, cols, int(start or 0))
        step(2, 4)
        summary = _summary(ctx, st, mine, on, n_changed)

        # 4. the stored grades become the stage's: one UPDATE of the rows that differ in
        # more than the day (a customer who has not bought since keeps the stored row,
        # its as_of and the recency as of that day: both move by the same days, the
        # last purchase is the same; rewriting every row each day cost as much as the
        # rest of a quiet run), then the first grades are inserted (when a change was a
        # first grade: every first grade is a change) and the grades of customers no
        # longer graded (archived) deleted (when there are more stored grades than
        # grades: the stored ones then include every staged one)
        same_last = or_(and_(st.c.recency_days.is_(None), gt.c.recency_days.is_(None)),
                        and_(st.c.recency_days.is_not(None), gt.c.recency_days.is_not(None),
                             st.c.recency_days - gt.c.recency_days
                             == sql.days_between(st.c.as_of, gt.c.as_of)))
        moved = [st.c[k].is_distinct_from(gt.c[k]) for k in GRADE_COLUMNS
                 if k != "recency_days"]
        ctx.conn.execute(
            update(gt).where(gt.c.tenant_id == tid, mine,
                             st.c.customer_id == gt.c.customer_id,
                             or_(~same_last, *moved))
            .values({k: st.c[k] for k in cols}))
        g2 = gt.alias("g2")
        if n_first:
            ctx.conn.execute(insert(gt).from_select(
                ["tenant_id", "customer_id", *cols],
                select(literal(tid), st.c.customer_id, *[st.c[k] for k in cols])
                .where(mine, ~exists(select(g2.c.customer_id).where(
                    g2.c.tenant_id == tid, g2.c.customer_id == st.c.customer_id)))))
        stored = ctx.conn.scalar(select(func.count()).select_from(gt)
                                 .where(gt.c.tenant_id == tid))
        if stored > summary["customers"]:
            graded = select(st.c.customer_id).where(mine,
                                                    st.c.customer_id == gt.c.customer_id)
            ctx.conn.execute(delete(gt).where(gt.c.tenant_id == tid, ~exists(graded)))
        step(3, 4)
        # 5. lost: the last purchase is lost_after_days old or more (never bought: NULL)
        c = ctx.crm.table("customers")
        lost_ids = list(ctx.conn.scalars(
            select(st.c.customer_id).select_from(st.join(c, c.c.id == st.c.customer_id))
            .where(mine, st.c.recency_days >= settings.lost_after_days,
                   c.c.status.not_in(("lost", "archived")))
            .order_by(st.c.customer_id)))
        clear_stage()
        summary["lost"] = _mark_lost(ctx, lost_ids)
        step(4, 4)
        return summary


def _stage(ctx: Any, run: str,
           name: str) -> tuple[Any, Callable[[Any], Any], Callable[[], None]]:
    """A work area of the run (``name``: ``run`` for the grades, ``raw`` for the raw
    values before they are ranked): the table, the condition naming this run's rows in
    it (a function of the table or an alias of it), and how to clear it. On SQLite a
    temporary table of the run's connection, of the stage's columns and keyed by
    customer (dropped at the end; rolled back with the run): 100,000 grades written and
    read there cost a fraction of the shared table's, which goes through the database
    file, its log and its wide index; every row in it is the run's. Elsewhere the shared
    ``grading_stage`` table, the rows of this run's token ``run``, deleted at the end."""
    st = ctx.crm.table("grading_stage")
    temporary = ctx.conn.dialect.name == "sqlite"
    if temporary:
        st = Table(f"{st.name}_{name}", MetaData(),
                   *[Column(c.name, c.type, nullable=c.nullable,
                            primary_key=c.name == "customer_id", autoincrement=False)
                     for c in st.columns], prefixes=["TEMPORARY"])
        st.drop(ctx.conn, checkfirst=True)  # a run that ended abnormally on this connection
        st.create(ctx.conn)
    if temporary:
        return st, lambda _t: true(), lambda: st.drop(ctx.conn)
    tid = ctx.tenant.id

    def mine_of(t: Any) -> Any:
        return and_(t.c.tenant_id == tid, t.c.run == run)

    return st, mine_of, lambda: ctx.conn.execute(delete(st).where(mine_of(st)))


def _summary(ctx: Any, st: Any, mine: Any, on: dt.date, changed: int) -> dict[str, Any]:
    """The run's counts by segment and tier: one pass over the stage, a sum per value
    (a GROUP BY sorts every row first)."""
    def n(col: Any, value: str) -> Any:
        return func.coalesce(func.sum(case((col == value, 1), else_=0)), 0)

    row = ctx.conn.execute(select(func.count(), *[n(st.c.segment, x) for x in SEGMENTS],
                                  *[n(st.c.tier, x) for x in TIERS]).where(mine)).one()
    total, counts = int(row[0]), [int(x) for x in row[1:]]
    return {"as_of": on, "customers": total, "changed": changed, "lost": 0,
            "segments": dict(zip(SEGMENTS, counts[:len(SEGMENTS)], strict=True)),
            "tiers": dict(zip(TIERS, counts[len(SEGMENTS):], strict=True))}


def _announce_pages(ctx: Any, ht: Any, gt: Any, cols: tuple[str, ...],
                    start: int) -> tuple[int, int]:
    """Audit, outbox and ``crm_grade_changed`` for the history rows past ``start``, read
    a page at a time with the stored grade they replace (memory stays flat), the
    amounts as the integer cents stored (see :func:`_announce`). Returns how many
    changed and how many of those were first grades."""
    tid = ctx.tenant.id
    page = (select(ht.c.id, ht.c.customer_id, *[_raw(ht.c[k]) for k in cols],
                   gt.c.customer_id.label("old_id"),
                   *[_raw(gt.c[k]).label("old_" + k) for k in cols])
            .select_from(ht.outerjoin(gt, and_(gt.c.tenant_id == tid,
                                               gt.c.customer_id == ht.c.customer_id)))
            .where(sql.not_indexed(ht.c.tenant_id) == tid)  # the new rows: by id range
            .order_by(ht.c.id).limit(PAGE))
    n_changed, n_first, last = 0, 0, start
    while True:
        with gc_paused():  # a page's objects die with it: see crmkit.batching
            rows = ctx.conn.execute(page.where(ht.c.id > last)).all()
            if not rows:
                break
            _announce(ctx, rows, cols)
            n_first += sum(r.old_id is None for r in rows)
        n_changed += len(rows)
        last = rows[-1].id
    return n_changed, n_first


def _announce(ctx: Any, changed: list[Any], cols: tuple[str, ...]) -> None:
    """A page of changes when a plugin implements ``crm_grade_changed`` (see
    :func:`_announce_pages`): the hook call with the customer record, audit and outbox
    rows beside it."""
    if not changed:
        return
    hook = ctx.hooks.crm_grade_changed
    customers: dict[int, Customer] = {}
    c = ctx.crm.table("customers")
    for chunk in sql.id_chunks(ctx.conn, [r.customer_id for r in changed]):
        for row in ctx.conn.execute(select(c).where(c.c.tenant_id == ctx.tenant.id,
                                                    sql.in_ids(ctx.conn, c.c.id, chunk))):
            customers[row.id] = Customer.from_row(row)
    # Rows are (id, customer_id, *cols, old_id, *old cols), amounts in cents. The images
    # for the audit and the outbox are made of plain values (the day as ISO text, the
    # amount as its two-decimal text: what crmkit's JSON encoding writes), so the JSON
    # encoder never calls back into Python; the hook gets dates and Decimals.
    n = len(cols)
    audits, events = [], []
    for r in changed:
        after = dict(zip(cols, r[2:2 + n], strict=True))
        before = (None if r[2 + n] is None else
                  dict(zip(cols, r[3 + n:3 + 2 * n], strict=True)))
        plain_after, plain_before = _plain_image(after), _plain_image(before)
        audits.append(("grading", r.customer_id, "insert" if before is None else "update",
                       plain_before, plain_after, r.customer_id))
        events.append(("grade.changed", {"customer_id": r.customer_id,
                                         "customer": customers[r.customer_id].name,
                                         "before": plain_before, "after": plain_after},
                       r.customer_id))
        hook(ctx=ctx, customer=customers[r.customer_id], before=_typed_image(before),
             after=_typed_image(after))
    ctx.audit_many(audits)
    ctx.emit_many(events)


def _announce_set(ctx: Any, ht: Any, gt: Any, cols: tuple[str, ...],
                  start: int) -> tuple[int, int]:
    """:func:`_announce` when no plugin implements ``crm_grade_changed``: the audit
    rows and ``grade.changed`` events of the history rows past ``start``, each one
    ``INSERT ... SELECT`` (``ctx.audit_select`` with ``emit``: the events take the
    audit rows' images) whose JSON
    images the database builds (``crmkit.sql``'s ``json_object``, the amount through
    ``money_text``). The same rows, in the same order, with the same values as the
    Python path writes (``tests/test_grading.py`` compares the two). Returns how many
    changed and how many of those were first grades. The first run writes 100,000 of
    each: encoding them in Python cost more than computing the grades."""
    tid = ctx.tenant.id

    def image(t: Any) -> Any:
        return sql.json_object(*[(k, sql.money_text(_cents(t.c[k])) if k == "monetary"
                                  else t.c[k]) for k in cols])

    first = gt.c.customer_id.is_(None)
    before = case((first, None), else_=image(gt))
    src = (ht.outerjoin(gt, and_(gt.c.tenant_id == tid,
                                 gt.c.customer_id == ht.c.customer_id)))
    # the run's new rows by the id range, not the tenant's whole history (sql.not_indexed)
    mine = and_(sql.not_indexed(ht.c.tenant_id) == tid, ht.c.id > start)
    n_changed, n_first = ctx.conn.execute(
        select(func.count(), func.coalesce(func.sum(case((first, 1), else_=0)), 0))
        .select_from(src).where(mine)).one()
    if not n_changed:
        return 0, 0
    # the events' images are the audit rows' just written (same rows, same order, one
    # write transaction), not built again
    ctx.audit_select(
        select(literal("grading", String()), ht.c.customer_id,
               case((first, "insert"), else_="update"),
               func.coalesce(before, sql.json_null()), image(ht), ht.c.customer_id)
        .select_from(src).where(mine).order_by(ht.c.id), emit="grade.changed")
    return int(n_changed), int(n_first)


def _raw(col: Any) -> Any:
    """A stage or grade column as the driver gives it: money as its integer cents."""
    return _cents(col) if col.name == "monetary" else col


def _plain_image(image: dict[str, Any] | None) -> dict[str, Any] | None:
    """A grade image (amount in cents) for the audit and the outbox: the day as ISO
    text, the amount as crmkit's JSON writes it (``fmt_money``)."""
    if image is None:
        return None
    out = dict(image)
    on = out["as_of"]
    out["as_of"] = on if isinstance(on, str) else on.isoformat()
    out["monetary"] = fmt_money(Decimal(int(out["monetary"])).scaleb(-2))
    return out


def _typed_image(image: dict[str, Any] | None) -> dict[str, Any] | None:
    """A grade image (amount in cents) for the hook: ``as_of`` a date, ``monetary`` a
    Decimal."""
    if image is None:
        return None
    out = dict(image)
    if isinstance(out["as_of"], str):
        out["as_of"] = dt.date.fromisoformat(out["as_of"])
    out["monetary"] = Decimal(int(out["monetary"])).scaleb(-2)
    return out


def _mark_lost(ctx: Any, ids: list[int]) -> int:
    """Set status ``lost`` through the core's bulk update path: per customer the
    permission, the validate hooks, ``crm_customer_updated`` and an audit row, the writes
    in batches, all in the run's transaction."""
    return int(ctx.crm.customers.change_many(ctx, ((i, {"status": "lost"}) for i in ids)))
