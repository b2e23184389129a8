"""The marketing plugin's share of ``crmkit demo``: three campaigns with costs, leads
spread over the sample customers, and a win-back campaign aimed at the customers
grading calls at risk (the lost ones without grading)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from .service import add, add_cost, add_lead, enabled, target


def build(crm: Any, customers: list[Any], rng: Any) -> None:
    today = crm.today
    start = today - dt.timedelta(days=240)
    opened = crm.using(today=start)
    fair = add(opened, "广交会 Canton Fair", channel="exhibition", start=start,
               end=start + dt.timedelta(days=4), budget="60000.00")
    push = add(opened, "WeChat 公众号推广", channel="wechat", start=start, budget="15000.00")
    back = add(opened, "Win-back 回访", channel="phone", start=start)
    add_cost(crm, fair.id, "42000.00", on=start, note="展位 booth")
    add_cost(crm, fair.id, "8500.00", on=start + dt.timedelta(days=3), note="travel")
    for month in range(6):
        add_cost(crm, push.id, f"{rng.randint(15, 30) * 100}.00",
                 on=start + dt.timedelta(days=30 * month))
    add_cost(crm, back.id, "1200.00", on=today - dt.timedelta(days=60))
    for i, c in enumerate(customers):
        if i % 3 == 2:
            continue  # a third came by no campaign
        campaign = fair if i % 3 == 0 else push
        add_lead(crm, campaign.id, c.id, on=start + dt.timedelta(days=rng.randint(0, 60)))
    with crm.unit() as ctx:
        graded = enabled(ctx, "grading")
    filters = {"segment": "at_risk"} if graded else {"status": "lost"}
    target(crm, back.id, on=today - dt.timedelta(days=60), **filters)
