"""A small business for the report tests, and a third-party plugin adding a section.

``build(crm)`` enables every first-party plugin that draws a report section and adds
Chinese-named customers, products, invoices with costs, an expense, an opportunity and
a campaign, plus customers with hostile names (markup that must print as text).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import crmkit

D = dt.date
HOSTILE = ('<img src="http://127.0.0.1:{port}/pwned" onerror="alert(1)">',
           "</svg></figure><script>alert('x')</script>", "{{ 7*7 }} & <b>粗</b>")
PLUGINS = ("insights", "receivables", "grading", "sales", "marketing")


def build(crm: Any, port: int = 9) -> dict[str, Any]:
    """The sample business; returns the customers by name."""
    import crmkit_insights as ins
    import crmkit_marketing as mkt
    from crmkit_sales import service as sales

    crm.plugins.enable(*PLUGINS)
    crm.users.add("li", role="sales")
    ins.add_product(crm, "倚天屠龙记", category="武侠", cost="20.00")
    ins.add_product(crm, "笑傲江湖", category="武侠", cost="25.00")
    names = [("上海大众", "li"), ("北京书店", "admin"), ("广州图书", "li"),
             *((h.replace("{port}", str(port)), "admin") for h in HOSTILE)]
    cu = {n: crm.customers.add(name=n, owner=o) for n, o in names}
    n = 0
    for i, (name, _owner) in enumerate(names):
        for month in (8, 9, 10, 11):
            if (i + month) % 3 == 0 and i > 1:
                continue
            n += 1
            crm.documents.add(cu[name].id, kind="invoice", number=f"I{n}",
                              issued_on=D(2026, month, 3 + i), due_on=D(2026, month, 20),
                              lines=[f"倚天屠龙记:{1 + i % 2}:40", "笑傲江湖:1:50:30",
                                     f"{name[:40]}:1:5"])
    crm.documents.add(cu["北京书店"].id, kind="payment", number="P1", amount="50.00",
                      issued_on=D(2026, 9, 30), applies_to="I5")
    for k, (name, day, amount) in enumerate((("上海大众", D(2026, 10, 5), "100.00"),
                                             ("北京书店", D(2026, 11, 5), "300.00"))):
        crm.documents.add(cu[name].id, kind="expense", number=f"E{k}", amount=amount,
                          issued_on=day, lines=[f"差旅:1:{amount}"])
    sales.add(crm, cu["上海大众"].id, title="年度采购", amount="5000.00",
              close=D(2026, 12, 15))
    camp = mkt.add(crm.using(today=D(2026, 7, 1)), "广交会", channel="exhibition",
                   start=D(2026, 7, 1))
    mkt.add_cost(crm, camp.id, "800.00", on=D(2026, 7, 2))
    mkt.add_lead(crm, camp.id, cu["上海大众"].id, on=D(2026, 7, 3))
    return cu


class ExtraSection:
    """A third-party plugin: one section with one chart (``crm_report_sections``)."""

    PLUGIN = crmkit.PluginSpec(name="extra", version="0.1.0",
                               description="Adds a section to the report (tests).")
    __name__ = "tests.plugins.report_sample.ExtraSection"

    @crmkit.hookimpl
    def crm_report_sections(self, ctx: Any, on: dt.date) -> Any:
        from crmkit.report import Chart, ReportSection

        return [ReportSection(plugin="extra", title="额外 Extra", figures=[("on", str(on))],
                              charts=[Chart("第三方 chart", ["甲", "乙"],
                                            {"n": [1, 2]}, kind="line")])]
