"""Core benchmarks (issue 2), each a ratio against a raw baseline in the same run.

(a) lifecycle-hook dispatch through crmkit's cached per-tenant caller (a pluggy plugin
    manager holding just the enabled plugins, built once per set) vs a bare pluggy hook
    call with the same implementations (target <= 1.5x): once with every plugin
    enabled, once with two of three plugins enabled (the subset path);
(b) ``customers.add_many`` of 100,000 customers into a SQLite file with two plugins'
    validate and created hooks firing vs raw ``sqlite3.executemany`` of the same rows
    (target >= 0.3x of the raw rate);
(c) ``crmkit --help`` wall time vs ``python -c "import sqlalchemy, pluggy, attrs,
    cattrs, click"`` (target <= 1.5x).

Run: ``python bench/bench_core.py [--quick]``.
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
from _common import crmkit_cli, figure, timed  # noqa: E402

import crmkit  # noqa: E402


class Plugin:
    def __init__(self, name: str):
        self.PLUGIN = crmkit.PluginSpec(name=name)
        self.n = 0

    @crmkit.hookimpl
    def crm_customer_validate(self, customer):
        return [] if customer.name else ["name missing"]

    @crmkit.hookimpl
    def crm_customer_created(self, customer):
        self.n += 1


def bench_dispatch(n: int) -> None:
    import pluggy

    from crmkit import hookspecs
    from crmkit.plugins import PluginHost

    c = crmkit.Customer(id=1, tenant_id=1, name="x")
    # every installed plugin enabled / two of three enabled (the third is not in the
    # tenant's plugin manager); the bare baseline has exactly the enabled ones registered
    for label, installed, enabled in (("all enabled", ("p1", "p2"), ("p1", "p2")),
                                      ("2 of 3 enabled", ("p1", "p2", "p3"), ("p1", "p2"))):
        host = PluginHost([Plugin(n_) for n_ in installed], discover=False)
        hooks = host.hooks(frozenset(enabled) | host.builtin_names())
        bare = pluggy.PluginManager("crmkit")
        bare.add_hookspecs(hookspecs)
        for p in [Plugin(n_) for n_ in enabled]:
            bare.register(p, name=p.PLUGIN.name)
        ours = hooks.crm_customer_created
        theirs = bare.hook.crm_customer_created
        assert ours.plugins == list(enabled), ours.plugins  # the subset really applies

        def run_ours(ours=ours):
            for _ in range(n):
                ours(ctx=None, customer=c)

        def run_bare(theirs=theirs):
            for _ in range(n):
                theirs(ctx=None, customer=c)

        t_ours, t_bare = timed(run_ours, 5), timed(run_bare, 5)
        figure(f"hook dispatch ({label}), crmkit vs bare pluggy", t_ours / t_bare,
               target="<= 1.5x",
               detail=f"{t_ours / n * 1e6:.2f} us vs {t_bare / n * 1e6:.2f} us per call")


def bench_add_many(n: int) -> None:
    today = dt.date(2026, 11, 22)
    rows = [{"name": f"客户 {i}", "email": f"c{i}@example.com", "phone": f"138{i:08d}",
             "owner": "admin", "external_id": f"E{i}", "tags": ["vip"] if i % 7 == 0 else []}
            for i in range(n)]
    with tempfile.TemporaryDirectory() as d:
        raw_path = os.path.join(d, "raw.db")
        crm = crmkit.open(f"sqlite:///{raw_path}", today=today, discover=False)
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

        t_raw = timed(raw, 3)

        def ours():
            path = os.path.join(d, f"ours{time.perf_counter_ns()}.db")
            plugins = [Plugin("p1"), Plugin("p2")]
            crm = crmkit.open(f"sqlite:///{path}", today=today, plugins=plugins,
                              discover=False)
            crm.init()
            crm.plugins.enable("p1", "p2")
            t0 = time.perf_counter()
            crm.customers.add_many(rows)
            ours.elapsed.append(time.perf_counter() - t0)
            assert plugins[0].n == n and plugins[1].n == n
            crm.close()

        ours.elapsed = []
        for _ in range(3):
            ours()
        t_ours = sorted(ours.elapsed)[1]
    figure("customers.add_many vs raw sqlite3.executemany (rate)", t_raw / t_ours,
           target=">= 0.3x",
           detail=f"{n / t_ours:,.0f} rows/s with hooks+audit vs {n / t_raw:,.0f} rows/s raw")


def bench_help() -> None:
    def run(args):
        return lambda: subprocess.run(args, check=True, capture_output=True)

    t_help = timed(run([*crmkit_cli(), "--help"]), 7)
    t_base = timed(run([sys.executable, "-c",
                        "import sqlalchemy, pluggy, attrs, cattrs, click"]), 7)
    figure("crmkit --help vs importing its dependencies", t_help / t_base, target="<= 1.5x",
           detail=f"{t_help * 1000:.0f} ms vs {t_base * 1000:.0f} ms")


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    bench_dispatch(20_000 if quick else 200_000)
    bench_add_many(5_000 if quick else 100_000)
    bench_help()
