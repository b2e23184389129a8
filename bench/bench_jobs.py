"""Bench: ``crmkit jobs run reminders.send --all-tenants`` for 1,000 tenants (PostgreSQL).

Each tenant has one customer and three open tasks that are due, so every run delivers
3 reminders per tenant (the deliveries are deleted before each run, so every run does
the same work). Figures, each the median of ``--repeat`` runs:

* ``loop``: the same work in one process in a plain loop,
  ``for slug in tenants: crm.using(tenant=slug).reminders.send()`` (the baseline);
* ``run_all``: ``crm.jobs.run_all("reminders.send")`` in the same process: the
  per-tenant overhead of a job (permission, fresh enablement, the advisory lock on its
  own session, the row) is ``(run_all - loop) / tenants``, in wall time and in the
  process's CPU time (steadier on a loaded machine; the server's share is not in it);
* ``cli --workers 1`` and ``cli --workers 2``: the command itself, start-up included;
  the speed-up is their ratio.

    python bench/bench_jobs.py [--quick] [--tenants N] [--repeat R] [--url URL]

``--quick``: 50 tenants. The database is a fresh schema on ``--url`` (default the
test server, ``CRMKIT_TEST_POSTGRES_URL`` or postgresql://postgres@127.0.0.1:5432/test),
dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import figure, timed  # noqa: E402

D = dt.date(2026, 11, 22)
PER_TENANT = 3


def build(url: str, tenants: int) -> None:
    """The schema through crmkit, the tenants and their tasks through Core inserts."""
    import crmkit

    crm = crmkit.open(url, today=D)
    crm.init()
    now = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)
    t, u, c, a = (crm.table(n) for n in ("tenants", "users", "customers", "activities"))
    ids = range(2, tenants + 1)  # tenant 1 is "default"
    with crm.engine.begin() as conn:
        conn.execute(t.insert(), [{"id": i, "slug": f"t{i:05d}", "name": f"Tenant {i}",
                                   "currency": "CNY", "created_at": now} for i in ids])
        conn.execute(u.insert(), [{"tenant_id": i, "name": "admin", "role": "admin",
                                   "created_at": now} for i in ids])
        conn.execute(c.insert(), [{"id": i, "tenant_id": i, "name": f"Customer of {i}",
                                   "kind": "company", "status": "active", "owner": "admin",
                                   "extra": {}, "created_at": now, "updated_at": now}
                                  for i in range(1, tenants + 1)])
        conn.execute(a.insert(), [{"tenant_id": i, "customer_id": i, "kind": "task",
                                   "subject": f"task {k}", "owner": "admin",
                                   "occurred_at": now, "due_on": D - dt.timedelta(days=k)}
                                  for i in range(1, tenants + 1) for k in range(PER_TENANT)])
    crm.close()


def reset(crm) -> None:
    with crm.engine.begin() as conn:
        conn.execute(crm.table("deliveries").delete())


def delivered(crm) -> int:
    from sqlalchemy import func, select

    with crm.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(crm.table("deliveries"))
                            ).scalar_one()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tenants", type=int)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--url", default=os.environ.get(
        "CRMKIT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    args = ap.parse_args(argv)
    n = args.tenants or (50 if args.quick else 1000)

    from sqlalchemy import create_engine, text

    import crmkit

    schema = "crmkit_bench_" + uuid.uuid4().hex[:10]
    server = create_engine(args.url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{args.url}?options=-csearch_path%3D{schema}"
    try:
        t0 = time.perf_counter()
        build(url, n)
        print(f"built {n} tenants in {time.perf_counter() - t0:.1f}s", flush=True)
        crm = crmkit.open(url, today=D)
        slugs = [t.slug for t in crm.tenants.list()]
        expected = n * PER_TENANT

        def loop() -> None:
            reset(crm)
            for slug in slugs:
                crm.using(tenant=slug).reminders.send()
            assert delivered(crm) == expected

        def run_all() -> None:
            reset(crm)
            rows = crm.jobs.run_all("reminders.send")
            assert {r.status for r in rows} == {"ok"}, rows[:3]
            assert delivered(crm) == expected

        def cli(workers: int) -> float:
            reset(crm)
            t = time.perf_counter()
            p = subprocess.run([sys.executable, "-c", "from crmkit.cli import main; main()",
                                "--db", url, "--today",
                                D.isoformat(), "jobs", "run", "reminders.send",
                                "--all-tenants", "--workers", str(workers), "--json"],
                               capture_output=True, text=True)
            seconds = time.perf_counter() - t
            assert p.returncode == 0, p.stderr[-2000:]
            rows = json.loads(p.stdout)
            assert len(rows) == n and {r["status"] for r in rows} == {"ok"}
            assert delivered(crm) == expected
            return seconds

        # interleaved, so that a change in the machine's load hits both sides alike
        loops, alls, w1s, w2s, cpu_loops, cpu_alls = [], [], [], [], [], []
        for i in range(args.repeat):
            c0 = time.process_time()
            loops.append(timed(loop, 1))
            c1 = time.process_time()
            alls.append(timed(run_all, 1))
            cpu_loops.append(c1 - c0)
            cpu_alls.append(time.process_time() - c1)
            w1s.append(cli(1))
            w2s.append(cli(2))
            print(f"run {i + 1}: loop {loops[-1]:.2f}s, run_all {alls[-1]:.2f}s, "
                  f"cli -w1 {w1s[-1]:.2f}s, cli -w2 {w2s[-1]:.2f}s", flush=True)
        t_loop, t_all, t_w1, t_w2, c_loop, c_all = (
            statistics.median(x) for x in (loops, alls, w1s, w2s, cpu_loops, cpu_alls))
        crm.close()
        load = os.getloadavg()
        per = (t_all - t_loop) / n * 1000
        detail = f"{n} tenants, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
        figure("jobs: run_all vs the same work in a loop, one process", t_all / t_loop,
               detail=f"{t_all:.2f}s vs {t_loop:.2f}s; {detail}")
        figure("jobs: per-tenant overhead of a job over the loop", per, unit=" ms",
               detail=f"{per:.2f} ms on {t_loop / n * 1000:.2f} ms of work per tenant")
        # CPU time of this process: what crmkit itself spends, much less shaken by the
        # machine's load than wall time (the database server's share is not in it)
        figure("jobs: run_all vs the loop, CPU time of the process", c_all / c_loop,
               detail=f"{(c_all - c_loop) / n * 1000:.2f} ms CPU per tenant on "
                      f"{c_loop / n * 1000:.2f} ms")
        figure("jobs: cli --all-tenants --workers 2 speed-up over --workers 1", t_w1 / t_w2,
               detail=f"{t_w1:.2f}s vs {t_w2:.2f}s wall, start-up included; {detail}")
        figure("jobs: cli --workers 1 throughput", n / t_w1, unit=" tenants/s")
        figure("jobs: cli --workers 2 throughput", n / t_w2, unit=" tenants/s")
    finally:
        with server.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        server.dispose()


if __name__ == "__main__":
    main()
