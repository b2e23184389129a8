"""Issue 13, the admin's first hour: tables that fit, no None, paging, the 100x credit,
no file from --help or a typo, one sentence for every error, suggestions."""

from __future__ import annotations

import json
import os
import re

import pytest
from click.testing import CliRunner
from rich.cells import cell_len

import crmkit
from crmkit.cli import cli as root
from tests.test_hooks import counts

CJK = re.compile(r"[\u4e00-\u9fff]")


def widest(text: str) -> int:
    """The widest line in terminal cells (a Chinese character takes two)."""
    return max((cell_len(line) for line in text.splitlines()), default=0)


@pytest.fixture
def demo(cli):
    r = cli("demo")
    assert r.exit_code == 0, r
    return cli


def test_tables_fit_80_columns_and_chinese_names_stay_whole(demo):
    cli = demo
    names = [c["name"] for c in cli("customer", "list", "--json").json]
    for args in (("reminders",), ("receivables", "aging"), ("customer", "show", "1"),
                 ("customer", "show", "4"), ("today",), ("receivables", "open"),
                 ("customer", "list"), ("doc", "list"), ("activity", "list"),
                 ("grading", "show"), ("sales", "list"), ("doc", "show", "1"),
                 ("case", "list"), ("case", "stats"), ("campaign", "list"),
                 ("campaign", "report"), ("insights", "profit"), ("insights", "cohorts"),
                 ("insights", "cross-sell"), ("product", "list"), ("jobs", "list")):
        for env in ({"COLUMNS": "80"}, {"COLUMNS": None}):  # a pipe without COLUMNS: 80
            r = cli(*args, env=env)
            assert r.exit_code == 0, (args, r)
            assert widest(r.stdout) <= 80, (args, env, r.stdout)
            # a Chinese name is printed whole, or cut with "…", never broken onto
            # the next line: any line with its first two characters has the rest
            for name in (n for n in names if CJK.match(n)):
                for line in r.stdout.splitlines():
                    if name[:2] in line:
                        assert name in line or re.search(re.escape(name[:2]) + r"\S*\s?…",
                                                         line), (args, name, line)


def test_amounts_are_right_aligned_with_a_header_on_every_column(demo):
    out = demo("doc", "list", "--kind", "invoice", env={"COLUMNS": "120"}).stdout
    lines = out.splitlines()
    header = lines[0]
    assert "amount" in header
    end = header.index("amount") + len("amount")
    amounts = [ln for ln in lines[2:] if re.search(r"\d,?\d*\.\d\d", ln)]
    assert amounts
    for ln in amounts:  # every amount ends where the header ends
        m = re.search(r"(\d[\d,]*\.\d\d)(?=\s|$)", ln)
        assert m and cell_len(ln[:m.end()]) == cell_len(header[:end]), (header, ln)
    # the 360-degree view's activity table had a column without a header
    show = demo("customer", "show", "1", env={"COLUMNS": "120"}).stdout
    act = show[show.index("Activities"):].splitlines()[1]
    assert act.split() == ["when", "kind", "subject", "owner", "due", "task"]


def test_no_none_or_empty_list_or_repr_in_any_human_output_of_the_demo(demo):
    cli = demo
    commands = [("customer", "list"), ("contact", "list"), ("activity", "list"),
                ("doc", "list"), ("doc", "show", "1"), ("reminders",), ("today",),
                ("changes",), ("audit", "1"), ("user", "list"), ("tenant", "list"),
                ("plugins", "list"), ("plugins", "info", "grading"), ("hooks",),
                ("receivables", "aging"), ("receivables", "open"), ("grading", "show"),
                ("grading", "run"), ("sales", "list"), ("sales", "forecast"),
                ("sales", "prospects"), ("sales", "funnel"), ("sales", "team"),
                ("sales", "products"), ("webhooks", "list"), ("webhooks", "status"),
                ("db", "current")]
    commands += [("customer", "show", str(i)) for i in range(1, 11)]
    for args in commands:
        r = cli(*args, env={"COLUMNS": "120"})
        assert r.exit_code == 0, (args, r)
        for bad in ("None", "[]", "{}", "r: ", "Decimal(", "datetime."):
            assert bad not in r.stdout, (args, bad, r.stdout)
    show = cli("customer", "show", "1").stdout
    assert "R 5 · F 5 · M 4" in show or re.search(r"R \d · F \d · M \d", show)
    # the names beside the ids: lists name the customer of each row
    assert "上海大众贸易有限公司" in cli("doc", "list", "--customer", "1").stdout
    assert "上海大众贸易有限公司" in cli("activity", "list", "--customer", "1").stdout


def test_the_360_credit_equals_the_aging_credit(cli):
    # invoice 1000.00, payment 2465.50 unapplied: the customer is owed back
    # 2465.50 - 1000.00 = 1465.50, a credit of -1465.50 (it read -14.65 in the view)
    assert cli("init").exit_code == 0
    assert cli("plugins", "enable", "receivables").exit_code == 0
    cli("customer", "add", "Overpaid")
    cli("doc", "add", "1", "--kind", "invoice", "--number", "I-1", "--amount", "1000.00",
        "--issued", "2026-11-01", "--due", "2026-12-01")
    cli("doc", "add", "1", "--kind", "payment", "--number", "P-1", "--amount", "2465.50",
        "--issued", "2026-11-02")
    aging = cli("receivables", "aging", "--json").json
    assert [r["credit"] for r in aging["rows"]] == ["-1465.50"]
    view = cli("customer", "show", "1", "--json").json
    assert view["sections"]["receivables"]["credit"] == "-1465.50"
    assert "-1,465.50" in cli("customer", "show", "1").stdout


HELPS = [("grading", "run"), ("grading", "show"), ("receivables", "aging"),
         ("receivables", "open"), ("sales", "list"), ("sales", "add"),
         ("webhooks", "deliver"), ("webhooks", "status"), ("customer", "list"), ("today",),
         ("import",), ("export",), ("user", "disable")]


@pytest.mark.parametrize("args", HELPS, ids=[" ".join(a) for a in HELPS])
def test_help_needs_no_database_and_creates_no_file(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CRMKIT_DB", raising=False)
    r = CliRunner().invoke(root, [*args, "--help"])
    assert r.exit_code == 0, r.output
    assert "Usage:" in r.stdout
    assert os.listdir(tmp_path) == []


def test_a_missing_sqlite_file_is_an_error_and_is_not_created(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CRMKIT_DB", raising=False)
    for argv in (["--db", "sqlite:///typo.db", "customer", "list"],
                 ["--db", "sqlite:///typo.db", "receivables", "aging"],
                 ["--db", f"sqlite:///{tmp_path / 'typo.db'}", "db", "upgrade"],
                 ["customer", "add", "X"]):  # the default crmkit.db
        r = CliRunner().invoke(root, argv)
        assert r.exit_code == 1, (argv, r.output)
        assert r.stderr.startswith("Error: database ") and "does not exist" in r.stderr
        assert "crmkit init" in r.stderr and len(r.stderr.splitlines()) == 1
        assert os.listdir(tmp_path) == []
    # init and demo create one
    assert CliRunner().invoke(root, ["--db", "sqlite:///new.db", "init"]).exit_code == 0
    assert "new.db" in os.listdir(tmp_path)


def test_plugins_list_without_a_database_lists_what_is_installed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CRMKIT_DB", raising=False)
    r = CliRunner().invoke(root, ["plugins", "list", "--json"])
    assert r.exit_code == 0, r.output
    rows = {p["name"]: p for p in json.loads(r.stdout)}
    assert rows["receivables"]["enabled"] is None and rows["permissions"]["enabled"] is True
    assert "enabled unknown" in r.stderr
    human = CliRunner().invoke(root, ["plugins", "list"])
    assert human.exit_code == 0 and "unknown" in human.stdout
    assert os.listdir(tmp_path) == []


def test_unwritable_files_are_one_sentence(cli, monkeypatch):
    assert cli("init").exit_code == 0
    assert cli("plugins", "enable", "csv", "receivables").exit_code == 0
    cli("customer", "add", "A")
    for args, path in ((("export", "customers", "/nonexistent/x.csv"), "/nonexistent/x.csv"),
                       (("receivables", "aging", "--csv", "/nonexistent/x.csv"),
                        "/nonexistent/x.csv")):
        r = cli(*args)
        assert r.exit_code == 1, (args, r)
        assert r.stderr.startswith(f"Error: cannot write {path}: "), r.stderr
        assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr
    # any other error on a file (a disk that fails mid-export, say): one sentence too
    import crmkit_csv.export

    def failing(*args, **kw):
        raise PermissionError(13, "Permission denied", "/srv/out.csv")

    monkeypatch.setattr(crmkit_csv.export, "export_file", failing)
    r = cli("export", "customers", "out.csv")
    assert r.exit_code == 1
    assert r.stderr == "Error: cannot use /srv/out.csv: Permission denied\n"


def test_webhooks_status_counts_events_not_fanned_out_as_pending(cli):
    assert cli("init").exit_code == 0
    assert cli("plugins", "enable", "webhooks").exit_code == 0
    assert cli("webhooks", "add", "http://127.0.0.1:9/all").exit_code == 0
    assert cli("webhooks", "add", "http://127.0.0.1:9/docs", "--event",
               "document.*").exit_code == 0
    cli("customer", "add", "A")  # one customer.created event, not fanned out yet
    st = cli("webhooks", "status", "--json").json
    assert [(e["url"][-4:], e["pending"]) for e in st["endpoints"]] == [("/all", 1),
                                                                        ("docs", 0)]


def test_doc_add_names_a_bad_kind(cli):
    assert cli("init").exit_code == 0
    cli("customer", "add", "A")
    r = cli("doc", "add", "1", "--kind", "invoicee", "--number", "N-1")
    assert r.exit_code == 1
    assert "unknown document kind 'invoicee'; valid: quote, contract" in r.stderr
    assert "amount is required" not in r.stderr


def test_mistyped_commands_and_plugins_get_a_suggestion(cli):
    assert cli("init").exit_code == 0
    r = cli("custmer", "list")
    assert r.exit_code == 2 and "No such command 'custmer'. Did you mean 'customer'?" in r.stderr
    r = cli("recievables", "aging")  # a plugin's command too
    assert r.exit_code == 2 and "Did you mean 'receivables'?" in r.stderr
    r = cli("plugins", "enable", "recievables")
    assert r.exit_code == 1
    assert "unknown plugin 'recievables' (did you mean 'receivables'?); installed:" in r.stderr
    r = cli("customer", "lsit")
    assert r.exit_code == 2 and "Did you mean 'list'?" in r.stderr


def test_plugins_set_echoes_json(cli):
    assert cli("init").exit_code == 0
    r = cli("plugins", "set", "email", "starttls", "true")
    assert r.exit_code == 0 and r.stdout.strip() == "email.starttls = true"  # not True
    r = cli("plugins", "set", "receivables", "aging_basis", "issue_date")
    assert r.stdout.strip() == 'receivables.aging_basis = "issue_date"'


def test_limit_and_offset_page_every_list_alike(cli, crm_db_url):
    assert cli("init").exit_code == 0
    crm = crmkit.open(crm_db_url)
    crm.customers.add_many({"name": f"C{i:02d}"} for i in range(1, 56))
    crm.close()
    ids = [c["id"] for c in cli("customer", "list", "--json").json]
    assert ids == list(range(1, 56))  # --json: every row
    assert [c["id"] for c in cli("customer", "list", "--limit", "2", "--offset", "3",
                                 "--json").json] == [4, 5]
    table = cli("customer", "list").stdout.splitlines()
    assert sum(1 for ln in table if re.match(r"\s*\d+\s+C\d\d", ln)) == 50
    assert table[-1] == "… 5 more (see them with --offset 50)"
    last = cli("customer", "list", "--offset", "50").stdout.splitlines()
    assert "C55" in last[-1] and "more" not in last[-1]
    # 0 gives nothing (it gave everything), in JSON and in tables
    assert cli("changes", "--limit", "0", "--json").json == []
    assert cli("customer", "list", "--limit", "0", "--json").json == []
    assert cli("customer", "list", "--limit", "0").stdout.splitlines()[-1] == (
        "… 55 more (see them with --offset 0)")
    feed = cli("changes", "--json").json
    assert [c["cursor"] for c in cli("changes", "--limit", "2", "--offset", "1",
                                     "--json").json] == [f["cursor"] for f in feed[1:3]]


@pytest.mark.parametrize("value", ["-1", "99999999999999999999", "1000000001"])
def test_negative_or_absurd_limits_are_one_sentence_on_every_backend(cli, crm_db_url, value):
    assert cli("init").exit_code == 0
    cli("customer", "add", "A")
    crm = crmkit.open(crm_db_url)
    before = counts(crm)
    for args in (("customer", "list"), ("changes",), ("doc", "list"), ("activity", "list"),
                 ("audit", "1"), ("reminders",), ("user", "list")):
        for opt in ("--limit", "--offset"):
            r = cli(*args, opt, value, "--json")
            assert r.exit_code == 1, (args, opt, r)
            assert r.stderr == (f"Error: invalid {opt} {value[:40]}; expected a whole "
                                "number from 0 to 1000000000\n"), r.stderr
            assert r.stdout == ""
    assert counts(crm) == before
    crm.close()


def test_json_lists_are_streamed_from_a_generator(cli, crm_db_url, monkeypatch):
    """`customer list --json` writes rows while the service is still reading them."""
    import crmkit.output as output
    from crmkit.services.customers import CustomerService

    assert cli("init").exit_code == 0
    crm = crmkit.open(crm_db_url)
    crm.customers.add_many({"name": f"C{i}"} for i in range(1, 1201))
    crm.close()
    seen: list[int] = []
    real_stream = CustomerService.stream_dicts
    writes: list[int] = []
    real_dumps = output.dumps

    def stream(self, **kw):
        for c in real_stream(self, **kw):
            seen.append(len(writes))  # how many rows were written when this one was read
            yield c

    def dumps(obj, **kw):
        writes.append(1)
        return real_dumps(obj, **kw)

    monkeypatch.setattr(CustomerService, "stream_dicts", stream)
    monkeypatch.setattr(output, "dumps", dumps)
    r = cli("customer", "list", "--json")
    assert r.exit_code == 0 and len(r.json) == 1200
    # row 1200 was read after 1199 had been encoded: one at a time, not all first
    assert seen[-1] == 1199 and seen[0] == 0


def test_stream_dicts_equal_the_records(cli, crm_db_url):
    """The fast JSON rows are exactly the records' JSON, for an admin and a salesperson
    (with and without another plugin answering crm_permission)."""
    assert cli("init").exit_code == 0
    assert cli("user", "add", "li").exit_code == 0
    crm = crmkit.open(crm_db_url)
    crm.customers.add_many({"name": f"C{i}", "owner": "li" if i % 2 else "admin",
                            "tags": ["a", "b"] if i % 3 else [], "email": f"c{i}@x.cn"}
                           for i in range(30))
    crm.customers.update(2, extra={"erp": {"code": "X"}})
    for who in ("admin", "li"):
        view = crm.using(user=who)
        assert list(view.customers.stream_dicts()) == [
            crmkit.to_dict(c) for c in view.customers.list()], who
    crm.plugins.enable("sales")  # another crm_permission: rows are asked one by one
    li = crm.using(user="li")
    assert list(li.customers.stream_dicts(limit=5, offset=2)) == [
        crmkit.to_dict(c) for c in li.customers.list(limit=5, offset=2)]
    crm.close()


def test_customer_show_takes_an_external_id_or_a_name(cli):
    assert cli("init").exit_code == 0
    cli("customer", "add", "上海大众", "--external-id", "ERP-7")
    cli("customer", "add", "Twin")
    cli("customer", "add", "Twin")
    assert cli("customer", "show", "ERP-7", "--json").json["customer"]["id"] == 1
    assert cli("customer", "show", "上海大众", "--json").json["customer"]["id"] == 1
    r = cli("customer", "show", "Twin")
    assert r.exit_code == 1
    assert "2 customers are named 'Twin' (ids 2, 3); give the id" in r.stderr


def test_debug_shows_the_traceback_and_nothing_else_does(cli, monkeypatch):
    from crmkit.services.customers import CustomerService

    assert cli("init").exit_code == 0

    def broken(self, **kw):
        raise RuntimeError("boom in the service")

    monkeypatch.setattr(CustomerService, "list", broken)
    r = cli("customer", "list")
    assert r.exit_code == 1 and "Traceback" not in r.stderr
    assert r.stderr == ("Error: unexpected RuntimeError: boom in the service (run with "
                        "--debug for the traceback)\n")
    r = cli("--debug", "customer", "list")
    assert r.exit_code == 1 and "Traceback (most recent call last)" in r.stderr
    assert "RuntimeError: boom in the service" in r.stderr
    r = cli("customer", "list", env={"CRMKIT_DEBUG": "1"})
    assert "Traceback (most recent call last)" in r.stderr


def test_prefix_is_a_global_option_like_db(cli, crm_db_url):
    assert cli("--prefix", "erp_crm_", "init").exit_code == 0
    assert cli("--prefix", "erp_crm_", "customer", "add", "A").stdout.strip() == "1"
    rows = cli("customer", "list", "--json", env={"CRMKIT_PREFIX": "erp_crm_"}).json
    assert [c["name"] for c in rows] == ["A"]
    import sqlalchemy as sa

    engine = crmkit.storage.create_engine(crm_db_url)
    assert "erp_crm_customers" in sa.inspect(engine).get_table_names()
    assert "crm_customers" not in sa.inspect(engine).get_table_names()
    engine.dispose()
    r = cli("--prefix", "bad-prefix", "customer", "list")
    assert r.exit_code == 1 and "invalid --prefix 'bad-prefix'" in r.stderr


def test_the_command_line_reference_is_up_to_date():
    """docs/admin/cli.md is what tools/gen_cli_docs.py makes from the real commands (CI
    runs the same --check)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    p = subprocess.run([sys.executable, "tools/gen_cli_docs.py", "--check"], cwd=root,
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
