"""The sales reports: forecast, prospect classes, funnel, team, products.

Each is one to five SQL aggregations (SQLAlchemy Core) that give the same figures on
SQLite, PostgreSQL and MariaDB: money is summed as integer cents, products of money and
percentages or quantities as integers, and divided (and rounded half up) in Python on
the few aggregated rows only.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import BigInteger, and_, case, exists, func, or_, select, type_coerce

import crmkit
from crmkit.i18n import Domain
from crmkit.sql import day_of, days_between, money, year_month

from .service import customer_scope, opp_scope, sees_all, settings

_ = Domain("crmkit_sales").gettext

CENT = Decimal("0.01")
VALUE_KINDS = ("order", "invoice")


def raw(col: Any) -> Any:
    """A money or quantity column as its stored integer (cents, thousandths)."""
    return type_coerce(col, BigInteger)


def prob_case(s: Any, stage_col: Any) -> Any:
    """The win probability (percent) of ``stage_col`` per the settings; 0 if unknown."""
    return case(*[(stage_col == n, p) for n, p in s.stages], else_=0)


def cents_to_money(x: Any, scale: int = 1) -> Decimal:
    """An integer count of cents × ``scale`` as Decimal money, rounded half up."""
    return (Decimal(int(x or 0)) / (100 * scale)).quantize(CENT, rounding=ROUND_HALF_UP)


def ratio(num: Any, den: Any) -> float | None:
    """``num / den`` rounded to 4 decimals (None when ``den`` is 0)."""
    if not den:
        return None
    return float((Decimal(num) / Decimal(den)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


def _midnight(d: dt.date, zone: dt.tzinfo = dt.UTC) -> dt.datetime:
    """The instant day ``d`` starts in ``zone`` (the tenant's)."""
    return dt.datetime.combine(d, dt.time(), zone).astimezone(dt.UTC)


def period(ctx: crmkit.Context, frm: dt.date | None, to: dt.date | None
           ) -> tuple[dt.date, dt.date]:
    """``--from``/``--to``: default from the first day of ``--to``'s month to today."""
    to = to or ctx.today
    frm = frm or to.replace(day=1)
    if frm > to:
        raise crmkit.ValidationError(_("--from {frm} is after --to {to}").format(
                                         frm=frm, to=to))
    return frm, to


# --- forecast --------------------------------------------------------------------------


def forecast(crm: crmkit.Crm, by: str = "month") -> list[dict[str, Any]]:
    """Open pipeline by month of expected close (or by owner) with the amounts won."""
    if by not in ("month", "owner"):
        raise crmkit.ValidationError(_("unknown --by '{by}'; valid: month, owner").format(
                                         by=by))
    with crm.unit(write=False) as ctx:
        ctx.crm.plugins.require(ctx, "sales")
        s = settings(ctx)
        o = ctx.crm.table("sales_opportunities")
        is_open = o.c.closed_on.is_(None)
        is_won = and_(o.c.closed_on.is_not(None), o.c.stage == s.won)
        if by == "month":
            key = case((is_open, year_month(o.c.expected_close)),
                       else_=year_month(o.c.closed_on))
        else:
            key = o.c.owner
        q = (select(key.label("period"),
                    func.sum(case((is_open, 1), else_=0)).label("count"),
                    func.sum(case((is_open, raw(o.c.amount)), else_=0)).label("best"),
                    func.sum(case((is_open, raw(o.c.amount) * prob_case(s, o.c.stage)),
                                  else_=0)).label("weighted"),
                    func.sum(case((is_won, raw(o.c.amount)), else_=0)).label("won"))
             .where(opp_scope(ctx, o), or_(is_open, is_won)).group_by(key))
        rows = [{"period": r.period, "count": int(r.count or 0),
                 "best_case": cents_to_money(r.best),
                 "weighted": cents_to_money(r.weighted, 100),
                 "won": cents_to_money(r.won)} for r in ctx.conn.execute(q)]
        return sorted(rows, key=lambda r: (r["period"] is None, r["period"] or ""))


def today_part(ctx: crmkit.Context, on: dt.date) -> dict[str, Any]:
    """``crmkit today``'s sales part, for the opportunities the user may see:
    ``pipeline`` (open amounts), ``weighted`` (times each stage's probability) and
    ``won_this_month`` (won and closed from the 1st of ``on``'s month to ``on``). One
    aggregation."""
    s = settings(ctx)
    o = ctx.crm.table("sales_opportunities")
    is_open = o.c.closed_on.is_(None)
    won = and_(o.c.stage == s.won, o.c.closed_on >= on.replace(day=1), o.c.closed_on <= on)
    r = ctx.conn.execute(select(
        func.sum(case((is_open, raw(o.c.amount)), else_=0)),
        func.sum(case((is_open, raw(o.c.amount) * prob_case(s, o.c.stage)), else_=0)),
        func.sum(case((won, raw(o.c.amount)), else_=0))).where(opp_scope(ctx, o))).one()
    return {"pipeline": crmkit.fmt_money(cents_to_money(r[0])),
            "weighted": crmkit.fmt_money(cents_to_money(r[1], 100)),
            "won_this_month": crmkit.fmt_money(cents_to_money(r[2]))}


# --- prospect classes ------------------------------------------------------------------


def prospects(crm: crmkit.Crm) -> list[dict[str, Any]]:
    """One row per customer: A (closes soon), B (open opportunity), C (prospect without)."""
    with crm.unit(write=False) as ctx:
        ctx.crm.plugins.require(ctx, "sales")
        s = settings(ctx)
        o = ctx.crm.table("sales_opportunities")
        c = ctx.crm.table("customers")
        today = ctx.today
        likely = [n for n in s.open_stages if s.probability[n] >= s.class_a_probability]
        qualifies = case((and_(o.c.expected_close >= today,
                               o.c.expected_close <= today + dt.timedelta(days=s.class_a_days),
                               o.c.stage.in_(likely)), 0), else_=1)
        ranked = select(
            o.c.customer_id, o.c.id, o.c.expected_close, o.c.stage, qualifies.label("q"),
            func.row_number().over(partition_by=o.c.customer_id,
                                   order_by=(qualifies, o.c.expected_close, o.c.id)
                                   ).label("rn"),
        ).where(opp_scope(ctx, o), o.c.closed_on.is_(None)).subquery()
        best = select(ranked).where(ranked.c.rn == 1).subquery()
        cls = case((best.c.q == 0, "A"), else_="B")
        ab = (select(c.c.id, c.c.name, c.c.owner, cls.label("class"), best.c.id.label("opp"),
                     best.c.expected_close, best.c.stage)
              .select_from(best.join(c, c.c.id == best.c.customer_id))
              .where(ctx.crm.customers.visible(ctx), c.c.status != "archived")
              .order_by(cls, best.c.expected_close, c.c.id))
        has_open = (select(o.c.id).where(opp_scope(ctx, o), o.c.customer_id == c.c.id,
                                         o.c.closed_on.is_(None)).exists())
        only_c = (select(c.c.id, c.c.name, c.c.owner)
                  .where(ctx.crm.customers.visible(ctx), c.c.status == "prospect", ~has_open)
                  .order_by(c.c.id))
        rows = [{"customer_id": i, "customer": name, "owner": owner, "class": k,
                 "opportunity_id": opp, "expected_close": close,
                 "probability": s.probability.get(stage, 0)}
                for i, name, owner, k, opp, close, stage in ctx.conn.execute(ab)]
        rows += [{"customer_id": i, "customer": name, "owner": owner, "class": "C",
                  "opportunity_id": None, "expected_close": None, "probability": None}
                 for i, name, owner in ctx.conn.execute(only_c)]
        return rows


# --- funnel ----------------------------------------------------------------------------


def funnel(crm: crmkit.Crm, frm: dt.date | None = None, to: dt.date | None = None
           ) -> dict[str, Any]:
    """Count and amount per stage now; conversion of the stages entered in the period."""
    with crm.unit(write=False) as ctx:
        ctx.crm.plugins.require(ctx, "sales")
        s = settings(ctx)
        frm, to = period(ctx, frm, to)
        o = ctx.crm.table("sales_opportunities")
        now = {r.stage: r for r in ctx.conn.execute(
            select(o.c.stage, func.count().label("n"), money(func.sum(o.c.amount)).label("amt"))
            .where(opp_scope(ctx, o)).group_by(o.c.stage))}
        names = s.names + sorted(set(now) - set(s.names))
        stages = [{"stage": n, "probability": s.probability.get(n),
                   "count": int(now[n].n) if n in now else 0,
                   "amount": now[n].amt if n in now else Decimal("0.00")} for n in names]

        ch = ctx.crm.table("sales_stage_changes")
        rank = s.rank
        entry_conds = [ch.c.tenant_id == ctx.tenant.id, ch.c.changed_on >= frm,
                       ch.c.changed_on <= to, ch.c.to_stage.in_(s.open_stages)]
        if not sees_all(ctx) or customer_scope(ctx, o.c.customer_id):
            entry_conds.append(ch.c.opportunity_id.in_(select(o.c.id).where(opp_scope(ctx, o))))
        e = (select(ch.c.opportunity_id, ch.c.to_stage.label("stage"),
                    func.min(ch.c.id).label("first_id"))
             .where(*entry_conds).group_by(ch.c.opportunity_id, ch.c.to_stage).subquery())
        c2 = ch.alias("later")
        later = [c2.c.tenant_id == ctx.tenant.id, c2.c.opportunity_id == e.c.opportunity_id,
                 c2.c.id > e.c.first_id, c2.c.changed_on <= to]

        def rank_of(col: Any) -> Any:
            return case(*[(col == n, r) for n, r in rank.items()], else_=-1)

        fwd = exists().where(*later, rank_of(c2.c.to_stage) > rank_of(e.c.stage))
        lost = exists().where(*later, c2.c.to_stage == s.lost)
        conv = {r.stage: r for r in ctx.conn.execute(
            select(e.c.stage, func.count().label("entered"),
                   func.sum(case((fwd, 1), else_=0)).label("advanced"),
                   func.sum(case((and_(lost, ~fwd), 1), else_=0)).label("lost"))
            .group_by(e.c.stage))}
        order = [*s.open_stages, s.won]
        conversions = []
        for i, n in enumerate(s.open_stages):
            r = conv.get(n)
            entered, adv, lst = ((int(r.entered), int(r.advanced or 0), int(r.lost or 0))
                                 if r else (0, 0, 0))
            conversions.append({"stage": n, "next": order[i + 1], "entered": entered,
                                "advanced": adv, "lost": lst, "rate": ratio(adv, entered)})
        return {"from": frm, "to": to, "stages": stages, "conversions": conversions}


# --- team ------------------------------------------------------------------------------


def team(crm: crmkit.Crm, frm: dt.date | None = None, to: dt.date | None = None
         ) -> list[dict[str, Any]]:
    """Per owner over the period: activities, new customers, won/lost, expenses."""
    with crm.unit(write=False) as ctx:
        ctx.crm.plugins.require(ctx, "sales")
        s = settings(ctx)
        frm, to = period(ctx, frm, to)
        zone = getattr(ctx, "zone", dt.UTC)
        t0, t1 = _midnight(frm, zone), _midnight(to + dt.timedelta(days=1), zone)
        tid = ctx.tenant.id
        a = ctx.crm.table("activities")
        c = ctx.crm.table("customers")
        o = ctx.crm.table("sales_opportunities")
        d = ctx.crm.table("documents")
        rows: dict[str | None, dict[str, Any]] = {}

        def row(owner: str | None) -> dict[str, Any]:
            return rows.setdefault(owner, {
                "owner": owner, "activities": {}, "new_customers": 0, "won": 0, "lost": 0,
                "won_amount": Decimal("0.00"), "win_rate": None, "avg_days_to_first_win": None,
                "expenses": Decimal("0.00"), "expense_ratio": None, "flagged": False})

        for r in ctx.conn.execute(
                select(a.c.owner, a.c.kind, func.count().label("n"))
                .where(a.c.tenant_id == tid, a.c.occurred_at >= t0, a.c.occurred_at < t1,
                       *customer_scope(ctx, a.c.customer_id))
                .group_by(a.c.owner, a.c.kind)):
            row(r.owner)["activities"][r.kind] = int(r.n)
        for r in ctx.conn.execute(
                select(c.c.owner, func.count().label("n"))
                .where(ctx.crm.customers.visible(ctx), c.c.created_at >= t0,
                       c.c.created_at < t1).group_by(c.c.owner)):
            row(r.owner)["new_customers"] = int(r.n)
        is_won = o.c.stage == s.won
        for r in ctx.conn.execute(
                select(o.c.owner, func.sum(case((is_won, 1), else_=0)).label("won"),
                       func.sum(case((o.c.stage == s.lost, 1), else_=0)).label("lost"),
                       func.sum(case((is_won, raw(o.c.amount)), else_=0)).label("amt"))
                .where(opp_scope(ctx, o), o.c.closed_on >= frm, o.c.closed_on <= to)
                .group_by(o.c.owner)):
            x = row(r.owner)
            x["won"], x["lost"] = int(r.won or 0), int(r.lost or 0)
            x["won_amount"] = cents_to_money(r.amt)
        fw = (select(o.c.customer_id, func.min(o.c.closed_on).label("first_win"))
              .where(o.c.tenant_id == tid, is_won, o.c.closed_on.is_not(None))
              .group_by(o.c.customer_id).subquery())
        for r in ctx.conn.execute(
                select(c.c.owner,
                       func.sum(days_between(fw.c.first_win, day_of(c.c.created_at)))
                       .label("days"), func.count().label("n"))
                .select_from(fw.join(c, c.c.id == fw.c.customer_id))
                .where(ctx.crm.customers.visible(ctx), fw.c.first_win >= frm,
                       fw.c.first_win <= to).group_by(c.c.owner)):
            row(r.owner)["avg_days_to_first_win"] = float(
                (Decimal(int(r.days)) / int(r.n)).quantize(Decimal("0.1"), ROUND_HALF_UP))
        for r in ctx.conn.execute(
                select(c.c.owner, money(func.sum(d.c.base_amount)).label("amt"))
                .select_from(d.join(c, c.c.id == d.c.customer_id))
                .where(d.c.tenant_id == tid, d.c.kind == "expense", d.c.status != "void",
                       d.c.issued_on >= frm, d.c.issued_on <= to,
                       ctx.crm.customers.visible(ctx)).group_by(c.c.owner)):
            row(r.owner)["expenses"] = r.amt
        out = [x for x in rows.values() if x["owner"] is not None]
        if not sees_all(ctx):
            out = [x for x in out if x["owner"] == ctx.user.name]
        _flag(out, s.expense_alert_pct)
        return sorted(out, key=lambda x: x["owner"])


def _flag(out: list[dict[str, Any]], pct: int) -> None:
    """win_rate, expense_ratio, and flagged: ratio > team ratio × (1 + pct/100), compared
    exactly as e × W × 100 > E × w × (100 + pct)."""
    team_e = sum((x["expenses"] for x in out), Decimal(0))
    team_w = sum((x["won_amount"] for x in out), Decimal(0))
    for x in out:
        x["win_rate"] = ratio(x["won"], x["won"] + x["lost"])
        e, w = x["expenses"], x["won_amount"]
        x["expense_ratio"] = ratio(e, w)
        if e > 0 and w == 0:
            x["flagged"] = True
        elif e > 0 and team_w > 0:
            x["flagged"] = e * team_w * 100 > team_e * w * (100 + pct)


# --- products --------------------------------------------------------------------------


def products(crm: crmkit.Crm, frm: dt.date | None = None, to: dt.date | None = None
             ) -> list[dict[str, Any]]:
    """Per product, from the lines of order and invoice documents (not void) issued in
    the period: quantity, revenue, customers, average (revenue / quantity), min and max
    unit price. Largest revenue first."""
    with crm.unit(write=False) as ctx:
        ctx.crm.plugins.require(ctx, "sales")
        frm, to = period(ctx, frm, to)
        ln = ctx.crm.table("document_lines")
        d = ctx.crm.table("documents")
        where = (ln.c.tenant_id == ctx.tenant.id, d.c.tenant_id == ctx.tenant.id,
                 d.c.kind.in_(VALUE_KINDS), d.c.status != "void", d.c.issued_on >= frm,
                 d.c.issued_on <= to, *customer_scope(ctx, d.c.customer_id))
        src = ln.join(d, d.c.id == ln.c.document_id)
        # lines are in their document's currency. One query sums every line at face value
        # (exact for base-currency documents, rate 1: nearly always all of them) and
        # counts the others; only when there are any, a second query per (product, rate)
        # swaps their face value for the converted one, exactly, here (product x price x
        # rate in SQL could overflow 64 bits)
        one = raw(d.c.rate) == 1_000_000
        price = raw(ln.c.unit_price)
        q = (select(ln.c.product, func.sum(raw(ln.c.quantity)).label("qty"),
                    func.count(func.distinct(d.c.customer_id)).label("customers"),
                    func.sum(raw(ln.c.quantity) * price).label("rev"),
                    func.min(price).label("lo"), func.max(price).label("hi"),
                    func.sum(case((one, 0), else_=1)).label("foreign"))
             .select_from(src).where(*where).group_by(ln.c.product))
        rows = ctx.conn.execute(q).all()
        money_of: dict[str, list[Any]] = {
            r.product: [Decimal(int(r.rev)) / 100_000, Decimal(int(r.lo)) / 100,
                        Decimal(int(r.hi)) / 100] for r in rows}
        foreign = {r.product for r in rows if r.foreign}
        if foreign:
            per_rate = (select(ln.c.product, d.c.rate,
                               func.sum(raw(ln.c.quantity) * price).label("rev"),
                               func.min(price).label("lo"), func.max(price).label("hi"))
                        .select_from(src).where(*where, ln.c.product.in_(foreign))
                        .group_by(ln.c.product, d.c.rate))
            fixed: dict[str, list[Any]] = {}
            for r in ctx.conn.execute(per_rate):
                rate, face = Decimal(r.rate), Decimal(int(r.rev)) / 100_000
                m = fixed.setdefault(r.product, [money_of[r.product][0], None, None])
                m[0] += face * rate - face
                lo, hi = Decimal(int(r.lo)) / 100 * rate, Decimal(int(r.hi)) / 100 * rate
                m[1] = lo if m[1] is None else min(m[1], lo)
                m[2] = hi if m[2] is None else max(m[2], hi)
            money_of.update(fixed)
        out = []
        for r in rows:
            qty = Decimal(int(r.qty)) / 1000
            rev_exact, lo, hi = money_of[r.product]
            out.append({"product": r.product,
                        "quantity": str(qty.quantize(Decimal(1))
                                        if qty == qty.to_integral_value() else qty.normalize()),
                        "revenue": rev_exact.quantize(CENT, ROUND_HALF_UP),
                        "customers": int(r.customers),
                        "avg_price": (rev_exact / qty).quantize(CENT, ROUND_HALF_UP),
                        "min_price": lo.quantize(CENT, ROUND_HALF_UP),
                        "max_price": hi.quantize(CENT, ROUND_HALF_UP)})
        return sorted(out, key=lambda x: (-x["revenue"], x["product"]))
