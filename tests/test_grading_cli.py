"""grading: the commands, their JSON, permissions and bad input (today 2026-11-22)."""

from __future__ import annotations

import pytest

SHOW_KEYS = {"customer_id", "customer", "owner", "recency_days", "frequency", "monetary",
             "r", "f", "m", "segment", "abc", "tier"}


@pytest.fixture
def shop(crm_factory):
    """big (900 on 2026-11-01), small (100 on 2025-12-01, owner li), idle (no purchase)."""
    crm = crm_factory(enable=["grading"])
    crm.users.add("li", role="sales")
    crm.users.add("mia", role="manager")
    big = crm.customers.add(name="大客户")
    small = crm.customers.add(name="small", owner="li")
    crm.customers.add(name="idle")
    crm.documents.add(big.id, kind="invoice", number="B1", amount="900",
                      issued_on="2026-11-01")
    crm.documents.add(small.id, kind="invoice", number="S1", amount="100",
                      issued_on="2025-12-01")
    return crm


def test_show_json_rows(shop, cli):
    r = cli("grading", "show", "--json")
    assert r.exit_code == 0, r
    rows = r.json
    assert all(set(row) == SHOW_KEYS for row in rows)
    # n = 2: big recency 21 (k=2 -> 5), small 356 (k=1 -> 3); f both 1 (k=2 -> 5);
    # m: small 100 (k=1 -> 3), big 900 (k=2 -> 5); ABC total 1000: big A, small prev 90%: B
    assert rows == [
        {"customer_id": 1, "customer": "大客户", "owner": "admin", "recency_days": 21,
         "frequency": 1, "monetary": "900.00", "r": 5, "f": 5, "m": 5,
         "segment": "champions", "abc": "A", "tier": "important"},
        {"customer_id": 2, "customer": "small", "owner": "li", "recency_days": 356,
         "frequency": 1, "monetary": "100.00", "r": 3, "f": 5, "m": 3,
         "segment": "loyal", "abc": "B", "tier": "general"},
        {"customer_id": 3, "customer": "idle", "owner": "admin", "recency_days": None,
         "frequency": 0, "monetary": "0.00", "r": None, "f": None, "m": None,
         "segment": "no_purchases", "abc": None, "tier": "general"},
    ]
    assert [x["customer"] for x in cli("grading", "show", "--segment", "loyal",
                                       "--json").json] == ["small"]
    assert [x["customer"] for x in cli("grading", "show", "--tier", "general",
                                       "--json").json] == ["small", "idle"]


def test_show_as_of_recomputes_from_the_data(shop, cli):
    # as of 2026-12-01, small's invoice of 2025-12-01 is 365 days old: out of the window
    rows = {x["customer"]: x for x in cli("grading", "show", "--as-of", "2026-12-01",
                                          "--json").json}
    assert (rows["small"]["segment"], rows["small"]["recency_days"]) == ("no_purchases", 365)
    assert rows["大客户"]["recency_days"] == 30
    # as of 2026-10-31 big has not bought yet
    rows = {x["customer"]: x for x in cli("grading", "show", "--as-of", "2026-10-31",
                                          "--json").json}
    assert rows["大客户"]["segment"] == "no_purchases" and rows["small"]["abc"] == "A"


def test_unknown_segment_or_tier_lists_valid_values(shop, cli):
    r = cli("grading", "show", "--segment", "vip")
    assert r.exit_code == 1
    assert "unknown segment 'vip'" in r.stderr and "needs_attention" in r.stderr
    r = cli("grading", "show", "--tier", "gold")
    assert r.exit_code == 1 and "special, important, general" in r.stderr
    r = cli("grading", "show", "--as-of", "2026-13-01")
    assert r.exit_code == 1 and "--as-of '2026-13-01'" in r.stderr


def test_run_prints_counts_and_stores(shop, cli):
    r = cli("grading", "run", "--json")
    assert r.exit_code == 0, r
    assert r.json == {"as_of": "2026-11-22", "customers": 3, "changed": 3, "lost": 0,
                      "segments": {"champions": 1, "loyal": 1, "potential": 0, "at_risk": 0,
                                   "hibernating": 0, "needs_attention": 0,
                                   "no_purchases": 1},
                      "tiers": {"special": 0, "important": 1, "general": 2}}
    r = cli("grading", "run")
    assert r.exit_code == 0, r
    assert "Graded 3 customers as of 2026-11-22: 0 changed, 0 newly lost." in r.stdout
    assert "champions" in r.stdout and "important" in r.stdout
    view = cli("customer", "show", "1", "--json").json["sections"]["grading"]
    assert view["segment"] == "champions" and view["monetary"] == "900.00"
    assert view["history"] == [{"as_of": "2026-11-22", "recency_days": 21, "frequency": 1,
                                "monetary": "900.00", "r": 5, "f": 5, "m": 5,
                                "segment": "champions", "abc": "A", "tier": "important"}]
    # as of 2026-12-01 small leaves the window; big stays champions/A/important (n = 1:
    # all its scores 5), so only small's grade changes
    cli("grading", "run", "--as-of", "2026-12-01")
    feed = [c for c in shop.changes() if c["table"] == "grading"]
    assert [(c["id"], c["op"]) for c in feed] == [(1, "insert"), (2, "insert"), (3, "insert"),
                                                  (2, "update")]
    assert (feed[-1]["before"]["segment"], feed[-1]["after"]["segment"]) == (
        "loyal", "no_purchases")


def test_run_needs_admin_or_manager(shop, cli):
    before = len(shop.changes())
    r = cli("grading", "run", user="li")
    assert r.exit_code == 1
    assert "user 'li' may not grading.run for the tenant" in r.stderr
    assert len(shop.changes()) == before
    assert cli("grading", "run", "--json", user="mia").json["changed"] == 3


def test_sales_user_sees_only_own_customers(shop, cli):
    rows = cli("grading", "show", "--json", user="li").json
    # same ranks as the admin sees (r 3, m 3, class B): computed over the whole tenant
    assert [(x["customer"], x["r"], x["m"], x["abc"]) for x in rows] == [("small", 3, 3, "B")]
    assert cli("customer", "show", "1", "--json", user="li").exit_code == 1


BAD_SETTINGS = [
    ("window_days", "0", "setting window_days must be a whole number from 1 to 36500"
                         ", got 0"),
    ("lost_after_days", "-5", "setting lost_after_days must be a whole number "
                              "from 1 to 36500, got -5"),
    ("repurchase_factor", "1", "setting repurchase_factor must be a finite number "
                               "greater than 1 and at most 1000, got 1"),
    ("value_kinds", '["invoice", "bogus"]',
     "setting value_kinds: unknown document kind 'bogus'"),
    ("value_kinds", "[]", "setting value_kinds must name at least one document "
                          "kind"),
    ("window_days", "soon", "setting window_days of grading must be a whole number, got "
                            "'soon'"),
]


def test_bad_settings_are_refused_and_nothing_written(shop, cli):
    before = (len(shop.changes()), shop.plugins.settings("grading"))
    for key, value, words in BAD_SETTINGS:
        r = cli("plugins", "set", "--", "grading", key, value)  # "--": -5 is not an option
        assert r.exit_code == 1, (key, value)
        assert words in r.stderr, r.stderr
        assert (len(shop.changes()), shop.plugins.settings("grading")) == before


def test_good_settings_are_taken(shop, cli):
    assert cli("plugins", "set", "grading", "window_days", "400").exit_code == 0
    assert cli("plugins", "set", "grading", "repurchase_factor", "2.5").exit_code == 0
    s = shop.plugins.settings("grading")
    assert (s.window_days, s.repurchase_factor, s.value_kinds, s.lost_after_days) == (
        400, 2.5, ("invoice",), 365)
    # with a 400-day window small's invoice of 2025-12-01 (356 days) stays in on 2026-12-01
    rows = {x["customer"]: x for x in cli("grading", "show", "--as-of", "2026-12-01",
                                          "--json").json}
    assert rows["small"]["frequency"] == 1


def test_commands_refuse_when_not_enabled(crm_factory, cli):
    crm_factory()
    r = cli("grading", "show")
    assert r.exit_code == 1 and "crmkit plugins enable grading" in r.stderr
