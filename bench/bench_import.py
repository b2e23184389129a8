"""Bench: `crmkit import customers` of N rows vs raw sqlite3.executemany.

    python bench/bench_import.py [--quick]

N = 1,000,000 (50,000 with --quick) customer rows in a UTF-8 CSV, imported into a
fresh SQLite file with two small plugins checking every row and counting the created
customers, in the batch hooks (one call per batch of 5,000 rows, as first-party plugins
do; the headline figure) and again in the per-record hooks only (one call per row each:
the second figure), with an audit row per customer. Baseline: the same rows read from
the same file with csv.reader and inserted with raw ``sqlite3.executemany`` into the
same table (same indexes, one transaction). A second baseline inserts rows already
built in memory (the fastest raw case). The imports run in child processes so that
their peak RSS is measured alone (``resource.getrusage(RUSAGE_CHILDREN)``, run before
the parent grows; each child's own ``VmHWM`` is printed beside it).
Full scale takes about 4 minutes on a quiet 2-core machine.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import figure  # noqa: E402

HEADER = ["客户编号", "客户名称", "邮箱", "电话", "负责人", "标签", "地址"]
STAMP = "2026-11-22 00:00:00.000000"


def make_csv(path: Path, n: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(n):
            w.writerow([f"C{i:07d}", f"上海客户{i}有限公司", f"c{i}@example.com",
                        f"021-{i:08d}", "admin", "vip,华东" if i % 3 == 0 else "",
                        f"上海市浦东新区{i}号"])


def bench_plugins(batch: bool = True) -> list[types.ModuleType]:
    """Two small plugins: each checks every new customer (a name no longer than 200
    characters; an e-mail with an "@") and counts the created ones. ``batch``: in the
    batch hooks (``crm_customers_validate``/``crm_customers_created``: one call per
    batch of 5,000 rows), as first-party plugins do; else in the per-record hooks only
    (one call per row each)."""
    import crmkit

    def bad(name: str, c: crmkit.Customer) -> bool:
        if name == "bench_a":
            return len(c.name) >= 200
        return c.email is not None and "@" not in c.email

    mods = []
    for name in ("bench_a", "bench_b"):
        m = types.ModuleType(name)
        m.PLUGIN = crmkit.PluginSpec(name=name)
        m.created = 0
        why = "name too long" if name == "bench_a" else "bad e-mail"
        if batch:
            def validate_many(customers, name=name, why=why):  # noqa: ANN001, ANN202
                return [(i, why) for i, c in enumerate(customers) if bad(name, c)]

            def created_many(customers, m=m):  # noqa: ANN001, ANN202
                m.created += len(customers)

            m.crm_customers_validate = crmkit.hookimpl(validate_many)
            m.crm_customers_created = crmkit.hookimpl(created_many)
        else:
            def validate(customer, name=name, why=why):  # noqa: ANN001, ANN202
                return [why] if bad(name, customer) else []

            def created(customer, m=m):  # noqa: ANN001, ANN202
                m.created += 1

            m.crm_customer_validate = crmkit.hookimpl(validate)
            m.crm_customer_created = crmkit.hookimpl(created)
        mods.append(m)
    return mods


def fresh_db(path: Path, plugins: list | None = None):  # noqa: ANN201
    import crmkit

    for s in ("", "-wal", "-shm"):
        if os.path.exists(f"{path}{s}"):
            os.remove(f"{path}{s}")
    crm = crmkit.open(f"sqlite:///{path}", plugins=plugins or [])
    crm.init()
    return crm


def child(csv_path: str, db: str, mode: str) -> None:
    """Run the import (in a child process) and print its figures as JSON; ``mode``
    ``batch`` or ``per-record``: which hooks the two plugins implement."""
    from crmkit_csv import import_file

    mods = bench_plugins(batch=mode == "batch")
    crm = fresh_db(Path(db), mods)
    crm.plugins.enable("csv", "bench_a", "bench_b")
    t0, c0 = time.perf_counter(), time.process_time()
    report = import_file(crm, "customers", csv_path)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    hwm = 0.0
    with open("/proc/self/status") as f:  # this program's own peak (reset by exec)
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    print(json.dumps({"seconds": secs, "cpu": cpu, "imported": report.imported,
                      "hwm_mb": hwm,
                      "created": [m.created for m in mods], "invalid": report.invalid}))


def raw_stream(csv_path: Path, db: Path) -> tuple[float, float]:
    """Wall and CPU seconds of the raw baseline."""
    fresh_db(db).close()
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA synchronous=NORMAL")
    t0, c0 = time.perf_counter(), time.process_time()
    with open(csv_path, encoding="utf-8", newline="") as f:
        r = csv.reader(f)
        next(r)
        rows = ((i, 1, name, "company", "prospect", owner, email, phone, addr,
                 f",{tags}," if tags else None, ext, None, STAMP, STAMP)
                for i, (ext, name, email, phone, owner, tags, addr) in enumerate(r, 1))
        con.execute("BEGIN")
        con.executemany("INSERT INTO crm_customers (id, tenant_id, name, kind, status, owner, "
                        "email, phone, address, tags, external_id, extra, created_at, "
                        "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        con.execute("COMMIT")
    con.close()
    return time.perf_counter() - t0, time.process_time() - c0


def raw_prebuilt(csv_path: Path, db: Path) -> float:
    fresh_db(db).close()
    with open(csv_path, encoding="utf-8", newline="") as f:
        r = csv.reader(f)
        next(r)
        rows = [(i, 1, name, "company", "prospect", owner, email, phone, addr,
                 f",{tags}," if tags else None, ext, None, STAMP, STAMP)
                for i, (ext, name, email, phone, owner, tags, addr) in enumerate(r, 1)]
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA synchronous=NORMAL")
    t0 = time.perf_counter()
    con.execute("BEGIN")
    con.executemany("INSERT INTO crm_customers (id, tenant_id, name, kind, status, owner, "
                    "email, phone, address, tags, external_id, extra, created_at, updated_at) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    con.execute("COMMIT")
    con.close()
    return time.perf_counter() - t0


def run_child(src: Path, db: Path, mode: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(src), str(db), mode],
                         capture_output=True, text=True)
    if out.returncode:
        sys.exit(out.stderr)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    n = int(res["imported"])
    assert res["created"] == [n, n], res
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM crm_customers").fetchone()[0] == n
        assert con.execute("SELECT count(*) FROM crm_audit WHERE table_name = 'customer'"
                           ).fetchone()[0] == n  # an audit row per customer
    return res


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        return child(sys.argv[2], sys.argv[3], sys.argv[4])
    quick = "--quick" in sys.argv
    n = 50_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory(prefix="crmkit-bench-import-") as tmp:
        d = Path(tmp)
        src = d / "customers.csv"
        make_csv(src, n)
        mb = src.stat().st_size / 1e6
        print(f"{n:,} rows, {mb:.0f} MB CSV", flush=True)
        # The children run first, while this process is small: a forked child's peak RSS
        # would otherwise include the parent's memory from before exec.
        res = run_child(src, d / "import.db", "batch")
        one = run_child(src, d / "import1.db", "per-record")
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        raw, raw_cpu = raw_stream(src, d / "raw.db")
        pre = raw_prebuilt(src, d / "pre.db")
        assert res["imported"] == n and one["imported"] == n, (res, one)
        imp, imp1 = res["seconds"], one["seconds"]
        load = os.getloadavg()[0]
        print(f"import {imp:.2f} s ({n / imp:,.0f} rows/s), with per-record-hook plugins "
              f"{imp1:.2f} s ({n / imp1:,.0f} rows/s); raw executemany streamed from the "
              f"CSV {raw:.2f} s ({n / raw:,.0f} rows/s); prebuilt rows {pre:.2f} s "
              f"({n / pre:,.0f} rows/s); load {load:.2f}")
        figure("import_vs_raw_executemany", raw / imp, target=">= 0.25x",
               detail=f"{n:,} rows, 2 plugins' batch validate+created hooks, csv.reader "
                      f"baseline; load {load:.2f}")
        # CPU time too (each process's own, the disk's waits left out): on a machine whose
        # speed wanders, the wall times of the two sides, taken minutes apart, do too
        figure("import_vs_raw_executemany_cpu", raw_cpu / res["cpu"], target=">= 0.25x",
               detail=f"CPU time: import {res['cpu']:.2f} s, raw executemany "
                      f"{raw_cpu:.2f} s; load {load:.2f}")
        figure("import_vs_raw_executemany_per_record_hooks", raw / imp1,
               detail=f"{n:,} rows, 2 plugins with only the per-record hooks; "
                      f"load {load:.2f}")
        figure("import_vs_raw_prebuilt", pre / imp,
               detail=f"baseline inserts rows already built in memory; load {load:.2f}")
        figure("import_peak_rss", rss, unit=" MB", target="< 200 MB",
               detail=f"child processes, {n:,} rows; their own VmHWM {res['hwm_mb']:.0f} "
                      f"/ {one['hwm_mb']:.0f} MB")


if __name__ == "__main__":
    main()
