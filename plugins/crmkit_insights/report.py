"""The insights section of ``crmkit report``: revenue trend, new and buying customers,
cohorts, profit by category, expenses by item and the most profitable customers.

Cross-sell rules are left out: their pair count grows with the square of the
catalogue and belongs to ``insights cross-sell`` (and the 360° panel's suggestions)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import crmkit
from crmkit import fmt_money
from crmkit.i18n import Domain

from .common import READ

_ = Domain("crmkit_insights").gettext

TOP = 10


def _share(v: float | None) -> str:
    return "" if v is None else f"{v:.1%}"


def sections(ctx: crmkit.Context, on: dt.date) -> Any:
    if not ctx.allowed(READ, None):
        return None
    from crmkit.report import Chart, ReportSection, ReportTable, aside

    from .analyses import _by_item, _expenses, cohort_counts, cohorts_in, profit_in, trend_in

    cur = ctx.tenant.currency
    year_start = on - dt.timedelta(days=364)
    # the two profit scans (a year of lines each) run beside the rest when the report
    # computes its sections apart
    by_cat = aside(ctx, lambda c: profit_in(c, "category", year_start, on, whole=True))
    by_customer = aside(ctx, lambda c: profit_in(c, "customer", year_start, on, limit=TOP,
                                                 whole=True))
    counts = cohort_counts(ctx, on)  # the cohorts' sizes are the trend's first purchases
    # a year of the tenant's documents: read whole (crmkit.sql.whole_tenant)
    tr = trend_in(ctx, 12, on, firsts={c: n for (c, k), n in counts.items() if k == 0},
                  whole=True)
    months = [r["month"] for r in tr]
    frm = on.replace(day=1)
    e = _expenses(ctx).subquery("e")
    items = _by_item(ctx, e, frm, on, ctx.settings("insights").expense_growth_alert_pct)
    co = cohorts_in(ctx, on, counts)[-12:]
    cats, best = by_cat(), by_customer()
    revenue_12 = sum((r["revenue"] for r in tr), start=crmkit.parse_money("0"))
    margin = sum((r["margin"] for r in cats), start=crmkit.parse_money("0"))
    charts = [
        Chart(_("Invoice revenue per month"), months,
              [(_("revenue"), [r["revenue"] for r in tr])], kind="line", unit=cur),
        Chart(_("Customers per month"), months,
              [(_("new"), [r["new"] for r in tr]),
               (_("first purchase"), [r["first_purchase"] for r in tr]),
               (_("buying"), [r["buying"] for r in tr])]),
        Chart(_("Repeat buying one, three and six months after the first purchase"),
              [r["cohort"] for r in co],
              [(_("+{n} months").format(n=k), [(r["retention"][k - 1] or 0) * 100
                                              for r in co]) for k in (1, 3, 6)],
              unit="%"),
        Chart(_("Margin by category (last 12 months)"), [r["key"] for r in cats],
              [(_("margin"), [r["margin"] for r in cats]),
               (_("revenue without a known cost"),
                [r["unknown_cost_revenue"] for r in cats])], kind="hbar", unit=cur),
        Chart(_("Expenses by item this month"), [r["item"] for r in items],
              [(_("this month"), [r["amount"] for r in items]),
               (_("the period before"), [r["previous"] for r in items])],
              kind="hbar", unit=cur),
    ]
    tables = [ReportTable(
        _("Most profitable customers (last 12 months)"),
        [_("customer"), _("revenue"), _("margin"), _("margin %"),
         _("revenue without a known cost")],
        [(r["key"], r["revenue"], r["margin"], _share(r["margin_pct"]),
          r["unknown_cost_revenue"]) for r in best])]
    flagged = [r["item"] for r in items if r["flagged"]]
    figures = [(_("invoice revenue, 12 months"), fmt_money(revenue_12)),
               (_("known margin, 12 months"), fmt_money(margin)),
               (_("new customers, 12 months"), sum(r["new"] for r in tr)),
               (_("expense items flagged"), len(flagged))]
    return ReportSection(plugin="insights", title=_("Insights: profit, trend, loyalty"),
                         figures=figures, charts=charts, tables=tables,
                         note=_("Flagged expense items: {items}").format(
                             items=", ".join(flagged)) if flagged else None)
