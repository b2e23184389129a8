"""The translation catalogs: every human string is wrapped, extracted, translated.

After adding or changing a message: ``python tools/i18n.py update && python
tools/i18n.py compile``, then translate what ``python tools/i18n.py todo`` lists in the
``zh_CN`` catalog of its package (docs/author/i18n.md).
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from crmkit import catalogs as tool

ROOT = Path(__file__).resolve().parent.parent
FIX = "python tools/i18n.py update && python tools/i18n.py compile"

PACKAGES = tool.packages(ROOT)

# --- 1. every human string in code is wrapped -------------------------------------

#: Functions whose first argument is shown to a person.
OUTPUT_CALLS = {"echo", "secho", "warn", "fail", "confirm", "prompt", "note"}
#: Every exception carries a message for a person, except the programmer errors, which
#: are for the developer, in English (TypeError, KeyError, RuntimeError("... works
#: inside a crmkit command only"), ...).
PROGRAMMER_ERRORS = {"TypeError", "KeyError", "AttributeError", "AssertionError",
                     "RuntimeError", "NotImplementedError", "IndexError", "LookupError",
                     "SystemExit", "StopIteration", "ImportError", "ModuleNotFoundError"}
#: Wrapping calls.
WRAPPERS = {"_", "N_", "gettext", "ngettext", "pgettext"}

#: (file, first 40 characters of the literal): strings that must stay as they are, with
#: the reason. Keep this short: anything a person reads is translated.
ALLOWED = {
    # the language itself is what is wrong: a message in the unknown language is no use
    ("crmkit/i18n.py", "unknown {what} '{_clip(value)}'; valid: "),
    # PluginHost.register is called by the embedding program's code, for its developer
    ("crmkit/plugins.py", "a plugin named '{name}' is already insta"),
}
#: Whole files for developers only: the pytest plugin's messages about test databases.
ALLOWED_FILES = {"crmkit/testing.py"}
#: The demo's sample data (names, products, activity subjects) is a business's own
#: records, deliberately bilingual: data, not messages.
ALLOWED_FILES |= {"crmkit/demo.py"}
#: The conformance kit reports to a plugin's developer (its tests, `crmkit plugins
#: check`), in the language of the code and the docs it points to.
ALLOWED_FILES |= {"crmkit/conformance.py"}


def _has_words(text: str) -> bool:
    return bool(re.search(r"[A-Za-z]{2,}", text))


def _literal_text(node: ast.AST) -> str | None:
    """The text of an unwrapped literal message (None: wrapped, or not a literal)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if _has_words(node.value) else None
    if isinstance(node, ast.JoinedStr):
        text = "".join(v.value for v in node.values
                       if isinstance(v, ast.Constant) and isinstance(v.value, str))
        return ast.unparse(node)[2:-1] if _has_words(text) else None
    if isinstance(node, ast.BinOp):
        return _literal_text(node.left) or _literal_text(node.right)
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"):
        return _literal_text(node.func.value)
    return None


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def unwrapped(path: Path) -> list[tuple[int, str, str]]:
    """``(line, where, text)`` of the unwrapped human strings of one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str, str]] = []

    def report(node: ast.AST, where: str) -> None:
        text = _literal_text(node)
        if text is not None:
            found.append((node.lineno, where, text))

    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            exc = _name(node.exc.func)
            if (exc.endswith(("Error", "Exception", "Denied", "Found", "Conflict"))
                    and exc not in PROGRAMMER_ERRORS and node.exc.args):
                arg = node.exc.args[0]
                report(arg.elt if isinstance(arg, ast.ListComp) else arg, f"raise {exc}")
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1
              and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "subject"):
            value = node.value.value if isinstance(node.value, ast.Subscript) else node.value
            values = value.values if isinstance(value, ast.Dict) else [value]
            for v in values:
                report(v, "subject =")
        if isinstance(node, ast.Call):
            name = _name(node.func)
            if name in OUTPUT_CALLS and node.args:
                # Checker.fail(field, message): the field name is a key, the message not
                message = node.args[1] if name == "fail" and len(node.args) > 1 else node.args[0]
                report(message, f"{name}()")
            if (name == "append" and node.args and isinstance(node.func, ast.Attribute)
                    and _name(node.func.value) in {"errors", "problems", "messages"}):
                report(node.args[0], f"{_name(node.func.value)}.append()")
            if name == "table":
                cols = node.args[1] if len(node.args) > 1 else next(
                    (k.value for k in node.keywords if k.arg == "columns"), None)
                if isinstance(cols, ast.List | ast.Tuple):
                    for c in cols.elts:
                        report(c, "table column")
            if name in {"table", "fields", "progress"}:
                for k in node.keywords:
                    if k.arg in {"title", "empty", "label"}:
                        report(k.value, f"{name}({k.arg}=)")
            for k in node.keywords:
                if k.arg == "subject":  # reminder and activity subjects are read by people
                    report(k.value, "subject=")
            if name in {"option", "argument", "command", "group"}:
                for k in node.keywords:
                    # literal help= is extracted by tools/i18n.py; an f-string cannot be
                    if k.arg == "help" and isinstance(k.value, ast.JoinedStr):
                        report(k.value, "help= f-string")
    return sorted(found)


def _sources() -> list[Path]:
    files = []
    for folder in PACKAGES.values():
        for p in sorted(folder.rglob("*.py")):
            rel = p.relative_to(folder)
            if "migrations" in rel.parts or "templates" in rel.parts:
                continue
            files.append(p)
    return files


def test_every_human_string_in_code_is_wrapped():
    problems = []
    for path in _sources():
        rel = str(path.relative_to(ROOT))
        if rel in ALLOWED_FILES:
            continue
        for line, where, text in unwrapped(path):
            if (rel, text[:40]) in ALLOWED:
                continue
            problems.append(f"{rel}:{line}: {where}: {text[:70]!r}")
    assert not problems, (
        "human strings not wrapped for translation (use _(...).format(name=...); in a "
        "plugin `_ = Domain(\"crmkit_<plugin>\").gettext`):\n" + "\n".join(problems))


def translated_at_import(path: Path) -> list[int]:
    """Lines where a message is translated when the module is imported (module or
    class level, a decorator such as ``@click.option(help=_(...))``, a default value):
    it would stay in the language of whoever imported the module first."""
    found: list[int] = []

    def calls(node: ast.AST) -> None:
        for ch in ast.walk(node):
            if isinstance(ch, ast.Call) and _name(ch.func) in WRAPPERS - {"N_"}:
                found.append(ch.lineno)

    def visit(node: ast.AST) -> None:
        for ch in ast.iter_child_nodes(node):
            if isinstance(ch, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                for d in [*getattr(ch, "decorator_list", []), *ch.args.defaults,
                          *[k for k in ch.args.kw_defaults if k is not None]]:
                    calls(d)
                continue
            if isinstance(ch, ast.Call) and _name(ch.func) in WRAPPERS - {"N_"}:
                found.append(ch.lineno)
            visit(ch)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return sorted(found)


def test_nothing_is_translated_at_import_time():
    problems = [f"{p.relative_to(ROOT)}:{line}" for p in _sources()
                for line in translated_at_import(p)]
    assert not problems, (
        "translated at import time (use N_() for a click help text, or call _() inside "
        "the function that shows the message):\n" + "\n".join(problems))


def test_the_checker_finds_an_unwrapped_string(tmp_path):
    # the check above must be able to fail: three unwrapped strings, two wrapped ones
    src = tmp_path / "m.py"
    src.write_text(
        "def f(x):\n"
        "    echo('plain text')\n"
        "    raise ValidationError(f'bad value {x}')\n"
        "    table(rows, ['customer', _('amount')], title=_('Overdue'))\n"
        "    raise ValidationError(_('bad value {x}').format(x=x))\n", encoding="utf-8")
    assert [(line, text) for line, _w, text in unwrapped(src)] == [
        (2, "plain text"), (3, "bad value {x}"), (4, "customer")]
    src.write_text("TITLE = _('Overdue')\n\n@click.option('--x', help=_('X.'))\n"
                   "def f(y=N_('fine')):\n    return _('fine too')\n", encoding="utf-8")
    assert translated_at_import(src) == [1, 3]


# --- 2. every msgid is in each catalog, translated; .mo compiled -------------------


def _catalog(po: Path):
    with open(po, "rb") as f:
        return read_po(f, locale=po.parent.parent.name)


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_catalog_is_complete_and_compiled(package):
    folder = PACKAGES[package]
    template = tool.extract(package, folder)
    pot = tool.pot_path(package, folder)
    stale = not pot.exists() or tool.msgids(tool.read(pot)) != tool.msgids(template)
    for locale in tool.LOCALES:
        po = tool.po_path(package, folder, locale)
        assert po.exists(), f"{po.relative_to(ROOT)} is missing; run: {FIX}"
        cat = _catalog(po)
        have = {m.id for m in cat if m.id}
        missing = [m.id for m in template if m.id and m.id not in have]
        assert not missing, (
            f"{len(missing)} msgid(s) of {package} are not in {po.relative_to(ROOT)}; run "
            f"`{FIX}`, then translate them:\n" + "\n".join(repr(m) for m in missing))
        todo = tool.untranslated(cat)
        assert not todo, (
            f"{len(todo)} msgid(s) untranslated in {po.relative_to(ROOT)} (`python "
            f"tools/i18n.py todo` lists them):\n" + "\n".join(repr(m) for m in todo))
        mo = po.with_suffix(".mo")
        assert mo.exists() and mo.read_bytes() == tool._mo_bytes(cat), (
            f"{mo.relative_to(ROOT)} is not compiled from its .po; run: "
            "python tools/i18n.py compile")
    assert not stale, f"{pot.relative_to(ROOT)} is out of date; run: {FIX}"


def _fields(text: str) -> list[str]:
    return sorted(f for _lit, f, _spec, _conv in string.Formatter().parse(text)
                  if f is not None)


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_translations_keep_the_placeholders(package):
    bad = []
    for locale in tool.LOCALES:
        po = tool.po_path(package, PACKAGES[package], locale)
        if not po.exists():
            continue
        for m in _catalog(po):
            if not m.id or not m.string:
                continue
            ids = m.id if isinstance(m.id, tuple) else (m.id,)
            strings = m.string if isinstance(m.string, tuple) else (m.string,)
            want = _fields(ids[-1])
            for s in strings:
                try:
                    got = _fields(s)
                except ValueError as exc:
                    bad.append(f"{m.id!r} -> {s!r}: {exc}")
                    continue
                if got != want and not (len(ids) > 1 and set(got) <= set(want)):
                    bad.append(f"{m.id!r} -> {s!r}: placeholders {got} != {want}")
    assert not bad, "\n".join(bad)


def test_every_catalog_ships_in_the_wheel_package_data():
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]
    for package in PACKAGES:
        assert "locale/*/LC_MESSAGES/*.mo" in data.get(package, []), package


def test_installed_crmkit_finds_its_catalogs():
    # the editable install (and a wheel) resolve each package's locale folder
    from crmkit.i18n import Domain, use_locale

    for package, folder in PACKAGES.items():
        assert Domain(package).localedir == folder / "locale", package
    with use_locale("zh_CN"):
        assert Domain("crmkit").gettext("customer") == "客户"


# --- 3. the demo in Chinese -----------------------------------------------------------


#: an overdue reminder's subject (an invoice, or one installment of it)
ZH_OVERDUE = r"发票 INV-[\w-]+( 第 \d+/\d+ 期)? 已逾期 \d+ 天"
EN_OVERDUE = r"Invoice INV-[\w-]+( installment \d+/\d+)? is \d+ days overdue"


def test_the_demo_in_chinese(tmp_path, monkeypatch):
    """``CRMKIT_LANG=zh_CN crmkit demo``: Chinese figures, table headers, reminder
    subjects and e-mail digest; JSON keys and fixed values stay English."""
    import json

    from click.testing import CliRunner
    from test_email import Inbox

    from crmkit.cli import cli

    monkeypatch.delenv("CRMKIT_LANG", raising=False)
    base = ["--db", f"sqlite:///{tmp_path / 'demo.db'}", "--today", "2026-12-01"]
    runner = CliRunner()

    def run(*args, lang="zh_CN"):
        env = {"CRMKIT_LANG": lang} if lang else {"CRMKIT_LANG": ""}
        r = runner.invoke(cli, [*base, *args], env=env, catch_exceptions=False)
        assert r.exit_code == 0, r.output
        return r.output

    out = run("demo")
    flat = " ".join(out.split())  # the first line wraps where the (temporary) path allows
    assert "已在 sqlite:///" in flat and "个客户；已启用插件：" in flat
    assert "今天 2026-12-01 · admin（全部客户）" in out
    assert "应收账款  未收 " in out and "销售      销售管道 " in out
    assert "逾期金额最多的客户" in out
    assert re.search(r"^客户 +逾期$", out, re.M), out  # the table's header row
    assert "待办任务（1）" in out and re.search(r"^到期日 +客户 +任务 +负责人$", out, re.M)

    out = run("reminders")
    assert "2026-12-01 的提醒" in out
    assert re.search(r"^到期日 +客户 +负责人 +主题 +金额$", out, re.M), out
    assert re.search(ZH_OVERDUE, out), out

    rows = json.loads(run("reminders", "--json"))
    overdue = [r for r in rows if r["kind"] == "overdue"]  # fixed value: English
    assert overdue and {"subject", "customer", "due_on", "amount"} <= set(overdue[0])
    assert all(re.fullmatch(ZH_OVERDUE, r["subject"]) for r in overdue), overdue
    assert all(re.fullmatch(EN_OVERDUE, r["subject"])
               for r in json.loads(run("reminders", "--json", lang=None))
               if r["kind"] == "overdue")

    inbox = Inbox()
    try:
        for key, value in [("host", "127.0.0.1"), ("port", str(inbox.port)),
                           ("fallback_email", "owner@example.com"),
                           ("language", "en")]:  # CRMKIT_LANG wins over the setting
            run("plugins", "set", "email", key, value)
        run("reminders", "--send")
    finally:
        inbox.close()
    assert inbox.messages, "no digest was sent"
    digest = inbox.messages[0]
    assert digest["subject"].endswith(f"2026-12-01 的提醒（{digest['body'].count('客户：')} 项）")
    assert "以下是 2026-12-01 需要您处理的事项：" in digest["body"]
    assert re.search(ZH_OVERDUE, digest["body"])
    assert "   金额：" in digest["body"] and "Amount:" not in digest["body"]


def test_help_in_chinese_leaves_english_alone(monkeypatch):
    from click.testing import CliRunner

    from crmkit.cli import cli

    runner = CliRunner()
    zh = runner.invoke(cli, ["customer", "add", "--help"], env={"CRMKIT_LANG": "zh_CN"})
    assert "添加客户；输出其编号。" in zh.output and "负责的用户（默认：您自己）。" in zh.output
    top = runner.invoke(cli, ["--help"], env={"CRMKIT_LANG": "zh_CN"}).output
    assert "数据库 URL [环境变量 CRMKIT_DB；默认 sqlite:///crmkit.db]。" in top
    assert re.search(r"^  customer +客户：添加、列表", top, re.M), top
    monkeypatch.delenv("CRMKIT_LANG", raising=False)
    en = runner.invoke(cli, ["customer", "add", "--help"]).output
    assert "Add a customer; prints its id." in en and "添加" not in en


def test_every_help_text_of_the_cli_is_translated():
    """Walk the real command tree (every plugin's commands): each command's help and
    each option's help is in a zh_CN catalog (a help text built at run time, which
    tools/i18n.py cannot extract, fails here)."""
    import click

    from crmkit.cli import CORE_COMMANDS, cli
    from crmkit.i18n import use_locale

    ctx = click.Context(cli)
    missing = []

    def walk(cmd, path):
        texts = [cmd.help] + [getattr(p, "help", None) for p in cmd.params]
        for t in texts:
            if not t:
                continue
            clean = __import__("inspect").cleandoc(t).partition("\f")[0].strip()
            package = (getattr(cmd.callback, "__module__", None) or "crmkit").split(".")[0]
            from crmkit.i18n import CORE, Domain

            with use_locale("zh_CN"):
                ok = (Domain(package).gettext(clean) != clean
                      or CORE.gettext(clean) != clean)
            if not ok:
                missing.append(f"{' '.join(path)}: {clean[:70]!r}")
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*path, name])

    walk(cli, ["crmkit"])
    for name in cli.list_commands(ctx):
        sub = cli.get_command(ctx, name)
        if sub is not None and (name in CORE_COMMANDS or sub.crmkit_plugin  # type: ignore
                                in {p.removeprefix("crmkit_") for p in PACKAGES}):
            walk(sub, ["crmkit", name])
    assert not missing, f"help texts without a translation (run `{FIX}`):\n" + "\n".join(
        missing)


def test_the_limit_help_names_the_table_limit():
    from crmkit.output import TABLE_LIMIT, paging

    cmd = __import__("click").command()(paging(lambda limit, offset: None))
    limit = next(p for p in cmd.params if p.name == "limit")
    assert f"[default: {TABLE_LIMIT} in a table" in limit.help


def test_a_third_party_plugin_builds_its_own_catalog(tmp_path, capsys):
    """docs/author/i18n.md: ``python -m crmkit.catalogs update/compile --root .`` in a
    plugin made by ``crmkit plugins new``."""
    from babel.messages.pofile import write_po

    from crmkit.i18n import Domain, use_locale
    from crmkit.scaffold import write

    root, _files = write("acme-loyalty", tmp_path / "crmkit-acme-loyalty")
    pkg = root / "crmkit_acme_loyalty"
    (pkg / "extra.py").write_text(
        "from crmkit.i18n import Domain\n_ = Domain('crmkit_acme_loyalty').gettext\n\n"
        "def hello(n):\n    return _('{n} points earned').format(n=n)\n", encoding="utf-8")
    assert tool.main(["update", "--root", str(root)]) == 0
    po = pkg / "locale" / "zh_CN" / "LC_MESSAGES" / "crmkit_acme_loyalty.po"
    cat = _catalog(po)
    assert "{n} points earned" in tool.msgids(cat)
    assert tool.main(["check", "--root", str(root)]) == 1  # untranslated
    assert "untranslated msgid '{n} points earned'" in capsys.readouterr().out
    for m in cat:
        if m.id:
            m.string = "已获得 {n} 积分" if m.id == "{n} points earned" else "译文"
    with open(po, "wb") as f:
        write_po(f, cat)
    assert tool.main(["compile", "--root", str(root)]) == 0
    assert tool.main(["check", "--root", str(root)]) == 0
    with use_locale("zh_CN"):
        got = Domain("crmkit_acme_loyalty", pkg / "locale").gettext("{n} points earned")
    assert got.format(n=30) == "已获得 30 积分"


def test_an_unknown_crmkit_lang_is_one_line_exit_1(tmp_path):
    from click.testing import CliRunner

    from crmkit.cli import cli

    db = tmp_path / "x.db"
    r = CliRunner().invoke(cli, ["--db", f"sqlite:///{db}", "init"],
                           env={"CRMKIT_LANG": "klingon"})
    assert r.exit_code == 1
    assert r.output.strip() == "Error: unknown CRMKIT_LANG 'klingon'; valid: en, zh_CN"
    assert not db.exists()  # nothing written


def test_the_cli_speaks_the_tenants_locale_for_the_whole_command(tmp_path, monkeypatch):
    """Table headers are built after the unit that read the rows: the CLI sets the
    tenant's locale (tenants.locale) for the whole command, and resets it afterwards."""
    import sqlite3

    from click.testing import CliRunner

    from crmkit.cli import cli
    from crmkit.i18n import current_locale

    monkeypatch.delenv("CRMKIT_LANG", raising=False)
    path = tmp_path / "x.db"
    db = ["--db", f"sqlite:///{path}"]
    runner = CliRunner()
    assert runner.invoke(cli, [*db, "init"]).exit_code == 0
    assert runner.invoke(cli, [*db, "customer", "add", "上海大众"]).exit_code == 0
    out = runner.invoke(cli, [*db, "customer", "list"]).output
    assert re.search(r"^id +name +status +owner", out, re.M), out
    with sqlite3.connect(path) as con:  # what `tenant update default --locale zh_CN` does
        con.execute("UPDATE crm_tenants SET locale = 'zh_CN' WHERE slug = 'default'")
    out = runner.invoke(cli, [*db, "customer", "list"]).output
    assert re.search(r"^编号 +名称 +状态 +负责人", out, re.M), out
    r = runner.invoke(cli, [*db, "customer", "show", "99"])
    assert r.exit_code == 1 and r.output.startswith("错误：未找到客户 99"), r.output
    assert current_locale() == "en"  # nothing leaks into the next command
    monkeypatch.setenv("CRMKIT_LANG", "en")  # the shell's choice wins over the tenant's
    out = runner.invoke(cli, [*db, "customer", "list"]).output
    assert re.search(r"^id +name +status +owner", out, re.M), out
