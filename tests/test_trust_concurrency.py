"""Concurrency: separate processes writing one database at once.

* Two processes add 5,000 customers each to one SQLite file, through ``add`` in small
  transactions and through ``add_many`` in batches of 100: all 10,000 are there with
  unique ids, one audit row each, and no "database is locked" reached either process.
* Two processes run ``reminders.send()`` for the same day at once, on every backend:
  each reminder key is delivered exactly once (the built-in ``tasks`` plugin turns
  open tasks due on the day into reminders).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
from typing import Any

import pytest
from sqlalchemy import func, select

import crmkit
from tests.plugins import trust_workers

TODAY = dt.date(2026, 11, 22)
PER_PROCESS = 5_000
# One-by-one ``add`` costs several milliseconds of SQLAlchemy CPU per customer, so that
# path runs 1,000 per process by default; CRMKIT_TRUST_FULL=1 runs the full 5,000.
PER_PROCESS_ADD = PER_PROCESS if os.environ.get("CRMKIT_TRUST_FULL") == "1" else 1_000


def _run(target: Any, args_list: list[tuple], timeout: float = 240) -> list[tuple]:
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(len(args_list))  # every worker opened its Crm: go together
    out = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, start, out)) for args in args_list]
    for p in procs:
        p.start()
    results = [out.get(timeout=timeout) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    return sorted(results)


@pytest.mark.parametrize("mode", ["add", "add_many"])
def test_two_processes_add_5000_customers_each_to_one_sqlite_file(tmp_path, mode):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    crm = crmkit.open(url, today=TODAY)
    crm.init()
    n = PER_PROCESS if mode == "add_many" else PER_PROCESS_ADD
    results = _run(trust_workers.add_customers, [(url, "P1", n, mode), (url, "P2", n, mode)])
    for tag, added, error in results:
        assert error is None, f"{tag} failed:\n{error}"
        assert added == n
    t, a = crm.table("customers"), crm.table("audit")
    with crm.engine.connect() as conn:
        rows = conn.execute(select(t.c.id, t.c.name, t.c.external_id)).all()
        audit = conn.execute(select(a.c.row_id).where(a.c.table_name == "customer",
                                                     a.c.op == "insert")).all()
        ok = conn.exec_driver_sql("PRAGMA integrity_check").scalar()
    assert ok == "ok"
    assert len(rows) == 2 * n
    assert len({r.id for r in rows}) == 2 * n
    expected = {f"P{p}-{i}" for p in (1, 2) for i in range(n)}
    assert {r.external_id for r in rows} == expected
    assert all(r.name == r.external_id for r in rows)
    # one audit insert per customer, pointing at it
    assert sorted(r.row_id for r in audit) == sorted(r.id for r in rows)
    crm.close()


def _tasks_due(crm: Any, n_customers: int) -> set[str]:
    """Open tasks on ``n_customers`` customers, due today and earlier; returns the
    reminder keys the built-in tasks plugin must produce today."""
    crm.users.add("li")
    ids = []
    for i in range(n_customers):
        c = crm.customers.add(name=f"C{i}", owner="li" if i % 2 else "admin")
        for d in (0, 1, 3):
            ids.append(crm.activities.add(c.id, kind="task", subject=f"t{i}-{d}",
                                          owner=c.owner,
                                          due_on=TODAY - dt.timedelta(days=d)).id)
        crm.activities.add(c.id, kind="task", subject="later", due_on=TODAY
                           + dt.timedelta(days=5))
    keys = {r.key for r in crm.reminders.due()}
    # due today or before: 3 per customer, keyed by task id and due date
    assert len(keys) == 3 * n_customers
    return keys


def test_two_senders_at_once_deliver_each_reminder_exactly_once(crm, crm_db_url):
    keys = _tasks_due(crm, 10)
    d = crm.table("deliveries")
    for round_ in range(2):  # round 1: new tasks due tomorrow
        day = TODAY + dt.timedelta(days=round_)
        if round_:
            # a new round: tasks also due on a later day give the same keys (key =
            # task + due date), so add fresh ones due that day
            c = crm.customers.add(name=f"R{round_}")
            for i in range(10):
                crm.activities.add(c.id, kind="task", subject=f"r{i}", due_on=day)
            keys = {r.key for r in crm.reminders.due(day)}
        with crm.engine.connect() as conn:
            before = set(conn.scalars(select(d.c.key)))
        results = _run(trust_workers.send_reminders,
                       [(crm_db_url, "S1", day.isoformat()), (crm_db_url, "S2",
                                                               day.isoformat())])
        for tag, _keys, error in results:
            assert error is None, f"{tag} failed:\n{error}"
        got1, got2 = results[0][1], results[1][1]
        assert not set(got1) & set(got2), "a key was delivered twice"
        assert len(got1) == len(set(got1)) and len(got2) == len(set(got2))
        assert set(got1) | set(got2) == keys - before
        with crm.engine.connect() as conn:
            n = conn.execute(select(func.count()).select_from(d)).scalar_one()
            after = set(conn.scalars(select(d.c.key)))
        assert n == len(after) == len(before | keys)
        # a third send finds everything delivered
        again, already = crm.reminders.send(day)
        assert again == [] and already == len(keys)
