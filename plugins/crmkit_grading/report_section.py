"""The grading section of ``crmkit report``: customers per RFM segment and per tier."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from crmkit.i18n import Domain

_ = Domain("crmkit_grading").gettext


def sections(ctx: Any, on: dt.date) -> Any:
    if not ctx.allowed("grading.view", None):  # denied: the section is left out
        return None
    from crmkit.report import Chart, ReportSection

    from .compute import grades_query
    from .tables import SEGMENTS, TIERS

    g = grades_query(ctx, on, ctx.settings("grading"))
    mine = g.c.customer_id.in_(ctx.crm.customers.visible_ids(ctx))
    seg: dict[str, int] = {}
    tier: dict[str, int] = {}
    # one pass over the grades (computed as of ``on``): segment × tier counts
    for sg, tr, n in ctx.conn.execute(select(g.c.segment, g.c.tier, func.count())
                                      .where(mine).group_by(g.c.segment, g.c.tier)):
        seg[sg] = seg.get(sg, 0) + int(n)
        tier[tr] = tier.get(tr, 0) + int(n)
    return ReportSection(
        plugin="grading", title=_("Customer grading"),
        figures=[(_("graded customers"), sum(int(v) for v in tier.values())),
                 (_("at risk"), int(seg.get("at_risk", 0))),
                 (_("important"), int(tier.get("important", 0)))],
        charts=[Chart(_("Customers per RFM segment"), list(SEGMENTS),
                      [(_("customers"), [int(seg.get(s, 0)) for s in SEGMENTS])],
                      kind="hbar"),
                Chart(_("Customers per tier"), list(TIERS),
                      [(_("customers"), [int(tier.get(t, 0)) for t in TIERS])])])
