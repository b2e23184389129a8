"""Bench: the receivables aging report (FIFO allocation in SQL) on a big SQLite file.

1,000,000 invoices and 500,000 payments over 100,000 customers (``--quick``: 1/20),
generated with raw ``sqlite3.executemany`` into the schema ``crmkit.open(...).init()``
creates. Prints, measured in the same run:

* the aging report's time (``crmkit_receivables.api.aging``: allocation + buckets +
  building the report, opening ``crmkit`` included) against one hand-written SQL bucket
  query without allocation, the faster of the planner's plan and a forced table scan
  (target <= 2x);
* the same against pandas ``read_sql`` + groupby of those buckets (target: faster);
* the peak RSS of a fresh process that runs the report (target < 200 MB).

The report and its baselines are timed in turn, three times each (the median of each),
wall and CPU: timing all runs of one and then the other compared two moments of a
machine whose speed wanders.

Run: ``python bench/bench_receivables.py [--quick]``.
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
from array import array

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import figure, peak_rss_mb, timed, timed_in_turn  # noqa: E402

D = dt.date(2026, 11, 22)
STAMP = "2026-01-01 00:00:00.000000"

BASELINE_SQL = """
SELECT customer_id,
       SUM(CASE WHEN days <= 0 THEN amount ELSE 0 END),
       SUM(CASE WHEN days BETWEEN 1 AND 30 THEN amount ELSE 0 END),
       SUM(CASE WHEN days BETWEEN 31 AND 60 THEN amount ELSE 0 END),
       SUM(CASE WHEN days BETWEEN 61 AND 90 THEN amount ELSE 0 END),
       SUM(CASE WHEN days BETWEEN 91 AND 180 THEN amount ELSE 0 END),
       SUM(CASE WHEN days > 180 THEN amount ELSE 0 END),
       SUM(amount)
FROM (SELECT customer_id, amount,
             CAST(julianday(:d) - julianday(COALESCE(due_on, issued_on)) AS INTEGER) AS days
      FROM crm_documents
      WHERE tenant_id = 1 AND kind = 'invoice' AND status != 'void' AND issued_on <= :d)
GROUP BY customer_id
"""


def own_peak_rss_mb() -> float:
    """Peak RSS of this process's own memory (VmHWM): unlike ``ru_maxrss``, which a child
    inherits from the parent it was forked from, it starts afresh at ``exec``."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


def build(path: str, customers: int, invoices: int, payments: int) -> None:
    import crmkit

    crm = crmkit.open(f"sqlite:///{path}", tenant="default", user="admin", today=D)
    crm.init()
    crm.plugins.enable("receivables")
    crm.close()
    rng = random.Random(42)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    owners = ["li", "wang", "emma", "zhao", None]
    con.executemany(
        "INSERT INTO crm_customers (id, tenant_id, name, kind, status, owner, created_at,"
        " updated_at) VALUES (?, 1, ?, 'company', 'active', ?, ?, ?)",
        ((i, f"Customer {i}", owners[i % 5], STAMP, STAMP) for i in range(1, customers + 1)))
    inv_customer = array("i")
    inv_amount = array("q")

    def invoice_rows():
        for i in range(1, invoices + 1):
            cid = rng.randint(1, customers)
            amount = rng.randint(1_000, 500_000)  # cents
            issued = D - dt.timedelta(days=rng.randint(-5, 400))
            due = None if rng.random() < 0.05 else issued + dt.timedelta(days=30)
            status = "void" if rng.random() < 0.02 else "open"
            inv_customer.append(cid)
            inv_amount.append(amount)
            yield (i, cid, f"INV-{i:07d}", status, amount, issued.isoformat(),
                   due.isoformat() if due else None, STAMP)

    con.executemany(
        "INSERT INTO crm_documents (id, tenant_id, customer_id, kind, number, status, amount,"
        " base_amount, currency, issued_on, due_on, created_at)"
        " VALUES (?, 1, ?, 'invoice', ?, ?, ?5, ?5, 'CNY', ?, ?, ?)", invoice_rows())

    def payment_rows():
        for k in range(1, payments + 1):
            j = rng.randrange(invoices)
            on = D - dt.timedelta(days=rng.randint(-5, 380))
            if rng.random() < 0.6:  # applied to an invoice, partly or in full (or more)
                amount = int(inv_amount[j] * rng.choice([0.5, 1, 1, 1.1]))
                yield (invoices + k, inv_customer[j], "payment", f"PAY-{k:07d}", amount,
                       on.isoformat(), f"INV-{j + 1:07d}", STAMP)
            else:  # unapplied: allocated first-in-first-out
                yield (invoices + k, inv_customer[j], "payment", f"PAY-{k:07d}",
                       rng.randint(1_000, 300_000), on.isoformat(), None, STAMP)

    con.executemany(
        "INSERT INTO crm_documents (id, tenant_id, customer_id, kind, number, status, amount,"
        " base_amount, currency, issued_on, applies_to, created_at)"
        " VALUES (?, 1, ?, ?, ?, 'open', ?5, ?5, 'CNY', ?, ?, ?)", payment_rows())
    con.commit()
    con.execute("ANALYZE")
    con.close()


def report(path: str) -> int:
    from crmkit_receivables import api

    import crmkit

    crm = crmkit.open(f"sqlite:///{path}", tenant="default", user="admin", today=D)
    try:
        return len(api.aging(crm, D)["rows"])
    finally:
        crm.close()


def baseline(path: str, sql: str = BASELINE_SQL) -> int:
    con = sqlite3.connect(path)
    try:
        return len(con.execute(sql, {"d": D.isoformat()}).fetchall())
    finally:
        con.close()


#: the baseline with SQLite's planner kept off every index: a plain table scan and a
#: sort, which for one tenant holding every row beats walking a ``(tenant_id, ...)``
#: index that does not cover the query (``shared/PERFORMANCE.md``, the index trap)
BASELINE_SCAN_SQL = BASELINE_SQL.replace("FROM crm_documents", "FROM crm_documents NOT INDEXED")


def with_pandas(path: str) -> int:
    import pandas as pd

    con = sqlite3.connect(path)
    try:
        df = pd.read_sql(
            "SELECT customer_id, amount, COALESCE(due_on, issued_on) AS due FROM crm_documents"
            " WHERE tenant_id = 1 AND kind = 'invoice' AND status != 'void'"
            " AND issued_on <= ?", con, params=(D.isoformat(),))
    finally:
        con.close()
    days = (pd.Timestamp(D) - pd.to_datetime(df["due"])).dt.days
    df["bucket"] = pd.cut(days, [-10**6, 0, 30, 60, 90, 180, 10**6],
                          labels=["not_due", "1-30", "31-60", "61-90", "91-180", "180+"])
    out = df.pivot_table(index="customer_id", columns="bucket", values="amount",
                         aggfunc="sum", fill_value=0, observed=False)
    return len(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1/20 of the data")
    ap.add_argument("--db", metavar="PATH",
                    help="reuse a database an earlier run built with --keep")
    ap.add_argument("--keep", metavar="PATH", help="build the database at PATH and keep it")
    ap.add_argument("--rss-of", metavar="DB", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_of:  # child process: run the report once, print its peak RSS
        report(args.rss_of)
        print(own_peak_rss_mb())
        return
    scale = 20 if args.quick else 1
    n_cust, n_inv, n_pay = 100_000 // scale, 1_000_000 // scale, 500_000 // scale
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or args.keep or os.path.join(tmp, "bench.db")
        if not args.db:
            t_build = timed(lambda: build(path, n_cust, n_inv, n_pay), repeat=1)
            print(f"built {n_inv:,} invoices, {n_pay:,} payments, {n_cust:,} customers "
                  f"in {t_build:.1f} s", flush=True)
        rows = report(path)  # warm the page cache
        # the report and the two baselines in turn (the machine's speed wanders over
        # seconds); the fairer baseline is the faster of the planner's plan and a forced
        # table scan
        t_report, t_plan, t_scan = timed_in_turn(
            lambda: report(path), lambda: baseline(path),
            lambda: baseline(path, BASELINE_SCAN_SQL), repeat=3)
        base_sql = BASELINE_SQL if t_plan <= t_scan else BASELINE_SCAN_SQL
        t_base = min(t_plan, t_scan)
        t_pandas = timed(lambda: with_pandas(path), repeat=1 if not args.quick else 3)
        # CPU time of this process too: SQLite runs in-process, so this ratio holds when
        # other jobs load the machine and wall times drift
        c_report, c_base = timed_in_turn(lambda: report(path),
                                         lambda: baseline(path, base_sql), repeat=3,
                                         clock=time.process_time)
        rss = float(subprocess.run([sys.executable, __file__, "--rss-of", path],
                                   capture_output=True, text=True,
                                   check=True).stdout.strip().splitlines()[-1])
        load = "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
        detail = f"report {t_report:.2f} s, {rows:,} rows"
        print(f"scale: {n_inv:,} invoices, {n_pay:,} payments, {n_cust:,} customers; "
              f"{load}", flush=True)
        figure("receivables_aging_vs_sql_buckets", t_report / t_base, target="<= 2x",
               detail=f"{detail}; one SQL bucket query {t_base:.2f} s (planner's plan "
                      f"{t_plan:.2f} s, table scan {t_scan:.2f} s); {load}")
        figure("receivables_aging_vs_sql_buckets_cpu", c_report / c_base, target="<= 2x",
               detail=f"CPU time: report {c_report:.2f} s, one SQL bucket query "
                      f"{c_base:.2f} s; {load}")
        figure("receivables_aging_vs_pandas", t_report / t_pandas, target="< 1x",
               detail=f"{detail}; pandas read_sql + groupby {t_pandas:.2f} s; {load}")
        figure("receivables_aging_peak_rss", rss, unit=" MB", target="< 200 MB",
               detail="fresh process running the report")


if __name__ == "__main__":
    main()
