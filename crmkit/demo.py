"""``crmkit demo``: a realistic, deterministic sample business."""

from __future__ import annotations

import datetime as dt
import logging
import random
from decimal import Decimal
from typing import Any

log = logging.getLogger("crmkit.demo")
SALES = [("li", "sales"), ("wang", "sales"), ("emma", "sales"), ("zhao", "manager")]
CUSTOMERS = [
    ("上海大众贸易有限公司", "li", "sales@dazhong-trade.cn", "021-5555-0101", ["vip"]),
    ("北京华信科技", "wang", "info@huaxin.com.cn", "010-6666-0202", []),
    ("深圳明达电子", "li", "purchase@mingda.cn", "0755-8888-0303", ["electronics"]),
    ("杭州绿源茶业", "emma", "tea@lvyuan.cn", "0571-2222-0404", []),
    ("Acme Industrial Ltd", "emma", "ap@acme-industrial.com", "+44 20 7946 0505", ["export"]),
    ("Northwind Traders", "wang", "orders@northwind.example", "+1 206 555 0606", []),
    ("成都天府餐饮管理", "li", "cw@tianfu-food.cn", "028-3333-0707", []),
    ("Blue River Logistics", "emma", "billing@blueriver.example", "+65 6555 0808", []),
    ("广州南方建材", "wang", "nfjc@nanfang.cn", "020-4444-0909", ["special"]),
    ("王小明 (个人)", "li", "xiaoming.wang@example.cn", "138-0000-1010", []),
]
CONTACT_NAMES = ["张伟", "李娜", "王芳", "刘洋", "陈静", "Tom Baker", "Anna Schmidt", "杨磊",
                 "Maria Lopez", "赵敏"]
PRODUCTS = [("Standard license", Decimal("1200.00")), ("Support plan", Decimal("480.00")),
            ("Installation", Decimal("800.00")), ("Training day", Decimal("1500.00")),
            ("Hardware kit", Decimal("2350.00"))]
SUBJECTS = {"call": ["跟进报价", "Follow-up call", "确认付款", "Check delivery"],
            "visit": ["季度回访", "On-site demo", "拜访采购部"],
            "email": ["Sent price list", "发送合同草稿"],
            "meeting": ["年度合作洽谈", "Quarterly review"]}


def build(crm: Any, rng: random.Random | None = None) -> dict[str, Any]:
    """Fill an initialised database's ``default`` tenant with the sample business.

    Returns ``{"customers", "enabled", "failed"}``: ``failed`` maps each plugin that
    could not be enabled, or raised in its ``crm_demo``, to the exception (also logged
    on the ``crmkit.demo`` logger); a plugin that raised in ``crm_demo`` is listed as
    broken. The others are in the demo all the same."""
    rng = rng or random.Random(20261122)
    today = crm.today
    existing = {u.name for u in crm.users.list()}
    for name, role in SALES:
        if name not in existing:
            crm.users.add(name, role=role)
    names = []
    for i, (name, owner, email, phone, tags) in enumerate(CUSTOMERS):
        c = crm.customers.add(name=name, owner=owner, email=email, phone=phone, tags=tags,
                              kind="person" if "个人" in name else "company",
                              external_id=f"ERP-{1001 + i}")
        names.append(c)
        crm.contacts.add(c.id, CONTACT_NAMES[i], title=rng.choice(["采购经理", "CFO", "Owner"]),
                         email=f"contact{i + 1}@example.com")
    inv_no = quote_no = order_no = pay_no = 0
    for i, c in enumerate(names):
        # activities over the last months
        for _ in range(rng.randint(2, 5)):
            kind = rng.choice(list(SUBJECTS))
            when = dt.datetime.combine(today - dt.timedelta(days=rng.randint(1, 120)),
                                       dt.time(rng.randint(8, 17), 0), dt.UTC)
            crm.activities.add(c.id, kind=kind, subject=rng.choice(SUBJECTS[kind]),
                               owner=c.owner, occurred_at=when)
        if i % 3 == 0:
            crm.activities.add(c.id, kind="task", subject="准备续约报价 / renewal quote",
                               owner=c.owner, due_on=today + dt.timedelta(days=rng.randint(-3, 5)))
        if i == 9:
            continue  # a prospect with no business yet
        quote_no += 1
        lines = [f"{p}:{rng.randint(1, 4)}:{price}" for p, price in rng.sample(PRODUCTS, 2)]
        crm.documents.add(c.id, kind="quote", number=f"Q-{quote_no:04d}", lines=lines,
                          issued_on=today - dt.timedelta(days=200 - i * 5))
        if i == 8:
            continue
        order_no += 1
        crm.documents.add(c.id, kind="order", number=f"SO-{order_no:04d}", lines=lines,
                          issued_on=today - dt.timedelta(days=190 - i * 5))
        # invoices at various ages; some paid, some partly, some overdue
        ages = sorted(rng.sample([5, 20, 45, 75, 100, 150, 220, 300], rng.randint(1, 4)),
                      reverse=True)
        for age in ages:  # oldest first, weeks or months apart
            inv_no += 1
            issued = today - dt.timedelta(days=age)
            due = issued + dt.timedelta(days=30)
            p, price = rng.choice(PRODUCTS)
            qty = rng.randint(1, 5)
            number = f"INV-{inv_no:04d}"
            crm.documents.add(c.id, kind="invoice", number=number, lines=[f"{p}:{qty}:{price}"],
                              issued_on=issued, due_on=due)
            amount = price * qty
            roll = rng.random()
            if roll < 0.45 and issued + dt.timedelta(days=10) <= today:
                pay_no += 1
                crm.documents.add(c.id, kind="payment", number=f"PAY-{pay_no:04d}",
                                  amount=amount, applies_to=number,
                                  issued_on=min(today, issued
                                                + dt.timedelta(days=rng.randint(5, 40))))
            elif roll < 0.65 and issued + dt.timedelta(days=10) <= today:
                pay_no += 1
                crm.documents.add(c.id, kind="payment", number=f"PAY-{pay_no:04d}",
                                  amount=(amount / 2).quantize(Decimal("0.01")),
                                  applies_to=number,
                                  issued_on=min(today, issued + dt.timedelta(days=20)))
        crm.documents.add(c.id, kind="expense", number=f"EXP-{i + 1:04d}",
                          amount=Decimal(rng.randint(100, 900)),
                          issued_on=today - dt.timedelta(days=rng.randint(1, 60)))
    _money_and_terms(crm, names, today)
    enabled: list[str] = []
    failed: dict[str, BaseException] = {}  # plugin -> why it is not in the demo
    for p in crm.plugins.list():
        if not p["builtin"] and not p["error"] and not p["enabled"]:
            try:
                enabled += crm.plugins.enable(p["name"])
            except Exception as exc:  # noqa: BLE001 - one plugin never stops the demo
                log.warning("demo: plugin %s cannot be enabled", p["name"], exc_info=exc)
                failed[p["name"]] = exc
    for pname, fn in crm.host.impls_by_plugin("crm_demo"):
        if pname in enabled or crm.host.installed[pname].builtin:
            try:
                fn(crm=crm, customers=names, rng=rng)
            except Exception as exc:  # noqa: BLE001 - listed as broken, the others run
                crm.host.mark_broken(pname, "crm_demo", exc)
                failed[pname] = exc
    return {"customers": names, "enabled": [n for n in enabled if n not in failed],
            "failed": failed}


def _money_and_terms(crm: Any, customers: list[Any], today: dt.date) -> None:
    """An export customer billed in US dollars (at a rate), and a customer on
    installments (30/60/90 days: 30%, 50%, 20%) that has paid the first one."""
    export = next(c for c in customers if "export" in c.tags)
    crm.documents.add(export.id, kind="invoice", number="INV-USD-0001", currency="USD",
                      rate="7.1", lines=["Hardware kit:2:330.00"],
                      issued_on=today - dt.timedelta(days=50),
                      due_on=today - dt.timedelta(days=20))
    crm.documents.add(export.id, kind="payment", number="PAY-USD-0001", amount="300.00",
                      currency="USD", rate="7.15", applies_to="INV-USD-0001",
                      issued_on=today - dt.timedelta(days=10))
    vip = customers[0]
    crm.documents.add(vip.id, kind="invoice", number="INV-T-0001",
                      lines=["Standard license:10:1200.00"],
                      issued_on=today - dt.timedelta(days=75),
                      terms=["30:30", "60:50", "90:20"])
    crm.documents.add(vip.id, kind="payment", number="PAY-T-0001", amount="3600.00",
                      applies_to="INV-T-0001", issued_on=today - dt.timedelta(days=44))
