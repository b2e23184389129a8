"""`crmkit today`: the owner's one screen, per DESIGN "Admin output", in the user's
scope, with the plugins' parts through the crm_today hook."""

from __future__ import annotations

import crmkit
from crmkit.summary import today
from tests.test_admin_output import widest


def _business(cli):
    """Four customers, two salespeople, invoices, a payment, opportunities and tasks.

    Today is Sunday 2026-11-22.
    A (li):   INV-1 1000.00 due 2026-10-31 with PAY-1 200.00 applied -> 800.00 owed,
              22 days overdue; INV-2 500.00 due 2026-12-15, not due.
    B (wang): INV-3 300.00 due 2026-07-31 -> 114 days overdue (payment risk: > 90).
    C (li):   a 2000.00 opportunity won today; D (wang): a prospect with nothing.
    """
    for args in (("init",), ("user", "add", "li"), ("user", "add", "wang"),
                 ("plugins", "enable", "receivables", "sales", "grading")):
        assert cli(*args).exit_code == 0, args
    for name, owner in (("A", "li"), ("B", "wang"), ("C", "li"), ("D", "wang")):
        cli("customer", "add", name, "--owner", owner)
    docs = [("1", "invoice", "INV-1", "1000.00", "2026-10-01", "2026-10-31"),
            ("1", "invoice", "INV-2", "500.00", "2026-11-15", "2026-12-15"),
            ("2", "invoice", "INV-3", "300.00", "2026-07-01", "2026-07-31")]
    for cid, kind, number, amount, issued, due in docs:
        assert cli("doc", "add", cid, "--kind", kind, "--number", number, "--amount",
                   amount, "--issued", issued, "--due", due).exit_code == 0
    assert cli("doc", "add", "1", "--kind", "payment", "--number", "PAY-1", "--amount",
               "200.00", "--issued", "2026-11-01", "--applies-to", "INV-1").exit_code == 0
    for cid, amount, close, stage in (("1", "10000.00", "2026-12-20", "proposal"),
                                      ("2", "5000.00", "2027-01-15", None),
                                      ("3", "2000.00", "2026-11-30", None)):
        extra = ["--stage", stage] if stage else []
        assert cli("sales", "add", cid, "--title", f"deal {cid}", "--amount", amount,
                   "--close", close, *extra).exit_code == 0
    assert cli("sales", "move", "3", "won").exit_code == 0
    cli("activity", "add", "1", "--kind", "task", "--subject", "call A", "--due",
        "2026-11-20", "--owner", "li")
    cli("activity", "add", "4", "--kind", "task", "--subject", "later", "--due",
        "2026-11-30")
    done = cli("activity", "add", "2", "--kind", "task", "--subject", "old", "--due",
               "2026-11-01").stdout.strip()
    cli("activity", "done", done)


def test_today_json_is_the_pinned_shape_with_hand_computed_figures(cli):
    _business(cli)
    day = cli("today", "--json").json
    assert set(day) == {"date", "user", "reminders", "tasks_due", "receivables", "sales",
                        "customers"}
    assert (day["date"], day["user"]) == ("2026-11-22", "admin")
    # reminders: INV-1 and INV-3 overdue, the task due 2026-11-20; INV-2 is not due this
    # week, the 2026-11-30 task is not due, the done task is done
    assert day["reminders"] == {"total": 3, "by_kind": {"overdue": 2, "task_due": 1}}
    assert [(t["subject"], t["due_on"]) for t in day["tasks_due"]] == [
        ("call A", "2026-11-20")]
    assert set(day["tasks_due"][0]) >= {"id", "customer_id", "kind", "owner", "done_at"}
    # outstanding 800 + 500 + 300 = 1600.00; overdue 800 + 300 = 1100.00
    assert day["receivables"] == {
        "outstanding": "1600.00", "overdue": "1100.00",
        "top_overdue": [{"customer_id": 1, "customer": "A", "overdue": "800.00"},
                        {"customer_id": 2, "customer": "B", "overdue": "300.00"}]}
    # pipeline 10000 + 5000 = 15000.00; weighted 10000 x 60% + 5000 x 10% = 6500.00;
    # won this month: C's 2000.00, closed today
    assert day["sales"] == {"pipeline": "15000.00", "weighted": "6500.00",
                            "won_this_month": "2000.00"}
    # A and B active by their invoices, C by its win, D a prospect; all created today;
    # at risk: B (114 days overdue); RFM: A champions (r5 f5), B loyal (r3 f3)
    assert day["customers"] == {"active": 3, "prospect": 1, "lost": 0,
                                "new_this_month": 4, "at_risk": 1}


def test_today_is_in_the_users_scope(cli):
    _business(cli)
    day = cli("today", "--json", user="li").json
    assert day["user"] == "li"
    assert day["reminders"] == {"total": 2, "by_kind": {"overdue": 1, "task_due": 1}}
    # li sees A (800 overdue + 500 not due) and C; B is wang's
    assert day["receivables"] == {
        "outstanding": "1300.00", "overdue": "800.00",
        "top_overdue": [{"customer_id": 1, "customer": "A", "overdue": "800.00"}]}
    assert day["sales"] == {"pipeline": "10000.00", "weighted": "6000.00",
                            "won_this_month": "2000.00"}
    assert day["customers"] == {"active": 2, "prospect": 0, "lost": 0,
                                "new_this_month": 2, "at_risk": 0}
    human = cli("today", user="li")
    assert human.exit_code == 0 and "li (your customers)" in human.stdout
    assert "B" not in human.stdout.split()


def test_parts_of_plugins_not_enabled_are_null(cli):
    assert cli("init").exit_code == 0
    cli("customer", "add", "Solo")
    day = cli("today", "--json").json
    assert day["receivables"] is None and day["sales"] is None
    assert day["customers"] == {"active": 0, "prospect": 1, "lost": 0, "new_this_month": 1,
                                "at_risk": None}
    human = cli("today").stdout
    assert "not enabled (crmkit plugins enable receivables)" in human
    assert "None" not in human


def test_today_screen_puts_figures_first_and_fits_80_columns(cli):
    _business(cli)
    r = cli("today", env={"COLUMNS": "80"})
    assert r.exit_code == 0
    out = r.stdout
    # figures first, then what to act on
    order = [out.index(s) for s in ("Receivables", "Sales", "Customers", "Reminders",
                                    "Largest overdue balances", "Tasks due (1)")]
    assert order == sorted(order)
    assert "outstanding 1,600.00 · overdue 1,100.00" in out
    assert widest(out) <= 80


def test_crm_today_hook_adds_and_merges_parts(crm_factory):
    class Loyalty:
        PLUGIN = crmkit.PluginSpec(name="loyalty")

        @crmkit.hookimpl
        def crm_today(self, ctx, on):
            return {"loyalty": {"points_due": 7, "on": on.isoformat()},
                    "customers": {"vip": 2}}

    crm = crm_factory(plugins=[Loyalty()])
    assert "loyalty" not in today(crm)  # not enabled: never asked
    crm.plugins.enable("loyalty")
    day = today(crm)
    assert day["loyalty"] == {"points_due": 7, "on": "2026-11-22"}
    # a part the core has is merged key by key, the core's keys kept
    assert day["customers"]["vip"] == 2 and day["customers"]["prospect"] == 0
