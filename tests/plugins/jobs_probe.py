"""A plugin for the jobs tests, importable by worker processes (``--workers``, Celery).

* ``crm_reminders``: three reminders per tenant, ``jobprobe:<slug>:<i>``;
* ``crm_deliver``: a channel that writes one ``jobprobe_log`` row per reminder it is
  handed, in the delivery's transaction, with no unique key: a reminder delivered
  twice shows as two rows;
* ``crm_jobs``: ``jobprobe.work``, which raises for tenants named ``boom*``, kills its
  worker process for ``crash*`` (only inside a worker process), and otherwise says
  ``worked``.

A *gate* holds a delivery or a job in the middle, for lock and kill tests: when
``CRMKIT_JOBPROBE_GATE`` names a folder holding a file named after the tenant
(``<slug>`` for the delivery, ``<slug>.work`` for the job), it writes ``<gate>.entered``
(its process id) there and waits while the gate file exists.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, Table, func, insert, select

import crmkit
from crmkit.jobs import Job
from crmkit.storage import Str

PLUGIN = crmkit.PluginSpec(name="jobprobe", version="1.0",
                           description="Reminders, a counting channel and a job (tests).")
PER_TENANT = 3


@crmkit.hookimpl
def crm_tables(metadata: Any, prefix: str) -> None:
    Table(f"{prefix}jobprobe_log", metadata,
          Column("id", Integer, primary_key=True, autoincrement=True),
          Column("tenant_id", Integer, nullable=False),
          Column("key", Str(255), nullable=False),
          Column("pid", Integer, nullable=False))


@crmkit.hookimpl
def crm_reminders(ctx: Any, on: Any) -> list[crmkit.Reminder]:
    slug = ctx.tenant.slug
    return [crmkit.Reminder(key=f"jobprobe:{slug}:{i}", plugin="jobprobe", kind="probe",
                            subject=f"probe {i} of {slug}", due_on=on)
            for i in range(PER_TENANT)]


@crmkit.hookimpl
def crm_deliver(ctx: Any, reminders: list[Any]) -> None:
    mine = [r for r in reminders if r.plugin == "jobprobe"]
    if mine:
        ctx.conn.execute(insert(ctx.crm.table("jobprobe_log")), [
            {"tenant_id": ctx.tenant.id, "key": r.key, "pid": os.getpid()} for r in mine])
        hold(ctx.tenant.slug)


def hold(name: str, limit: float = 120.0) -> None:
    """Wait here while the gate file ``name`` exists (see the module's docstring)."""
    folder = os.environ.get("CRMKIT_JOBPROBE_GATE")
    if not folder:
        return
    gate = Path(folder) / name
    if not gate.exists():
        return
    (Path(folder) / f"{name}.entered").write_text(str(os.getpid()))
    deadline = time.monotonic() + limit
    while gate.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def work(crm: Any) -> str:
    slug = crm.tenant_slug
    if slug.startswith("boom"):
        raise RuntimeError(f"probe failure in {slug}")
    if slug.startswith("crash") and multiprocessing.parent_process() is not None:
        os._exit(3)  # a worker process dying (segfault, OOM killer)
    hold(f"{slug}.work")
    return "worked"


@crmkit.hookimpl
def crm_jobs() -> list[Job]:
    return [Job("jobprobe.work", work, "Probe job (tests).")]


def log_counts(crm: Any) -> dict[str, int]:
    """Rows of ``jobprobe_log`` per reminder key, over every tenant."""
    t = crm.table("jobprobe_log")
    with crm.engine.connect() as conn:
        return dict(conn.execute(select(t.c.key, func.count()).group_by(t.c.key)).all())
