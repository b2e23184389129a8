"""The receivables section of ``crmkit report``: aging buckets and top overdue."""

from __future__ import annotations

import datetime as dt
from typing import Any

from crmkit.i18n import Domain

_ = Domain("crmkit_receivables").gettext


def sections(ctx: Any, on: dt.date) -> Any:
    if not ctx.allowed("receivables.view", None):
        return None
    from crmkit.report import Chart, ReportSection, ReportTable

    from .api import aging_report, today_part

    aging = aging_report(ctx, on, "owner")  # one row per owner: small, and the totals
    totals = aging["totals"]
    part = today_part(ctx, on)
    buckets = aging["buckets"]
    return ReportSection(
        plugin="receivables", title=_("Receivables"),
        figures=[(_("outstanding"), part["outstanding"]), (_("overdue"), part["overdue"]),
                 (_("unapplied credit"), totals["credit"])],
        charts=[Chart(_("Aging buckets"), buckets,
                      [(_("amount"), [totals[b] for b in buckets])],
                      unit=ctx.tenant.currency),
                Chart(_("Largest overdue balances"),
                      [r["customer"] for r in part["top_overdue"]],
                      [(_("overdue"), [r["overdue"] for r in part["top_overdue"]])],
                      kind="hbar", unit=ctx.tenant.currency)],
        tables=[ReportTable(_("Aging by owner"), [_("owner"), *buckets, _("total")],
                            [(r["owner"] or "", *(r[b] for b in buckets), r["total"])
                             for r in aging["rows"]])])
