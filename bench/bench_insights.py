"""Bench ``insights cross-sell`` and ``crmkit report`` on a big SQLite file.

100,000 customers and 2,000,000 document lines (500,000 orders and invoices of four
lines over 60 products, some lines with a unit cost), 50,000 payments and 20,000
expenses, in one tenant (``--quick``: 1/20 of the rows; ``--scale F`` any fraction).
Rows go in with raw ``sqlite3.executemany`` into the schema crmkit creates. Prints,
measured in the same run:

* ``insights cross-sell`` through crmkit (unit of work, permission, SQLAlchemy Core,
  rounding and sorting the rules) against one hand-written SQL query giving the same
  pair counts (target <= 2x; the rule counts are compared too);
* ``crmkit report`` (insights, receivables, grading, sales and marketing enabled) in a
  fresh process: its wall time (target < 10 s) and that process's peak RSS (target
  < 300 MB), on this data and on the receivables benchmark's (``bench_receivables``:
  1,000,000 invoices, 500,000 payments, 100,000 customers, at the same scale).

    python bench/bench_insights.py [--quick | --scale F]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import figure, timed  # noqa: E402

D = dt.date(2026, 11, 22)
DAY0 = dt.date(2024, 12, 1)
STAMP = "2025-01-01 10:00:00.000000"
PRODUCTS = [f"产品 {i:02d}" for i in range(60)]
PLUGINS = ("insights", "receivables", "grading", "sales", "marketing")

BASELINE_SQL = """
WITH b AS (
  SELECT DISTINCT d.customer_id, l.product
  FROM crm_documents d JOIN crm_document_lines l ON l.tenant_id = 1 AND l.document_id = d.id
  WHERE d.tenant_id = 1 AND d.kind IN ('order', 'invoice') AND d.status != 'void'
    AND d.issued_on <= :d),
n AS (SELECT product, COUNT(*) AS n FROM b GROUP BY product),
t AS (SELECT COUNT(DISTINCT customer_id) AS t FROM b)
SELECT b1.product, b2.product, COUNT(*) AS nn, n1.n, n2.n, (SELECT t FROM t)
FROM b b1 JOIN b b2 ON b2.customer_id = b1.customer_id AND b2.product <> b1.product
JOIN n n1 ON n1.product = b1.product JOIN n n2 ON n2.product = b2.product
GROUP BY b1.product, b2.product HAVING COUNT(*) >= 2
"""


def build(path: str, scale: float, seed: int = 1) -> None:
    import crmkit_insights as ins

    import crmkit

    crm = crmkit.open(f"sqlite:///{path}", today=D)
    crm.init()
    crm.plugins.enable(*PLUGINS)
    for i, name in enumerate(PRODUCTS):
        if i % 4:  # a quarter of the catalogue has no cost
            ins.add_product(crm, name, category=f"类 {i % 7}", cost=f"{5 + i}.00")
    crm.close()
    rng = random.Random(seed)
    n_cust, n_docs = int(100_000 * scale), int(500_000 * scale)
    n_pay, n_exp = int(50_000 * scale), int(20_000 * scale)
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-262144")
    with db:
        db.executemany(
            "INSERT INTO crm_customers (id, tenant_id, name, kind, status, owner, created_at, "
            "updated_at) VALUES (?, 1, ?, 'company', 'active', ?, ?, ?)",
            ((i, f"客户 {i}", ("admin", "li", "wang")[i % 3], STAMP, STAMP)
             for i in range(1, n_cust + 1)))
        weights = [1 / (1 + k) for k in range(len(PRODUCTS))]  # a few products sell most

        def docs():
            for i in range(1, n_docs + 1):
                kind = "invoice" if i % 5 else "order"
                day = DAY0 + dt.timedelta(days=rng.randint(0, 720))
                yield (i, rng.randint(1, n_cust), kind, f"{kind[0]}{i}",
                       "void" if i % 50 == 0 else "open", 0, day.isoformat(),
                       (day + dt.timedelta(days=30)).isoformat())

        db.executemany(
            "INSERT INTO crm_documents (id, tenant_id, customer_id, kind, number, status, "
            "amount, base_amount, currency, issued_on, due_on, created_at) "
            f"VALUES (?, 1, ?, ?, ?, ?, ?, 0, 'CNY', ?, ?, '{STAMP}')", docs())

        def lines():
            n = 0
            for doc in range(1, n_docs + 1):
                for pos, p in enumerate(rng.choices(PRODUCTS, weights, k=4), 1):
                    n += 1
                    yield (n, doc, pos, p, 1000 * rng.randint(1, 3),
                           100 * rng.randint(10, 90),
                           100 * rng.randint(5, 9) if n % 3 == 0 else None)

        db.executemany(
            "INSERT INTO crm_document_lines (id, tenant_id, document_id, position, product, "
            "quantity, unit_price, unit_cost) VALUES (?, 1, ?, ?, ?, ?, ?, ?)", lines())
        # a document's amount is its lines' total (cents)
        db.execute("UPDATE crm_documents SET amount = (SELECT SUM(quantity * unit_price / "
                   "1000) FROM crm_document_lines l WHERE l.tenant_id = 1 AND "
                   "l.document_id = crm_documents.id)")
        db.execute("UPDATE crm_documents SET base_amount = amount")
        base = n_docs
        db.executemany(
            "INSERT INTO crm_documents (id, tenant_id, customer_id, kind, number, status, "
            "amount, base_amount, currency, issued_on, applies_to, created_at) "
            f"VALUES (?, 1, ?, 'payment', ?, 'open', ?, ?, 'CNY', ?, NULL, '{STAMP}')",
            ((base + i, rng.randint(1, n_cust), f"p{i}", *[100 * rng.randint(50, 500)] * 2,
              (DAY0 + dt.timedelta(days=rng.randint(0, 720))).isoformat())
             for i in range(1, n_pay + 1)))
        base += n_pay
        db.executemany(
            "INSERT INTO crm_documents (id, tenant_id, customer_id, kind, number, status, "
            "amount, base_amount, currency, issued_on, created_at) "
            f"VALUES (?, 1, ?, 'expense', ?, 'open', ?, ?, 'CNY', ?, '{STAMP}')",
            ((base + i, rng.randint(1, n_cust), f"e{i}", *[100 * rng.randint(10, 300)] * 2,
              (DAY0 + dt.timedelta(days=rng.randint(0, 720))).isoformat())
             for i in range(1, n_exp + 1)))
    db.execute("ANALYZE")
    db.close()


REPORT = """
import resource, sys, time
t0 = time.perf_counter()
from crmkit.cli import cli
try:
    cli.main(["--db", "sqlite:///" + sys.argv[1], "--today", "2026-11-22", "report",
              "--out", sys.argv[2]], standalone_mode=False)
finally:
    print("SECONDS", time.perf_counter() - t0)
    use = resource.getrusage(resource.RUSAGE_SELF)
    print("CPU", use.ru_utime + use.ru_stime)
    # this process's own high-water mark: ru_maxrss would carry the parent's over exec
    # (Linux folds the forking process's peak into it), the bench's own 368 MB
    with open("/proc/self/status") as f:
        hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    print("PEAK_MB", hwm / 1024)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--scale", type=float)
    args = ap.parse_args()
    scale = args.scale or (0.05 if args.quick else 1.0)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.db")
        t0 = time.perf_counter()
        build(path, scale)
        print(f"built {scale:g} scale in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        import crmkit_insights as ins

        import crmkit

        crm = crmkit.open(f"sqlite:///{path}", today=D)
        rules: list = []

        def through_crmkit() -> None:
            rules[:] = ins.cross_sell(crm, as_of=D)

        raw_rows: list = []

        def raw() -> None:
            con = sqlite3.connect(path)
            raw_rows[:] = con.execute(BASELINE_SQL, {"d": D.isoformat()}).fetchall()
            con.close()

        t_crm, t_raw = timed(through_crmkit), timed(raw)
        assert len(rules) == len(raw_rows), (len(rules), len(raw_rows))
        figure("insights cross-sell vs one hand-written SQL query", t_crm / t_raw,
               target="<= 2x", detail=f"{t_crm:.2f}s vs {t_raw:.2f}s, {len(rules)} rules")
        crm.close()

        out = os.path.join(tmp, "report.html")
        got = run_report(path, out)
        figure("crmkit report wall time", got["SECONDS"], unit="s", target="< 10 s",
               detail=f"CPU {got['CPU']:.2f}s, {os.path.getsize(out) / 1e6:.1f} MB "
                      f"of HTML, load average {os.getloadavg()[0]:.1f}")
        figure("crmkit report peak RSS", got["PEAK_MB"], unit=" MB", target="< 300 MB")

        # the same command on the receivables benchmark's data (1,000,000 invoices,
        # 500,000 payments, 100,000 customers; no lines), every report plugin enabled
        import bench_receivables

        rpath = os.path.join(tmp, "receivables.db")
        bench_receivables.build(rpath, int(100_000 * scale), int(1_000_000 * scale),
                                int(500_000 * scale))
        rcrm = crmkit.open(f"sqlite:///{rpath}", today=D)
        rcrm.plugins.enable(*PLUGINS)
        rcrm.close()
        got = run_report(rpath, os.path.join(tmp, "receivables.html"))
        figure("crmkit report wall time, receivables data", got["SECONDS"], unit="s",
               target="< 10 s", detail=f"CPU {got['CPU']:.2f}s, load average "
                                       f"{os.getloadavg()[0]:.1f}")
        figure("crmkit report peak RSS, receivables data", got["PEAK_MB"], unit=" MB",
               target="< 300 MB")


def run_report(path: str, out: str) -> dict[str, float]:
    """``crmkit report`` on ``path`` in a fresh process: its wall and CPU seconds and
    peak RSS."""
    p = subprocess.run([sys.executable, "-c", REPORT, path, out], capture_output=True,
                       text=True, timeout=600)
    if p.returncode:
        raise SystemExit(p.stderr[-2000:])
    return {k: float(v) for k, v in (line.split() for line in p.stdout.splitlines()
                                     if line.startswith(("SECONDS", "CPU", "PEAK_MB")))}


if __name__ == "__main__":
    main()
