"""``crmkit today``: the owner's one screen, for the user's scope.

    from crmkit.summary import today
    day = today(crm)        # {"date", "user", "reminders", "tasks_due", "receivables",
                            #  "sales", "customers"}

The core gives the date, the user, the reminders (total and per kind), the open tasks
due on or before the day and the customer counts; plugins add their parts through
``crm_today`` (receivables, sales; grading adds ``customers.at_risk``). A part whose
plugin is not enabled is None.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import func, select

from .convert import to_dict
from .records import CUSTOMER_STATUSES

PARTS = ("receivables", "sales")


def today(crm: Any, on: dt.date | None = None) -> dict[str, Any]:
    """The day's figures and the items to act on, as of ``on`` (default today)."""
    with crm.unit(write=False) as ctx:
        on = on or ctx.today
        reminders = crm.reminders.due(on)
        tasks = crm.activities.list(open_only=True, due_until=on)
        out: dict[str, Any] = {
            "date": on.isoformat(),
            "user": ctx.user.name,
            "reminders": {"total": len(reminders),
                          "by_kind": dict(sorted(Counter(r.kind for r in reminders)
                                                 .items()))},
            "tasks_due": [to_dict(a) for a in tasks],
            **dict.fromkeys(PARTS),
            "customers": _customers(ctx, on),
        }
        for parts in ctx.hooks.crm_today(ctx=ctx, on=on):
            for name, value in (parts or {}).items():
                if isinstance(out.get(name), dict) and isinstance(value, dict):
                    out[name].update(value)
                else:
                    out[name] = value
        return out


def _customers(ctx: Any, on: dt.date) -> dict[str, Any]:
    """Visible customers per status, those created this month, and ``at_risk`` (None
    unless a plugin such as grading says)."""
    t = ctx.crm.table("customers")
    counts = dict(ctx.conn.execute(select(t.c.status, func.count()).where(
        ctx.crm.customers.visible(ctx)).group_by(t.c.status)).all())
    start = dt.datetime.combine(on.replace(day=1), dt.time(), dt.UTC)
    end = dt.datetime.combine(on + dt.timedelta(days=1), dt.time(), dt.UTC)
    new = ctx.conn.execute(select(func.count()).where(
        ctx.crm.customers.visible(ctx), t.c.created_at >= start,
        t.c.created_at < end)).scalar_one()
    out = {s: int(counts.get(s, 0)) for s in CUSTOMER_STATUSES if s != "archived"}
    return {**out, "new_this_month": int(new), "at_risk": None}
