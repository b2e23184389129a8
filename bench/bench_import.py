"""Bench: `crmkit import customers` of N rows vs raw sqlite3.executemany.

    python bench/bench_import.py [--quick]

N = 1,000,000 (50,000 with --quick) customer rows in a UTF-8 CSV, imported into a
fresh SQLite file with two tiny plugins' validate and created hooks firing for every
row. Baseline: the same rows read from the same file with csv.reader and inserted with
raw ``sqlite3.executemany`` into the same table (same indexes, one transaction). A
second baseline inserts rows already built in memory (the fastest raw case).
The import runs in a child process so its peak RSS is measured alone
(``resource.getrusage(RUSAGE_CHILDREN)``, run
before the parent grows; the child's own ``VmHWM`` is printed beside it).
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


def bench_plugins() -> list[types.ModuleType]:
    """Two tiny plugins: each validates and counts created customers."""
    import crmkit

    mods = []
    for name in ("bench_a", "bench_b"):
        m = types.ModuleType(name)
        m.PLUGIN = crmkit.PluginSpec(name=name)
        m.created = 0

        def validate(customer, m=m, name=name):  # noqa: ANN001, ANN202
            if name == "bench_a":
                return [] if len(customer.name) < 200 else ["name too long"]
            return [] if customer.email is None or "@" in customer.email else ["bad e-mail"]

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


def child(csv_path: str, db: str) -> None:
    """Run the import (in a child process) and print its figures as JSON."""
    from crmkit_csv import import_file

    mods = bench_plugins()
    crm = fresh_db(Path(db), mods)
    crm.plugins.enable("csv", "bench_a", "bench_b")
    t0 = time.perf_counter()
    report = import_file(crm, "customers", csv_path)
    secs = time.perf_counter() - t0
    hwm = 0.0
    with open("/proc/self/status") as f:  # this program's own peak (reset by exec)
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    print(json.dumps({"seconds": secs, "imported": report.imported, "hwm_mb": hwm,
                      "created": [m.created for m in mods], "invalid": report.invalid}))


def raw_stream(csv_path: Path, db: Path) -> float:
    fresh_db(db).close()
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA synchronous=NORMAL")
    t0 = time.perf_counter()
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
    return time.perf_counter() - t0


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


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        return child(sys.argv[2], sys.argv[3])
    quick = "--quick" in sys.argv
    n = 50_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory(prefix="crmkit-bench-import-") as tmp:
        d = Path(tmp)
        src = d / "customers.csv"
        make_csv(src, n)
        mb = src.stat().st_size / 1e6
        print(f"{n:,} rows, {mb:.0f} MB CSV", flush=True)
        # The child runs first, while this process is small: a forked child's peak RSS
        # would otherwise include the parent's memory from before exec.
        out = subprocess.run([sys.executable, __file__, "--child", str(src),
                              str(d / "import.db")], capture_output=True, text=True)
        if out.returncode:
            sys.exit(out.stderr)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        raw = raw_stream(src, d / "raw.db")
        pre = raw_prebuilt(src, d / "pre.db")
        assert res["imported"] == n and res["created"] == [n, n], res
        with sqlite3.connect(d / "import.db") as con:
            assert con.execute("SELECT count(*) FROM crm_customers").fetchone()[0] == n
        imp = res["seconds"]
        print(f"import {imp:.2f} s ({n / imp:,.0f} rows/s); raw executemany streamed from "
              f"the CSV {raw:.2f} s ({n / raw:,.0f} rows/s); prebuilt rows {pre:.2f} s "
              f"({n / pre:,.0f} rows/s)")
        figure("import_vs_raw_executemany", raw / imp, target=">= 0.25x",
               detail=f"{n:,} rows, 2 plugins' validate+created hooks, csv.reader baseline")
        figure("import_vs_raw_prebuilt", pre / imp,
               detail="baseline inserts rows already built in memory")
        figure("import_peak_rss", rss, unit=" MB", target="< 200 MB",
               detail=f"child process, {n:,} rows; its own VmHWM {res['hwm_mb']:.0f} MB")


if __name__ == "__main__":
    main()
