"""Tests of crmkit-birthday, with crmkit.testing's fixtures (today is 2026-11-22, a
Sunday) and its conformance kit. Every test using ``crm``/``crm_factory``/``cli`` runs on
each backend of CRMKIT_TEST_DATABASES."""

import datetime as dt
from pathlib import Path

import crmkit_birthday
import pytest

import crmkit
from crmkit.testing import assert_conformant, emitted_events


def test_plugin_conforms():
    # tests=: every hook the plugin implements has a test named after it in this folder
    assert_conformant(crmkit_birthday, tests=Path(__file__).parent)


def test_crm_tables_come_from_the_migrations(cli, crm_factory):
    crm_factory()  # initialised: crmkit's core only, until a tenant enables the plugin
    branches = {r["branch"]: r for r in cli("db", "current", "--json").json}
    assert branches["birthday"]["current"] is None
    crm_factory(enable=("birthday",))  # first enabled: its branch is upgraded to head
    branches = {r["branch"]: r for r in cli("db", "current", "--json").json}
    assert branches["birthday"]["current"] == branches["birthday"]["head"] == "birthday_0001"


@pytest.fixture
def acme(crm_factory):
    crm = crm_factory(enable=("birthday",))
    c = crm.customers.add(name="上海大众", owner="admin")
    zhang = crm.contacts.add(c.id, "张伟")
    anna = crm.contacts.add(c.id, "Anna")
    bob = crm.contacts.add(c.id, "Bob")
    return crm, c, zhang, anna, bob


def _mine(crm, on=None):
    return [(r.due_on, r.subject) for r in crm.reminders.due(on) if r.plugin == "birthday"]


def test_crm_reminders_within_days_ahead(acme):
    crm, c, zhang, anna, bob = acme
    crmkit_birthday.set_birthday(crm, zhang.id, "1990-11-25")  # in 3 days: 2026 - 1990 = 36
    crmkit_birthday.set_birthday(crm, anna.id, "12-01")  # in 9 days: beyond the default 7
    crmkit_birthday.set_birthday(crm, bob.id, "1985-11-21")  # yesterday: next is in 2027
    assert _mine(crm) == [(dt.date(2026, 11, 25), "张伟 turns 36 (上海大众)")]
    crm.plugins.set("birthday", "days_ahead", 9)
    assert _mine(crm) == [(dt.date(2026, 11, 25), "张伟 turns 36 (上海大众)"),
                          (dt.date(2026, 12, 1), "Birthday of Anna (上海大众)")]


def test_crm_reminders_window_across_new_year_and_29_february(acme):
    crm, c, zhang, anna, bob = acme
    crmkit_birthday.set_birthday(crm, zhang.id, "2000-02-29")
    crmkit_birthday.set_birthday(crm, anna.id, "1999-01-02")
    # 2026-12-28 + 7 days reaches 2027-01-04: Anna's 2 January, she turns 2027 - 1999 = 28
    assert _mine(crm, dt.date(2026, 12, 28)) == [
        (dt.date(2027, 1, 2), "Anna turns 28 (上海大众)")]
    # 2027 is not a leap year: 29 February is celebrated on 28 February; 2027 - 2000 = 27
    assert _mine(crm, dt.date(2027, 2, 25)) == [
        (dt.date(2027, 2, 28), "张伟 turns 27 (上海大众)")]
    # 2028 is: on the day itself
    assert _mine(crm, dt.date(2028, 2, 29)) == [
        (dt.date(2028, 2, 29), "张伟 turns 28 (上海大众)")]


def test_crm_reminders_delivered_once_to_the_recorder(crm_factory, reminder_recorder):
    crm = crm_factory(enable=("birthday", "recorder"), plugins=[reminder_recorder])
    c = crm.customers.add(name="Acme", owner="admin")
    k = crm.contacts.add(c.id, "Zoe")
    crmkit_birthday.set_birthday(crm, k.id, "11-22")
    crm.reminders.send()
    crm.reminders.send()
    assert reminder_recorder.keys == [f"birthday:{k.id}:2026-11-22"]
    assert emitted_events(crm) == []  # the plugin emits no outbox events


def test_crm_reminders_skip_archived_customers_and_other_owners(acme, crm_factory):
    crm, c, zhang, anna, bob = acme
    crm.users.add("li", role="sales")
    crmkit_birthday.set_birthday(crm, zhang.id, "11-23")
    li = crm.using(user="li")
    assert _mine(li) == []  # li may not see admin's customer
    assert len(_mine(crm)) == 1
    crm.customers.archive(c.id)
    assert _mine(crm) == []


def test_crm_tables_one_birthday_per_contact_replaced_and_audited(acme):
    crm, c, zhang, anna, bob = acme
    crmkit_birthday.set_birthday(crm, zhang.id, "1990-11-25")
    crmkit_birthday.set_birthday(crm, zhang.id, "1991-11-26")
    rows = crmkit_birthday.list_birthdays(crm)
    assert [(r["contact"], r["birthday"], r["next"], r["in_days"], r["turns"]) for r in rows] \
        == [("张伟", "1991-11-26", "2026-11-26", 4, 35)]  # 26 - 22 = 4 days; 2026 - 1991 = 35
    ops = [(ch["table"], ch["op"]) for ch in crm.changes() if ch["table"] == "birthday"]
    assert ops == [("birthday", "insert"), ("birthday", "update")]


def test_crm_customer_sections_in_the_360_view(acme):
    crm, c, zhang, anna, bob = acme
    crmkit_birthday.set_birthday(crm, anna.id, "12-01")
    rows = crm.customers.view(c.id)["sections"]["birthday"]
    assert [(r["contact"], r["next"], r["in_days"]) for r in rows] == [
        ("Anna", "2026-12-01", 9)]  # 30 - 22 = 8 days left in November, + 1


def test_crm_cli_set_and_list(cli, crm_factory):
    crm = crm_factory(enable=("birthday",))
    c = crm.customers.add(name="Acme", owner="admin")
    k = crm.contacts.add(c.id, "Zoe")
    ok = cli("birthday", "set", str(k.id), "1990-11-25")
    assert ok.exit_code == 0, ok
    rows = cli("birthday", "list", "--json").json
    assert [(r["contact"], r["next"], r["turns"]) for r in rows] == [("Zoe", "2026-11-25", 36)]


def test_cli_bad_input_changes_nothing(cli, crm_factory):
    crm = crm_factory(enable=("birthday",))
    c = crm.customers.add(name="Acme", owner="admin")
    k = crm.contacts.add(c.id, "Zoe")
    before = crm.changes()
    bad = cli("birthday", "set", str(k.id), "1990-13-01")
    assert bad.exit_code == 1
    assert "invalid birthday '1990-13-01'" in bad.stderr
    missing = cli("birthday", "set", "999", "11-25")
    assert missing.exit_code == 1 and "contact 999 not found" in missing.stderr
    assert crm.changes() == before
    assert crmkit_birthday.list_birthdays(crm) == []


def test_cli_refused_when_not_enabled(cli, crm):
    result = cli("birthday", "list")
    assert result.exit_code == 1
    assert "crmkit plugins enable birthday" in result.stderr


def test_days_ahead_validated(crm_factory):
    crm = crm_factory(enable=("birthday",))
    with pytest.raises(crmkit.ValidationError, match="days_ahead"):
        crm.plugins.set("birthday", "days_ahead", 400)
    assert crm.plugins.settings("birthday").days_ahead == 7
