"""The start-up of `crmkit customer list` and its JSON rows (issue 13's benchmark).

Guards, not timings: a fresh `crmkit customer list --json` must not import the heavy
libraries other commands use (``bench/bench_cli_list.py`` measures the time), and the
fast JSON rows read from SQLite's stored text must be exactly the records' JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest

import crmkit
from crmkit.services.customers import _sqlite_instant

#: Libraries `customer list` never needs: migrations, templates, charts, spreadsheets,
#: HTTP, task queues, locale data.
HEAVY = ("alembic", "jinja2", "matplotlib", "openpyxl", "httpx", "celery", "kombu",
         "babel", "pandas", "mako")

RUN = """
import atexit, json, sys
OUT = sys.argv.pop(1)
def dump():
    with open(OUT, "w") as f:
        json.dump(sorted(sys.modules), f)
atexit.register(dump)
from crmkit.cli import main
sys.argv[0] = "crmkit"
main()
"""


def _modules(tmp_path, *args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """The modules a fresh ``crmkit ARGS`` process had imported when it exited."""
    out = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMKIT_")}
    done = subprocess.run([sys.executable, "-c", RUN, str(out), *args], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(out.read_text(encoding="utf-8"))), done


@pytest.fixture
def listed_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    crm = crmkit.open(url)
    crm.init()
    crm.customers.add_many({"name": f"上海客户{i}"} for i in range(3))
    crm.close()
    return url


def _top(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_customer_list_json_imports_no_heavy_module(tmp_path, listed_db):
    modules, done = _modules(tmp_path, "--db", listed_db, "customer", "list", "--json")
    assert [c["name"] for c in json.loads(done.stdout)] == ["上海客户0", "上海客户1", "上海客户2"]
    assert sorted(_top(modules) & set(HEAVY)) == []
    assert "rich" not in _top(modules)  # JSON needs no table renderer
    # plugins are loaded for their hooks, but no plugin's command module: those are
    # imported by crm_cli only when the command line needs a plugin command
    assert sorted(m for m in modules if m.startswith("crmkit_") and m.endswith(".cli")) == []
    assert "sqlalchemy.dialects.postgresql" not in modules


def test_customer_list_table_imports_no_heavy_module(tmp_path, listed_db):
    modules, done = _modules(tmp_path, "--db", listed_db, "customer", "list")
    assert "上海客户2" in done.stdout
    assert sorted(_top(modules) & set(HEAVY)) == []
    assert sorted(m for m in modules if m.startswith("crmkit_") and m.endswith(".cli")) == []


def test_help_still_lists_the_plugin_commands(tmp_path, listed_db):
    """Plugin command modules are imported for a listing that shows them (``--help``)."""
    modules, done = _modules(tmp_path, "--db", listed_db, "--help")
    assert {"grading", "sales", "receivables"} <= {
        line.split()[0] for line in done.stdout.splitlines() if line.startswith("  ")}
    assert "crmkit_grading.cli" in modules
    # but no first-party plugin's statements or services: a plugin's package, its
    # commands, hooks, hook specs, settings and tables are what loading it takes
    # (receivables' api and queries were imported with its hooks until 2026-12-04)
    first_party = {m for m in modules if m.startswith("crmkit_") and "." in m
                   and not m.startswith("crmkit_birthday")}  # the tutorial's example
    assert first_party, modules
    assert sorted(m for m in first_party if m.split(".", 1)[1] not in
                  {"cli", "hooks", "hookspecs", "settings", "tables"}) == []


def test_sqlite_instant_is_what_isoformat_gives():
    utc = dt.UTC
    # SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff" in SQLite; isoformat of the aware
    # value puts a "T" between date and time and "+00:00" after ...
    assert _sqlite_instant("2026-12-01 13:20:30.123456") == "2026-12-01T13:20:30.123456+00:00"
    assert (dt.datetime(2026, 12, 1, 13, 20, 30, 123456, tzinfo=utc).isoformat()
            == "2026-12-01T13:20:30.123456+00:00")
    # ... and leaves the fraction out when it is zero
    assert _sqlite_instant("2026-12-01 13:20:30.000000") == "2026-12-01T13:20:30+00:00"
    assert dt.datetime(2026, 12, 1, 13, 20, 30, tzinfo=utc).isoformat() == \
        "2026-12-01T13:20:30+00:00"
    # another shape (a row written by hand, without a fraction) is parsed
    assert _sqlite_instant("2026-12-01 13:20:30") == "2026-12-01T13:20:30+00:00"
    assert _sqlite_instant("2026-12-01 13:20:30.5") == "2026-12-01T13:20:30.500000+00:00"
    assert _sqlite_instant(None) is None


def test_json_rows_equal_the_records_for_whole_seconds_and_extra(cli, crm_db_url):
    """A customer created on a whole second, one with Chinese ``extra``, one with none:
    ``customer list --json`` gives exactly ``to_dict`` of each record (every backend)."""
    assert cli("init").exit_code == 0
    crm = crmkit.open(crm_db_url)
    crm.customers.add_many({"name": f"客户{i}", "tags": ["vip"] if i else []}
                           for i in range(3))
    crm.customers.update(2, extra={"城市": "上海", "n": [1, 2]})
    t = crm.table("customers")
    whole = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    with crm.unit() as ctx:
        ctx.conn.execute(t.update().where(t.c.id == 1).values(created_at=whole))
    expected = [crmkit.to_dict(c) for c in crm.customers.list()]
    crm.close()
    assert expected[0]["created_at"] == "2026-01-02T03:04:05+00:00"
    assert expected[1]["extra"] == {"城市": "上海", "n": [1, 2]}
    assert expected[0]["extra"] == {} and expected[0]["tags"] == []
    listed = cli("customer", "list", "--json")
    assert listed.exit_code == 0 and listed.json == expected
    assert "城市" in listed.stdout  # UTF-8 text, not \\u escapes


def test_entry_points_are_scanned_once_per_sys_path(monkeypatch, tmp_path):
    """Every ``PluginHost`` of a process reuses one scan of the installed distributions;
    a distribution put on ``sys.path`` later is found (a new scan)."""
    import crmkit.plugins as plugins_mod
    from crmkit.plugins import PluginHost

    calls: list[str] = []
    real = plugins_mod.entry_points

    def counting(group):
        calls.append(group)
        return real(group=group)

    monkeypatch.setattr(plugins_mod, "entry_points", counting)
    first = plugins_mod.discovered()
    PluginHost()
    PluginHost()
    assert calls == ["crmkit.plugins"] and plugins_mod.discovered() is first
    assert "grading" in {ep.name for ep in first}
    info = tmp_path / "crmkit_zzfound-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crmkit-zzfound\n"
                                   "Version: 0.1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[crmkit.plugins]\nzzfound = crmkit_zzfound\n",
                                           encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "zzfound" in {ep.name for ep in plugins_mod.discovered()}
    assert len(calls) == 2
