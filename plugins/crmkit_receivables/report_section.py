"""The receivables section of ``crmkit report``: aging buckets and top overdue.

One statement over the per-customer aging (``queries.customer_totals``: the FIFO
allocation runs once): window sums give every bucket's total, and the rows ordered by
overdue give the five customers owing the most overdue.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, func, select, type_coerce

from crmkit import fmt_money
from crmkit.i18n import Domain

_ = Domain("crmkit_receivables").gettext

TOP = 5


def sections(ctx: Any, on: dt.date) -> Any:
    if not ctx.allowed("receivables.view", None):  # denied: the section is left out
        return None
    from crmkit.report import Chart, ReportSection

    from . import queries
    from .api import cents
    from .settings import bucket_labels

    s = ctx.settings("receivables")
    labels = bucket_labels(tuple(s.aging_ranges))
    per = queries.customer_totals(ctx, on, s).subquery("rcv_report")
    raw = [type_coerce(per.c[f"b{i}"], BigInteger) for i in range(len(labels))]
    overdue = sum(raw[1:], type_coerce(0, BigInteger))
    c = ctx.crm.table("customers")
    rows = ctx.conn.execute(
        select(c.c.name, overdue.label("overdue"),
               *[func.sum(b).over().label(f"t{i}") for i, b in enumerate(raw)],
               func.sum(type_coerce(per.c.credit, BigInteger)).over().label("credit"))
        .select_from(ctx.crm.customers.join(ctx, per, per.c.customer_id))
        .order_by(overdue.desc(), per.c.customer_id).limit(TOP)).all()
    totals = [cents(getattr(rows[0], f"t{i}")) if rows else cents(0)
              for i in range(len(labels))]
    credit = cents(rows[0].credit) if rows else cents(0)
    top = [(r.name, cents(r.overdue)) for r in rows if r.overdue and r.overdue > 0]
    cur = ctx.tenant.currency
    return ReportSection(
        plugin="receivables", title=_("Receivables"),
        figures=[(_("outstanding"), fmt_money(sum(totals, cents(0)))),
                 (_("overdue"), fmt_money(sum(totals[1:], cents(0)))),
                 (_("unapplied credit"), fmt_money(credit))],
        charts=[Chart(_("Aging buckets"), labels, [(_("amount"), totals)], unit=cur),
                Chart(_("Largest overdue balances"), [n for n, _v in top],
                      [(_("overdue"), [v for _n, v in top])], kind="hbar", unit=cur)])
