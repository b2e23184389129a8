"""Test plugin for the email tests: a tiny reminder source.

``crm_reminders`` gives a ``follow_up`` reminder for every customer tagged ``follow-up``
(to the customer's owner), and an ``overdue`` reminder for every open invoice past its due
date, shaped like the receivables plugin's (``plugin="receivables"``, ``document``,
``amount``, ``days_overdue``; owner = the customer's owner). It does not depend on the
receivables plugin.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

import crmkit

PLUGIN = crmkit.PluginSpec(name="emailtest", version="0.1.0",
                           description="Reminder source for the email tests.")


@crmkit.hookimpl
def crm_reminders(ctx: Any, on: Any) -> list[Any]:
    """Customers tagged ``follow-up`` and open invoices overdue on ``on``. Read-only.
    Since 0.1."""
    d, c = ctx.crm.table("documents"), ctx.crm.table("customers")
    out = []
    tagged = ctx.conn.execute(
        select(c.c.id, c.c.name, c.c.owner)
        .where(c.c.tenant_id == ctx.tenant.id, c.c.tags.like("%,follow-up,%"))
        .order_by(c.c.id))
    for t in tagged:
        out.append(crmkit.Reminder(key=f"emailtest:follow_up:{t.id}", plugin="emailtest",
                                   kind="follow_up", subject=f"跟进 {t.name}",
                                   customer_id=t.id, customer=t.name, owner=t.owner,
                                   due_on=on))
    invoices = ctx.conn.execute(
        select(d.c.id, d.c.number, d.c.base_amount.label("amount"), d.c.due_on,
               d.c.customer_id, c.c.name, c.c.owner)
        .join(c, c.c.id == d.c.customer_id)
        .where(d.c.tenant_id == ctx.tenant.id, d.c.kind == "invoice", d.c.status == "open",
               d.c.due_on < on).order_by(d.c.id))
    for i in invoices:
        out.append(crmkit.Reminder(
            key=f"emailtest:overdue:{i.id}", plugin="receivables", kind="overdue",
            subject=f"Invoice {i.number} is overdue", customer_id=i.customer_id,
            customer=i.name, owner=i.owner, due_on=i.due_on, amount=i.amount, level=1,
            document=i.number, days_overdue=(on - i.due_on).days))
    return out
