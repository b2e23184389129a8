"""The service plugin's share of ``crmkit demo``: a week of cases on the sample
customers — two closed with solutions (one a return, 退货), one resolved, two open past
their deadlines (so that ``crmkit today`` and ``reminders`` show them) and one new."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from .cases import add, close, reply, resolve

#: (customer index, days ago, hour opened, priority, channel, subject, product,
#:  reply after hours, resolve after hours, solution, rating)
CASES: list[tuple[Any, ...]] = [
    (0, 9, 9, "high", "phone", "客户要求退货并退款", "ThinkPad X1", 2, 20,
     "同意退货，三天内退款", 5),
    (1, 7, 10, "normal", "email", "打印机卡纸 / printer jam", "LaserJet 2000", 3, 30,
     "更换搓纸轮 / replaced the pickup roller", 4),
    (3, 4, 14, "low", "wechat", "发票抬头错误", None, 5, 26, "作废并重开发票", None),
    (2, 1, 8, "urgent", "phone", "无法连接 VPN / VPN down", None, None, None, None, None),
    (4, 2, 11, "high", "visit", "空调不制冷", "KFR-35GW", 6, None, None, None),
    (0, 0, 9, "normal", "web", "安装预约 / installation booking", "ThinkPad X1", None,
     None, None, None),
]


def build(crm: Any, customers: list[Any]) -> None:
    """Add the cases (its own seeded generator: the shared one stays as it was for the
    plugins that come after)."""
    rng = random.Random(15)
    today = crm.today
    for i, ago, hour, prio, channel, subject, product, rep, res, sol, rating in CASES:
        if i >= len(customers):
            continue
        c = customers[i]
        opened = dt.datetime.combine(today - dt.timedelta(days=ago),
                                     dt.time(hour, rng.randint(0, 59)), dt.UTC)
        k = add(crm, c.id, subject=subject, priority=prio, channel=channel,
                product=product, at=opened)
        if rep is not None:
            reply(crm, k.id, body="已收到，正在处理 / we are on it",
                  at=opened + dt.timedelta(hours=rep))
        if res is not None:
            resolve(crm, k.id, solution=sol, at=opened + dt.timedelta(hours=res))
        if rating is not None:
            close(crm, k.id, rating=rating, at=opened + dt.timedelta(hours=res + 2))
