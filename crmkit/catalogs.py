"""Manage the translation catalogs of crmkit, its first-party plugins, or your plugin
(Babel).

In the crmkit repository, one command after adding or changing strings::

    python tools/i18n.py update && python tools/i18n.py compile

In a plugin's own source tree (the folder with its ``pyproject.toml``)::

    python -m crmkit.catalogs update --root . && python -m crmkit.catalogs compile --root .

``extract``  writes ``<package>/locale/<package>.pot`` for each package (the core
             ``crmkit`` and every plugin package under ``plugins/``);
``update``   extracts, then merges the template into
             ``<package>/locale/<LOCALE>/LC_MESSAGES/<package>.po`` (new messages come
             in untranslated, gone ones are dropped);
``compile``  writes the ``.mo`` next to each ``.po`` (these are committed, and shipped
             in the wheel as package data);
``check``    exits 1 when a template, catalog or ``.mo`` is out of date, or a message
             is untranslated (what ``tests/test_i18n_catalogs.py`` asserts);
``todo``     lists the untranslated messages of each catalog.

``--package NAME`` limits any of them to one package; ``--root DIR`` is the source
tree (default: the current folder): its packages are ``crmkit`` and the
``crmkit_*`` folders with an ``__init__.py`` in DIR or ``DIR/plugins``, else every
package folder directly in DIR (``tests`` excepted).

What is extracted, per package: the arguments of ``_``, ``N_``, ``gettext``
(``Domain(...).gettext`` aliases), ``ngettext`` and ``pgettext``; and the help texts
of click commands: the docstring of every function decorated with ``@….command`` or
``@….group`` and every literal ``help="..."`` of ``command``/``group``/``option``/
``argument`` (the CLI translates those when it shows ``--help``, see
``crmkit.cli.helptext``), and the ``description="..."`` of ``PluginSpec(...)`` (shown
by ``crmkit plugins list``).

Only the build tools need this module; it imports Babel, a dependency of crmkit.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path.cwd()
LOCALES = ("zh_CN",)
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2),
            "pgettext": ((1, "c"), 2)}
CLICK_CALLS = {"command", "group", "option", "argument"}
FIX = "python tools/i18n.py update && python tools/i18n.py compile"  # in this repository
FIXED_DATE = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
HEADER = "Translations of {package} (crmkit). Managed with tools/i18n.py; see docs/author."


def packages(root: Path = ROOT) -> dict[str, Path]:
    """``{package name: its folder}`` for the core and every first-party plugin."""
    found: dict[str, Path] = {}
    if (root / "crmkit" / "__init__.py").exists():
        found["crmkit"] = root / "crmkit"
    for base in (root / "plugins", root):
        if not base.is_dir():
            continue
        for d in sorted(base.iterdir()):
            if d.name.startswith("crmkit_") and (d / "__init__.py").exists():
                found.setdefault(d.name, d)
    if not found:
        for d in sorted(root.iterdir()):
            if d.is_dir() and d.name != "tests" and (d / "__init__.py").exists():
                found[d.name] = d
    return found


def _click_help(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, text)`` of the click help texts in one file: command docstrings (as
    click shows them: cleaned, cut at a form feed) and literal ``help=`` arguments."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except SyntaxError:
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if any(_is_click_call(d, {"command", "group"}) for d in node.decorator_list):
                doc = ast.get_docstring(node, clean=True)
                if doc:
                    yield node.lineno, doc.partition("\f")[0].strip()
        elif isinstance(node, ast.Call) and (_is_click_call(node, CLICK_CALLS)
                                             or _is_click_call(node, {"PluginSpec"})):
            for kw in node.keywords:
                if (kw.arg in ("help", "description") and isinstance(kw.value, ast.Constant)
                        and isinstance(kw.value.value, str) and kw.value.value.strip()):
                    yield kw.value.lineno, kw.value.value


def _is_click_call(node: ast.expr, names: set[str]) -> bool:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr in names
    return isinstance(node, ast.Name) and node.id in names


def extract(package: str, folder: Path) -> Catalog:
    """The template (messages without translations) of one package."""
    # a fixed creation date: two branches updating a catalog never conflict on it
    cat = Catalog(project=package, domain=package, header_comment="# "
                  + HEADER.format(package=package), fuzzy=False,
                  creation_date=FIXED_DATE, revision_date=FIXED_DATE)
    base = folder.parent
    for filename, lineno, message, comments, context in extract_from_dir(
            str(folder), method_map=[("**/migrations/**.py", "ignore"), ("**.py", "python")],
            keywords=KEYWORDS, comment_tags=("TRANSLATORS:",), strip_comment_tags=True):
        where = (str((folder / filename).relative_to(base)), lineno)
        if isinstance(message, tuple) and not message[0]:
            continue
        if not message:
            continue
        cat.add(message, None, [where], auto_comments=comments, context=context)
    for path in sorted(folder.rglob("*.py")):
        if "migrations" in path.relative_to(folder).parts:
            continue
        for lineno, text in _click_help(path):
            where = (str(path.relative_to(base)), lineno)
            existing = cat.get(text)
            if existing is not None:
                existing.locations.append(where)
            else:
                cat.add(text, None, [where], auto_comments=["click help"])
    return cat


def _po_bytes(cat: Catalog, template: bool = False) -> bytes:
    buf = io.BytesIO()
    # file names without line numbers: a line moving in the code changes no catalog
    write_po(buf, cat, width=0, sort_output=True, omit_header=False,
             include_previous=False, ignore_obsolete=True, include_lineno=False)
    return buf.getvalue()


def _mo_bytes(cat: Catalog) -> bytes:
    buf = io.BytesIO()
    write_mo(buf, cat, use_fuzzy=False)
    return buf.getvalue()


def pot_path(package: str, folder: Path) -> Path:
    return folder / "locale" / f"{package}.pot"


def po_path(package: str, folder: Path, locale: str) -> Path:
    return folder / "locale" / locale / "LC_MESSAGES" / f"{package}.po"


def read(path: Path, locale: str | None = None) -> Catalog:
    with open(path, "rb") as f:
        return read_po(f, locale=locale)


def updated(template: Catalog, path: Path, locale: str) -> Catalog:
    """The catalog of ``locale`` merged with ``template`` (new messages untranslated)."""
    if path.exists():
        cat = read(path, locale)
    else:
        cat = Catalog(locale=locale, domain=template.domain, project=template.project,
                      header_comment=template.header_comment, fuzzy=False)
    cat.update(template, no_fuzzy_matching=True, update_header_comment=False)
    cat.revision_date = FIXED_DATE
    cat.obsolete.clear()
    cat.fuzzy = False
    return cat


def _stable(data: bytes) -> bytes:
    """A .po/.pot without the header lines that change on every run (dates)."""
    return b"\n".join(line for line in data.split(b"\n")
                      if not line.startswith((b'"POT-Creation-Date', b'"PO-Revision-Date',
                                              b'"Generated-By')))


def _write_if_changed(path: Path, data: bytes, stable: bool = True) -> bool:
    if path.exists():
        old = path.read_bytes()
        if (_stable(old) == _stable(data)) if stable else old == data:
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def msgids(cat: Catalog) -> set[Any]:
    """The messages of ``cat`` (plural ones as their (singular, plural) pair)."""
    return {m.id for m in cat if m.id}


def untranslated(cat: Catalog) -> list[str]:
    """The msgids of ``cat`` without a (complete) translation."""
    missing: list[str] = []
    for m in cat:
        if not m.id:
            continue
        strings = m.string if isinstance(m.string, tuple | list) else (m.string,)
        if m.fuzzy or not all(strings):
            missing.append(str(m.id[0] if isinstance(m.id, tuple | list) else m.id))
    return missing


def problems(root: Path = ROOT, only: str | None = None) -> list[str]:
    """Everything ``check`` reports, one line each (empty: all up to date)."""
    out: list[str] = []
    for package, folder in packages(root).items():
        if only and package != only:
            continue
        template = extract(package, folder)
        pot = pot_path(package, folder)
        if not pot.exists() or msgids(read(pot)) != msgids(template):
            out.append(f"{pot.relative_to(root)} is out of date")
        for locale in LOCALES:
            po = po_path(package, folder, locale)
            if not po.exists():
                out.append(f"{po.relative_to(root)} is missing")
                continue
            cat = read(po, locale)
            have = {m.id for m in cat if m.id}
            for m in template:
                if m.id and m.id not in have:
                    out.append(f"{po.relative_to(root)}: missing msgid {m.id!r}")
            for msgid in untranslated(cat):
                out.append(f"{po.relative_to(root)}: untranslated msgid {msgid!r}")
            mo = po.with_suffix(".mo")
            if not mo.exists() or mo.read_bytes() != _mo_bytes(cat):
                out.append(f"{mo.relative_to(root)} is not compiled from its .po")
    return out


def main(argv: list[str] | None = None, root: Path | None = None, prog: str | None = None
         ) -> int:
    """The command line: ``action [--package NAME] [--root DIR] [--locale L]``."""
    parser = argparse.ArgumentParser(prog=prog, description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("action", choices=["extract", "update", "compile", "check", "todo"])
    parser.add_argument("--package", help="only this package (e.g. crmkit_sales)")
    parser.add_argument("--root", type=Path, default=root or ROOT,
                        help="source tree (default: the current folder)")
    parser.add_argument("--locale", action="append",
                        help="catalog locale to create/update (repeat; default zh_CN)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    locales = tuple(args.locale or LOCALES)
    if args.action == "check":
        found = problems(root, args.package)
        for line in found:
            print(line)
        if found:
            print(f"fix: {FIX}  (then translate what the `todo` action lists)")
        return 1 if found else 0
    for package, folder in packages(root).items():
        if args.package and package != args.package:
            continue
        if args.action in ("extract", "update"):
            template = extract(package, folder)
            pot = pot_path(package, folder)
            if _write_if_changed(pot, _po_bytes(template, template=True)):
                print(f"wrote {pot.relative_to(root)} ({len(template)} messages)")
            if args.action == "update":
                for locale in locales:
                    po = po_path(package, folder, locale)
                    cat = updated(template, po, locale)
                    if _write_if_changed(po, _po_bytes(cat)):
                        print(f"wrote {po.relative_to(root)} "
                              f"({len(untranslated(cat))} untranslated)")
        elif args.action == "compile":
            for po in sorted((folder / "locale").glob("*/LC_MESSAGES/*.po")):
                cat = read(po, po.parent.parent.name)
                if _write_if_changed(po.with_suffix(".mo"), _mo_bytes(cat), stable=False):
                    print(f"wrote {po.with_suffix('.mo').relative_to(root)}")
        elif args.action == "todo":
            for po in sorted((folder / "locale").glob("*/LC_MESSAGES/*.po")):
                for msgid in untranslated(read(po, po.parent.parent.name)):
                    print(f"{po.relative_to(root)}: {msgid!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
