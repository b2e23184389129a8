"""Tenant time zones and locales (issue 12): today is the tenant's local date, a datetime
without offset is in the tenant's zone, JSON stays UTC with an offset and tables show
local time; ``crm.now()`` runs on an injectable clock."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

import crmkit
from crmkit import ValidationError
from crmkit.zones import parse_zone

UTC = dt.UTC


def fixed(instant: str):
    """A clock stopped at ``instant``."""
    at = dt.datetime.fromisoformat(instant)
    return lambda: at


def snapshot(crm):
    with crm.engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(crm.table("tenants"))).scalar()
        rows = conn.execute(select(crm.table("tenants"))).all()
    return n, [tuple(r) for r in rows], crm.changes()


def test_shanghai_tenant_at_2330_utc_has_tomorrow_as_today(crm_db_url):
    # 2026-12-01T23:30Z is 2026-12-02T07:30 in Shanghai (UTC+8): today is 12-02
    crm = crmkit.open(crm_db_url, clock=fixed("2026-12-01T23:30:00+00:00"))
    crm.init()
    crm.tenants.add("sh", timezone="Asia/Shanghai")
    sh = crm.using(tenant="sh")
    assert sh.today == dt.date(2026, 12, 2)
    assert crm.today == dt.date(2026, 12, 1)  # the default tenant is in UTC
    assert sh.now() == dt.datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    with sh.unit(write=False) as ctx:
        assert (str(ctx.zone), ctx.today) == ("Asia/Shanghai", dt.date(2026, 12, 2))
        assert ctx.now() == dt.datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    # a document issued "today" in Shanghai is dated 12-02
    c = sh.customers.add(name="上海大众")
    assert sh.documents.add(c.id, kind="quote", number="Q1", amount="1").issued_on == \
        dt.date(2026, 12, 2)
    # the fixed day of --today wins over the clock
    assert sh.using(today=dt.date(2026, 11, 22)).today == dt.date(2026, 11, 22)
    crm.close()


def test_now_is_moved_onto_a_fixed_today_in_the_tenants_zone(crm_db_url):
    crm = crmkit.open(crm_db_url, clock=fixed("2026-12-01T23:30:00+00:00"))
    crm.init()
    crm.tenants.add("sh", timezone="Asia/Shanghai")
    # local 07:30 on the fixed day 11-22 in Shanghai = 2026-11-21T23:30Z
    with crm.using(tenant="sh", today=dt.date(2026, 11, 22)).unit(write=False) as ctx:
        assert ctx.now() == dt.datetime(2026, 11, 21, 23, 30, tzinfo=UTC)
    crm.close()


def test_two_instances_keep_their_own_clocks(crm_db_url):
    a = crmkit.open(crm_db_url, clock=fixed("2026-01-01T00:00:00+00:00"))
    b = crmkit.open(crm_db_url, clock=fixed("2027-06-30T12:00:00+00:00"))
    a.init()
    assert (a.today, b.today) == (dt.date(2026, 1, 1), dt.date(2027, 6, 30))
    a.close()
    b.close()


def test_activity_at_with_offset_is_an_instant_listed_in_the_tenants_zone(crm, cli):
    assert cli("tenant", "update", "default", "--timezone", "Asia/Shanghai").exit_code == 0
    cid = crm.customers.add(name="Acme").id
    r = cli("activity", "add", cid, "--kind", "visit", "--subject", "回访", "--at",
            "2026-11-30T10:00+08:00", "--json")
    assert r.exit_code == 0, r
    # 10:00 in Shanghai is 02:00 UTC; JSON gives the instant in UTC with its offset
    assert r.json["occurred_at"] == "2026-11-30T02:00:00+00:00"
    # without an offset the time is the tenant's: 09:15 Shanghai = 01:15 UTC
    r2 = cli("activity", "add", cid, "--kind", "call", "--subject", "电话", "--at",
             "2026-11-30T09:15", "--json")
    assert r2.json["occurred_at"] == "2026-11-30T01:15:00+00:00"
    table = cli("activity", "list").stdout
    assert "2026-11-30 10:00" in table and "2026-11-30 09:15" in table
    assert "02:00" not in table and "01:15" not in table
    # an explicit UTC offset stays what it says
    r3 = cli("activity", "add", cid, "--kind", "note", "--subject", "x", "--at",
             "2026-11-30T10:00Z", "--json")
    assert r3.json["occurred_at"] == "2026-11-30T10:00:00+00:00"


def test_tenant_add_and_update_zone_and_locale(crm, cli):
    r = cli("tenant", "add", "sh", "--timezone", "Asia/Shanghai", "--locale", "zh_CN",
            "--json")
    assert r.exit_code == 0, r
    assert (r.json["timezone"], r.json["locale"], r.json["currency"]) == (
        "Asia/Shanghai", "zh_CN", "CNY")
    r = cli("tenant", "update", "sh", "--timezone", "Europe/Berlin", "--locale", "en",
            "--json")
    assert (r.json["timezone"], r.json["locale"]) == ("Europe/Berlin", "en")
    listed = {t["slug"]: (t["timezone"], t["locale"]) for t in
              cli("tenant", "list", "--json").json}
    assert listed == {"default": ("UTC", "en"), "sh": ("Europe/Berlin", "en")}
    feed = crm.using(tenant="sh").changes()
    assert [(c["table"], c["op"]) for c in feed if c["table"] == "tenant"] == [
        ("tenant", "insert"), ("tenant", "update")]
    assert feed[-1]["before"]["timezone"] == "Asia/Shanghai"
    assert feed[-1]["after"]["timezone"] == "Europe/Berlin"


@pytest.mark.parametrize("args,message", [
    (["--timezone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'; expected an IANA "
                                     "name such as Asia/Shanghai or UTC"),
    (["--timezone", "asia/shanghai"], "unknown time zone 'asia/shanghai'"),
    (["--timezone", "../../etc/passwd"], "unknown time zone '../../etc/passwd'"),
    (["--locale", "zh_TW"], "unknown locale 'zh_TW'; valid: en, zh_CN"),
    (["--locale", "chinese"], "unknown locale 'chinese'; valid: en, zh_CN"),
])
def test_bad_zone_or_locale_exits_1_and_changes_nothing(crm, cli, args, message):
    cli("tenant", "add", "sh")
    before = snapshot(crm)
    r = cli("tenant", "update", "sh", *args)
    assert r.exit_code == 1, r
    assert r.stderr.startswith(f"Error: {message}") and r.stderr.count("\n") == 1
    r = cli("tenant", "add", "other", *args)
    assert r.exit_code == 1 and r.stderr.startswith(f"Error: {message}")
    assert snapshot(crm) == before


def test_update_of_an_unknown_tenant_is_not_found(crm, cli):
    r = cli("tenant", "update", "nope", "--timezone", "UTC")
    assert r.exit_code == 1 and r.stderr == "Error: tenant 'nope' not found\n"


def test_parse_zone_refuses_what_is_not_a_zone_name():
    assert str(parse_zone("UTC")) == "UTC"
    for bad in ("", None, 8, "/etc/localtime", "Asia/"):
        with pytest.raises(ValidationError, match="unknown time zone"):
            parse_zone(bad)


def test_the_tenants_locale_is_the_operations_language(crm_db_url):
    from crmkit.i18n import current_locale

    crm = crmkit.open(crm_db_url)
    crm.init()
    crm.tenants.add("cn", locale="zh_CN")
    with crm.using(tenant="cn").unit(write=False):
        assert current_locale() == "zh_CN"
    with crm.unit(write=False):
        assert current_locale() == "en"
    assert current_locale() == "en"  # an embedding host's own context is untouched
    crm.close()


def test_csv_times_without_offset_and_the_change_feed_table_are_local(crm_factory, cli,
                                                                       tmp_path):
    crm = crm_factory(enable=("csv",))
    crm.tenants.update("default", timezone="Asia/Shanghai")
    crm.customers.add(name="Acme", external_id="A1")
    f = tmp_path / "acts.csv"
    f.write_text("customer_external_id,kind,subject,occurred_at\n"
                 "A1,visit,回访,2026-11-30 10:00\n", encoding="utf-8")
    assert cli("import", "activities", str(f)).exit_code == 0
    (a,) = crm.activities.list()
    # 10:00 in Shanghai = 02:00 UTC
    assert a.occurred_at == dt.datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    # the feed's JSON is UTC; its table shows Shanghai time (UTC + 8)
    feed = cli("changes", "--json").json
    last = dt.datetime.fromisoformat(feed[-1]["at"])
    assert last.utcoffset() == dt.timedelta(0)
    local = last.astimezone(parse_zone("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert local in cli("changes").stdout


def test_tenant_update_asks_permission_before_looking_at_the_values(crm, cli):
    # a sales user is refused as such, never told which value would have been wrong
    crm.users.add("li", role="sales")
    before = snapshot(crm)
    r = cli("tenant", "update", "default", "--timezone", "Mars/Olympus", user="li")
    assert r.exit_code == 1 and "may not tenants.manage" in r.stderr, r
    assert "Mars" not in r.stderr and snapshot(crm) == before
