"""The 360° view's ``insights`` panel: persistency, profitability, products.

* ``persistency``: ``first_purchase`` (the date of the first value document up to D),
  ``months_active`` (months with a value document) and ``repeat_rate`` (months active /
  months from the first purchase's month to D's month, 4 decimals; null before any).
* ``profitability``: ``revenue``, ``margin``, ``margin_pct`` of the customer's invoice
  lines up to D, as in ``insights profit``.
* ``product``: ``top`` (the 5 products with most revenue on its order and invoice
  lines: ``product``, ``quantity``, ``revenue``) and ``suggestions`` (cross-sell).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

import crmkit
from crmkit import fmt_money
from crmkit.i18n import Domain

from .analyses import line_facts, profit_figures, profit_sums, value_docs
from .common import BASKET_KINDS, LINE_SCALE, index_of, money_of, month_index, ratio
from .crosssell import suggestions_in

_ = Domain("crmkit_insights").gettext

TOP = 5


def section_data(ctx: crmkit.Context, customer_id: int, on: dt.date) -> dict[str, Any]:
    v = value_docs(ctx, on).subquery("v")
    first, months = ctx.conn.execute(
        select(func.min(v.c.issued_on), func.count(func.distinct(month_index(v.c.issued_on))))
        .where(v.c.customer_id == customer_id)).one()
    span = index_of(on) - index_of(first) + 1 if first else 0
    facts = line_facts(ctx).subquery("lines")
    mine = select(facts).where(facts.c.customer_id == customer_id,
                               facts.c.issued_on <= on).subquery("mine")
    prof = profit_figures(ctx.conn.execute(select(*profit_sums(mine))).one())
    allk = line_facts(ctx, BASKET_KINDS).subquery("all")
    top = ctx.conn.execute(
        select(allk.c.product, func.sum(allk.c.quantity).label("qty"),
               func.sum(allk.c.revenue).label("rev"))
        .where(allk.c.customer_id == customer_id, allk.c.issued_on <= on)
        .group_by(allk.c.product)
        .order_by(func.sum(allk.c.revenue).desc(), allk.c.product).limit(TOP)).all()
    return {
        "persistency": {"first_purchase": first.isoformat() if first else None,
                        "months_active": int(months or 0),
                        "repeat_rate": ratio(int(months or 0), span)},
        "profitability": {"revenue": fmt_money(prof["revenue"]),
                          "margin": fmt_money(prof["margin"]),
                          "margin_pct": prof["margin_pct"]},
        "product": {"top": [{"product": r.product,
                             "quantity": str(_qty(r.qty)),
                             "revenue": fmt_money(money_of(r.rev, LINE_SCALE))} for r in top],
                    "suggestions": suggestions_in(ctx, customer_id, on)},
    }


def _qty(thousandths: Any) -> Any:
    from decimal import Decimal

    d = Decimal(int(thousandths or 0)).scaleb(-3)
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize()


def section(ctx: crmkit.Context, customer: crmkit.Customer, on: dt.date) -> Any:
    if not ctx.allowed("insights.read", None):
        return None
    data = section_data(ctx, customer.id, on)
    per, prof, prod = data["persistency"], data["profitability"], data["product"]

    def pct(v: float | None) -> str:
        return "" if v is None else f"{v:.1%}"

    summary = [(_("first purchase"), per["first_purchase"] or _("none")),
               (_("months active"), per["months_active"]),
               (_("repeat rate"), pct(per["repeat_rate"])),
               (_("revenue"), prof["revenue"]), (_("margin"), prof["margin"]),
               (_("margin %"), pct(prof["margin_pct"]))]
    if prod["top"]:
        summary.append((_("top products"), [
            {_("product"): t["product"], _("quantity"): t["quantity"],
             _("revenue"): t["revenue"]} for t in prod["top"]]))
    if prod["suggestions"]:
        summary.append((_("offer next"), [
            {_("product"): x["product"], _("confidence"): pct(x["confidence"]),
             _("because they bought"): x["because"]} for x in prod["suggestions"]]))
    return crmkit.Section(plugin="insights", title=_("Insights"), data=data,
                          summary=summary)
