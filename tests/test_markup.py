"""Issue 20.1: values from the database are text, never rich markup, in every table,
panel and progress label, core and plugins."""

from __future__ import annotations

import io

import pytest

from crmkit.output import progress, section, table

NAMES = ["[/bold]", "[link=http://x]Click[/link] [red]PAID[/red]"]
BOTH = (0, 1)
#: each command, and which of the hostile names it must print
COMMANDS = {("customer", "list"): BOTH, ("customer", "show", "1"): (0,),
            ("customer", "show", "2"): (1,), ("contact", "list"): BOTH,
            ("activity", "list"): BOTH, ("doc", "list"): BOTH, ("doc", "show", "1"): (0,),
            ("reminders",): BOTH, ("today",): BOTH, ("receivables", "aging"): BOTH,
            ("receivables", "aging", "--by", "owner"): (), ("receivables", "open"): BOTH,
            ("grading", "show"): BOTH, ("sales", "list"): BOTH, ("sales", "prospects"): BOTH,
            ("sales", "products", "--from", "2026-09-01"): BOTH, ("audit", "1"): (),
            ("changes",): ()}


@pytest.fixture
def hostile(cli):
    assert cli("init").exit_code == 0
    assert cli("plugins", "enable", "receivables", "grading", "sales").exit_code == 0
    for i, name in enumerate(NAMES, 1):
        assert cli("customer", "add", name, "--tag", "[i]").stdout.strip() == str(i)
        cli("contact", "add", str(i), name, "--title", "[red]CFO[/red]")
        cli("activity", "add", str(i), "--kind", "task", "--subject", name, "--due",
            "2026-11-20")
        cli("doc", "add", str(i), "--kind", "invoice", "--number", f"[b]INV-{i}[/b]",
            "--amount", "100.00", "--issued", "2026-09-01", "--due", "2026-10-01",
            "--line", f"{name}:1:100.00")
        assert cli("sales", "add", str(i), "--title", name, "--amount", "50.00",
                   "--close", "2026-12-01").exit_code == 0
    return cli


def _problems(cli, args, names):
    """What is wrong in ``crmkit ARGS``'s output: it must exit 0, render no markup and
    print each of ``names`` (indexes in NAMES) literally."""
    r = cli(*args, env={"COLUMNS": "250"})  # wide: every name on one line
    out = r.stdout
    problems = []
    if r.exit_code != 0:
        problems.append(f"exit {r.exit_code}: {r.stderr[-300:]}")
    if "\x1b" in out:
        problems.append("an escape sequence (colour or OSC 8 hyperlink)")
    if "Click PAID" in out:
        problems.append("the markup was rendered")
    problems += [f"{NAMES[i]!r} not printed" for i in names if NAMES[i] not in out]
    if args[:2] == ("customer", "show") and out.count(NAMES[names[0]]) < 3:
        problems.append("the title, the contact and the task do not all show the name")
    return [f"crmkit {' '.join(args)}: {p}" for p in problems]


def test_markup_in_data_prints_literally(hostile):
    """Every command of COMMANDS on one database (built once per backend: the data take
    13 commands to make), each failure named by its command."""
    failures = [p for args, names in COMMANDS.items() for p in _problems(hostile, args, names)]
    assert not failures, "\n".join(failures)


def test_a_third_party_plugin_command_prints_markup_literally(hostile):
    pytest.importorskip("crmkit_birthday")
    assert hostile("plugins", "enable", "birthday").exit_code == 0
    assert _problems(hostile, ("birthday", "list"), ()) == []


def test_grading_run_and_reminders_send_with_markup(hostile):
    assert hostile("grading", "run").exit_code == 0
    sent = hostile("reminders", "--send")
    assert sent.exit_code == 0 and NAMES[1] in sent.stdout


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_labels_are_text_and_silent_off_a_terminal():
    quiet = io.StringIO()
    with progress("[red]x.csv[/red] [/bold]", total=3, stream=quiet) as bar:
        bar.advance()
        bar(2, 3)
    assert quiet.getvalue() == ""  # not a terminal: nothing at all
    tty = _Tty()
    with progress("writing [/bold] [red]x.csv[/red]", total=3, stream=tty) as bar:
        bar.advance(3)
        bar.update(label="still [/i] text")
    assert "[/bold]" in tty.getvalue() or "still [/i] text" in tty.getvalue()


def test_tables_and_sections_render_markup_as_text(capsys):
    import crmkit

    table([("[/bold]", "[red]1[/red]")], ["[b]name[/b]", "[i]x"], title="[/title]")
    section(crmkit.Section(plugin="p", title="[/p]", data={"[/k]": "[/v]",
                                                            "rows": [{"[/a]": "[/b]"}]}))
    out = capsys.readouterr().out
    for literal in ("[/bold]", "[red]1[/red]", "[b]name[/b]", "[/title]", "[/p]", "[/v]",
                    "[/b]"):
        assert literal in out, literal
