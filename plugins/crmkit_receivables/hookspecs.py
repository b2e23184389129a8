"""Hooks the receivables plugin adds (``crm_addhooks``) for other plugins to call.

Call them without importing this plugin::

    caller = getattr(ctx.hooks, "crm_customers_at_risk", None)
    lists = caller(ctx=ctx, on=day) if caller else []
    at_risk = set().union(*lists)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import crmkit


@crmkit.hookspec
def crm_customers_at_risk(ctx: Any, on: dt.date) -> list[int]:
    """Ids of the customers at payment risk as of date ``on``.

    Fires when another plugin (grading, for one) asks, through
    ``ctx.hooks.crm_customers_at_risk(ctx=ctx, on=day)``; only plugins enabled for the
    tenant answer. Read-only: compute in SQL. Each implementation returns a list of
    customer ids (the receivables plugin: customers with an invoice more than 90 days
    past its due date that still has an outstanding amount as of ``on``, among the
    customers the user may see); the caller gets one list per plugin and unions them.

    Since 0.1.
    """
