"""A test plugin for the marketing plugin's ``crm_campaign_revenue``: for a business
that does not invoice, revenue is its orders (not void), not its invoices."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, select, type_coerce

import crmkit


class OrdersAsRevenue:
    PLUGIN = crmkit.PluginSpec(name="orders_revenue",
                               description="orders count as campaign revenue (tests)")

    def __init__(self) -> None:
        self.__name__ = "tests.plugins.campaign_revenue"
        self.asked: list[dt.date] = []

    @crmkit.hookimpl
    def crm_campaign_revenue(self, ctx: Any, on: dt.date) -> Any:
        self.asked.append(on)
        d = ctx.crm.table("documents")
        return (select(d.c.customer_id, d.c.issued_on,
                       type_coerce(d.c.base_amount, BigInteger).label("amount"))
                .where(d.c.tenant_id == ctx.tenant.id, d.c.kind == "order",
                       d.c.status != "void", d.c.issued_on <= on))
