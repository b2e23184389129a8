"""Generate docs/admin/cli.md: every core command, run for real on a demo database.

    python tools/gen_cli_docs.py [--output docs/admin/cli.md]
    python tools/gen_cli_docs.py --check      # exit 1 when the page is out of date (CI)

Each example runs ``crmkit --today 2026-11-22 ...`` (in this process, with click's
CliRunner, ``COLUMNS=80``) in a temporary folder holding a fresh ``crmkit demo``
database; the page shows the command (as ``crmkit ...``) and what it printed. The clock
is fixed at 09:00 UTC on that day, so the page is the same on every run. The last
section is the ``--help`` of every core command.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "admin" / "cli.md"
TODAY = "2026-11-22"
MAX_LINES = 40


class Runner:
    """Runs ``crmkit`` in this process (click's CliRunner) inside ``folder``."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.env: dict[str, str | None] = {
            k: None for k in os.environ if k.startswith("CRMKIT_")}
        self.env.update({"COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"})
        self.out: list[str] = []

    def run(self, *args: str, show: bool = True, expect: int = 0, full: bool = False) -> str:
        from click.testing import CliRunner

        from crmkit.cli import cli

        old = os.getcwd()
        os.chdir(self.folder)
        try:
            res = CliRunner().invoke(cli, ["--today", TODAY, *args], env=self.env,
                                     prog_name="crmkit")
        finally:
            os.chdir(old)
        if res.exception and not isinstance(res.exception, SystemExit):
            raise res.exception
        if res.exit_code != expect:
            raise SystemExit(f"`crmkit {shlex.join(args)}` exited {res.exit_code} "
                             f"(expected {expect}):\n{res.output}")
        if show:
            lines = res.output.rstrip("\n").splitlines()
            if not full and len(lines) > MAX_LINES:
                lines = lines[:MAX_LINES] + [f"... ({len(lines) - MAX_LINES} more lines)"]
            self.out += ["```console", f"$ crmkit {shlex.join(args)}", *lines]
            if res.exit_code:
                self.out.append(f"$ echo $?\n{res.exit_code}")
            self.out += ["```", ""]
        return res.stdout

    def say(self, *paragraphs: str) -> None:
        for para in paragraphs:
            self.out += [para, ""]


def examples(r: Runner) -> None:
    say = r.say
    say("## Start", "`crmkit demo` creates `crmkit.db` in the working folder with a sample "
        "business and every installed plugin enabled; `crmkit init` creates an empty one "
        "(and is safe to run again: it only adds what is missing).")
    r.run("demo")
    r.run("init")
    say("## The day's screen",
        "`crmkit today` is what an owner reads first: what is owed and overdue, the "
        "pipeline and this month's wins, customer counts and reminders, then the largest "
        "overdue balances and the tasks due. A salesperson sees their own customers'. "
        "A part whose plugin is not enabled says so (null in `--json`).")
    r.run("--user", "li", "today")
    r.run("today", "--json")

    say("## Tenants and users",
        "A tenant is one business; all its data is separate. `tenant add` also creates its "
        "`admin`. Users have a role: `admin` (everything, including plugins), `manager` "
        "(all customers) or `sales` (only the customers they own).")
    r.run("tenant", "add", "acme", "--name", "Acme Trading", "--currency", "EUR")
    r.run("tenant", "list")
    r.run("user", "add", "zhou", "--role", "sales")
    r.run("user", "update", "zhou", "--email", "zhou@example.cn")
    r.run("user", "list")
    say("A disabled user cannot act (their customers keep them as owner until "
        "`customer reassign`); `user enable` lets them act again:")
    r.run("user", "disable", "zhou")
    r.run("--user", "zhou", "customer", "list", expect=1)
    r.run("user", "enable", "zhou")

    say("## Plugins",
        "Plugins are installed with pip and switched on per tenant. `enable` also enables "
        "what a plugin requires; `disable` refuses while another enabled plugin needs it "
        "(its data is kept). `info` shows hooks, settings (secrets masked) and commands; "
        "`check` verifies every installed plugin's hooks (exit 1 on a problem).")
    r.run("plugins", "list")
    plugins = json.loads(r.run("plugins", "list", "--json", show=False))
    prefer = ["grading", "receivables", "sales"]
    third = sorted((p for p in plugins if not p["builtin"] and not p["error"]),
                   key=lambda p: (p["name"] not in prefer, p["name"]))
    with_settings = None
    for p in third:
        info = json.loads(r.run("plugins", "info", p["name"], "--json", show=False))
        if info["settings"]:
            with_settings = info
            break
    name = (with_settings or (third[0] if third else plugins[0]))["name"]
    r.run("plugins", "info", name)
    if third:
        r.run("plugins", "disable", name)
        r.run("plugins", "enable", name)
    if with_settings:
        key, value = next((k, v) for k, v in with_settings["settings"].items()
                          if isinstance(v, int | str) and not isinstance(v, bool))
        r.run("plugins", "set", name, key, json.dumps(value) if isinstance(value, int)
              else value)
    r.run("plugins", "check")
    r.run("plugins", "new", "followup", "--dir", "crmkit-followup")
    r.run("hooks")

    say("## Customers",
        "`add` prints the new id (the whole record with `--json`). `list` shows only what "
        "the acting user may see. `show` is the 360° view: contacts, activities, "
        "documents and every enabled plugin's section.")
    cid = r.run("customer", "add", "杭州西湖茶庄", "--owner", "li", "--email",
                "buy@xihu-tea.cn", "--tag", "tea").strip()
    r.run("customer", "list", "--owner", "li")
    r.run("customer", "list", "--search", "西湖", "--json")
    say("Lists show 50 rows in a table and say how many more there are; `--limit N` "
        "and `--offset N` page through them (`--limit 0` shows none). With `--json` "
        "every row is printed, as it is read from the database.")
    r.run("customer", "list", "--limit", "3", "--offset", "2")
    r.run("customer", "show", "1")
    say("`customer show` also takes an exact external id or an exact name:")
    r.run("customer", "show", "ERP-1002")
    r.run("customer", "update", cid, "--phone", "0571-8765-4321")
    r.run("customer", "archive", cid)
    say("A leaving salesperson's customers and open tasks go to a colleague in one "
        "transaction:")
    r.run("customer", "reassign", "--from", "emma", "--to", "wang", "--disable")
    say("Errors are one sentence on stderr with exit code 1 (`--debug` adds the "
        "traceback); a mistyped command gets a suggestion (exit 2):")
    r.run("customer", "show", "9999", expect=1)
    r.run("custmer", "list", expect=2)

    say("## Contacts")
    r.run("contact", "add", "2", "周杰", "--title", "采购经理", "--email", "zhoujie@huaxin.com.cn")
    r.run("contact", "list", "--customer", "2")

    say("## Activities",
        "Kinds: call, visit, email, meeting, note, task. A task with `--due` reminds its "
        "owner when due.")
    r.run("activity", "add", "2", "--kind", "call", "--subject", "确认交货日期",
          "--at", "2026-11-20T09:30")
    tid = r.run("activity", "add", "2", "--kind", "task", "--subject", "Send revised quote",
                "--due", "2026-11-22", "--owner", "wang").strip()
    r.run("activity", "list", "--customer", "2")
    r.run("activity", "done", tid)

    say("## Documents",
        "Kinds: quote, contract, order, invoice, payment, credit_note, expense. Amounts are "
        "exact decimals; `--line PRODUCT:QTY:PRICE` lines make up the amount. A payment "
        "or credit note names the invoice it settles with `--applies-to`.")
    did = r.run("doc", "add", "2", "--kind", "invoice", "--number", "INV-9001",
                "--line", "Support plan:2:480.00", "--line", "Training day:1:1500",
                "--issued", "2026-11-22", "--due", "2026-12-22").strip()
    r.run("doc", "add", "2", "--kind", "payment", "--number", "PAY-9001", "--amount",
          "1000.00", "--applies-to", "INV-9001", "--issued", "2026-11-22")
    r.run("doc", "list", "--customer", "2", "--limit", "5")
    r.run("doc", "show", did)
    r.run("doc", "status", did, "sent")

    say("## Reminders",
        "`reminders` lists what needs attention today; `--send` delivers each reminder "
        "once through every channel (the terminal always; e-mail and webhooks when "
        "those plugins are enabled): run it again and nothing is delivered twice.")
    r.run("reminders")
    r.run("reminders", "--send")
    r.run("reminders", "--send")

    say("## Change feed and audit",
        "Every insert and update is recorded with who and when. `changes --since N` "
        "gives an integration what happened after cursor N.")
    r.run("changes", "--since", "2", "--limit", "2", "--json")
    r.run("audit", "2")


def helps(r: Runner) -> None:
    from crmkit.cli import CORE_COMMANDS

    r.say("## Every command's help",
          "Plugin commands (`receivables`, `grading`, `sales`, ...) are documented on "
          "[the plugins' pages](../plugins/index.md).")
    r.run("--help", full=True)
    import importlib

    def walk(path: list[str], cmd: Any) -> None:
        r.run(*path, "--help", full=True)
        for sub in sorted(getattr(cmd, "commands", {})):
            walk([*path, sub], cmd.commands[sub])

    for name in sorted(CORE_COMMANDS):
        mod, attr = CORE_COMMANDS[name]
        walk([name], getattr(importlib.import_module(mod), attr))


def _fixed_clock() -> Any:
    """Every ``ctx.now()`` is 09:00 UTC on TODAY, so that times in the page never
    change from one run to the next (restored afterwards)."""
    import contextlib
    import datetime as dt

    from crmkit.context import Context

    @contextlib.contextmanager
    def fixed() -> Any:
        old = Context.now
        Context.now = lambda self: dt.datetime.combine(  # type: ignore[method-assign]
            self.today, dt.time(9, 0), dt.UTC)
        try:
            yield
        finally:
            Context.now = old  # type: ignore[method-assign]

    return fixed()


def render() -> str:
    """The page, freshly generated."""
    with tempfile.TemporaryDirectory() as tmp, _fixed_clock():
        r = Runner(Path(tmp))
        r.out += [
            "# Command line reference",
            "",
            "<!-- Generated by tools/gen_cli_docs.py: do not edit by hand. -->",
            "",
            "`crmkit [--db URL] [--prefix P] [--tenant SLUG] [--user NAME] [--today DATE] "
            "[--debug] COMMAND`. The options default to `CRMKIT_DB` (else "
            "`sqlite:///crmkit.db` in the working folder), `CRMKIT_PREFIX` (else `crm_`), "
            "`CRMKIT_TENANT` (else `default`), `CRMKIT_USER` (else `admin`), `CRMKIT_TODAY` "
            "(else the real date) and `CRMKIT_DEBUG=1`. Only `init` and `demo` create a "
            "database; any other command on a missing SQLite file says so (exit 1) and "
            "creates nothing, and `--help` never needs one. Every list or show command "
            "takes `--json` and then prints only JSON. Exit codes: 0 success, 1 a domain "
            "error (invalid value, not found, permission denied; one sentence on stderr, "
            "no traceback unless `--debug`), 2 a usage error.",
            "",
            f"Every example below ran, in this order, on a fresh `crmkit demo` database with "
            f"`--today {TODAY}`; the output is what it printed (long outputs are cut).",
            "",
        ]
        examples(r)
        helps(r)
    return "\n".join(r.out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", type=Path, default=PAGE)
    ap.add_argument("--check", action="store_true",
                    help="Do not write: exit 1 when the page differs from what it would be.")
    args = ap.parse_args(argv)
    page = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != page:
            import difflib

            diff = list(difflib.unified_diff(current.splitlines(), page.splitlines(),
                                             str(args.output), "generated", lineterm=""))
            print("\n".join(diff[:60]))
            print(f"{args.output} is out of date ({len(diff)} diff lines); run "
                  "`python tools/gen_cli_docs.py`")
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(page, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
