"""The documentation: builds strictly, covers every command, and its tutorial works."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.plugins.installing import install_isolated

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PLUGIN_PAGES = ("receivables", "grading", "sales", "csv", "webhooks", "email", "marketing")


def _core_command_paths() -> list[str]:
    from crmkit.cli import CORE_COMMANDS

    paths: list[str] = []

    def walk(path: str, cmd: object) -> None:
        paths.append(path)
        for sub in sorted(getattr(cmd, "commands", {})):
            walk(f"{path} {sub}", cmd.commands[sub])  # type: ignore[attr-defined]

    for name, (mod, attr) in sorted(CORE_COMMANDS.items()):
        walk(name, getattr(importlib.import_module(mod), attr))
    return paths


def test_mkdocs_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs")
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    for page in PLUGIN_PAGES:  # pages other people write; a stub while one is missing
        p = tmp_path / "docs" / "plugins" / f"{page}.md"
        if not p.exists():
            p.write_text(f"# {page}\n", encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d",
                          str(tmp_path / "site")], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300, env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert (tmp_path / "site" / "reference" / "hooks" / "index.html").exists()


def test_every_core_command_has_help_and_a_documented_example_of_its_help():
    page = (DOCS / "admin" / "cli.md").read_text(encoding="utf-8")
    missing = [p for p in _core_command_paths() if f"$ crmkit {p} --help\n" not in page]
    assert missing == [], f"run `python tools/gen_cli_docs.py`; missing: {missing}"
    from crmkit.cli import CORE_COMMANDS

    for name, (mod, attr) in CORE_COMMANDS.items():
        cmd = getattr(importlib.import_module(mod), attr)
        subs = [cmd, *getattr(cmd, "commands", {}).values()]
        assert all(c.help for c in subs), f"a command of '{name}' has no help text"


def test_nav_pages_exist_and_plugin_index_links_every_first_party_page():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    own = ["index.md", "admin/index.md", "admin/cli.md", "plugins/index.md",
           "author/tutorial.md", "author/testing.md", "author/evolution.md",
           "reference/hooks.md", "embedding.md", "guarantees.md"]
    for page in own:
        assert f" {page}" in nav, page
        assert (DOCS / page).exists(), page
    index = (DOCS / "plugins" / "index.md").read_text(encoding="utf-8")
    for page in PLUGIN_PAGES:
        assert f"]({page}.md)" in index


def test_tutorial_page_is_complete():
    page = (DOCS / "author" / "tutorial.md").read_text(encoding="utf-8")
    assert "{{" not in page and "(missing output" not in page
    template = (ROOT / "tools" / "tutorial.md.in").read_text(encoding="utf-8")
    strip = re.compile(r"```console.*?```", re.DOTALL)
    assert strip.sub("", page) == strip.sub("", template), \
        "docs/author/tutorial.md differs from tools/tutorial.md.in: run tools/run_tutorial.py"


def test_tutorial_code_works(tmp_path):
    """The tutorial's code, applied to a fresh scaffold as the page says, passes its tests.

    (tools/run_tutorial.py does the whole tutorial, commands included, in a fresh virtual
    environment; this is the part that needs no network.)"""
    from crmkit import scaffold

    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import run_tutorial
    finally:
        sys.path.remove(str(ROOT / "tools"))
    target = tmp_path / "crmkit-followup"
    scaffold.write("followup", target)
    template = (ROOT / "tools" / "tutorial.md.in").read_text(encoding="utf-8")
    blocks = [m for m in run_tutorial.BLOCK.finditer(template)
              if m.group(1) == "python" and "title=" in m.group(2)]
    assert len(blocks) == 9
    for m in blocks:
        run_tutorial.apply_block(target, m.group(2), m.group(3))
    env = install_isolated(target, tmp_path / "site")
    run = subprocess.run([sys.executable, "-m", "pytest", str(target / "tests"), "-q", "-p",
                          "no:cacheprovider"], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "8 passed" in run.stdout, run.stdout
