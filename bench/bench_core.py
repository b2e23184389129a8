"""Core benchmarks (issues 2 and 17), each a ratio against a raw baseline in the same run.

Everything is measured through the public API: ``crmkit.open``, ``crm.unit()``,
``ctx.hooks.<name>(...)``, ``crm.customers.add_many``; pluggy only through its own
public ``PluginManager.hook``.

(a) lifecycle-hook dispatch through crmkit's per-tenant caller (``ctx.hooks.name(...)``
    in a unit of work: a pluggy plugin manager holding just the tenant's enabled
    plugins, built once per set) vs ``pm.hook.name(...)`` of a bare pluggy
    ``PluginManager`` with the same implementations (target <= 1.5x): once with every
    installed plugin enabled, once with two of three enabled (the subset path);
(b) ``customers.add_many`` of 100,000 customers into a SQLite file with two plugins
    checking every record and counting the created ones, with an audit row per record,
    vs raw ``sqlite3.executemany`` of the same rows (target >= 0.3x of the raw rate).
    The two plugins implement the batch hooks (``crm_customers_validate``,
    ``crm_customers_created``: one call per 5,000 records), as first-party plugins
    do; the same figure with plugins that implement only the per-record hooks
    (``crm_customer_validate``, ``crm_customer_created``: one call per record each)
    is printed beside it;
(c) ``crmkit --help`` wall time vs ``python -c "import sqlalchemy, pluggy, attrs,
    cattrs, click"`` (target <= 1.5x), and the processes' CPU time.

The two sides of (a) and of (c) are timed in turn (a, b, a, b, ...; the median of
each): timing all runs of one side and then the other compared two moments of a
machine whose speed wanders (1.08x, 1.85x and 1.44x for (a) in three runs of one
evening, 1.13x-1.18x in turn).

Run: ``python bench/bench_core.py [--quick]`` (full scale: about 2 minutes on a quiet
2-core machine).
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import children_cpu, crmkit_cli, figure, timed, timed_in_turn  # noqa: E402

import crmkit  # noqa: E402

TODAY = dt.date(2026, 11, 22)


class Plugin:
    """Checks each new customer and counts the created ones, one call per record."""

    def __init__(self, name: str):
        self.PLUGIN = crmkit.PluginSpec(name=name)
        self.n = 0

    @crmkit.hookimpl
    def crm_customer_validate(self, customer):
        return [] if customer.email is None or "@" in customer.email else ["bad e-mail"]

    @crmkit.hookimpl
    def crm_customer_created(self, customer):
        self.n += 1


class BatchPlugin:
    """The same checks in the batch form: one call per batch of new customers."""

    def __init__(self, name: str):
        self.PLUGIN = crmkit.PluginSpec(name=name)
        self.n = 0

    @crmkit.hookimpl
    def crm_customers_validate(self, customers):
        return [(i, "bad e-mail") for i, c in enumerate(customers)
                if c.email is not None and "@" not in c.email]

    @crmkit.hookimpl
    def crm_customers_created(self, customers):
        self.n += len(customers)


def bench_dispatch(n: int) -> None:
    import pluggy

    from crmkit import hookspecs

    c = crmkit.Customer(id=1, tenant_id=1, name="x")
    # every installed plugin enabled / two of three enabled (the third is not in the
    # tenant's plugin manager); the bare baseline has exactly the enabled ones registered
    for label, installed, enabled in (("all enabled", ("p1", "p2"), ("p1", "p2")),
                                      ("2 of 3 enabled", ("p1", "p2", "p3"), ("p1", "p2"))):
        crm = crmkit.open("sqlite://", today=TODAY, discover=False,
                          plugins=[Plugin(n_) for n_ in installed])
        crm.init()
        crm.plugins.enable(*enabled)
        bare = pluggy.PluginManager("crmkit")
        bare.add_hookspecs(hookspecs)
        for p in [Plugin(n_) for n_ in enabled]:
            bare.register(p, name=p.PLUGIN.name)
        theirs = bare.hook.crm_customer_created
        with crm.unit(write=False) as ctx:
            ours = ctx.hooks.crm_customer_created
            assert ours.plugins == list(enabled), ours.plugins  # the subset really applies

            def run_ours(ours=ours, ctx=ctx):
                for _ in range(n):
                    ours(ctx=ctx, customer=c)

            def run_bare(theirs=theirs, ctx=ctx):
                for _ in range(n):
                    theirs(ctx=ctx, customer=c)

            t_ours, t_bare = timed_in_turn(run_ours, run_bare, repeat=7)
        crm.close()
        figure(f"hook dispatch ({label}), crmkit vs bare pluggy", t_ours / t_bare,
               target="<= 1.5x",
               detail=f"{t_ours / n * 1e6:.2f} us vs {t_bare / n * 1e6:.2f} us per call; "
                      f"load {os.getloadavg()[0]:.2f}")


def bench_add_many(n: int) -> None:
    rows = [{"name": f"客户 {i}", "email": f"c{i}@example.com", "phone": f"138{i:08d}",
             "owner": "admin", "external_id": f"E{i}", "tags": ["vip"] if i % 7 == 0 else []}
            for i in range(n)]
    with tempfile.TemporaryDirectory() as d:
        raw_path = os.path.join(d, "raw.db")
        crm = crmkit.open(f"sqlite:///{raw_path}", today=TODAY, discover=False)
        crm.init()
        crm.close()

        def raw():
            conn = sqlite3.connect(raw_path)
            conn.execute("DELETE FROM crm_customers")
            now = "2026-11-22 10:00:00.000000"
            conn.executemany(
                "INSERT INTO crm_customers (tenant_id, name, kind, status, owner, email, "
                "phone, address, tags, external_id, extra, created_at, updated_at) "
                "VALUES (1, ?, 'company', 'prospect', ?, ?, ?, NULL, ?, ?, NULL, ?, ?)",
                [(r["name"], r["owner"], r["email"], r["phone"],
                  ",vip," if r["tags"] else None, r["external_id"], now, now) for r in rows])
            conn.commit()
            conn.close()

        def ours(kind):
            path = os.path.join(d, f"ours{time.perf_counter_ns()}.db")
            plugins = [kind("p1"), kind("p2")]
            crm = crmkit.open(f"sqlite:///{path}", today=TODAY, plugins=plugins,
                              discover=False)
            crm.init()
            crm.plugins.enable("p1", "p2")
            t0 = time.perf_counter()
            crm.customers.add_many(rows)
            elapsed = time.perf_counter() - t0
            assert plugins[0].n == n and plugins[1].n == n
            assert crm.count_changes() >= n  # an audit row per record
            crm.close()
            return elapsed

        # interleaved, so that a change of load hits the three alike
        t_raw, t_batch, t_one = [], [], []
        for _ in range(3):
            t_raw.append(timed(raw, 1))
            t_batch.append(ours(BatchPlugin))
            t_one.append(ours(Plugin))
        t_raw_m, t_batch_m, t_one_m = (sorted(t)[1] for t in (t_raw, t_batch, t_one))
    load = os.getloadavg()[0]
    figure("customers.add_many vs raw sqlite3.executemany (rate)", t_raw_m / t_batch_m,
           target=">= 0.3x",
           detail=f"{n:,} rows, 2 plugins with the batch hooks; {n / t_batch_m:,.0f} "
                  f"rows/s with hooks+audit vs {n / t_raw_m:,.0f} rows/s raw; load {load:.2f}")
    figure("customers.add_many, per-record-hook plugins, vs raw (rate)", t_raw_m / t_one_m,
           detail=f"{n:,} rows, 2 plugins with only the per-record hooks; "
                  f"{n / t_one_m:,.0f} rows/s; load {load:.2f}")


def bench_help() -> None:
    def run(args):
        return lambda: subprocess.run(args, check=True, capture_output=True)

    sides = (run([*crmkit_cli(), "--help"]),
             run([sys.executable, "-c", "import sqlalchemy, pluggy, attrs, cattrs, click"]))
    t_help, t_base = timed_in_turn(*sides, repeat=9)
    # the processes' CPU time too: a start-up reads a few hundred files, and wall time
    # moves with whether the machine kept them in its page cache
    c_help, c_base = timed_in_turn(*sides, repeat=5, clock=children_cpu)
    load = os.getloadavg()[0]
    figure("crmkit --help vs importing its dependencies", t_help / t_base, target="<= 1.5x",
           detail=f"{t_help * 1000:.0f} ms vs {t_base * 1000:.0f} ms; load {load:.2f}")
    figure("crmkit --help vs importing its dependencies, CPU", c_help / c_base,
           target="<= 1.5x",
           detail=f"{c_help * 1000:.0f} ms vs {c_base * 1000:.0f} ms CPU; load {load:.2f}")


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    bench_dispatch(20_000 if quick else 200_000)
    bench_add_many(5_000 if quick else 100_000)
    bench_help()
