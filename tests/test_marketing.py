"""``crmkit campaign add|cost|lead|target|list|show`` (plugin ``marketing``): records,
events, the 360° section, permissions, and bad input that writes nothing.

Today is 2026-11-22.
"""

import datetime as dt

import crmkit_marketing as mkt
import pytest
from sqlalchemy import func, select

import crmkit
from crmkit.testing import emitted_events

D = dt.date
TABLES = ("customers", "documents", "audit", "outbox", "marketing_campaigns",
          "marketing_costs", "marketing_leads", "marketing_targets")


@pytest.fixture
def mk(crm_factory):
    crm = crm_factory(enable=("marketing",))
    crm.users.add("li", role="sales")
    crm.users.add("wang", role="sales")
    crm.users.add("boss", role="manager")
    return crm


def snapshot(crm):
    """Row counts of every table a marketing command could touch, and the change feed."""
    with crm.engine.connect() as conn:
        counts = {t: conn.execute(select(func.count()).select_from(crm.table(t))).scalar()
                  for t in TABLES}
    return counts, crm.changes()


def test_add_list_show_cost_and_the_change_feed(mk, cli):
    r = cli("campaign", "add", "广交会 2026", "--channel", "exhibition", "--start",
            "2026-10-15", "--end", "2026-10-19", "--budget", "50000")
    assert r.exit_code == 0, r
    cid = int(r.stdout)
    r = cli("campaign", "add", "WeChat", "--channel", "wechat", "--json")
    assert r.json == {"id": cid + 1, "tenant_id": 1, "name": "WeChat", "channel": "wechat",
                      "start_on": None, "end_on": None, "budget": None,
                      "created_on": "2026-11-22", "created_by": "admin"}
    assert cli("campaign", "cost", cid, "30000", "--on", "2026-10-15", "--note",
               "展位").exit_code == 0
    r = cli("campaign", "cost", cid, "1,250.50", "--json")
    assert r.json["amount"] == "1250.50" and r.json["spent_on"] == "2026-11-22"
    shown = cli("campaign", "show", cid, "--json").json
    # 30000.00 + 1250.50 = 31250.50
    assert (shown["cost"], shown["budget"], shown["leads"], shown["targets"]) == (
        "31250.50", "50000.00", 0, 0)
    assert [(c["spent_on"], c["amount"], c["note"]) for c in shown["costs"]] == [
        ("2026-10-15", "30000.00", "展位"), ("2026-11-22", "1250.50", None)]
    assert [c["name"] for c in cli("campaign", "list", "--json").json] == ["广交会 2026",
                                                                         "WeChat"]
    feed = [(c["table"], c["op"]) for c in mk.changes()
            if c["table"].startswith("campaign")]
    assert feed == [("campaign", "insert"), ("campaign", "insert"),
                    ("campaign_cost", "insert"), ("campaign_cost", "insert")]
    r = cli("campaign", "list")
    assert r.exit_code == 0 and "广交会 2026" in r.stdout and "50,000.00" in r.stdout


def test_lead_records_once_per_day_and_emits_campaign_lead(mk, cli):
    c = mkt.add(mk, "Mailing", channel="email")
    x = mk.customers.add(name="上海大众", email="buy@vw.cn")
    r = cli("campaign", "lead", c.id, x.id, "--json")
    assert r.exit_code == 0, r
    lead = r.json
    assert (lead["campaign_id"], lead["customer_id"], lead["lead_on"]) == (c.id, x.id,
                                                                           "2026-11-22")
    before = snapshot(mk)
    again = cli("campaign", "lead", c.id, x.id)   # same campaign, customer and day
    assert again.exit_code == 0 and int(again.stdout) == lead["id"]
    assert snapshot(mk) == before
    [ev] = emitted_events(mk, "campaign.lead")
    assert ev["customer_id"] == x.id
    assert ev["payload"] == {"campaign_id": c.id, "campaign": "Mailing", "channel": "email",
                             "customer_id": x.id, "customer": "上海大众",
                             "email": "buy@vw.cn", "lead_id": lead["id"],
                             "lead_on": "2026-11-22"}
    feed = [c for c in mk.changes() if c["table"] == "campaign_lead"]
    assert [(f["id"], f["after"]["customer_id"]) for f in feed] == [(lead["id"], x.id)]


def test_lead_may_be_dated_from_the_campaigns_start_when_entered_afterwards(mk, cli):
    # added on 11-22 with --start 10-15: leads from 10-15 on; without --start from 11-22
    old = mkt.add(mk, "Autumn fair", channel="exhibition", start=D(2026, 10, 15))
    x = mk.customers.add(name="X")
    assert cli("campaign", "lead", old.id, x.id, "--on", "2026-10-15").exit_code == 0
    r = cli("campaign", "lead", old.id, x.id, "--on", "2026-10-14")
    assert r.exit_code == 1
    assert r.stderr.strip() == (
        f"Error: lead date 2026-10-14 is before campaign {old.id} existed (from "
        "2026-10-15); a lead is dated on or after the campaign's start or creation date")


def test_target_by_status_tag_and_ids_without_duplicates(mk, cli):
    c = mkt.add(mk, "Win-back", channel="phone")
    ids = {}
    for name, status, tags in (("L1", "lost", ["vip"]), ("L2", "lost", []),
                               ("L3", "lost", ["vip", "north"]), ("A1", "active", ["vip"]),
                               ("Z", "archived", ["vip"])):
        ids[name] = mk.customers.add(name=name, status=status, tags=tags).id
    r = cli("campaign", "target", c.id, "--status", "lost", "--tag", "vip", "--json")
    assert r.exit_code == 0, r
    assert r.json == {"campaign_id": c.id, "target_on": "2026-11-22", "added": 2,
                      "already_targeted": 0}                       # L1, L3
    r = cli("campaign", "target", c.id, "--status", "lost", "--on", "2026-11-23")
    assert r.exit_code == 0 and r.stdout == "1\n"                  # L2; L1, L3 already
    assert "(2 already targeted)" in r.stderr
    # explicit ids with a filter: only those matching it; archived only when asked
    r = cli("campaign", "target", c.id, "--customer", ids["A1"], "--customer", ids["Z"],
            "--tag", "vip", "--json")
    assert (r.json["added"], r.json["already_targeted"]) == (1, 0)   # A1; Z is archived
    assert cli("campaign", "target", c.id, "--status", "archived",
               "--json").json["added"] == 1                          # Z
    shown = cli("campaign", "show", c.id, "--json").json
    assert shown["targets"] == 5
    events = emitted_events(mk, "campaign.target")
    assert [e["customer_id"] for e in events] == [ids["L1"], ids["L3"], ids["L2"], ids["A1"],
                                                  ids["Z"]]
    assert events[2]["payload"]["target_on"] == "2026-11-23"
    assert {e["payload"]["campaign"] for e in events} == {"Win-back"}


def test_target_by_grading_segment_and_tier(crm_factory, cli):
    crm = crm_factory(enable=("marketing", "grading"))
    c = mkt.add(crm, "VIP dinner", channel="other")
    cust = {n: crm.customers.add(name=n).id for n in ("X", "Y", "Z", "W")}
    for n, amount in (("X", "1000.00"), ("Y", "100.00"), ("Z", "10.00")):
        crm.documents.add(cust[n], kind="invoice", number=f"I-{n}", amount=amount,
                          issued_on=D(2026, 11, 1))
    # one invoice each on the same day: equal recency and frequency, so r = f = 5 for
    # X, Y, Z (champions); W has none (no_purchases). ABC over 1110.00: X's 1000 comes
    # first (0 before it < 80%) -> A -> tier important; Y (1000 before, 90%) B, Z C
    r = cli("campaign", "target", c.id, "--segment", "champions", "--tier", "important",
            "--json")
    assert r.exit_code == 0, r
    assert r.json["added"] == 1
    assert cli("campaign", "target", c.id, "--segment", "champions",
               "--json").json == {"campaign_id": c.id, "target_on": "2026-11-22",
                                  "added": 2, "already_targeted": 1}
    r = cli("campaign", "target", c.id, "--segment", "best")
    assert r.exit_code == 1 and "unknown segment 'best'; valid: champions" in r.stderr


def test_sales_user_targets_and_leads_only_own_customers(mk, cli):
    c = mkt.add(mk, "Mailing", channel="email")
    mine = mk.customers.add(name="Mine", owner="li", status="lost")
    mk.customers.add(name="Theirs", owner="wang", status="lost")
    r = cli("campaign", "target", c.id, "--status", "lost", "--json", user="li")
    assert r.exit_code == 0 and r.json["added"] == 1
    assert cli("campaign", "lead", c.id, mine.id, user="li").exit_code == 0
    # li sees one lead and one target; the admin sees the same here
    assert (cli("campaign", "show", c.id, "--json", user="li").json["targets"],
            cli("campaign", "show", c.id, "--json").json["targets"]) == (1, 1)


def test_crm_customer_sections_marketing_source_leads_and_targets(mk, cli):
    c1 = mkt.add(mk.using(today=D(2026, 1, 1)), "Fair", channel="exhibition")
    c2 = mkt.add(mk.using(today=D(2026, 1, 1)), "Push", channel="wechat")
    c3 = mkt.add(mk.using(today=D(2026, 1, 1)), "Back", channel="email")
    x = mk.customers.add(name="X")
    mkt.add_lead(mk, c2.id, x.id, on=D(2026, 3, 1))
    mkt.add_lead(mk, c1.id, x.id, on=D(2026, 3, 1))   # same day: the lower id wins
    mkt.add_lead(mk, c2.id, x.id, on=D(2026, 5, 1))
    mkt.target(mk, c3.id, customers=[x.id], on=D(2026, 6, 1))
    sec = cli("customer", "show", x.id, "--json").json["sections"]["marketing"]
    assert sec == {
        "source": {"campaign_id": c1.id, "name": "Fair", "channel": "exhibition",
                   "lead_on": "2026-03-01"},
        "leads": [{"campaign_id": c1.id, "name": "Fair", "channel": "exhibition",
                   "lead_on": "2026-03-01"},
                  {"campaign_id": c2.id, "name": "Push", "channel": "wechat",
                   "lead_on": "2026-03-01"},
                  {"campaign_id": c2.id, "name": "Push", "channel": "wechat",
                   "lead_on": "2026-05-01"}],
        "targeted_by": [{"campaign_id": c3.id, "name": "Back", "channel": "email",
                         "target_on": "2026-06-01"}]}
    early = cli("customer", "show", x.id, "--on", "2026-02-28",
                "--json").json["sections"]["marketing"]
    assert early == {"source": None, "leads": [], "targeted_by": []}
    text = cli("customer", "show", x.id).stdout   # summary labels, not data keys
    assert "Source campaign" in text and "Targeted by" in text
    assert "campaign_id" not in text and "targeted_by" not in text


# --- bad input: one sentence, exit 1, nothing written ---------------------------------


@pytest.fixture
def bad(mk):
    """A campaign, customers of li, wang and another tenant, for the refusals below."""
    c = mkt.add(mk, "Fair", channel="exhibition")
    li = mk.customers.add(name="Li's", owner="li")
    wang = mk.customers.add(name="Wang's", owner="wang")
    mk.tenants.add("other")
    other = mk.using(tenant="other")
    other.plugins.enable("marketing")
    foreign = other.customers.add(name="Elsewhere")
    elsewhere = mkt.add(other, "Their fair", channel="exhibition")
    mkt.add_lead(other, elsewhere.id, foreign.id)
    mkt.add_lead(mk, c.id, li.id)
    return {"c": c.id, "li": li.id, "wang": wang.id, "foreign": foreign.id,
            "theirs": elsewhere.id}


CHANNELS = "exhibition, online, wechat, email, referral, phone, print, other"


BAD = [
    (("add", "TV spot", "--channel", "tv"), None,
     f"unknown channel 'tv'; valid: {CHANNELS}"),
    (("add", "Fair", "--channel", "online"), None,
     "a campaign named 'Fair' already exists (campaign {c})"),
    (("add", "  ", "--channel", "online"), None, "campaign name must not be empty"),
    (("add", "X", "--channel", "online", "--budget", "-1"), None,
     "budget must not be negative, got -1"),
    (("add", "X", "--channel", "online", "--start", "2026-12-01", "--end", "2026-11-01"),
     None, "--end 2026-11-01 is before --start 2026-12-01"),
    (("add", "X", "--channel", "online", "--start", "12/01/2026"), None,
     "invalid --start '12/01/2026'; expected YYYY-MM-DD"),
    (("add", "X", "--channel", "online"), "li",
     "permission denied: user 'li' may not marketing.manage campaign 'X'"),
    (("cost", "{c}", "-5"), None, "cost must not be negative, got -5"),
    (("cost", "{c}", "12.345"), None,
     "invalid cost '12.345': more than 2 decimal places would be rounded"),
    (("cost", "{c}", "1e3"), None, "invalid cost '1e3': not a plain decimal number"),
    (("cost", "999", "10"), None, "campaign 999 not found"),
    (("cost", "{c}", "10"), "li",
     "permission denied: user 'li' may not marketing.manage campaign {c}"),
    (("lead", "999", "{li}"), None, "campaign 999 not found"),
    (("lead", "{c}", "999"), None, "customer 999 not found"),
    (("lead", "{c}", "{foreign}"), None, "customer {foreign} not found"),
    (("lead", "{c}", "{wang}"), "li", "customer {wang} not found"),
    (("lead", "{c}", "{li}", "--on", "2026-11-21"), None,
     "lead date 2026-11-21 is before campaign {c} existed (from 2026-11-22); a lead is "
     "dated on or after the campaign's start or creation date"),
    (("target", "{c}", "--segment", "champions"), None,
     "--segment needs the grading plugin, which is not enabled for tenant 'default'; "
     "enable it with `crmkit plugins enable grading`"),
    (("target", "{c}", "--tier", "important", "--status", "lost"), None,
     "--tier needs the grading plugin, which is not enabled for tenant 'default'; "
     "enable it with `crmkit plugins enable grading`"),
    (("target", "{c}", "--status", "gone"), None,
     "unknown status 'gone'; valid: prospect, active, lost, archived"),
    (("target", "{c}", "--customer", "{li}", "--customer", "{foreign}"), None,
     "customer {foreign} not found"),
    (("target", "{c}", "--customer", "{wang}"), "li", "customer {wang} not found"),
    (("target", "999", "--status", "lost"), None, "campaign 999 not found"),
    (("cost", "{theirs}", "10"), None, "campaign {theirs} not found"),
    (("lead", "{theirs}", "{li}"), None, "campaign {theirs} not found"),
    (("show", "{theirs}"), None, "campaign {theirs} not found"),
]


def test_bad_input_is_one_sentence_exit_1_and_writes_nothing(mk, bad, cli):
    # one database for all the cases (a fresh one each would cost a minute on MariaDB)
    before = snapshot(mk)
    for args, user, message in BAD:
        r = cli("campaign", *[a.format(**bad) for a in args], user=user)
        assert (r.exit_code, r.stderr.strip()) == (1, "Error: " + message.format(**bad)), args
        assert snapshot(mk) == before, args


def test_tenants_see_only_their_campaigns_and_leads(mk, bad, cli):
    assert [(r["campaign_id"], r["leads"]) for r in cli("campaign", "report",
                                                        "--json").json] == [(bad["c"], 1)]
    r = cli("campaign", "report", "--json", tenant="other")
    assert [(x["campaign_id"], x["leads"]) for x in r.json] == [(bad["theirs"], 1)]


def test_another_owners_customer_reads_like_a_missing_one(mk, bad, cli):
    mine = cli("campaign", "lead", bad["c"], bad["wang"], user="li").stderr
    missing = cli("campaign", "lead", bad["c"], 99999, user="li").stderr
    assert mine.replace(str(bad["wang"]), "N") == missing.replace("99999", "N")


def test_a_long_value_is_quoted_shortly(mk, cli):
    r = cli("campaign", "add", "X", "--channel", "x" * 500)
    assert r.exit_code == 1 and len(r.stderr) < 250 and "…" in r.stderr


def test_crm_cli_commands_refuse_when_not_enabled(crm_factory, cli):
    crm_factory()
    r = cli("campaign", "list")
    assert r.exit_code == 1
    assert "plugin 'marketing' is not enabled for tenant 'default'; enable it with " \
           "`crmkit plugins enable marketing`" in r.stderr
    assert cli("campaign", "--help").exit_code == 0


def test_crm_permission_marketing_roles(mk):
    # managers manage and see costs; sales users neither; everyone may view, lead, target
    c = mkt.add(mk.using(user="boss"), "Boss's", channel="print", budget="10")
    assert mkt.add_cost(mk.using(user="boss"), c.id, "5").amount == 5
    li = mk.using(user="li")
    with pytest.raises(crmkit.PermissionDenied, match="may not marketing.manage"):
        mkt.add_cost(li, c.id, "5")
    assert mkt.show(li, c.id)["budget"] is None and mkt.show(li, c.id)["costs"] is None
    assert mkt.show(mk.using(user="boss"), c.id)["cost"] == 5
    for user, manages in (("admin", True), ("boss", True), ("li", False)):
        with mk.using(user=user).unit(write=False) as ctx:
            assert ctx.allowed("marketing.manage", None) is manages
            assert ctx.allowed("marketing.costs", None) is manages
            assert all(ctx.allowed(a, None) for a in ("marketing.view", "marketing.lead",
                                                      "marketing.target"))
    # a lead's record is the customer: li may not act on wang's
    theirs = mk.customers.add(name="Theirs", owner="wang")
    with li.unit(write=False) as ctx:
        assert not ctx.allowed("marketing.lead", theirs)


def test_crm_tables_lead_every_index_with_tenant_id(mk):
    for name in ("marketing_campaigns", "marketing_costs", "marketing_leads",
                 "marketing_targets"):
        t = mk.table(name)
        assert "tenant_id" in t.c
        for ix in t.indexes:
            assert list(ix.columns)[0].name == "tenant_id", ix.name
        for uq in [c for c in t.constraints if c.__class__.__name__ == "UniqueConstraint"]:
            assert list(uq.columns)[0].name == "tenant_id", uq.name


def test_crm_addhooks_declares_crm_campaign_revenue(mk):
    hc = mk.host.pm.hook.crm_campaign_revenue
    assert hc.spec is not None and hc.spec.opts.get("firstresult") is True


@pytest.mark.backends("sqlite")  # the demo's data does not depend on the backend; sqlite is enough
def test_crm_demo_adds_three_campaigns(cli, crm_db_url):
    assert cli("demo").exit_code == 0
    rows = cli("campaign", "report", "--json").json
    assert [r["channel"] for r in rows] == ["exhibition", "wechat", "phone"]
    assert all(r["leads"] > 0 and r["revenue"] != "0.00" for r in rows[:2])
    assert rows[2]["targets"] > 0 and rows[2]["return_rate"] is not None
