"""Open tasks as reminders: a task due on or before the day and not done reminds its
owner (``task_due``), once per task and due date."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..hookspecs import hookimpl
from ..plugins import PluginSpec
from ..records import Reminder
from ..sql import days_between

PLUGIN = PluginSpec(name="tasks", version="0.1.0",
                    description="Reminds owners of open tasks that are due (built in).")


@hookimpl
def crm_reminders(ctx: Any, on: Any) -> list[Reminder]:
    a, c = ctx.crm.table("activities"), ctx.crm.table("customers")
    rows = ctx.conn.execute(
        select(a.c.id, a.c.subject, a.c.owner, a.c.due_on, a.c.customer_id,
               c.c.name.label("customer"), days_between(on, a.c.due_on).label("late"))
        .join(c, c.c.id == a.c.customer_id)
        .where(a.c.tenant_id == ctx.tenant.id, a.c.kind == "task", a.c.done_at.is_(None),
               a.c.due_on.is_not(None), a.c.due_on <= on, c.c.status != "archived"))
    return [Reminder(key=f"tasks:task_due:{r.id}:{r.due_on}", plugin="tasks", kind="task_due",
                     subject=r.subject, customer_id=r.customer_id, customer=r.customer,
                     owner=r.owner, due_on=r.due_on,
                     days_overdue=int(r.late) if r.late else None)
            for r in rows]
