"""Bench: `crmkit customer list --json` on N customers vs a raw SELECT + json.dumps, and
the time to the first row of the table.

    python bench/bench_cli_list.py [--quick] [--scale N]

N = 100,000 customers (5,000 with --quick) in one tenant of a SQLite file. Three
figures, each the median of 3 runs:

* ``cli_list_json_ratio``: the command run in this process (its click ``main``, stdout
  to /dev/null) over the baseline: ``sqlite3`` SELECT of the same rows, ordered by id,
  turned into the same JSON objects (tags split, dates ISO) and written with
  ``json.dumps`` one per line to /dev/null. Target <= 2x.
* ``cli_list_json_process_ratio``: the same, both as fresh processes (``crmkit``'s
  start-up, imports and plugin discovery included), for the record.
* ``cli_list_first_row_s``: seconds from starting ``crmkit customer list`` (a table:
  50 rows and "N more") to its first data row on the pipe. Target < 0.5 s.

Fresh processes run with their bytecode cached (``PYTHONPYCACHEPREFIX`` in the
temporary folder, warmed by a first run), as an installed crmkit has it: with
``PYTHONDONTWRITEBYTECODE`` set, an editable checkout recompiles every crmkit and
plugin module on each start (about 0.1 s of CPU). On a shared machine read the CPU
figures: the load average is printed first.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import figure, timed  # noqa: E402


def cpu(fn: Any, repeat: int = 3) -> float:
    """Median CPU seconds (user + system) of ``fn``, its child processes included: a
    figure the other programs on a loaded machine do not move."""
    runs = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
            resource.RUSAGE_CHILDREN)
        fn()
        after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
            resource.RUSAGE_CHILDREN)
        runs.append(sum(a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime
                        for a, b in zip(after, before, strict=True)))
    return statistics.median(runs)

CRMKIT = [sys.executable, "-c", "import sys; from crmkit.cli import main; "
           "sys.argv[0] = 'crmkit'; main()"]
RAW = r"""
import json, sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
out = open(__import__("os").devnull, "w")
cols = ["id", "tenant_id", "name", "kind", "status", "owner", "email", "phone", "address",
        "tags", "external_id", "extra", "created_at", "updated_at"]
out.write("[")
first = True
for row in conn.execute("SELECT " + ", ".join(cols) + " FROM crm_customers "
                        "WHERE tenant_id = 1 ORDER BY id"):
    d = dict(zip(cols, row))
    d["tags"] = [t for t in (d["tags"] or "").split(",") if t]
    d["extra"] = json.loads(d["extra"]) if d["extra"] else {}
    for k in ("created_at", "updated_at"):
        d[k] = d[k].replace(" ", "T") + "+00:00"
    out.write(("\n" if first else ",\n") + json.dumps(d, ensure_ascii=False))
    first = False
out.write("\n]\n")
"""


def build(path: Path, n: int) -> None:
    import crmkit

    crm = crmkit.open(f"sqlite:///{path}")
    crm.init()
    crm.users.add("li")
    crm.customers.add_many(
        {"name": f"上海客户{i}有限公司", "email": f"c{i}@example.com", "phone": f"021-{i:08d}",
         "owner": "li" if i % 2 else "admin", "tags": ["vip"] if i % 3 == 0 else [],
         "external_id": f"ERP-{i}"} for i in range(n))
    crm.close()
    with sqlite3.connect(path) as conn:
        conn.execute("ANALYZE")


def enable(path: Path, name: str | None) -> None:
    import crmkit

    crm = crmkit.open(f"sqlite:///{path}")
    if name:
        crm.plugins.enable(name)
    else:
        crm.plugins.disable("sales")
    crm.close()


def in_process(url: str) -> None:
    """``crmkit --db URL customer list --json`` through click, stdout to /dev/null."""
    from crmkit.cli import cli

    with open(os.devnull, "w", encoding="utf-8") as sink:
        old = sys.stdout
        sys.stdout = sink
        try:
            cli.main(["--db", url, "customer", "list", "--json"], prog_name="crmkit",
                     standalone_mode=False)
        finally:
            sys.stdout = old


def raw_in_process(path: str) -> None:
    sys.argv = ["raw", path]
    exec(RAW, {"__name__": "raw"})  # noqa: S102 - the baseline's own source


ENV: dict[str, str] = {}


def process_env(tmp: str) -> dict[str, str]:
    """The environment of the fresh processes: bytecode cached under ``tmp``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
    return env


def first_row(url: str) -> float:
    """Seconds until the first line of `customer list` that starts with a number."""
    env = dict(ENV, COLUMNS="80")
    t0 = time.perf_counter()
    p = subprocess.Popen([*CRMKIT, "--db", url, "customer", "list"], stdout=subprocess.PIPE,
                         text=True, env=env)
    assert p.stdout is not None
    took = None
    for line in p.stdout:
        if took is None and line.strip()[:1].isdigit():
            took = time.perf_counter() - t0
    p.wait()
    assert took is not None and p.returncode == 0
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--scale", type=int)
    args = ap.parse_args()
    n = args.scale or (5_000 if args.quick else 100_000)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        ENV.update(process_env(tmp))
        path = Path(tmp) / "list.db"
        t0 = time.perf_counter()
        build(path, n)
        url = f"sqlite:///{path}"
        detail = f"{n} customers, built in {time.perf_counter() - t0:.0f} s"
        # the same rows, the same JSON (checked once)
        in_process(url)
        ours = timed(lambda: in_process(url))
        raw = timed(lambda: raw_in_process(str(path)))
        figure("cli_list_json_ratio", ours / raw, target="<= 2x",
               detail=f"{detail}; crmkit {ours:.2f} s, raw {raw:.2f} s (in process, wall)")
        ours_cpu, raw_cpu = cpu(lambda: in_process(url)), cpu(lambda: raw_in_process(
            str(path)))
        figure("cli_list_json_cpu_ratio", ours_cpu / raw_cpu, target="<= 2x",
               detail=f"crmkit {ours_cpu:.2f} s, raw {raw_cpu:.2f} s (in process, CPU)")
        enable(path, "sales")  # a plugin that answers crm_permission: rows asked one by one
        asked = cpu(lambda: in_process(url))
        figure("cli_list_json_asked_cpu_ratio", asked / raw_cpu,
               detail=f"crmkit {asked:.2f} s with sales enabled (in process, CPU)")
        enable(path, None)
        cmd = [*CRMKIT, "--db", url, "customer", "list", "--json"]
        got = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True,
                                        env=ENV).stdout)  # also writes the bytecode
        assert len(got) == n and got[0]["name"] == "上海客户0有限公司"
        proc = cpu(lambda: subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True,
                                          env=ENV))
        rawp = cpu(lambda: subprocess.run([sys.executable, "-c", RAW, str(path)],
                                          check=True, env=ENV))
        figure("cli_list_json_process_cpu_ratio", proc / rawp,
               detail=f"crmkit {proc:.2f} s, raw {rawp:.2f} s (fresh processes, CPU)")
        start = cpu(lambda: subprocess.run([*CRMKIT, "--db", url, "customer", "list",
                                            "--limit", "0", "--json"],
                                           stdout=subprocess.DEVNULL, check=True,
                                           env=ENV))
        figure("cli_start_cpu_s", start, unit=" s",
               detail="`customer list --limit 0 --json`: start-up alone (CPU)")
        if os.environ.get("PYTHONDONTWRITEBYTECODE"):
            cold = cpu(lambda: subprocess.run([*CRMKIT, "--db", url, "customer", "list",
                                               "--limit", "0", "--json"],
                                              stdout=subprocess.DEVNULL, check=True))
            figure("cli_start_uncompiled_cpu_s", cold, unit=" s",
                   detail="the same with PYTHONDONTWRITEBYTECODE: every module compiled")
        figure("cli_list_first_row_s", timed(lambda: first_row(url)), unit=" s",
               target="< 0.5 s", detail=f"`crmkit customer list`, {n} customers (wall)")
        figure("cli_list_table_cpu_s", cpu(lambda: first_row(url)), unit=" s",
               detail="the same command's CPU time")


if __name__ == "__main__":
    main()
