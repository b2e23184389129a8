"""grading: the rules, on small worked examples computed by hand (as of D = 2026-11-22).

Window with the default 365 days: D - 365 = 2025-11-22 < date <= 2026-11-22.
Scores: score = ceil(5k/n); with n = 4: k=1 -> 2 (1.25), k=2 -> 3 (2.5), k=3 -> 4 (3.75),
k=4 -> 5; with n = 10: score = ceil(k/2).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import crmkit_grading as grading
import pytest

import crmkit
from crmkit.errors import PermissionDenied
from tests.plugins.recorder import Recorder
from tests.plugins.risk_stub import GradeCounter, RiskStub

D = dt.date(2026, 11, 22)


def ago(n: int) -> dt.date:
    return D - dt.timedelta(days=n)


def inv(crm, cid, number, amount, on, **kw):
    return crm.documents.add(cid, kind="invoice", number=number, amount=amount,
                             issued_on=on, **kw)


def by_name(rows):
    return {r["customer"]: r for r in rows}


def customers(crm, *names, **kw):
    return [crm.customers.add(name=n, **kw) for n in names]


@pytest.fixture
def gcrm(crm_factory):
    return crm_factory(enable=["grading"])


def test_scores_with_ties_abc_and_no_purchases(gcrm):
    a, b, c, d, e, f = customers(gcrm, "A", "B", "C", "D", "E", "F")
    inv(gcrm, a.id, "A1", "100", "2026-11-20")              # recency 2
    inv(gcrm, b.id, "B1", "200", "2026-06-01")              # recency 30+31+31+30+31+21... = 174
    inv(gcrm, c.id, "C1", "120", "2026-11-20")              # recency 2
    inv(gcrm, c.id, "C2", "80", "2026-10-01")
    for i, day in enumerate(("2026-01-10", "2026-03-10", "2026-05-10")):
        inv(gcrm, d.id, f"D{i}", "200" if i == 2 else "100", day)  # recency 22 + 174 = 196
    inv(gcrm, f.id, "F1", "999", "2025-06-01")              # outside the window
    rows = by_name(grading.grades(gcrm))
    # n = 4 scored (A, B, C, D).
    # m: 100 (k=1 -> 2), 200 and 200 (tie, k=3 -> 4), 400 (k=4 -> 5)
    # f: 1, 1 (tie, k=2 -> 3), 2 (k=3 -> 4), 3 (k=4 -> 5)
    # r: k = customers with recency >= own: A, C (2): k=4 -> 5; B (174): B, D -> k=2 -> 3;
    #    D (196): k=1 -> 2
    want = {"A": (2, 1, "100.00", 5, 3, 2), "B": (174, 1, "200.00", 3, 3, 4),
            "C": (2, 2, "200.00", 5, 4, 4), "D": (196, 3, "400.00", 2, 5, 5)}
    for name, (rec, freq, mon, r, f_, m) in want.items():
        row = rows[name]
        assert (row["recency_days"], row["frequency"], f"{row['monetary']:.2f}",
                row["r"], row["f"], row["m"]) == (rec, freq, mon, r, f_, m), name
    # segments: A r5 f3 -> loyal; B r3 f3 -> loyal; C r5 f4 -> champions; D r2 f5 -> at_risk
    assert [rows[n]["segment"] for n in "ABCD"] == ["loyal", "loyal", "champions", "at_risk"]
    # ABC, total 900, by monetary desc then id: D 400 (prev 0 -> A), B 200 (prev 400 =
    # 44% -> A), C 200 (prev 600 = 67% -> A, crosses 80% to 89%), A 100 (prev 800 = 89%
    # -> B)
    assert [rows[n]["abc"] for n in "DBCA"] == ["A", "A", "A", "B"]
    assert [rows[n]["tier"] for n in "DBCA"] == ["important"] * 3 + ["general"]
    # E never bought, F only outside the window: not scored, no class
    assert {k: v for k, v in rows["E"].items() if k not in ("customer_id", "customer")} == {
        "owner": "admin", "recency_days": None, "frequency": 0, "monetary": Decimal("0.00"),
        "r": None, "f": None, "m": None, "segment": "no_purchases", "abc": None,
        "tier": "general"}
    # F: 2025-06-01 -> 2026-06-01 is 365 days, + 174 = 539
    assert (rows["F"]["recency_days"], rows["F"]["frequency"], rows["F"]["segment"],
            rows["F"]["abc"]) == (539, 0, "no_purchases", None)


# name: (frequency, recency rank k: 1 = oldest last purchase, expected r, f, segment)
SEGMENTS = {
    "c1": (10, 10, 5, 5, "champions"), "c2": (1, 9, 5, 1, "potential"),
    "c3": (6, 5, 3, 3, "loyal"), "c4": (9, 1, 1, 5, "at_risk"),
    "c5": (2, 2, 1, 1, "hibernating"), "c6": (3, 6, 3, 2, "needs_attention"),
    "c7": (4, 3, 2, 2, "hibernating"), "c8": (5, 4, 2, 3, "at_risk"),
    "c9": (7, 7, 4, 4, "champions"), "c10": (8, 8, 4, 4, "champions"),
}


def test_every_segment(gcrm):
    # n = 10 with distinct values, so k is the rank and score = ceil(k/2).
    # The last purchase of recency rank j is D - (100 - 10j) days; earlier ones 1, 2, ...
    # days before it (all inside the window); every invoice is 10.00, so m == f.
    for name, (freq, rank, _r, _f, _s) in SEGMENTS.items():
        (c,) = customers(gcrm, name)
        last = 100 - 10 * rank
        for i in range(freq):
            inv(gcrm, c.id, f"{name}-{i}", "10", ago(last + i))
    rows = by_name(grading.grades(gcrm))
    for name, (freq, _rank, r, f, segment) in SEGMENTS.items():
        row = rows[name]
        assert (row["frequency"], row["r"], row["f"], row["m"], row["segment"]) == (
            freq, r, f, f, segment), name


@pytest.mark.parametrize("amounts, classes", [
    # exactly 80%: 50 (A), 30 (prev 50%: A, reaches exactly 80%), 15 (prev 80%: B,
    # reaches exactly 95%), 5 (prev 95%: C)
    (("50", "30", "15", "5"), "AABC"),
    # crossing: 60 (A), 30 (prev 60%: A, crosses to 90%), 10 (prev 90%: B, crosses 95%)
    (("60", "30", "10"), "AAB"),
    # tie at a cut, broken by customer id: 90 (A), 5 (id 2: prev 90%: B, reaches 95%),
    # 5 (id 3: prev 95%: C)
    (("90", "5", "5"), "ABC"),
])
def test_abc_boundaries(gcrm, amounts, classes):
    for i, amount in enumerate(amounts):
        (c,) = customers(gcrm, f"k{i}")
        inv(gcrm, c.id, f"I{i}", amount, "2026-11-01")
    rows = by_name(grading.grades(gcrm))
    assert "".join(rows[f"k{i}"]["abc"] for i in range(len(amounts))) == classes


def test_window_edges_void_and_credit_notes(gcrm):
    edge_out, edge_in, voided, credited, full, late_cn = customers(
        gcrm, "out", "in", "void", "credited", "full", "late")
    inv(gcrm, edge_out.id, "O1", "100", "2025-11-22")       # exactly 365 days ago: OUT
    inv(gcrm, edge_in.id, "N1", "100", "2025-11-23")        # 364 days ago: IN
    inv(gcrm, voided.id, "V1", "100", "2026-11-01", status="void")
    inv(gcrm, voided.id, "V2", "40", "2026-10-01")
    inv(gcrm, credited.id, "C1", "100", "2026-10-01")
    gcrm.documents.add(credited.id, kind="credit_note", number="CN1", amount="30",
                       issued_on="2026-11-01", applies_to="C1")
    gcrm.documents.add(credited.id, kind="credit_note", number="CN2", amount="50",
                       issued_on="2026-11-02", applies_to="C1", status="void")
    inv(gcrm, full.id, "F1", "100", "2026-10-01")           # fully credited: net 0
    gcrm.documents.add(full.id, kind="credit_note", number="CN3", amount="100",
                       issued_on="2026-10-05", applies_to="F1")
    inv(gcrm, late_cn.id, "L1", "100", "2026-10-01")
    gcrm.documents.add(late_cn.id, kind="credit_note", number="CN4", amount="60",
                       issued_on="2026-11-30", applies_to="L1")  # after D: ignored
    rows = by_name(grading.grades(gcrm))
    assert (rows["out"]["frequency"], rows["out"]["recency_days"],
            rows["out"]["segment"]) == (0, 365, "no_purchases")
    assert (rows["in"]["frequency"], rows["in"]["recency_days"]) == (1, 364)
    assert (rows["void"]["frequency"], rows["void"]["monetary"],
            rows["void"]["recency_days"]) == (1, Decimal("40.00"), 52)  # Oct 1 -> Nov 22
    assert rows["credited"]["monetary"] == Decimal("70.00")   # 100 - 30 (void CN ignored)
    # a fully credited invoice is still a purchase (its date and count stay), worth 0
    assert (rows["full"]["frequency"], rows["full"]["monetary"],
            rows["full"]["recency_days"]) == (1, Decimal("0.00"), 52)
    assert rows["late"]["monetary"] == Decimal("100.00")
    # as of 2026-11-30 the late credit note counts: 100 - 60 = 40
    later = by_name(grading.grades(gcrm, dt.date(2026, 11, 30)))
    assert later["late"]["monetary"] == Decimal("40.00")
    # as of 2026-10-15 the credit note of 2026-11-01 does not count yet
    before = by_name(grading.grades(gcrm, dt.date(2026, 10, 15)))
    assert before["credited"]["monetary"] == Decimal("100.00")


def test_value_kinds_setting(gcrm):
    (c,) = customers(gcrm, "orders")
    gcrm.documents.add(c.id, kind="order", number="O1", amount="80", issued_on="2026-11-01")
    assert by_name(grading.grades(gcrm))["orders"]["segment"] == "no_purchases"
    gcrm.plugins.set("grading", "value_kinds", ["invoice", "order"])
    assert by_name(grading.grades(gcrm))["orders"]["monetary"] == Decimal("80.00")


def test_tiers_with_risk_hook_and_special_tag(crm_factory):
    stub = RiskStub()
    crm = crm_factory(plugins=["crmkit_grading", stub], discover=False, enable=["grading"])
    big, tagged, risky, small = customers(crm, "big", "tagged", "risky", "small")
    crm.customers.update(tagged.id, tags=["special"])
    stub.ids = {risky.id}
    for c, amount in ((big, "900"), (tagged, "30"), (risky, "40"), (small, "30")):
        inv(crm, c.id, f"I-{c.name}", amount, "2026-11-01")
    # total 1000: big 900 (A), risky 40 (prev 90%: B), tagged 30 (id 2, prev 94%: B,
    # crosses 95%), small 30 (prev 97%: C)
    rows = by_name(grading.grades(crm))
    assert {n: (rows[n]["abc"], rows[n]["tier"]) for n in rows} == {
        "big": ("A", "important"), "risky": ("B", "general"), "tagged": ("B", "special"),
        "small": ("C", "general")}   # risk_stub not enabled: nobody asked
    assert stub.asked == []
    crm.plugins.enable("risk_stub")
    rows = by_name(grading.grades(crm, dt.date(2026, 11, 20)))
    assert rows["risky"]["tier"] == "special" and rows["big"]["tier"] == "important"
    assert stub.asked == [dt.date(2026, 11, 20)]           # risk is asked as of D
    # an A customer at risk is special, not important
    stub.ids = {big.id}
    summary = grading.run(crm)
    assert summary["tiers"] == {"special": 2, "important": 0, "general": 2}


def test_tiers_with_the_real_receivables_plugin(crm_factory):
    crm = crm_factory()
    crm.plugins.enable("grading", "receivables")  # an error here is a failure, no skip
    assert getattr(crm.host.pm.hook, "crm_customers_at_risk", None) is not None
    late, fine = customers(crm, "late", "fine")
    # 200 days past due, unpaid: at risk by receivables' rule (> 90 days overdue)
    inv(crm, late.id, "L1", "50", "2026-04-01", due_on="2026-05-06")
    inv(crm, fine.id, "F1", "950", "2026-11-01", due_on="2026-12-01")
    with crm.unit(write=False) as ctx:
        risky = set().union(*ctx.hooks.crm_customers_at_risk(ctx=ctx, on=D))
    assert risky == {late.id}
    rows = by_name(grading.grades(crm))
    # total 1000: fine 950 (A, important), late 50 (prev 95%: C, but at risk: special)
    assert (rows["fine"]["tier"], rows["late"]["abc"], rows["late"]["tier"]) == (
        "important", "C", "special")


def test_repurchase_overdue_and_lost_reminders(gcrm):
    reg, once, gone, nearly, never = customers(gcrm, "regular", "once", "gone", "nearly",
                                               "never")
    for i, day in enumerate(("2026-09-01", "2026-09-21", "2026-10-11")):
        inv(gcrm, reg.id, f"R{i}", "10", day)   # mean interval (40 days) / 2 = 20
    inv(gcrm, once.id, "O1", "10", "2026-01-01")            # one purchase: never overdue
    inv(gcrm, gone.id, "G1", "10", "2025-10-01")
    inv(gcrm, gone.id, "G2", "10", "2025-11-22")            # exactly 365 days before D
    inv(gcrm, nearly.id, "N1", "10", "2025-11-23")          # 364 days

    def kinds(on):
        return {(r.customer, r.kind) for r in gcrm.reminders.due(on)
                if r.plugin == "grading"}

    # 2026-10-11 + 30 = 2026-11-10: 30 days is not more than 1.5 x 20 = 30
    assert ("regular", "repurchase_overdue") not in kinds(dt.date(2026, 11, 10))
    assert ("regular", "repurchase_overdue") in kinds(dt.date(2026, 11, 11))   # 31 > 30
    # on D: gone is lost (365 >= 365) and not "overdue" as well; nearly is only overdue?
    # nearly has one purchase: no interval, so no reminder at all.
    assert kinds(D) == {("regular", "repurchase_overdue"), ("gone", "lost_customer")}
    lost = [r for r in gcrm.reminders.due(D) if r.kind == "lost_customer"]
    assert lost[0].key == f"grading:lost:{gone.id}:2025-11-22"
    assert lost[0].owner == "admin" and lost[0].due_on == D
    gcrm.plugins.set("grading", "repurchase_factor", 3)     # 3 x 20 = 60 > 42 days
    assert ("regular", "repurchase_overdue") not in kinds(D)
    # delivery is idempotent
    first, _ = gcrm.reminders.send(D)
    again, already = gcrm.reminders.send(D)
    assert len([r for r in first if r.plugin == "grading"]) == 1 and again == []
    assert already >= 1


def test_run_marks_lost_through_the_core_once(gcrm):
    gone, nearly, never = customers(gcrm, "gone", "nearly", "never")
    inv(gcrm, gone.id, "G1", "10", "2025-11-22")            # 365 days: lost
    inv(gcrm, nearly.id, "N1", "10", "2025-11-23")          # 364 days: not yet
    mark = gcrm.changes()[-1]["cursor"]
    summary = grading.run(gcrm)
    assert summary["lost"] == 1
    assert gcrm.customers.get(gone.id).status == "lost"
    assert gcrm.customers.get(nearly.id).status == "active"
    assert gcrm.customers.get(never.id).status == "prospect"   # never bought: never lost
    status_changes = [c for c in gcrm.changes(mark) if c["table"] == "customer"]
    assert [(c["id"], c["before"]["status"], c["after"]["status"])
            for c in status_changes] == [(gone.id, "active", "lost")]
    assert grading.run(gcrm)["lost"] == 0


def test_crm_grade_changed_fires_for_changes_only_and_second_run_is_silent(crm_factory):
    counter = GradeCounter()
    crm = crm_factory(plugins=["crmkit_grading", counter], discover=False,
                      enable=["grading", "grade_counter"])
    a, b, c = customers(crm, "a", "b", "c")
    inv(crm, a.id, "A1", "100", "2026-11-01")
    inv(crm, b.id, "B1", "50", "2026-05-01")
    first = grading.run(crm)
    assert (first["customers"], first["changed"]) == (3, 3)
    assert sorted(x[0] for x in counter.calls) == [a.id, b.id, c.id]
    assert all(before is None for _, before, _ in counter.calls)
    n_changes, n_outbox, n_hist = _counts(crm)
    assert n_outbox == 3 and n_hist == 3
    again = grading.run(crm)
    assert again["changed"] == 0 and len(counter.calls) == 3
    assert _counts(crm) == (n_changes, n_outbox, n_hist)
    # before: n = 2; r: a (21 days) k=2 -> 5, b (205 days) k=1 -> 3; f: both k=2 -> 5:
    # a champions, b loyal (r3 f5). c buys: n = 3; r: c (2 days) k=3 -> 5, a k=2 ->
    # ceil(10/3) = 4, b k=1 -> 2; f all k=3 -> 5: a champions (same), b at_risk, c
    # champions. ABC (total 230): a 100 A, c 80 (prev 43%) A, b 50 (prev 78%) A.
    inv(crm, c.id, "C1", "80", "2026-11-20")
    third = grading.run(crm)
    assert third["changed"] == 2 and [x[0] for x in counter.calls[3:]] == [b.id, c.id]
    assert (counter.calls[3][1]["segment"], counter.calls[3][2]["segment"]) == (
        "loyal", "at_risk")
    cid, before, after = counter.calls[4]
    assert (before["segment"], after["segment"]) == ("no_purchases", "champions")
    assert after["monetary"] == Decimal("80.00") and after["as_of"] == D
    assert type(after["monetary"]) is Decimal and type(after["as_of"]) is dt.date
    feed = [x for x in crm.changes(n_changes) if x["table"] == "grading"]
    assert [(x["id"], x["op"]) for x in feed] == [(b.id, "update"), (c.id, "update")]
    assert feed[1]["after"]["monetary"] == "80.00" and feed[1]["before"]["abc"] is None
    view = crm.customers.view(c.id)["sections"]["grading"]
    assert [h["segment"] for h in view["history"]] == ["no_purchases", after["segment"]]


def _counts(crm):
    from sqlalchemy import func, select

    with crm.unit(write=False) as ctx:
        out = ctx.crm.table("outbox")
        hist = ctx.crm.table("grading_history")
        return (len(crm.changes()),
                ctx.conn.scalar(select(func.count()).select_from(out)
                                .where(out.c.event == "grade.changed")),
                ctx.conn.scalar(select(func.count()).select_from(hist)))


def test_sales_user_sees_own_rows_with_tenant_ranks(gcrm):
    gcrm.users.add("li", role="sales")
    mine, other = customers(gcrm, "mine", "other")
    gcrm.customers.update(mine.id, owner="li")
    inv(gcrm, mine.id, "M1", "10", "2026-11-01")
    inv(gcrm, other.id, "O1", "90", "2026-11-01")
    li = gcrm.using(user="li")
    rows = grading.grades(li)
    # ranks over both: n = 2, mine has the smaller monetary: k=1 -> ceil(5/2) = 3
    assert [(r["customer"], r["m"], r["abc"]) for r in rows] == [("mine", 3, "B")]
    assert li.customers.view(mine.id)["sections"]["grading"]["m"] == 3
    with pytest.raises(PermissionDenied, match="may not grading.run"):
        grading.run(li)


class _Locker:
    """Denies ``update`` of a customer tagged ``locked`` (the bulk path asks per record)."""

    PLUGIN = crmkit.PluginSpec(name="locker", description="denies on purpose")

    @crmkit.hookimpl
    def crm_permission(self, ctx, user, action, record):
        return False if action == "update" and "locked" in getattr(record, "tags", ()) else None


def test_run_marks_lost_through_the_bulk_update_path(crm_factory):
    rec = Recorder()
    crm = crm_factory(plugins=["crmkit_grading", rec, _Locker()], discover=False,
                      enable=["grading", "recorder", "locker"])
    gone, long_ago, nearly, never, done, was = customers(
        crm, "gone", "long ago", "nearly", "never", "done", "was")
    inv(crm, gone.id, "G1", "10", "2025-11-22")        # 365 days before D: lost
    inv(crm, long_ago.id, "L1", "10", "2023-05-01")    # 1,301 days: lost
    inv(crm, nearly.id, "N1", "10", "2025-11-23")      # 364 days: not yet
    inv(crm, done.id, "D1", "10", "2023-05-01")        # archived: not graded, not lost
    inv(crm, was.id, "W1", "10", "2023-05-01")         # lost already: not marked again
    crm.customers.archive(done.id)
    crm.customers.update(was.id, status="lost")
    # never bought: never lost
    rec.calls.clear()
    mark = crm.changes()[-1]["cursor"]
    assert grading.run(crm)["lost"] == 2
    assert rec.calls == [("crm_customer_updated", gone.id), ("changes", ("status",)),
                         ("crm_customer_updated", long_ago.id), ("changes", ("status",))]
    feed = [(c["id"], c["before"]["status"], c["after"]["status"])
            for c in crm.changes(mark) if c["table"] == "customer"]
    assert feed == [(gone.id, "active", "lost"), (long_ago.id, "active", "lost")]
    assert {c.name: c.status for c in crm.customers.list()} == {
        "gone": "lost", "long ago": "lost", "nearly": "active", "never": "prospect",
        "done": "archived", "was": "lost"}


def _one_locked(crm_factory):
    """Two long-lost customers, one of them tagged ``locked`` (the locker plugin denies
    updating it, so a run cannot mark it lost): (crm, gone, locked)."""
    crm = crm_factory(plugins=["crmkit_grading", _Locker()], discover=False,
                      enable=["grading", "locker"])
    gone, locked = customers(crm, "gone", "locked")
    inv(crm, gone.id, "G1", "10", "2025-01-01")
    inv(crm, locked.id, "K1", "10", "2025-01-01")
    crm.customers.update(locked.id, tags=["locked"])
    return crm, gone, locked


def test_run_is_all_or_nothing_when_a_lost_customer_may_not_be_updated(crm_factory):
    crm, gone, locked = _one_locked(crm_factory)
    mark = crm.changes()[-1]["cursor"]
    with pytest.raises(PermissionDenied, match=f"may not update customer {locked.id}"):
        grading.run(crm)
    # nothing of the run stays: no grade, no history, no one marked lost, no feed row
    assert crm.changes(mark) == [] and _counts(crm)[1:] == (0, 0)
    assert [c.status for c in crm.customers.list()] == ["active", "active"]


def test_a_run_after_a_failed_one_grades_everyone_and_leaves_no_stage_rows(crm_factory):
    """The run's work area (on SQLite a temporary table of its connection, elsewhere
    the shared stage table) is rolled back with a failed run and emptied by a good one:
    the next run, on the same instance, grades every customer once."""
    from sqlalchemy import func, select

    crm, gone, locked = _one_locked(crm_factory)
    with pytest.raises(PermissionDenied):
        grading.run(crm)
    crm.plugins.disable("locker")
    got = grading.run(crm)
    assert (got["customers"], got["changed"], got["lost"]) == (2, 2, 2)
    with crm.unit(write=False) as ctx:
        st, gt = ctx.crm.table("grading_stage"), ctx.crm.table("grading_grades")
        assert ctx.conn.scalar(select(func.count()).select_from(st)) == 0
        assert sorted(ctx.conn.scalars(select(gt.c.customer_id))) == [gone.id, locked.id]
        if ctx.conn.dialect.name == "sqlite":  # the temporary table went with the run
            assert ctx.conn.exec_driver_sql(
                "SELECT name FROM sqlite_temp_master WHERE type = 'table'").all() == []


def test_stored_grades_follow_every_run(crm_factory):
    """``grading_grades`` holds each graded customer's grade as the run that last
    changed it stored it: a row whose only change is the day (no purchase since: as_of
    and recency moved by the same days) is kept as it is; one that changed in anything
    else is rewritten with the run's day; a new customer's row is inserted, an archived
    one's deleted."""
    from sqlalchemy import select

    crm = crm_factory(enable=["grading"])
    a, b, d, e = customers(crm, "a", "b", "d", "e")
    inv(crm, a.id, "A1", "100", "2026-11-01")
    inv(crm, d.id, "D1", "100", "2026-11-01")

    def stored():
        with crm.unit(write=False) as ctx:
            g = ctx.crm.table("grading_grades")
            return {r.customer_id: (r.as_of, r.recency_days, r.frequency, r.segment)
                    for r in ctx.conn.execute(select(g))}

    grading.run(crm)
    assert stored() == {a.id: (D, 21, 1, "champions"), b.id: (D, None, 0, "no_purchases"),
                        d.id: (D, 21, 1, "champions"), e.id: (D, None, 0, "no_purchases")}
    day2 = D + dt.timedelta(days=1)
    crm.customers.archive(b.id)
    c = crm.customers.add(name="c")
    # half of d's invoice credited: d's monetary and M score move, not its grade
    crm.documents.add(d.id, kind="credit_note", number="CN1", amount="50",
                      issued_on=day2.isoformat(), applies_to="D1")
    # e's first document, older than the window: still no_purchases, but a recency now
    inv(crm, e.id, "E1", "10", ago(400).isoformat())
    assert grading.run(crm.using(today=day2))["changed"] == 1   # c's first grade
    assert stored() == {a.id: (D, 21, 1, "champions"),           # only the day moved
                        c.id: (day2, None, 0, "no_purchases"),
                        d.id: (day2, 22, 1, "champions"),
                        e.id: (day2, 401, 0, "no_purchases")}
    # the kept row is the grade as of its day: the day after, a's grade changes and the
    # change's before image is that row
    day3 = D + dt.timedelta(days=400)
    assert grading.run(crm.using(today=day3))["changed"] >= 1
    with crm.unit(write=False) as ctx:
        au = ctx.crm.table("audit")
        before = ctx.conn.execute(select(au.c.before).where(
            au.c.table_name == "grading", au.c.row_id == a.id, au.c.op == "update")).scalar_one()
    before = before if isinstance(before, dict) else json.loads(before)
    assert (before["as_of"], before["recency_days"], before["segment"]) == (
        D.isoformat(), 21, "champions")
    assert stored()[a.id][:3] == (day3, 421, 0)


def _plan(ctx, stmt):
    sql = str(stmt.compile(ctx.conn, compile_kwargs={"literal_binds": True}))
    return [r[3] for r in ctx.conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]


def _bench_shaped(crm):
    """Two customers with invoices and a credit note, and SQLite given the statistics
    ANALYZE gave for the bench's tenant (100,000 customers, 1,020,000 documents,
    bench/bench_grading.py), so the planner plans for that scale."""
    a, b = customers(crm, "a", "b")
    for i in range(30):
        inv(crm, a.id if i % 2 else b.id, f"I{i}", "10", ago(i * 20))
    crm.documents.add(a.id, kind="credit_note", number="C1", amount="1", issued_on=D,
                      applies_to="I1")
    stats = {"documents": {"ix_documents_customer": "1020000 1020000 11 9 2",
                           "ix_documents_kind": "1020000 1020000 510000 474",
                           "ix_documents_applies": "1020000 1020000 51 51 51 51 51 51",
                           "ix_documents_aging": "1020000 1020000 11 9 1 1 1 1 1",
                           "uq_documents_number": "1020000 1020000 510000 1"},
             "customers": {"ix_customers_status": "100000 100000 100000",
                           "ix_customers_owner": "100000 100000 100000",
                           "ix_customers_name": "100000 100000 1",
                           "ix_customers_email": "100000 100000 100000",
                           "uq_customers_external_id": "100000 100000 100000"}}
    with crm.unit() as ctx:
        ctx.conn.exec_driver_sql("ANALYZE")
        ctx.conn.exec_driver_sql("DELETE FROM sqlite_stat1")
        for table, indexes in stats.items():
            t = ctx.crm.table(table)
            names = {ix.name: ix.name for ix in t.indexes}
            # a unique constraint's index is SQLite's sqlite_autoindex_<table>_1
            names |= {c.name: f"sqlite_autoindex_{t.name}_1" for c in t.constraints
                      if c.name and c.name.startswith(ctx.crm.prefix + "uq_")}
            for ix, stat in indexes.items():
                ctx.conn.exec_driver_sql("INSERT INTO sqlite_stat1 VALUES (?, ?, ?)",
                                         (t.name, names[ctx.crm.prefix + ix], stat))
        ctx.conn.exec_driver_sql("ANALYZE sqlite_schema")  # reload the statistics


def test_grading_statements_plan_on_sqlite(gcrm):
    """The plan of the grading statement on SQLite (after ANALYZE, as a bulk load leaves
    it): the documents are aggregated once through the ``(tenant_id, customer_id, ...)``
    index, which already orders them by customer (a covering index measured 10% faster
    at 1,000,000 documents, a forced table scan slower: it sorts them); a credit note
    finds its invoice through the unique ``(tenant_id, kind, number)`` index (joining
    every invoice of the window to its credit notes was a probe per invoice, 5 s of the
    run at that scale); the windowed rows find their customer by primary key, never a
    nested scan of a subquery."""
    if gcrm.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plan")
    from crmkit_grading.compute import grades_query
    from sqlalchemy import select

    _bench_shaped(gcrm)
    with gcrm.unit(write=False) as ctx:
        plan = _plan(ctx, select(grades_query(ctx, D, ctx.settings("grading"))))
    docs = ctx.crm.table("documents").name
    # in customer order from an index: (tenant_id, customer_id, kind, issued_on), or
    # since core_0006 the covering ix_documents_aging, which holds every column read
    assert {f"SEARCH {docs} USING INDEX {ctx.crm.prefix}ix_documents_customer (tenant_id=?)",
            f"SEARCH {docs} USING COVERING INDEX {ctx.crm.prefix}ix_documents_aging "
            "(tenant_id=?)"} & set(plan), plan
    assert any(p.startswith("SEARCH inv USING INDEX sqlite_autoindex_")
               and p.endswith("(tenant_id=? AND kind=? AND number=?)") for p in plan), plan
    # the credit notes (a few per cent of the documents) through the kind index, not a
    # read of every document in customer order
    assert (f"SEARCH cn USING INDEX {ctx.crm.prefix}ix_documents_kind "
            "(tenant_id=? AND kind=? AND issued_on<?)") in plan, plan
    assert "SEARCH cust USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
    scans = [p for p in plan if p.startswith("SCAN ") and "LEFT-JOIN" in p]
    assert scans == [], plan
    assert sum(p == "USE TEMP B-TREE FOR ORDER BY" for p in plan) == 4, plan  # r, f, m, ABC


def test_grading_run_plans_on_sqlite(gcrm):
    """The plans of the run's own statements on SQLite, at the bench's statistics: the
    stage is filled from the documents in customer order through the covering index
    (no sort: the stage's key order), the credit notes through the kind index; the
    ranks are four sorts of the raw stage's scored rows, and the graded rows go into the
    stage in key order, each finding its ranks by an index; the stored grades are
    compared by theirs."""
    if gcrm.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plan")
    from sqlalchemy import event

    _bench_shaped(gcrm)
    plans = {}

    def explain(conn, cursor, statement, parameters, context, executemany):
        if "grading_stage_r" in statement and not statement.lstrip().startswith(
                ("CREATE", "DROP", "PRAGMA")) and not executemany:
            rows = cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
            plans[statement.split(" SET ")[0][:60]] = [r[3] for r in rows]

    event.listen(gcrm.engine, "before_cursor_execute", explain)
    try:
        grading.run(gcrm)
    finally:
        event.remove(gcrm.engine, "before_cursor_execute", explain)
    p = gcrm.prefix
    fill = next(v for k, v in plans.items() if k.startswith("WITH"))
    assert f"SEARCH {p}documents USING COVERING INDEX {p}ix_documents_aging (tenant_id=?)" \
        in fill, fill
    assert f"SEARCH cn USING INDEX {p}ix_documents_kind (tenant_id=? AND kind=? AND " \
        "issued_on<?)" in fill, fill
    assert not any("B-TREE" in x for x in fill if "credits" not in x and "GROUP BY" not in x), fill
    rank = next(v for k, v in plans.items() if k.startswith(f"INSERT INTO {p}grading_stage_run"))
    # r, f, m, ABC; then the raw rows in key order (no fifth sort), each finding its
    # ranks by an index on them
    assert sum(x == "USE TEMP B-TREE FOR ORDER BY" for x in rank) == 4, rank
    assert "SCAN r" in rank, rank
    assert "SEARCH w USING AUTOMATIC COVERING INDEX (customer_id=?) LEFT-JOIN" in rank, rank
    for stmt, plan in plans.items():
        assert not [x for x in plan if x.startswith("SCAN ") and "LEFT-JOIN" in x], (stmt, plan)


@pytest.mark.parametrize("listened", [False, True])
def test_the_run_reads_its_new_history_and_audit_rows_by_id_on_sqlite(crm_factory, listened):
    """The history rows a run adds, and the audit rows the events are made of, are
    read back by the primary key's range past the id before them (``sql.not_indexed``),
    never through the ``tenant_id`` index, which walks every row the tenant's history
    and audit ever had and sorts them by id: with a plugin listening (a page at a time)
    and without (one ``INSERT ... SELECT``), on the third run of a tenant."""
    plugins = ["crmkit_grading", GradeCounter()] if listened else ["crmkit_grading"]
    enable = ["grading", "grade_counter"] if listened else ["grading"]
    crm = crm_factory(plugins=plugins, discover=False, enable=enable)
    if crm.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plan")
    from sqlalchemy import event

    a, b, c = customers(crm, "a", "b", "c")
    inv(crm, a.id, "A1", "100", "2026-11-01")
    grading.run(crm)
    inv(crm, b.id, "B1", "50", "2026-11-10")
    grading.run(crm)
    inv(crm, c.id, "C1", "80", "2026-11-20")
    p = crm.prefix
    plans = []

    def explain(conn, cursor, statement, parameters, context, executemany):
        # the statements reading the rows past an id: history for audit and events,
        # audit rows for the events
        if not executemany and (f"{p}grading_history.id >" in statement
                                or statement.startswith(f"INSERT INTO {p}outbox")):
            rows = cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
            plans.append((statement[:40], [r[3] for r in rows]))

    event.listen(crm.engine, "before_cursor_execute", explain)
    try:
        assert grading.run(crm)["changed"] >= 1
    finally:
        event.remove(crm.engine, "before_cursor_execute", explain)
    history = [plan for stmt, plan in plans if not stmt.startswith(f"INSERT INTO {p}outbox")
               and any("grading_history" in x for x in plan)]
    assert history, plans
    for plan in history:
        assert f"SEARCH {p}grading_history USING INTEGER PRIMARY KEY (rowid>?)" in plan, plan
        assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan
    outbox = [plan for stmt, plan in plans if stmt.startswith(f"INSERT INTO {p}outbox")]
    if not listened:  # the events are made of the audit rows just written
        assert outbox and all(f"SEARCH {p}audit USING INTEGER PRIMARY KEY (rowid>?)" in plan
                              for plan in outbox), outbox


def test_the_run_stores_the_grades_show_computes(crm_factory):
    """``grading run`` computes into its stage in three statements, ``grading show`` in
    one: on a mixed tenant (ties in every ranked value, credit notes, documents outside
    the window, customers without any, archived and tagged ones) both give every
    customer the same grade, field by field."""
    import random

    from sqlalchemy import select

    rng = random.Random(11)
    crm = crm_factory(enable=["grading"])
    people = customers(crm, *[f"c{i}" for i in range(40)])
    n = 0
    for c in people[:34]:
        for _ in range(rng.randrange(0, 5)):
            n += 1
            amount = rng.choice(["10", "10", "25.50", "100", "999.99"])
            inv(crm, c.id, f"I{n}", amount, ago(rng.choice([1, 5, 5, 30, 200, 400, 800])))
            if rng.random() < 0.2:
                crm.documents.add(c.id, kind="credit_note", number=f"CN{n}", amount="5",
                                  issued_on=D, applies_to=f"I{n}")
    for c in people[::9]:
        crm.customers.update(c.id, tags=["special"])
    for c in people[5::13]:
        crm.customers.archive(c.id)
    grading.run(crm)
    fields = ("recency_days", "frequency", "monetary", "r", "f", "m", "segment", "abc",
              "tier")
    shown = {g["customer_id"]: tuple(g[k] for k in fields) for g in grading.grades(crm)}
    with crm.unit(write=False) as ctx:
        g = ctx.crm.table("grading_grades")
        stored = {r.customer_id: tuple(getattr(r, k) for k in fields)
                  for r in ctx.conn.execute(select(g))}
    assert len(shown) == 40 - len(people[5::13])
    assert {s[6] for s in shown.values()} >= {"no_purchases", "champions"}
    assert stored == shown


def test_grade_changes_are_written_alike_with_and_without_a_listener(crm_factory):
    """With no plugin implementing ``crm_grade_changed`` the run builds the audit rows
    and ``grade.changed`` events in SQL; with one, in Python beside the hook calls.
    The same history in two tenants (one with a listener) gives the same feed and the
    same events, field by field: first grades and changes, a Chinese name, a credit
    note (a value with cents), no recency, no purchase in the window."""
    from sqlalchemy import select

    counter = GradeCounter()
    crm = crm_factory(plugins=["crmkit_grading", counter], discover=False,
                      enable=["grading", "grade_counter"])
    crm.tenants.add("quiet")
    quiet = crm.using(tenant="quiet")
    quiet.plugins.enable("grading")

    def history(crm):
        a, b, c, d = customers(crm, "甲公司", "b", "c", "d")
        inv(crm, a.id, "A1", "100", "2026-11-01")
        inv(crm, b.id, "B1", "50.05", "2026-05-01")
        inv(crm, d.id, "D1", "30", ago(400).isoformat())
        crm.documents.add(b.id, kind="credit_note", number="CN1", amount="0.07",
                          issued_on=D, applies_to="B1")
        grading.run(crm)
        inv(crm, c.id, "C1", "80", "2026-11-20")
        grading.run(crm.using(today=D + dt.timedelta(days=1)))
        grading.run(crm.using(today=D + dt.timedelta(days=200)))
        names = {x.id: x.name for x in (a, b, c, d)}
        feed = [(names[x["id"]], x["op"], x["user"], x["before"], x["after"])
                for x in crm.changes() if x["table"] == "grading"]
        with crm.unit(write=False) as ctx:
            o = ctx.crm.table("outbox")
            events = []
            for r in ctx.conn.execute(select(o).where(o.c.tenant_id == ctx.tenant.id,
                                                      o.c.event == "grade.changed")
                                      .order_by(o.c.id)):
                payload = r.payload if isinstance(r.payload, dict) else json.loads(r.payload)
                assert payload["customer_id"] == r.customer_id
                events.append((names[r.customer_id], payload["customer"],
                               payload["before"], payload["after"]))
        return feed, events

    loud_feed, loud_events = history(crm)
    calls = len(counter.calls)
    quiet_feed, quiet_events = history(quiet)
    assert len(counter.calls) == calls  # the quiet tenant has no listener
    assert calls == len(loud_feed) >= 6
    assert quiet_feed == loud_feed
    assert quiet_events == loud_events
    assert [e[0] for e in quiet_events] == [f[0] for f in quiet_feed]
    assert {f[1] for f in quiet_feed} == {"insert", "update"}
    assert all(f[3] is None for f in quiet_feed if f[1] == "insert")
    values = [f[4]["monetary"] for f in quiet_feed]
    assert "49.98" in values and "100.00" in values
    assert any(f[4]["recency_days"] is None for f in quiet_feed)
    assert quiet_events[0][1] == "甲公司"
