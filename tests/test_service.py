"""Plugin ``service``: cases, SLA deadlines in the tenant's zone, reopen, the solution
base, stats with hand-computed medians and shares, reminders, contract renewals, the
360° section and permissions, on every backend of ``CRMKIT_TEST_DATABASES``.

Today is 2026-11-22. Default SLA hours: urgent 1/8, high 4/24, normal 8/72, low 24/168.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import crmkit_service as svc
import pytest
from sqlalchemy import func, select, text

import crmkit
from crmkit.testing import assert_conformant, emitted_events

D = dt.date
UTC = dt.UTC


def at(s: str) -> dt.datetime:
    """An instant written in UTC."""
    return dt.datetime.fromisoformat(s).replace(tzinfo=UTC)


@pytest.fixture
def crm(crm_factory):
    crm = crm_factory(enable=("service",))
    crm.users.add("li", role="sales")
    crm.users.add("wang", role="sales")
    return crm


def test_plugin_conforms():
    assert_conformant(svc, tests=Path(__file__).parent)


def test_crm_tables_define_cases_and_replies(crm):
    assert {"tenant_id", "resolution_seconds", "search_text"} <= set(
        crm.table("service_cases").c.keys())
    assert "case_id" in crm.table("service_replies").c


# --- SLA deadlines ---------------------------------------------------------------------


def test_sla_met_and_missed_at_the_exact_deadline_minute(crm):
    c = crm.customers.add(name="上海大众", owner="li")
    opened = "2026-11-02T09:00+00:00"
    # normal: response due 09:00 + 8 h = 17:00; resolution due 09:00 + 72 h = 11-05 09:00
    a = svc.add(crm, c.id, subject="A", at=opened)
    b = svc.add(crm, c.id, subject="B", at=opened)
    assert (a.response_due, a.resolution_due) == (at("2026-11-02T17:00"),
                                                  at("2026-11-05T09:00"))
    svc.reply(crm, a.id, body="on it", at="2026-11-02T17:00+00:00")   # at the minute: met
    svc.reply(crm, b.id, body="on it", at="2026-11-02T17:01+00:00")   # a minute late
    svc.resolve(crm, a.id, solution="fixed", at="2026-11-05T09:00+00:00")  # met
    svc.resolve(crm, b.id, solution="fixed", at="2026-11-05T09:01+00:00")  # missed
    (row,) = svc.stats(crm, D(2026, 11, 1), D(2026, 11, 30))
    # 1 of 2 responses met, 1 of 2 resolutions met; resolution hours 72 and 72 + 1/60:
    # median (72 + 72.0167) / 2 = 72.008 -> 72.0
    assert row == {"owner": "li", "opened": 2, "resolved": 2, "open": 0,
                   "median_resolution_hours": 72.0, "response_met": 0.5,
                   "resolution_met": 0.5, "avg_rating": None}


def test_priority_sets_the_deadlines_and_settings_change_them(crm):
    c = crm.customers.add(name="Acme", owner="li")
    u = svc.add(crm, c.id, subject="down", priority="urgent", at="2026-11-22T10:00+00:00")
    assert (u.response_due, u.resolution_due) == (at("2026-11-22T11:00"),
                                                  at("2026-11-22T18:00"))
    crm.plugins.set("service", "sla_hours", {"low": [48, 240]})  # the others keep defaults
    low = svc.add(crm, c.id, subject="later", priority="low", at="2026-11-22T10:00+00:00")
    # 10:00 + 48 h = 11-24 10:00; + 240 h = 10 days = 12-02 10:00
    assert (low.response_due, low.resolution_due) == (at("2026-11-24T10:00"),
                                                      at("2026-12-02T10:00"))
    assert crm.plugins.settings("service").sla_hours["urgent"] == [1, 8]


def _shanghai(crm, cli):
    """The tenant's zone: ``tenant update --timezone`` once the core has the command,
    else the tenant's ``timezone`` column (in the core since 0.2) written directly."""
    r = cli("tenant", "update", "default", "--timezone", "Asia/Shanghai")
    if r.exit_code != 0:
        t = crm.table("tenants")
        with crm.engine.begin() as conn:
            conn.execute(t.update().where(t.c.slug == "default").values(
                timezone="Asia/Shanghai"))


def test_a_shanghai_deadline_that_crosses_midnight(crm, cli):
    _shanghai(crm, cli)
    c = crm.customers.add(name="上汽通用", owner="li")
    # 20:00 in Shanghai (UTC+8) is 12:00 UTC; urgent: response 21:00 local (13:00 UTC),
    # resolution 20:00 + 8 h = 04:00 local on 11-23 (20:00 UTC on 11-22)
    r = cli("case", "add", c.id, "--subject", "空调不制冷", "--priority", "urgent", "--at",
            "2026-11-22T20:00", "--json")
    assert r.exit_code == 0, r.stderr
    assert (r.json["opened_at"], r.json["response_due"], r.json["resolution_due"]) == (
        "2026-11-22T12:00:00+00:00", "2026-11-22T13:00:00+00:00",
        "2026-11-22T20:00:00+00:00")
    shown = cli("case", "list", env={"COLUMNS": "200"})  # local time: 20:00, due 04:00
    assert "2026-11-22 20:00" in shown.stdout and "2026-11-23 04:00" in shown.stdout

    def due(on):  # through the command line, which reads the tenant (and its zone) anew
        rows = cli("reminders", "--on", on.isoformat(), "--json").json
        return sorted((x["kind"], D.fromisoformat(x["due_on"]), x["days_overdue"])
                      for x in rows if x["plugin"] == "service")

    # on 11-22 (Shanghai) only the response is overdue: the resolution deadline falls on
    # 11-23 local, although its UTC date is 11-22
    assert due(D(2026, 11, 22)) == [("case_response_overdue", D(2026, 11, 22), 0)]
    assert due(D(2026, 11, 23)) == [("case_resolution_overdue", D(2026, 11, 23), 0),
                                    ("case_response_overdue", D(2026, 11, 22), 1)]
    # a reply at 23:30 local on 11-22 (15:30 UTC) counts for 11-22 in Shanghai: it was
    # late (due 21:00 local), and it is recorded before the end of the day
    assert cli("case", "reply", r.json["id"], "--body", "已派工程师", "--at",
               "2026-11-22T23:30").exit_code == 0
    (row,) = cli("case", "stats", "--from", "2026-11-22", "--to", "2026-11-22", "--json").json
    # the resolution deadline (04:00 on 11-23) has not passed by the end of 11-22: none
    assert (row["response_met"], row["resolution_met"]) == (0.0, None)
    assert due(D(2026, 11, 23)) == [("case_resolution_overdue", D(2026, 11, 23), 0)]


# --- the life of a case ----------------------------------------------------------------


def test_add_reply_resolve_close_with_events_audit_and_timeline(crm, cli):
    c = crm.customers.add(name="上海大众", owner="li")
    r = cli("case", "add", c.id, "--subject", "打印机卡纸", "--body", "型号 LJ-2000",
            "--priority", "high", "--channel", "email", "--product", "LJ-2000", "--at",
            "2026-11-21T08:00")
    assert r.exit_code == 0 and r.stdout.strip().isdigit()
    cid = int(r.stdout)
    assert cli("case", "reply", cid, "--body", "请提供照片", "--at", "2026-11-21T09:00"
               ).exit_code == 0
    assert cli("case", "reply", cid, "--body", "收到照片", "--at", "2026-11-21T10:00"
               ).exit_code == 0
    assert cli("case", "resolve", cid, "--solution", "更换搓纸轮", "--at",
               "2026-11-21T12:30").exit_code == 0
    shown = cli("case", "close", cid, "--rating", "4", "--json").json
    assert {k: shown[k] for k in ("customer", "owner", "status", "priority", "channel",
                                  "product", "first_response_at", "resolved_at",
                                  "solution", "rating")} == {
        "customer": "上海大众", "owner": "li", "status": "closed", "priority": "high",
        "channel": "email", "product": "LJ-2000",
        "first_response_at": "2026-11-21T09:00:00+00:00",  # the first reply, not the second
        "resolved_at": "2026-11-21T12:30:00+00:00", "solution": "更换搓纸轮", "rating": 4}
    assert list(shown) == list(svc.cases.FIELDS)
    full = cli("case", "show", cid, "--json").json
    assert [x["body"] for x in full["replies"]] == ["请提供照片", "收到照片"]
    # the replies are e-mails on the customer's timeline
    acts = crm.activities.list(customer_id=c.id)
    assert sorted((a.kind, a.body, a.occurred_at, a.extra["service"]["case_id"])
                  for a in acts) == [
        ("email", "收到照片", at("2026-11-21T10:00"), cid),
        ("email", "请提供照片", at("2026-11-21T09:00"), cid)]
    assert [e["event"] for e in emitted_events(crm) if e["event"].startswith("case.")] == [
        "case.opened", "case.replied", "case.replied", "case.resolved", "case.closed"]
    feed = [(x["table"], x["op"]) for x in crm.changes() if x["table"].startswith("case")]
    assert feed == [("case", "insert"), ("case_reply", "insert"), ("case", "update"),
                    ("case_reply", "insert"), ("case", "update"), ("case", "update")]


def test_a_case_reopened_loses_its_resolution_and_leaves_the_solution_base(crm):
    c = crm.customers.add(name="Acme", owner="li")
    k = svc.add(crm, c.id, subject="退货申请", at="2026-11-20T08:00+00:00")
    svc.resolve(crm, k.id, solution="已退款", at="2026-11-20T10:00+00:00")
    svc.close(crm, k.id, rating=2, at="2026-11-20T11:00+00:00")
    assert [x.id for x in svc.search(crm, "退货")[0]] == [k.id]
    again = svc.reopen(crm, k.id)
    assert (again.status, again.solution, again.resolved_at, again.closed_at,
            again.rating) == ("open", None, None, None, None)
    assert again.response_due == k.response_due  # the deadlines stay
    assert svc.search(crm, "退货") == ([], 0)
    (row,) = svc.stats(crm, D(2026, 11, 1), D(2026, 11, 22))
    # open again; resolution due 11-23 08:00 has not passed on 11-22: not counted
    assert (row["resolved"], row["open"], row["median_resolution_hours"],
            row["resolution_met"], row["avg_rating"]) == (0, 1, None, None, None)
    if crm.engine.dialect.name == "sqlite":  # the bigram index forgot it
        fts = crm.table("service_cases").name.replace("service_cases", "service_case_fts")
        with crm.engine.connect() as conn:  # 退货 is the bigram token 9000g8d27
            assert conn.execute(text(f"SELECT count(*) FROM \"{fts}\" WHERE \"{fts}\" "
                                     "MATCH '\"9000g8d27\"'")).scalar() == 0
    svc.resolve(crm, k.id, solution="换货处理", at="2026-11-22T08:00+00:00")
    (row,) = svc.stats(crm, D(2026, 11, 1), D(2026, 11, 22))
    # resolved 48 h after opening, within 72 h
    assert (row["resolved"], row["median_resolution_hours"], row["resolution_met"]) == (
        1, 48.0, 1.0)
    assert [x.solution for x in svc.search(crm, "换货")[0]] == ["换货处理"]
    assert [e["event"] for e in emitted_events(crm, "case.reopened")] == ["case.reopened"]


def test_a_change_checked_against_a_stale_status_is_refused(crm, monkeypatch):
    # two clerks resolve the same case at once: the second read "open" before the first
    # committed; its update (WHERE status = 'open') finds nothing and is refused
    from crmkit_service import cases

    c = crm.customers.add(name="Acme", owner="li")
    k = svc.add(crm, c.id, subject="x", at="2026-11-20T08:00+00:00")
    stale = cases.load
    svc.resolve(crm, k.id, solution="first", at="2026-11-20T09:00+00:00")
    monkeypatch.setattr(cases, "load", lambda ctx, v: k if v == k.id else stale(ctx, v))
    before = crm.changes()
    with pytest.raises(crmkit.ValidationError, match="changed by someone else"):
        svc.resolve(crm, k.id, solution="second", at="2026-11-20T10:00+00:00")
    monkeypatch.undo()
    assert crm.changes() == before
    assert svc.show(crm, k.id)["solution"] == "first"


# --- the solution base -----------------------------------------------------------------


def test_search_finds_a_two_character_chinese_term_inside_a_subject(crm, cli):
    c = crm.customers.add(name="上海大众", owner="li")
    hit = svc.add(crm, c.id, subject="客户要求退货并退款", at="2026-11-10T08:00+00:00")
    svc.resolve(crm, hit.id, solution="三天内退款", at="2026-11-10T09:00+00:00")
    late = svc.add(crm, c.id, subject="Printer JAM", at="2026-11-12T08:00+00:00")
    svc.resolve(crm, late.id, solution="Replaced the roller; 同意退货", at="2026-11-12T09:00+00:00")
    still_open = svc.add(crm, c.id, subject="又要退货", at="2026-11-13T08:00+00:00")
    other = svc.add(crm, c.id, subject="发票抬头错误", at="2026-11-09T08:00+00:00")
    svc.close(crm, other.id)
    r = cli("case", "search", "退货", "--json")
    # resolved or closed only, newest first by opened_at; the open case is not there
    assert [x["id"] for x in r.json] == [late.id, hit.id]
    assert still_open.id not in [x["id"] for x in r.json]
    assert [x["id"] for x in cli("case", "search", "printer jam", "--json").json] == [late.id]
    assert [x["id"] for x in cli("case", "search", "ROLLER", "--json").json] == [late.id]
    assert [x["id"] for x in cli("case", "search", "退", "--json").json] == [late.id, hit.id]
    assert [x["id"] for x in cli("case", "search", "抬头", "--json").json] == [other.id]
    assert cli("case", "search", "退款退货", "--json").json == []  # bigrams, not in order
    assert cli("case", "search", "%", "--json").json == []          # no wildcard
    table = cli("case", "search", "退货")
    assert table.exit_code == 0 and "客户要求退货并退款" in table.stdout


def test_search_agrees_with_python_substring_search(crm):
    """Random texts and terms over a small alphabet (Chinese, Latin of both cases, LIKE's
    wildcards, a backslash, a space): the cases found are exactly those whose lower-cased
    subject or solution holds the lower-cased term, with or without the index."""
    rng = random.Random(2026)
    alphabet = "退货款要求Ab_%\\ "
    c = crm.customers.add(name="Acme", owner="li")
    texts = {}
    for _ in range(25):
        subject = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))).strip() or "x"
        solution = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))).strip() or "y"
        k = svc.add(crm, c.id, subject=subject, at="2026-11-01T08:00+00:00")
        svc.resolve(crm, k.id, solution=solution, at="2026-11-01T09:00+00:00")
        texts[k.id] = (subject.lower(), solution.lower())
    for _ in range(120):
        term = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 3))).strip()
        if not term:
            continue
        t = term.lower()
        expected = {i for i, (a, b) in texts.items() if t in a or t in b}
        found, total = svc.search(crm, term)
        assert ({k.id for k in found}, total) == (expected, len(expected)), term


@pytest.mark.backends("sqlite")  # the bigram index is SQLite's
def test_search_uses_the_bigram_index_on_sqlite(crm):
    c = crm.customers.add(name="Acme", owner="li")
    k = svc.add(crm, c.id, subject="客户要求退货并退款")
    svc.resolve(crm, k.id, solution="ok")
    fts = crm.table("service_cases").name.replace("service_cases", "service_case_fts")
    with crm.engine.connect() as conn:
        # 退货 is U+9000 U+8D27: one bigram token
        ids = conn.execute(text(f"SELECT rowid FROM \"{fts}\" WHERE \"{fts}\" MATCH "
                                "'\"9000g8d27\"'")).scalars().all()
    assert ids == [k.id]


# --- stats -----------------------------------------------------------------------------


def _case(crm, customer, owner, *, reply=None, resolve=None, rating=None,
          opened="2026-11-02T08:00"):
    """A normal case opened at ``opened`` (UTC) with a reply and resolution ``reply``
    and ``resolve`` hours later."""
    t0 = at(opened)
    k = svc.add(crm, customer, subject="s", owner=owner, at=t0)
    if reply is not None:
        svc.reply(crm, k.id, body="r", at=t0 + dt.timedelta(hours=reply))
    if resolve is not None:
        svc.resolve(crm, k.id, solution="x", at=t0 + dt.timedelta(hours=resolve))
    if rating is not None:
        svc.close(crm, k.id, rating=rating, at=t0 + dt.timedelta(hours=resolve + 1))
    return k


def _worked_stats_cases(crm):
    """li's and wang's cases of November (and one of October) with the hand-computed
    figures of the tests below."""
    c = crm.customers.add(name="上海大众", owner="li")
    # normal priority: response within 8 h, resolution within 72 h
    _case(crm, c.id, "li", reply=1, resolve=2, rating=5)       # met, met, 2 h
    _case(crm, c.id, "li", reply=4, resolve=5, rating=4)       # met, met, 5 h
    _case(crm, c.id, "li", reply=9, resolve=30)                # missed, met, 30 h
    _case(crm, c.id, "li", reply=1, resolve=2, opened="2026-10-31T08:00")  # not in period
    _case(crm, c.id, "wang", reply=0.5, resolve=1, rating=3)   # met, met, 1 h
    _case(crm, c.id, "wang", reply=2, resolve=3, rating=4)     # met, met, 3 h
    _case(crm, c.id, "wang", resolve=4, rating=4)              # no reply: missed; 4 h
    _case(crm, c.id, "wang", reply=10, resolve=80)             # missed, missed, 80 h
    # open, no reply: response due 11-30 04:00 passed by the end of 11-30 (missed);
    # resolution due 12-02 20:00 not passed: not counted
    _case(crm, c.id, "wang", opened="2026-11-29T20:00")


def test_stats_with_hand_computed_medians_and_shares(crm, cli):
    _worked_stats_cases(crm)
    rows = cli("case", "stats", "--from", "2026-11-01", "--to", "2026-11-30", "--json").json
    assert rows == [
        # li: median of 2, 5, 30 = 5; responses 2 of 3 = 0.6667; resolutions 3 of 3;
        # ratings (5 + 4) / 2 = 4.5
        {"owner": "li", "opened": 3, "resolved": 3, "open": 0,
         "median_resolution_hours": 5.0, "response_met": 0.6667, "resolution_met": 1.0,
         "avg_rating": 4.5},
        # wang: median of 1, 3, 4, 80 = (3 + 4) / 2 = 3.5; responses 2 of 5 = 0.4;
        # resolutions 3 of 4 = 0.75; ratings (3 + 4 + 4) / 3 = 3.6667 -> 3.67
        {"owner": "wang", "opened": 5, "resolved": 4, "open": 1,
         "median_resolution_hours": 3.5, "response_met": 0.4, "resolution_met": 0.75,
         "avg_rating": 3.67},
    ]
    # as of 11-02 (the end of that day, UTC): li's third case was replied at 17:00 that
    # day (late) and resolved only on 11-03 14:00: median of 2 and 5 = 3.5; responses
    # 2 of 3; resolutions 2 of 2 (its own deadline, 11-05, has not passed)
    li = svc.stats(crm, D(2026, 11, 2), D(2026, 11, 2))[0]
    assert (li["opened"], li["resolved"], li["open"], li["median_resolution_hours"],
            li["response_met"], li["resolution_met"]) == (3, 2, 1, 3.5, 0.6667, 1.0)
    table = cli("case", "stats", "--from", "2026-11-01", "--to", "2026-11-30")
    assert table.exit_code == 0 and "wang" in table.stdout and "66.7%" in table.stdout


def test_crm_report_sections_case_sla_overall_and_by_owner(crm):
    from crmkit.report import build

    _worked_stats_cases(crm)
    report = build(crm, D(2026, 11, 30))
    (sec,) = [x for x in report.sections if x.plugin == "service"]
    # the 30 days ending 11-30 are 11-01..11-30: li's 3 and wang's 5 cases. Responses
    # met 2 + 2 of 3 + 5 = 4 / 8 = 50.0%; resolutions 3 + 3 of 3 + 4 = 6 / 7 = 85.7%;
    # resolution hours 1, 2, 3, 4, 5, 30, 80: median 4.0
    assert dict(sec.figures) == {"opened": 8, "open": 1, "response met": "50.0%",
                                 "resolution met": "85.7%", "median resolution hours": 4.0}
    assert [r[0] for r in sec.tables[0].rows] == ["li", "wang"]
    assert sec.charts[0].series[0] == ("response met", (66.67, 40.0))


def test_the_html_report_draws_the_case_sla_section(crm, cli, tmp_path):
    _worked_stats_cases(crm)
    out = tmp_path / "r.html"
    r = cli("report", "--out", str(out), "--as-of", "2026-11-30")
    assert r.exit_code == 0, r.stderr
    html = out.read_text(encoding="utf-8")
    assert "Service: case SLA" in html and "85.7%" in html and "<svg" in html


def test_median_in_sql_equals_pythons_median(crm):
    rng = random.Random(15)
    c = crm.customers.add(name="Acme", owner="li")
    hours: dict[str, list[int]] = {"li": [], "wang": [], "admin": []}
    for owner, n in (("li", 7), ("wang", 6), ("admin", 1)):
        for _ in range(n):
            h = rng.randint(1, 200)
            hours[owner].append(h)
            _case(crm, c.id, owner, resolve=h, opened="2026-11-01T00:00")
    rows = {r["owner"]: r["median_resolution_hours"]
            for r in svc.stats(crm, D(2026, 11, 1), D(2026, 11, 30))}
    expected = {o: float(Decimal(str(statistics.median(v))).quantize(
        Decimal("0.1"), ROUND_HALF_UP)) for o, v in hours.items()}
    assert rows == expected


def test_stats_of_nothing_and_a_bad_period(crm, cli):
    assert cli("case", "stats", "--json").json == []
    r = cli("case", "stats", "--from", "2026-11-30", "--to", "2026-11-01")
    assert r.exit_code == 1 and "--from 2026-11-30 is after --to 2026-11-01" in r.stderr


# --- reminders and contracts -----------------------------------------------------------


def test_crm_reminders_case_deadlines_delivered_once(crm_factory, reminder_recorder):
    crm = crm_factory(enable=("service", "recorder"), plugins=[reminder_recorder])
    crm.users.add("li", role="sales")
    c = crm.customers.add(name="Acme", owner="li")
    k = svc.add(crm, c.id, subject="no answer", priority="urgent",
                at="2026-11-21T10:00+00:00")
    replied = svc.add(crm, c.id, subject="answered", priority="urgent",
                      at="2026-11-21T10:00+00:00")
    svc.reply(crm, replied.id, body="hi", at="2026-11-21T10:30+00:00")
    done = svc.add(crm, c.id, subject="done", priority="urgent", at="2026-11-21T10:00+00:00")
    svc.resolve(crm, done.id, solution="ok", at="2026-11-21T10:30+00:00")
    crm.reminders.send(D(2026, 11, 22))
    crm.reminders.send(D(2026, 11, 22))
    assert sorted(reminder_recorder.keys) == sorted([
        f"service:case_response_overdue:{k.id}", f"service:case_resolution_overdue:{k.id}",
        f"service:case_resolution_overdue:{replied.id}"])
    first = next(x for x in reminder_recorder.delivered if x.kind == "case_response_overdue")
    # due 11:00 on 11-21: one day overdue on 11-22
    assert (first.owner, first.customer, first.due_on, first.days_overdue) == (
        "li", "Acme", D(2026, 11, 21), 1)
    assert "no answer" in first.subject


def test_reminders_send_prints_each_case_reminder_once_on_the_terminal(crm, cli):
    c = crm.customers.add(name="Acme", owner="li")
    svc.add(crm, c.id, subject="无人应答", priority="urgent", at="2026-11-22T01:00+00:00")
    # urgent: response due 02:00, resolution due 09:00 on 11-22 (UTC): both due today
    first = cli("reminders", "--send")
    assert first.exit_code == 0
    assert first.stdout.count("[service/case_response_overdue] @li") == 1
    assert first.stdout.count("[service/case_resolution_overdue] @li") == 1
    again = cli("reminders", "--send", "--json").json
    assert again["delivered"] == [] and again["already_delivered"] >= 2


def test_crm_reminders_a_contract_renewed_and_one_not_renewed(crm_factory, reminder_recorder):
    crm = crm_factory(enable=("service", "recorder"), plugins=[reminder_recorder])
    a = crm.customers.add(name="Renewed Co", owner="admin")
    b = crm.customers.add(name="Lapsing Co", owner="admin")
    crm.documents.add(a.id, kind="contract", number="C-1", amount="1000",
                      issued_on=D(2025, 12, 1), due_on=D(2026, 12, 10))
    crm.documents.add(a.id, kind="contract", number="C-2", amount="1200",
                      issued_on=D(2026, 11, 15), due_on=D(2027, 12, 10))
    crm.documents.add(b.id, kind="contract", number="C-3", amount="800",
                      issued_on=D(2025, 12, 20), due_on=D(2026, 12, 20))
    crm.documents.add(b.id, kind="contract", number="C-4", amount="800", status="void",
                      issued_on=D(2026, 11, 1), due_on=D(2027, 12, 20))  # void: no renewal

    def expiring(on):
        return [r.document for r in crm.reminders.due(on) if r.kind == "contract_expiring"]

    # C-1 ends 12-10: from 12-10 - 30 days = 11-10; on 11-14 C-2 (issued 11-15) is not
    # issued yet, so C-1 reminds; from 11-15 C-2 renews it
    assert expiring(D(2026, 11, 9)) == []
    assert expiring(D(2026, 11, 14)) == ["C-1"]
    assert expiring(D(2026, 11, 15)) == []
    # C-3 ends 12-20: from 11-20 to 12-20 inclusive; the void C-4 does not renew it
    assert expiring(D(2026, 11, 19)) == []
    assert expiring(D(2026, 11, 20)) == ["C-3"]
    assert expiring(D(2026, 12, 20)) == ["C-3"]
    assert expiring(D(2026, 12, 21)) == []
    for day in (20, 21, 22):
        crm.reminders.send(D(2026, 11, day))
    assert reminder_recorder.keys == [f"service:contract_expiring:{3}"]
    r = reminder_recorder.delivered[0]
    assert (r.customer, r.due_on, r.amount, r.document) == (
        "Lapsing Co", D(2026, 12, 20), Decimal("800.00"), "C-3")


# --- the 360° section ------------------------------------------------------------------


def test_crm_customer_sections_service_history(crm, cli):
    c = crm.customers.add(name="联想客户", owner="li")
    for i in range(12):
        k = svc.add(crm, c.id, subject=f"case {i}", at=f"2026-11-{i + 1:02d}T08:00+00:00")
        if i < 10:
            svc.resolve(crm, k.id, solution=f"fix {i}", at=f"2026-11-{i + 1:02d}T09:00+00:00")
    crm.documents.add(c.id, kind="order", number="O-1", issued_on=D(2025, 3, 1),
                      lines=[("ThinkPad", "2", "8000"), ("Dock", "1", "900")])
    crm.documents.add(c.id, kind="invoice", number="I-1", issued_on=D(2026, 6, 1),
                      lines=[("ThinkPad", "3", "7900")])
    crm.documents.add(c.id, kind="quote", number="Q-1", issued_on=D(2026, 7, 1),
                      lines=[("ThinkPad", "100", "7000")])                # a quote: no
    crm.documents.add(c.id, kind="invoice", number="I-2", issued_on=D(2026, 8, 1),
                      status="void", lines=[("Mouse", "1", "50")])          # void: no
    crm.documents.add(c.id, kind="invoice", number="I-3", issued_on=D(2026, 12, 1),
                      lines=[("Mouse", "1", "50")])                         # after D: no
    data = cli("customer", "show", c.id, "--json").json["sections"]["service"]
    # cases 10 and 11 are open; the last 10 newest first: 11, 10, ..., 2
    assert data["open"] == 2
    assert [x["subject"] for x in data["cases"]] == [f"case {i}" for i in range(11, 1, -1)]
    assert data["cases"][2]["solution"] == "fix 9"
    # ThinkPad: 2 (order) + 3 (invoice) = 5, first 2025-03-01, last 2026-06-01
    assert data["products"] == [
        {"product": "Dock", "first_bought": "2025-03-01", "last_bought": "2025-03-01",
         "quantity": "1"},
        {"product": "ThinkPad", "first_bought": "2025-03-01", "last_bought": "2026-06-01",
         "quantity": "5"}]
    # as of 11-05 only cases 0..4 existed, all resolved by then
    early = cli("customer", "show", c.id, "--on", "2026-11-05", "--json").json
    assert early["sections"]["service"]["open"] == 0
    assert len(early["sections"]["service"]["cases"]) == 5
    shown = cli("customer", "show", c.id)
    assert shown.exit_code == 0 and "ThinkPad" in shown.stdout


# --- permissions and scope -------------------------------------------------------------


def test_crm_permission_sales_see_cases_of_their_own_customers_only(crm, cli):
    mine = crm.customers.add(name="Li's", owner="li")
    theirs = crm.customers.add(name="Wang's", owner="wang")
    # a case of wang's customer handled by li: the customer decides who sees it
    handled = svc.add(crm, theirs.id, subject="退货 by li", owner="li",
                      at="2026-11-20T08:00+00:00")
    own = svc.add(crm, mine.id, subject="退货 own", at="2026-11-20T08:00+00:00")
    for k in (handled, own):
        svc.resolve(crm, k.id, solution="ok", at="2026-11-20T09:00+00:00")
    li = crm.using(user="li")
    assert [k.id for k in svc.list_cases(li)[0]] == [own.id]
    assert [k.id for k in svc.search(li, "退货")[0]] == [own.id]
    # both cases are li's, but only the one of li's own customer counts for li
    assert [(r["owner"], r["opened"]) for r in svc.stats(li, D(2026, 11, 1))] == [("li", 1)]
    r = cli("case", "show", handled.id, user="li")
    assert r.exit_code == 1 and r.stderr.strip() == f"Error: case {handled.id} not found"
    r = cli("case", "reopen", handled.id, user="li")
    assert r.exit_code == 1 and "not found" in r.stderr
    r = cli("case", "add", theirs.id, "--subject", "x", user="li")
    assert (r.exit_code, r.stderr.strip()) == (1, f"Error: customer {theirs.id} not found")
    r = cli("case", "list", "--customer", theirs.id, user="li")
    assert (r.exit_code, r.stderr.strip()) == (1, f"Error: customer {theirs.id} not found")
    wang = crm.using(user="wang")
    assert [k.id for k in svc.list_cases(wang)[0]] == [handled.id]
    assert svc.reopen(wang, handled.id).status == "open"
    assert sorted(k.id for k in svc.list_cases(crm)[0]) == sorted([handled.id, own.id])


def test_a_tenant_without_the_plugin_is_refused(crm_factory):
    crm = crm_factory()
    c = crm.customers.add(name="Acme")
    with pytest.raises(crmkit.PluginNotEnabled):
        svc.add(crm, c.id, subject="x")
    with pytest.raises(crmkit.PluginNotEnabled):
        svc.stats(crm)


def test_list_filters_and_overdue(crm, cli):
    c = crm.customers.add(name="Acme", owner="li")
    old = svc.add(crm, c.id, subject="old", priority="urgent", at="2026-11-01T08:00+00:00")
    new = svc.add(crm, c.id, subject="new", priority="low", owner="wang")
    done = svc.add(crm, c.id, subject="done", at="2026-11-02T08:00+00:00")
    svc.resolve(crm, done.id, solution="ok", at="2026-11-02T09:00+00:00")
    assert [x["id"] for x in cli("case", "list", "--json").json] == [new.id, done.id, old.id]
    assert [x["id"] for x in cli("case", "list", "--status", "open", "--json").json] == [
        new.id, old.id]
    assert [x["id"] for x in cli("case", "list", "--owner", "wang", "--json").json] == [new.id]
    assert [x["id"] for x in cli("case", "list", "--overdue", "--json").json] == [old.id]
    assert [x["id"] for x in cli("case", "list", "--customer", c.id, "--limit", "1",
                                 "--json").json] == [new.id]
    table = cli("case", "list")
    assert table.exit_code == 0 and "Acme" in table.stdout


def _counts(crm):
    with crm.engine.connect() as conn:
        return {t: conn.execute(select(func.count()).select_from(crm.table(t))).scalar()
                for t in ("service_cases", "service_replies", "activities", "audit",
                          "outbox")}


@pytest.mark.parametrize("args, message", [
    (("add", "1", "--subject", "x", "--priority", "asap"),
     "unknown priority 'asap'; valid: low, normal, high, urgent"),
    (("add", "1", "--subject", "x", "--channel", "fax"),
     "unknown channel 'fax'; valid: phone, email, visit, web, wechat, other"),
    (("add", "1", "--subject", "  "), "case subject must not be empty"),
    (("add", "1", "--subject", "x", "--owner", "nobody"), "unknown user 'nobody'"),
    (("add", "1", "--subject", "x", "--at", "yesterday"),
     "invalid --at 'yesterday'; expected a datetime like 2026-11-22T10:30"),
    (("add", "99", "--subject", "x"), "customer 99 not found"),
    (("reply", "99", "--body", "x"), "case 99 not found"),
    (("reply", "1", "--body", ""), "reply must not be empty"),
    (("reply", "1", "--body", "x", "--at", "2026-11-01T07:59"),
     "--at 2026-11-01T07:59:00+00:00 is before case 1 was opened "
     "(2026-11-01T08:00:00+00:00)"),
    (("resolve", "1", "--solution", ""), "solution must not be empty"),
    (("resolve", "2", "--solution", "again"), "case 2 is already closed; reopen it first"),
    (("close", "1", "--rating", "0"), "rating must be a whole number from 1 to 5, got '0'"),
    (("close", "1", "--rating", "6"), "rating must be a whole number from 1 to 5, got '6'"),
    (("close", "2"), "case 2 is already closed"),
    (("reopen", "1"), "case 1 is already open"),
    (("list", "--status", "pending"), "unknown status 'pending'; valid: open, resolved, "
                                      "closed"),
    (("search", " "), "search text must not be empty"),
])
def test_bad_input_is_one_sentence_exit_1_and_writes_nothing(crm, cli, args, message):
    c = crm.customers.add(name="Acme", owner="li")
    svc.add(crm, c.id, subject="open one", at="2026-11-01T08:00+00:00")
    two = svc.add(crm, c.id, subject="closed one", at="2026-11-01T08:00+00:00")
    svc.close(crm, two.id, at="2026-11-01T09:00+00:00")
    before = _counts(crm), crm.changes()
    r = cli("case", *args)
    assert r.exit_code == 1, r.stdout
    assert r.stderr.strip() == f"Error: {message}"
    assert (_counts(crm), crm.changes()) == before


def test_settings_are_validated(crm, cli):
    r = cli("plugins", "set", "service", "sla_hours", '{"asap": [1, 2]}')
    assert r.exit_code == 1 and "unknown priority 'asap'" in r.stderr
    r = cli("plugins", "set", "service", "sla_hours", '{"urgent": [9, 2]}')
    assert r.exit_code == 1 and "response deadline after the resolution" in r.stderr
    r = cli("plugins", "set", "service", "renewal_days", "--", "-1")
    assert r.exit_code == 1 and "renewal_days" in r.stderr
    assert cli("plugins", "set", "service", "renewal_days", "60").exit_code == 0
    assert crm.plugins.settings("service").renewal_days == 60


def test_crm_cli_case_group_has_every_command(cli, crm):
    r = cli("case", "--help")
    assert r.exit_code == 0
    for name in ("add", "reply", "resolve", "close", "reopen", "list", "show", "search",
                 "stats"):
        assert name in r.stdout


@pytest.mark.backends("sqlite")  # the demo's data does not depend on the backend; sqlite is enough
def test_crm_demo_adds_cases_with_solutions_and_overdue_ones(cli, crm_db_url):
    assert cli("demo").exit_code == 0
    cases = cli("case", "list", "--json").json
    assert [c["status"] for c in cases].count("closed") == 2 and len(cases) == 6
    assert [c["solution"] for c in cli("case", "search", "退货", "--json").json] == [
        "同意退货，三天内退款"]
    kinds = {r["kind"] for r in cli("reminders", "--json").json}
    assert {"case_response_overdue", "case_resolution_overdue"} <= kinds

