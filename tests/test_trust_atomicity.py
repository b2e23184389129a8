"""Atomicity: a plugin failing in any lifecycle hook halfway through a bulk path, and
a process killed with SIGKILL halfway through a 100,000-row ``add_many``, leave the
database as it was: no half-written customer, no orphan activity, no outbox row
without its change; re-running the import then finishes without duplicates.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from sqlalchemy import func, select

import crmkit
from crmkit.errors import CrmError
from tests.plugins import trust_workers
from tests.plugins.trust import counts, tenant_snapshot
from tests.plugins.trust_faults import Emitter, Faulty

TODAY = dt.date(2026, 11, 22)
N = 60    # records per bulk call; the faulty plugin fails on record 35 (batch 2 of 25)
AT = 35
BATCH = 25


def _setup(crm_factory: Any, hook: str, at: int = AT) -> tuple[Any, Faulty]:
    faulty = Faulty(hook, at)
    crm = crm_factory(plugins=[Emitter(), faulty], enable=("aa_emitter", "zz_faulty"))
    crm.users.add("li")
    crm.users.add("wang")
    return crm, faulty


def _customers(crm: Any, n: int, owner: str = "li") -> list[int]:
    crm.customers.add_many({"name": f"K{i}", "owner": owner, "external_id": f"K{i}"}
                           for i in range(n))
    return [c.id for c in crm.customers.list(owner=owner)]


def _bulk(crm: Any, hook: str, ids: list[int]) -> None:
    """The bulk path that fires ``hook`` ``N`` times in one transaction."""
    if hook.startswith("crm_customer_") and hook not in ("crm_customer_updated",
                                                         "crm_customer_archived"):
        crm.customers.add_many(({"name": f"N{i}", "external_id": f"N{i}", "owner": "li"}
                                for i in range(N)), batch_size=BATCH)
    elif hook in ("crm_activity_validate", "crm_activity_logged"):
        crm.activities.add_many(({"customer_id": ids[i % len(ids)], "kind": "task",
                                  "subject": f"t{i}", "due_on": TODAY} for i in range(N)),
                                batch_size=BATCH)
    elif hook in ("crm_document_validate", "crm_document_created"):
        # invoices: the built-in lifecycle plugin also updates each prospect to active
        crm.documents.add_many({"customer_id": ids[i % len(ids)], "kind": "invoice",
                                "number": f"INV-{i}", "amount": "10.00"} for i in range(N))
    elif hook == "crm_customer_updated":
        crm.customers.reassign("li", "wang")          # N customers change owner
    elif hook == "crm_activity_updated":
        with crm.unit():
            for a in crm.activities.list(open_only=True):
                crm.activities.done(a.id)
    elif hook == "crm_customer_archived":
        with crm.unit():
            for cid in ids:
                crm.customers.archive(cid)
    elif hook == "crm_document_updated":
        with crm.unit():
            for d in crm.documents.list():
                crm.documents.set_status(d.id, "void")
    else:  # pragma: no cover
        raise AssertionError(hook)


HOOKS = ["crm_customer_validate", "crm_customer_created", "crm_customer_updated",
         "crm_customer_archived", "crm_activity_validate", "crm_activity_logged",
         "crm_activity_updated", "crm_document_validate", "crm_document_created",
         "crm_document_updated"]


def _prepare(crm: Any, hook: str) -> list[int]:
    """Existing data the update paths work on (written before the faulty hook counts)."""
    ids = _customers(crm, N if hook in ("crm_customer_updated", "crm_customer_archived")
                     else 5)
    if hook == "crm_activity_updated":
        crm.activities.add_many({"customer_id": ids[i % 5], "kind": "task",
                                 "subject": f"t{i}", "due_on": TODAY} for i in range(N))
    if hook == "crm_document_updated":
        crm.documents.add_many({"customer_id": ids[i % 5], "kind": "quote",
                                "number": f"Q-{i}", "amount": "1"} for i in range(N))
    return ids


@pytest.mark.parametrize("hook", HOOKS)
def test_a_plugin_failing_halfway_through_a_bulk_path_leaves_nothing(crm_factory, hook):
    crm, faulty = _setup(crm_factory, hook, at=10**9)  # not failing while preparing
    ids = _prepare(crm, hook)
    tid = crm.tenants.get("default").id
    before, snap = counts(crm), tenant_snapshot(crm, tid)
    faulty.calls, faulty.at = 0, AT  # armed: fails on the AT-th call from here
    with pytest.raises(CrmError) as info:
        _bulk(crm, hook, ids)
    assert "zz_faulty" in str(info.value)
    # the failure came halfway: earlier records had already gone through the hook
    assert faulty.calls >= AT
    assert counts(crm) == before
    assert tenant_snapshot(crm, tid) == snap


def test_without_the_fault_every_change_has_its_outbox_row(crm_factory):
    crm, _ = _setup(crm_factory, "crm_customer_created", at=10**9)
    before = counts(crm)
    assert crm.customers.add_many(({"name": f"N{i}", "owner": "li"} for i in range(N)),
                                  batch_size=BATCH) == N
    after = counts(crm)
    # 60 customers -> 60 audit rows and 60 outbox rows (the emitter's)
    assert after["customers"] - before["customers"] == N
    assert after["audit"] - before["audit"] == N
    assert after["outbox"] - before["outbox"] == N
    o, c = crm.table("outbox"), crm.table("customers")
    with crm.engine.connect() as conn:
        orphans = conn.execute(select(func.count()).select_from(o).where(
            o.c.customer_id.not_in(select(c.c.id)))).scalar_one()
    assert orphans == 0


# --- SIGKILL halfway through a 100,000-row add_many (SQLite file) ---------------------

BIG = 100_000


def _consistent(url: str) -> dict[str, int]:
    crm = crmkit.open(url, today=TODAY)
    try:
        with crm.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        c, a, o = crm.table("customers"), crm.table("audit"), crm.table("outbox")
        with crm.engine.connect() as conn:
            n = conn.execute(select(func.count()).select_from(c)).scalar_one()
            distinct = conn.execute(select(func.count(func.distinct(c.c.external_id)))
                                    ).scalar_one()
            orphan_audit = conn.execute(select(func.count()).select_from(a).where(
                a.c.customer_id.is_not(None), a.c.customer_id.not_in(select(c.c.id)))
            ).scalar_one()
            orphan_outbox = conn.execute(select(func.count()).select_from(o).where(
                o.c.customer_id.is_not(None), o.c.customer_id.not_in(select(c.c.id)))
            ).scalar_one()
            audit_customers = conn.execute(select(func.count()).select_from(a).where(
                a.c.table_name == "customer")).scalar_one()
        return {"customers": n, "distinct_external_ids": distinct,
                "orphan_audit": orphan_audit, "orphan_outbox": orphan_outbox,
                "audit_customers": audit_customers}
    finally:
        crm.close()


def test_sigkill_halfway_through_a_100000_row_add_many(tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    crm = crmkit.open(url, today=TODAY)
    crm.init()
    crm.close()
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    p = ctx.Process(target=trust_workers.big_add_many, args=(url, BIG, ready))
    p.start()
    assert ready.wait(300), "the worker never got halfway"
    os.kill(p.pid, signal.SIGKILL)
    p.join(30)
    assert p.exitcode == -signal.SIGKILL
    # add_many is one transaction: nothing of the 50,000 rows already inserted remains
    assert _consistent(url) == {"customers": 0, "distinct_external_ids": 0,
                                "orphan_audit": 0, "orphan_outbox": 0, "audit_customers": 0}
    # re-running finishes with exactly 100,000 customers, no duplicates
    again = ctx.Event()  # kept referenced until the child has unpickled it
    p = ctx.Process(target=trust_workers.big_add_many, args=(url, BIG, again))
    p.start()
    p.join(600)
    assert p.exitcode == 0
    assert _consistent(url) == {"customers": BIG, "distinct_external_ids": BIG,
                                "orphan_audit": 0, "orphan_outbox": 0, "audit_customers": BIG}


CRMKIT = [sys.executable, "-c", "from crmkit.cli import main; main()"]


def _import_available() -> bool:
    r = subprocess.run([*CRMKIT, "import", "--help"],
                       capture_output=True, text=True, timeout=60)
    return r.returncode == 0


def test_sigkill_halfway_through_crmkit_import(tmp_path):
    if not _import_available():
        pytest.skip("`crmkit import` is not available")
    db = tmp_path / "crm.db"
    url = f"sqlite:///{db}"
    env = {**os.environ, "CRMKIT_DB": url, "CRMKIT_TODAY": TODAY.isoformat()}

    log = open(tmp_path / "crmkit.log", "w+b")  # noqa: SIM115 - a file never fills up

    def crmkit_cmd(*args: str) -> Any:
        return subprocess.Popen([*CRMKIT, *args], env=env, stdout=log, stderr=log)

    for args in (("init",), ("plugins", "enable", "csv")):
        p = crmkit_cmd(*args)
        assert p.wait(120) == 0, (tmp_path / "crmkit.log").read_text()
    src = tmp_path / "customers.csv"
    with open(src, "w", encoding="utf-8", newline="") as f:
        f.write("name,external_id,phone\n")
        f.writelines(f"客户 {i},E{i},+86 {i:08d}\n" for i in range(BIG))
    p = crmkit_cmd("import", "customers", str(src))
    wal = tmp_path / "crm.db-wal"
    deadline = time.monotonic() + 300
    # halfway: the open transaction has spilled well into the WAL
    while time.monotonic() < deadline and p.poll() is None:
        if wal.exists() and wal.stat().st_size > 8_000_000:
            break
        time.sleep(0.05)
    assert p.poll() is None, "the import finished before it could be killed"
    p.send_signal(signal.SIGKILL)
    p.wait(30)
    assert _consistent(url) == {"customers": 0, "distinct_external_ids": 0,
                                "orphan_audit": 0, "orphan_outbox": 0, "audit_customers": 0}
    p = crmkit_cmd("import", "customers", str(src))
    assert p.wait(900) == 0, (tmp_path / "crmkit.log").read_text()
    log.close()
    assert _consistent(url) == {"customers": BIG, "distinct_external_ids": BIG,
                                "orphan_audit": 0, "orphan_outbox": 0, "audit_customers": BIG}
