"""``insights cross-sell``: association rules between products, one SQL aggregate.

A customer's basket is the set of products on its order and invoice lines (not void)
issued up to D, in the user's scope; N is the number of customers with a basket. The
pair counts n(P, Q) are one self-join of the baskets grouped by (P, Q); n(P) and N two
more aggregates. Python only divides, rounds and sorts the rules.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

from sqlalchemy import and_, func, select

import crmkit
from crmkit.i18n import Domain

from .common import BASKET_KINDS, READ, ratio, scope

_ = Domain("crmkit_insights").gettext

SUGGESTIONS = 5


def baskets(ctx: crmkit.Context, on: dt.date) -> Any:
    """Distinct (customer_id, product) of the user's customers' baskets up to ``on``."""
    tid = ctx.tenant.id
    d = ctx.crm.table("documents")
    ln = ctx.crm.table("document_lines")
    return (select(d.c.customer_id, ln.c.product)
            .select_from(d.join(ln, and_(ln.c.tenant_id == tid, ln.c.document_id == d.c.id)))
            .where(d.c.tenant_id == tid, d.c.kind.in_(BASKET_KINDS), d.c.status != "void",
                   d.c.issued_on <= on, *scope(ctx, d.c.customer_id))
            .distinct())


def rule_rows(ctx: crmkit.Context, on: dt.date, min_customers: int) -> Any:
    """(P, Q, n(P,Q), n(P), n(Q), N) for every rule with n(P,Q) ≥ ``min_customers``."""
    b = baskets(ctx, on).cte("basket")
    b1, b2 = b.alias("b1"), b.alias("b2")
    pairs = (select(b1.c.product.label("p"), b2.c.product.label("q"),
                    func.count().label("n"))
             .select_from(b1.join(b2, and_(b2.c.customer_id == b1.c.customer_id,
                                           b2.c.product != b1.c.product)))
             .group_by(b1.c.product, b2.c.product)
             .having(func.count() >= min_customers).subquery("pairs"))
    single = (select(b.c.product, func.count().label("n")).group_by(b.c.product)
              .subquery("single"))
    sp, sq = single.alias("sp"), single.alias("sq")
    total = select(func.count(func.distinct(b.c.customer_id))).scalar_subquery()
    return (select(pairs.c.p, pairs.c.q, pairs.c.n, sp.c.n.label("np"),
                   sq.c.n.label("nq"), total.label("total"))
            .select_from(pairs.join(sp, sp.c.product == pairs.c.p)
                         .join(sq, sq.c.product == pairs.c.q)))


def _rule(p: str, q: str, n: int, np: int, nq: int, total: int) -> dict[str, Any]:
    conf, lift = Fraction(n, np), Fraction(n * total, np * nq)
    return {"if": p, "then": q, "customers": n, "support": ratio(n, total),
            "confidence": ratio(conf.numerator, conf.denominator),
            "lift": ratio(lift.numerator, lift.denominator), "_c": conf, "_l": lift}


def _check_min(min_customers: Any) -> int:
    if isinstance(min_customers, bool) or not isinstance(min_customers, int) \
            or min_customers < 1:
        raise crmkit.ValidationError(_("invalid --min-customers {n}; expected a whole "
                                       "number of at least 1")
                                     .format(n=str(min_customers)[:80]))
    return min_customers


def rules_in(ctx: crmkit.Context, on: dt.date, min_customers: int = 2
             ) -> list[dict[str, Any]]:
    """The rules, by lift and confidence (exact, descending), then P and Q ascending."""
    rows = [_rule(r.p, r.q, int(r.n), int(r.np), int(r.nq), int(r.total))
            for r in ctx.conn.execute(rule_rows(ctx, on, min_customers))]
    rows.sort(key=lambda x: (-x["_l"], -x["_c"], x["if"], x["then"]))
    return rows


def _public(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]


def suggestions_in(ctx: crmkit.Context, customer_id: int, on: dt.date,
                   min_customers: int = 2, rules: list[dict[str, Any]] | None = None
                   ) -> list[dict[str, Any]]:
    """The top products ``customer_id`` has not bought, by the best confidence of a rule
    from its basket (ties: lift, then the product's name); ``because`` is that rule's P."""
    b = baskets(ctx, on).subquery("b")
    mine = set(ctx.conn.execute(select(b.c.product).where(b.c.customer_id == customer_id))
               .scalars())
    if rules is None:
        rules = rules_in(ctx, on, min_customers)
    best: dict[str, dict[str, Any]] = {}
    for r in rules:  # already by lift, confidence, P: the first rule per Q is not enough
        if r["if"] not in mine or r["then"] in mine:
            continue
        cur = best.get(r["then"])
        if cur is None or (r["_c"], r["_l"]) > (cur["_c"], cur["_l"]) or (
                (r["_c"], r["_l"]) == (cur["_c"], cur["_l"]) and r["if"] < cur["if"]):
            best[r["then"]] = r
    ranked = sorted(best.values(), key=lambda r: (-r["_c"], -r["_l"], r["then"]))
    return [{"product": r["then"], "confidence": r["confidence"], "lift": r["lift"],
             "because": r["if"]} for r in ranked[:SUGGESTIONS]]


def cross_sell(crm: crmkit.Crm, *, customer_id: int | None = None, min_customers: int = 2,
               as_of: dt.date | None = None) -> list[dict[str, Any]]:
    """The rules (rows ``if``, ``then``, ``customers``, ``support``, ``confidence``,
    ``lift``), or with ``customer_id`` that customer's suggestions."""
    _check_min(min_customers)
    with crm.unit(write=False) as ctx:
        ctx.check(READ, None, _("insights"))
        on = as_of or ctx.today
        if customer_id is not None:
            ctx.crm.customers.require(ctx, customer_id, "view")
            return suggestions_in(ctx, customer_id, on, min_customers)
        return _public(rules_in(ctx, on, min_customers))
