"""receivables on the command line: aging/open JSON, reminders and their delivery,
permissions, and bad input (exit 1, nothing written). Today is Sunday 2026-11-22."""

from __future__ import annotations

import csv
import datetime as dt

import pytest
from sqlalchemy import func, select

D = dt.date(2026, 11, 22)


def day(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


@pytest.fixture
def rcv(crm_factory):
    crm = crm_factory(enable=("receivables",))
    crm.users.add("li", role="sales")
    crm.users.add("wang", role="sales")
    return crm


def inv(crm, cid, number, amount, issued, due=None):
    crm.documents.add(cid, kind="invoice", number=number, amount=amount,
                      issued_on=day(issued), due_on=day(due) if due else None)


def counts(crm):
    d = crm.table("documents")
    with crm.unit(write=False) as ctx:
        return (ctx.conn.scalar(select(func.count()).select_from(d)),
                len(crm.changes(0)))


def test_aging_json_shape_exactly(rcv, cli):
    a = rcv.customers.add(name="上海大众", owner="li")
    b = rcv.customers.add(name="Northwind", owner="wang")
    inv(rcv, a.id, "INV-1", "1234.50", "2026-10-01", "2026-10-31")  # 22 days: 1-30
    inv(rcv, b.id, "INV-2", "99.00", "2026-11-20", "2026-12-20")  # not due
    rcv.documents.add(b.id, kind="payment", number="P-1", amount="150.00",
                      issued_on=day("2026-11-21"))  # 99 - 150 = -51 credit
    r = cli("receivables", "aging", "--json")
    assert r.exit_code == 0, r
    assert r.json == {
        "as_of": "2026-11-22", "basis": "due_date",
        "buckets": ["not_due", "1-30", "31-60", "61-90", "91-180", "180+"],
        "rows": [
            {"customer_id": a.id, "customer": "上海大众", "owner": "li", "total": "1234.50",
             "not_due": "0.00", "1-30": "1234.50", "31-60": "0.00", "61-90": "0.00",
             "91-180": "0.00", "180+": "0.00", "credit": "0.00"},
            {"customer_id": b.id, "customer": "Northwind", "owner": "wang", "total": "-51.00",
             "not_due": "0.00", "1-30": "0.00", "31-60": "0.00", "61-90": "0.00",
             "91-180": "0.00", "180+": "0.00", "credit": "-51.00"}],
        # 1234.50 - 51.00 = 1183.50
        "totals": {"total": "1183.50", "not_due": "0.00", "1-30": "1234.50", "31-60": "0.00",
                   "61-90": "0.00", "91-180": "0.00", "180+": "0.00", "credit": "-51.00"}}
    assert list(r.json["rows"][0]) == ["customer_id", "customer", "owner", "total",
                                       "not_due", "1-30", "31-60", "61-90", "91-180",
                                       "180+", "credit"]
    # --as-of before any invoice: nothing
    assert cli("receivables", "aging", "--as-of", "2026-09-01", "--json").json["rows"] == []


def test_aging_by_owner_and_csv(rcv, cli, tmp_path):
    a = rcv.customers.add(name="A", owner="li")
    b = rcv.customers.add(name="B", owner="li")
    c = rcv.customers.add(name="C", owner="wang")
    inv(rcv, a.id, "I-A", "100.00", "2026-11-01", "2026-11-30")
    inv(rcv, b.id, "I-B", "50.00", "2026-08-01", "2026-08-31")  # 83 days: 61-90
    inv(rcv, c.id, "I-C", "120.00", "2026-11-01", "2026-11-30")
    r = cli("receivables", "aging", "--by", "owner", "--json")
    assert r.exit_code == 0, r
    # li: 100 + 50 = 150 (not_due 100, 61-90 50); wang: 120
    assert [(x["owner"], x["total"], x["not_due"], x["61-90"]) for x in r.json["rows"]] == [
        ("li", "150.00", "100.00", "50.00"), ("wang", "120.00", "120.00", "0.00")]
    assert "customer_id" not in r.json["rows"][0]
    assert r.json["totals"]["total"] == "270.00"
    out = tmp_path / "aging.csv"
    r = cli("receivables", "aging", "--csv", str(out))
    assert r.exit_code == 0, r
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert rows[0] == ["customer_id", "customer", "owner", "total", "not_due", "1-30",
                       "31-60", "61-90", "91-180", "180+", "credit"]
    assert rows[1] == [str(c.id), "C", "wang", "120.00", "120.00", "0.00", "0.00", "0.00",
                       "0.00", "0.00", "0.00"]
    assert len(rows) == 4


def test_open_command(rcv, cli):
    a = rcv.customers.add(name="Open Co", owner="li")
    inv(rcv, a.id, "O-1", "300.00", "2026-09-01", "2026-09-30")  # 53 days: 31-60
    inv(rcv, a.id, "O-2", "200.00", "2026-11-20", "2026-11-25")  # not due
    rcv.documents.add(a.id, kind="payment", number="OP-1", amount="100.00",
                      issued_on=day("2026-11-01"), applies_to="O-1")
    r = cli("receivables", "open", "--customer", a.id, "--json")
    assert r.exit_code == 0, r
    assert r.json == [
        {"number": "O-1", "installment": 1, "installments": 1, "customer_id": a.id,
         "customer": "Open Co", "amount": "300.00",
         "outstanding": "200.00", "due_on": "2026-09-30", "days_overdue": 53,
         "bucket": "31-60"},
        {"number": "O-2", "installment": 1, "installments": 1, "customer_id": a.id,
         "customer": "Open Co", "amount": "200.00",
         "outstanding": "200.00", "due_on": "2026-11-25", "days_overdue": 0,
         "bucket": "not_due"}]
    # as of 10-15: O-2 not issued yet, payment not made: O-1 300, 15 days overdue
    r = cli("receivables", "open", "--as-of", "2026-10-15", "--json")
    assert [(x["number"], x["outstanding"], x["days_overdue"]) for x in r.json] == [
        ("O-1", "300.00", 15)]
    assert cli("receivables", "open").exit_code == 0


@pytest.mark.parametrize("on, expected", [
    # Saturday 11-21: today = 11-21, tomorrow = Sunday 11-22 (end of week), nothing else
    ("2026-11-21", {"D-1121": "due_today", "D-1122": "due_tomorrow", "D-1120": "overdue"}),
    # Sunday 11-22: today, tomorrow = Monday 11-23 (next week), nothing "this week"
    ("2026-11-22", {"D-1122": "due_today", "D-1123": "due_tomorrow", "D-1120": "overdue",
                    "D-1121": "overdue"}),
    # Wednesday 11-18: tomorrow 11-19, this week 11-20 .. Sunday 11-22
    ("2026-11-18", {"D-1119": "due_tomorrow", "D-1120": "due_this_week",
                    "D-1121": "due_this_week", "D-1122": "due_this_week"}),
])
def test_reminder_kinds_and_week_boundary(rcv, on, expected):
    c = rcv.customers.add(name="Week", owner="li")
    for d in ("2026-11-19", "2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23",
              "2026-11-24"):
        inv(rcv, c.id, f"D-{d[5:7]}{d[8:]}", "10.00", "2026-11-01", d)
    got = {r.document: r.kind for r in rcv.reminders.due(day(on)) if r.plugin == "receivables"}
    # on Saturday and Sunday 11-19 is overdue too
    if on != "2026-11-18":
        expected = {**expected, "D-1119": "overdue"}
    assert got == expected


def test_reminder_fields(rcv):
    c = rcv.customers.add(name="Fields", owner="li")
    inv(rcv, c.id, "F-1", "80.00", "2026-10-01", "2026-10-21")  # 32 days: level 2
    inv(rcv, c.id, "F-2", "70.00", "2026-11-01", "2026-11-23")
    rcv.documents.add(c.id, kind="payment", number="FP", amount="30.00",
                      issued_on=day("2026-11-01"))  # FIFO: F-1 80 -> 50
    rs = {r.document: r for r in rcv.reminders.due(D) if r.plugin == "receivables"}
    f1, f2 = rs["F-1"], rs["F-2"]
    assert (f1.key, f1.kind, f1.level, f1.days_overdue, str(f1.amount), f1.owner,
            f1.customer, f1.customer_id, f1.due_on) == (
        "receivables:overdue:F-1:L2", "overdue", 2, 32, "50.00", "li", "Fields", c.id,
        day("2026-10-21"))
    assert (f2.key, f2.kind, f2.level, f2.days_overdue, str(f2.amount)) == (
        "receivables:due_tomorrow:F-2:2026-11-23", "due_tomorrow", None, None, "70.00")


def test_send_once_and_again_when_climbing_a_level(rcv, cli):
    c = rcv.customers.add(name="Dunning", owner="li")
    inv(rcv, c.id, "L-1", "500.00", "2026-10-01", "2026-10-23")  # 30 days on 11-22: L1
    r = cli("reminders", "--on", "2026-11-22", "--send", "--json")
    assert r.exit_code == 0, r
    assert [x["key"] for x in r.json["delivered"]] == ["receivables:overdue:L-1:L1"]
    r = cli("reminders", "--on", "2026-11-22", "--send", "--json")
    assert (r.json["delivered"], r.json["already_delivered"]) == ([], 1)
    # 11-23: 31 days -> level 2, a new key: delivered again
    r = cli("reminders", "--on", "2026-11-23", "--send", "--json")
    assert [(x["key"], x["level"], x["days_overdue"]) for x in r.json["delivered"]] == [
        ("receivables:overdue:L-1:L2", 2, 31)]
    # 11-24: still level 2 -> nothing new
    r = cli("reminders", "--on", "2026-11-24", "--send")
    assert r.exit_code == 0 and "0 delivered, 1 already delivered" in r.stdout


def test_sales_user_sees_only_own_customers(rcv, cli):
    mine = rcv.customers.add(name="Li's", owner="li")
    theirs = rcv.customers.add(name="Wang's", owner="wang")
    inv(rcv, mine.id, "M-1", "10.00", "2026-10-01", "2026-10-10")
    inv(rcv, theirs.id, "T-1", "20.00", "2026-10-01", "2026-10-10")
    r = cli("receivables", "aging", "--json", user="li")
    assert [x["customer_id"] for x in r.json["rows"]] == [mine.id]
    assert r.json["totals"]["total"] == "10.00"
    assert [x["number"] for x in cli("receivables", "open", "--json", user="li").json] == ["M-1"]
    r = cli("receivables", "open", "--customer", theirs.id, "--json", user="li")
    assert r.exit_code == 1 and "Error:" in r.stderr
    r = cli("reminders", "--json", user="li")
    assert [x["document"] for x in r.json if x["plugin"] == "receivables"] == ["M-1"]
    admin = cli("receivables", "aging", "--json").json
    assert [x["customer_id"] for x in admin["rows"]] == [theirs.id, mine.id]


def test_customer_show_has_the_section(rcv, cli):
    c = rcv.customers.add(name="Shown", owner="li")
    inv(rcv, c.id, "S-1", "100.00", "2026-10-01", "2026-10-12")  # 41 days: 31-60
    r = cli("customer", "show", c.id, "--json")
    data = r.json["sections"]["receivables"]
    assert (data["outstanding"], data["overdue"], data["oldest_overdue_days"],
            data["buckets"]["31-60"]) == ("100.00", "100.00", 41, "100.00")
    # as of 10-12 (due that day): nothing overdue
    r = cli("customer", "show", c.id, "--on", "2026-10-12", "--json")
    assert r.json["sections"]["receivables"]["oldest_overdue_days"] is None


@pytest.mark.parametrize("args, message", [
    (("receivables", "aging", "--by", "region"), "unknown --by value 'region'"),
    (("receivables", "aging", "--as-of", "2026-13-01"), "invalid --as-of '2026-13-01'"),
    (("receivables", "open", "--customer", "999"), "999"),
    (("plugins", "set", "receivables", "aging_ranges", "[30,20]"), "aging_ranges"),
    (("plugins", "set", "receivables", "aging_basis", "due"), "aging_basis"),
])
def test_cli_errors(rcv, cli, args, message):
    before = counts(rcv)
    r = cli(*args)
    assert r.exit_code == 1, r
    assert message in r.stderr and "Traceback" not in r.stderr
    assert counts(rcv) == before


@pytest.mark.parametrize("args, message", [
    (("--kind", "payment", "--number", "P-9", "--amount", "10", "--applies-to", "NOPE"),
     "unknown invoice 'NOPE'"),
    (("--kind", "credit_note", "--number", "CN-9", "--amount", "100.01",
      "--applies-to", "I-9"), "larger than invoice 'I-9'"),
    (("--kind", "invoice", "--number", "I-10", "--amount", "10", "--issued", "2026-11-10",
      "--due", "2026-11-09"), "before the issue date"),
])
def test_bad_documents_are_refused(rcv, cli, args, message):
    c = rcv.customers.add(name="Bad", owner="li")
    inv(rcv, c.id, "I-9", "100.00", "2026-11-01", "2026-11-30")
    before = counts(rcv)
    r = cli("doc", "add", c.id, *args)
    assert r.exit_code == 1, r
    assert message in r.stderr
    assert counts(rcv) == before


def test_commands_refuse_when_not_enabled(crm, cli):
    r = cli("receivables", "aging")
    assert r.exit_code == 1 and "crmkit plugins enable receivables" in r.stderr


def test_concurrent_sends_deliver_each_key_once(rcv, crm_factory):
    import threading

    c = rcv.customers.add(name="Race", owner="li")
    for n in range(5):
        inv(rcv, c.id, f"R-{n}", "10.00", "2026-10-01", f"2026-10-0{n + 1}")
    senders = [crm_factory(init=False) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list = []

    def send(crm):
        barrier.wait()
        results.append(crm.reminders.send(D))

    threads = [threading.Thread(target=send, args=(s,)) for s in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = [r.key for delivered, _ in results for r in delivered]
    # 5 overdue invoices (50-52 days: level 2), each delivered by exactly one sender
    assert sorted(keys) == [f"receivables:overdue:R-{n}:L2" for n in range(5)]
    assert sum(already for _, already in results) == 5
