"""The marketing section of ``crmkit report``: what each campaign cost and brought."""

from __future__ import annotations

import datetime as dt
from typing import Any

from crmkit.i18n import Domain

_ = Domain("crmkit_marketing").gettext


def sections(ctx: Any, on: dt.date) -> Any:
    from .service import VIEW

    if not ctx.allowed(VIEW, None):
        return None
    from crmkit.report import Chart, ReportSection, ReportTable

    from .reports import report

    rows, _total = report(ctx.crm, on, limit=20)
    names = [r["name"] for r in rows]
    costs = rows and rows[0]["cost"] is not None
    series = [(_("revenue"), [r["revenue"] for r in rows])]
    if costs:
        series.insert(0, (_("cost"), [r["cost"] for r in rows]))
    charts = [Chart(_("Campaigns: cost and revenue"), names, series, kind="hbar",
                    unit=ctx.tenant.currency)]
    if costs:
        charts.append(Chart(_("Campaign ROI"), names,
                            [(_("ROI"), [(r["roi"] or 0) * 100 for r in rows])],
                            kind="hbar", unit="%"))
    return ReportSection(
        plugin="marketing", title=_("Marketing"),
        figures=[(_("campaigns"), len(rows)), (_("leads"), sum(r["leads"] for r in rows)),
                 (_("converted"), sum(r["converted"] for r in rows))],
        charts=charts,
        tables=[ReportTable(_("Campaigns"), [_("campaign"), _("leads"), _("converted"),
                                             _("revenue"), _("ROI")],
                            [(r["name"], r["leads"], r["converted"], r["revenue"],
                              "" if r["roi"] is None else f"{r['roi']:.1%}")
                             for r in rows])])
