"""The marketing plugin's hooks into other plugins: a ``campaign`` column of a customers
import (the csv plugin's ``crm_import_columns`` / ``crm_import_row``) and another
plugin changing what counts as revenue (``crm_campaign_revenue``)."""

import datetime as dt

import crmkit_marketing as mkt

from crmkit.testing import emitted_events
from tests.plugins.campaign_revenue import OrdersAsRevenue

D = dt.date


def _csv(tmp_path, text):
    f = tmp_path / "customers.csv"
    f.write_text(text, encoding="utf-8")
    return f


def _leads(crm):
    return [(c["after"]["campaign_id"], c["after"]["customer_id"], c["after"]["lead_on"])
            for c in crm.changes() if c["table"] == "campaign_lead"]


def test_crm_import_columns_and_crm_import_row_campaign_column(crm_factory, cli, tmp_path):
    crm = crm_factory(enable=("csv", "marketing"))
    fair = mkt.add(crm, "广交会", channel="exhibition")
    push = mkt.add(crm, "WeChat push", channel="wechat")
    f = _csv(tmp_path, "客户名称,市场活动,电话\n"
                       "上海大众,广交会,021-1\n"        # line 2: lead for 广交会
                       "北京现代,,010-2\n"              # line 3: no campaign
                       "华信,WeChat push,010-3\n")      # line 4: lead for WeChat push
    r = cli("import", "customers", str(f), "--json")
    assert r.exit_code == 0, r
    assert r.json["imported"] == 3 and r.json["ignored_columns"] == []
    ids = {c.name: c.id for c in crm.customers.list()}
    # on the import date (the CLI's today, 2026-11-22)
    assert _leads(crm) == [(fair.id, ids["上海大众"], "2026-11-22"),
                           (push.id, ids["华信"], "2026-11-22")]
    assert [e["customer_id"] for e in emitted_events(crm, "campaign.lead")] == [
        ids["上海大众"], ids["华信"]]
    # re-imported with --update-existing: known customers respond to a campaign again
    f2 = _csv(tmp_path, "客户名称,市场活动,电话\n北京现代,广交会,010-2\n")
    r = cli("import", "customers", str(f2), "--update-existing", today=D(2026, 11, 25))
    assert r.exit_code == 0, r
    assert _leads(crm)[-1] == (fair.id, ids["北京现代"], "2026-11-25")


def test_unknown_campaign_is_a_row_error_and_nothing_is_written(crm_factory, cli,
                                                                tmp_path):
    crm = crm_factory(enable=("csv", "marketing"))
    mkt.add(crm, "广交会", channel="exhibition")
    f = _csv(tmp_path, "name,campaign\nA,广交会\nB,Canton fair\n")
    before = crm.changes()
    r = cli("import", "customers", str(f))
    assert r.exit_code == 1
    assert "line 3, column 'campaign', value 'Canton fair': unknown campaign 'Canton " \
           "fair'; add it first with `crmkit campaign add`" in r.stderr
    assert crm.changes() == before and crm.customers.list() == []
    assert emitted_events(crm, "campaign.lead") == []
    # --skip-invalid keeps A and its lead; B (and no lead for it) goes to the rejects
    r = cli("import", "customers", str(f), "--skip-invalid")
    assert r.exit_code == 0, r
    assert [c.name for c in crm.customers.list()] == ["A"] and len(_leads(crm)) == 1


def test_campaign_column_is_ignored_without_the_marketing_plugin(crm_factory, cli,
                                                                 tmp_path):
    crm = crm_factory(enable=("csv",))
    r = cli("import", "customers", str(_csv(tmp_path, "name,campaign\nA,X\n")), "--json")
    assert r.exit_code == 0 and r.json["ignored_columns"] == ["campaign"]
    assert len(crm.customers.list()) == 1


def test_crm_campaign_revenue_another_plugin_counts_orders(crm_factory):
    plugin = OrdersAsRevenue()
    crm = crm_factory(enable=("marketing",))
    c = mkt.add(crm, "Fair", channel="exhibition")
    x = crm.customers.add(name="X")
    mkt.add_lead(crm, c.id, x.id)
    crm.documents.add(x.id, kind="invoice", number="I1", amount="100.00",
                      issued_on=D(2026, 11, 22))
    crm.documents.add(x.id, kind="order", number="O1", amount="250.00",
                      issued_on=D(2026, 11, 22))
    # the default: invoices -> 100.00
    assert str(mkt.report(crm)[0][0]["revenue"]) == "100.00"
    with_plugin = crm_factory(plugins=[plugin], enable=("marketing", "orders_revenue"))
    # the plugin's answer comes first (the default is trylast): orders -> 250.00
    assert str(mkt.report(with_plugin)[0][0]["revenue"]) == "250.00"
    assert plugin.asked == [D(2026, 11, 22)]
