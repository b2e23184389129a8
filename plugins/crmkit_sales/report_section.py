"""The sales section of ``crmkit report``: the forecast and the funnel."""

from __future__ import annotations

import datetime as dt
from typing import Any

from crmkit.i18n import Domain

_ = Domain("crmkit_sales").gettext


def sections(ctx: Any, on: dt.date) -> Any:
    if not ctx.allowed("sales.report", None):  # denied: the section is left out
        return None
    from crmkit.report import Chart, ReportSection

    from .reports import forecast, funnel, today_part

    fc = forecast(ctx.crm)
    fu = funnel(ctx.crm, on.replace(day=1), on)
    part = today_part(ctx, on)
    periods = [r["period"] or "" for r in fc]
    stages = fu["stages"]
    return ReportSection(
        plugin="sales", title=_("Sales"),
        figures=[(_("pipeline"), part["pipeline"]), (_("weighted"), part["weighted"]),
                 (_("won this month"), part["won_this_month"])],
        charts=[Chart(_("Forecast by month of expected close"), periods,
                      [(_("best case"), [r["best_case"] for r in fc]),
                       (_("weighted"), [r["weighted"] for r in fc]),
                       (_("won"), [r["won"] for r in fc])], unit=ctx.tenant.currency),
                Chart(_("Funnel: open opportunities per stage"),
                      [s["stage"] for s in stages],
                      [(_("opportunities"), [s["count"] for s in stages])], kind="hbar")])
