"""The sales plugin: opportunities, moves, permissions, bad input, hooks, CLI."""

import datetime as dt
from decimal import Decimal

import pytest
from crmkit_sales import service
from sqlalchemy import func, select

import crmkit

D = dt.date


@pytest.fixture
def sales(crm_factory):
    crm = crm_factory(enable=("sales",))
    crm.users.add("li", role="sales")
    crm.users.add("wang", role="sales")
    return crm


def counts(crm):
    """Row counts of every table a sales write touches, and the change-feed length."""
    out = {}
    with crm.unit(write=False) as ctx:
        for name in ("sales_opportunities", "sales_stage_changes", "activities", "documents",
                     "audit", "outbox", "customers"):
            t = crm.table(name)
            out[name] = ctx.conn.execute(select(func.count()).select_from(t)).scalar()
    out["changes"] = len(crm.changes())
    return out


def test_add_records_change_audit_event_and_timeline_note(sales):
    c = sales.customers.add(name="上海大众", owner="li")
    opp = service.add(sales, c.id, title="ERP 项目", amount="12000.50", close="2026-12-31")
    assert (opp.stage, opp.owner, opp.created_on) == ("lead", "li", D(2026, 11, 22))
    assert opp.amount == Decimal("12000.50")
    with sales.unit(write=False) as ctx:
        ch = sales.table("sales_stage_changes")
        rows = ctx.conn.execute(select(ch)).all()
        ob = sales.table("outbox")
        events = [r.event for r in ctx.conn.execute(select(ob.c.event))]
    assert [(r.from_stage, r.to_stage, r.changed_on, r.changed_by) for r in rows] == [
        (None, "lead", D(2026, 11, 22), "admin")]
    assert "opportunity.created" in events
    feed = [(x["table"], x["op"]) for x in sales.changes()]
    assert ("opportunity", "insert") in feed and ("activity", "insert") in feed
    notes = sales.activities.list(customer_id=c.id, kind="note")
    assert len(notes) == 1 and "ERP 项目" in notes[0].subject


def test_win_with_contract_makes_prospect_active(sales):
    c = sales.customers.add(name="Acme", owner="li")
    opp = service.add(sales, c.id, title="Deal", amount="5000.00", close="2026-12-01")
    won = service.move(sales, opp.id, "won", contract_number="C-1")
    assert (won.stage, won.closed_on) == ("won", D(2026, 11, 22))
    doc = sales.documents.by_number("contract", "C-1")
    assert doc.amount == Decimal("5000.00") and doc.customer_id == c.id
    assert sales.customers.get(c.id).status == "active"


def test_win_without_contract_also_activates_prospect(sales):
    c = sales.customers.add(name="Beta", owner="li")
    opp = service.add(sales, c.id, title="Deal", amount="10", close="2026-12-01")
    service.move(sales, opp.id, "won")
    assert sales.customers.get(c.id).status == "active"
    assert sales.documents.list(customer_id=c.id) == []


def test_lost_keeps_reason_and_move_on_date(sales):
    c = sales.customers.add(name="Gamma", owner="li")
    opp = service.add(sales.using(today=D(2026, 11, 1)), c.id, title="D", amount="1",
                      close="2026-12-01")
    service.move(sales, opp.id, "qualified", on=D(2026, 11, 5))
    lost = service.move(sales, opp.id, "lost", on=D(2026, 11, 9), reason="too expensive")
    assert (lost.closed_on, lost.lost_reason) == (D(2026, 11, 9), "too expensive")
    hist = sales.customers.view(c.id)["sections"]["sales"]["history"]
    assert [(h["from_stage"], h["to_stage"], h["on"]) for h in hist] == [
        (None, "lead", "2026-11-01"), ("lead", "qualified", "2026-11-05"),
        ("qualified", "lost", "2026-11-09")]


def test_bad_input_writes_nothing(sales, cli):
    c = sales.customers.add(name="Delta", owner="li")
    opp = service.add(sales, c.id, title="D", amount="100", close="2026-12-01")
    closed = service.add(sales, c.id, title="E", amount="100", close="2026-12-01")
    service.move(sales, closed.id, "lost")
    service.add(sales, c.id, title="F", amount="1", close="2026-12-01")
    service.move(sales, 3, "won", contract_number="C-9")
    before = counts(sales)
    cases = [
        (("sales", "move", opp.id, "signed"), "unknown stage 'signed'; valid: lead, "
         "qualified, proposal, negotiation, won, lost"),
        (("sales", "move", closed.id, "lead"), f"opportunity {closed.id} is closed (lost on "
         "2026-11-22); a closed opportunity cannot move"),
        (("sales", "add", c.id, "--title", "X", "--amount", "10", "--close", "2026-11-21"),
         "expected close date 2026-11-21 is before the creation date 2026-11-22"),
        (("sales", "add", c.id, "--title", "X", "--amount", "-5", "--close", "2026-12-01"),
         "amount must not be negative, got -5"),
        (("sales", "add", c.id, "--title", "X", "--amount", "5", "--close", "2026-12-01",
          "--stage", "nope"), "unknown stage 'nope'"),
        (("sales", "add", c.id, "--title", "X", "--amount", "5", "--close", "2026-12-01",
          "--stage", "won"), "a new opportunity starts in an open stage"),
        (("sales", "move", opp.id, "won", "--contract-number", "C-9"),
         "contract number 'C-9' already exists"),
        (("sales", "move", opp.id, "proposal", "--on", "2026-11-01"),
         "move date 2026-11-01 is before the opportunity's last change on 2026-11-22"),
        (("sales", "move", 999, "won"), "opportunity 999 not found"),
        (("sales", "forecast", "--by", "week"), "unknown --by 'week'; valid: month, owner"),
        (("plugins", "set", "sales", "stages", '[["a",10],["b",100]]'),
         "exactly one stage with probability 0"),
        (("plugins", "set", "sales", "stages", '[["a",10],["b",100],["c",0],["d",100]]'),
         "exactly one stage with probability 100 (the 'won' stage), found 2: b, d"),
        (("plugins", "set", "sales", "stages", '[["a",10],["a",30],["b",100],["c",0]]'),
         "stage name 'a' appears more than once"),
        (("plugins", "set", "sales", "stages", '[["a",101],["b",100],["c",0]]'),
         "probability of stage 'a' must be a whole number from 0 to 100"),
    ]
    for args, message in cases:
        r = cli(*args)
        assert r.exit_code == 1, (args, r)
        assert message in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr
    assert counts(sales) == before
    assert sales.plugins.settings("sales").names[0] == "lead"
    assert service.get(sales, opp.id).stage == "lead"


def test_stages_setting_drives_the_pipeline(sales, cli):
    r = cli("plugins", "set", "sales", "stages",
            '[["new",20],["offer",50],["signed",100],["dropped",0]]')
    assert r.exit_code == 0, r
    c = sales.customers.add(name="Eps", owner="li")
    opp = service.add(sales, c.id, title="T", amount="200", close="2026-12-01")
    assert opp.stage == "new"
    r = cli("sales", "move", opp.id, "won")
    assert r.exit_code == 1 and "valid: new, offer, signed, dropped" in r.stderr
    assert service.move(sales, opp.id, "signed").closed_on == D(2026, 11, 22)


def test_stages_refusal_quotes_at_most_80_characters_of_the_value(sales, cli):
    before = counts(sales)
    r = cli("plugins", "set", "sales", "stages", '"' + "x" * 500 + '"')
    assert r.exit_code == 1 and "setting stages must be a list" in r.stderr
    assert "x" * 80 not in r.stderr and "…" in r.stderr   # cut by crmkit.settings.quote
    assert counts(sales) == before


def test_sales_user_sees_and_moves_only_own_opportunities(sales, cli):
    a = sales.customers.add(name="Li's", owner="li")
    b = sales.customers.add(name="Wang's", owner="wang")
    mine = service.add(sales, a.id, title="L", amount="100", close="2026-12-01")
    theirs = service.add(sales, b.id, title="W", amount="200", close="2026-12-01")
    li = sales.using(user="li")
    assert [x["id"] for x in service.list_opportunities(li)] == [mine.id]
    before = counts(sales)
    r = cli("sales", "move", theirs.id, "qualified", user="li")
    assert r.exit_code == 1
    assert f"user 'li' may not update opportunity {theirs.id}" in r.stderr
    r = cli("sales", "add", b.id, "--title", "x", "--amount", "1", "--close", "2026-12-01",
            user="li")
    assert r.exit_code == 1 and "permission denied" in r.stderr
    assert counts(sales) == before
    r = cli("sales", "list", "--json", user="li")
    assert [x["id"] for x in r.json] == [mine.id]
    r = cli("sales", "forecast", "--json", user="li")
    assert r.json == [{"period": "2026-12", "count": 1, "best_case": "100.00",
                       "weighted": "10.00", "won": "0.00"}]
    assert cli("sales", "move", mine.id, "qualified", user="li").exit_code == 0
    with pytest.raises(crmkit.PermissionDenied):
        service.get(li, theirs.id)


def test_reassign_moves_open_opportunities(sales):
    c = sales.customers.add(name="Zeta", owner="li")
    open_ = service.add(sales, c.id, title="O", amount="1", close="2026-12-01")
    done = service.add(sales, c.id, title="W", amount="1", close="2026-12-01")
    service.move(sales, done.id, "won")
    sales.customers.reassign("li", "wang")
    assert service.get(sales, open_.id).owner == "wang"
    assert service.get(sales, done.id).owner == "li"
    assert any(x["table"] == "opportunity" and x["id"] == open_.id and
               x["after"]["owner"] == "wang" for x in sales.changes())


def test_section_open_with_weighted(sales):
    c = sales.customers.add(name="Eta", owner="li")
    service.add(sales, c.id, title="A", amount="333.33", close="2026-12-01",
                stage="negotiation")
    data = sales.customers.view(c.id)["sections"]["sales"]
    # 333.33 × 80 / 100 = 266.664 -> 266.66
    assert [(o["title"], o["probability"], o["amount"], o["weighted"])
            for o in data["open"]] == [("A", 80, "333.33", "266.66")]


def test_cli_add_prints_id_and_json_record(sales, cli):
    c = sales.customers.add(name="Theta", owner="li")
    r = cli("sales", "add", c.id, "--title", "First", "--amount", "1,200.00", "--close",
            "2027-01-10", "--next-step", "2026-11-30")
    assert r.exit_code == 0, r
    assert r.stdout.strip() == "1"
    r = cli("sales", "add", c.id, "--title", "Second", "--amount", "99", "--close",
            "2027-01-10", "--stage", "proposal", "--owner", "wang", "--json")
    rec = r.json
    assert (rec["id"], rec["stage"], rec["owner"], rec["amount"]) == (2, "proposal", "wang",
                                                                     "99.00")
    r = cli("sales", "list", "--open", "--stage", "lead", "--json")
    assert [(x["id"], x["amount"], x["next_step"], x["weighted"]) for x in r.json] == [
        (1, "1200.00", "2026-11-30", "120.00")]
    r = cli("sales", "move", "1", "won", "--contract-number", "K-1")
    assert r.exit_code == 0 and "closed on 2026-11-22" in r.stdout


def test_disabled_plugin_says_how_to_enable(crm, cli):
    r = cli("sales", "list")
    assert r.exit_code == 1 and "crmkit plugins enable sales" in r.stderr


@pytest.mark.backends("sqlite")  # the demo's data does not depend on the backend; sqlite is enough
def test_demo_shows_a_pipeline(cli, crm_db_url):
    assert cli("demo").exit_code == 0
    rows = cli("sales", "list", "--json").json
    stages = {r["stage"] for r in rows}
    assert {"lead", "qualified", "proposal", "negotiation", "won", "lost"} <= stages
    assert cli("sales", "forecast", "--json").json
