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
PLUGIN_PAGES = ("receivables", "grading", "sales", "csv", "webhooks", "email", "marketing",
                "service", "insights")


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
    # no stubs: a missing first-party page fails the strict build (issue 11.8)
    # no -q: mkdocs 1.6 with --quiet does not count warnings, and --strict then passes
    # with a page missing from the nav (checked by deleting one: exit 1 without -q)
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d",
                          str(tmp_path / "site")], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300, env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "WARNING" not in res.stderr, res.stderr
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
           "author/tutorial.md", "author/testing.md", "author/api.md", "author/evolution.md",
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


def _tutorial():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import run_tutorial
    finally:
        sys.path.remove(str(ROOT / "tools"))
    return run_tutorial


REVISION = """
import sys, tempfile
import crmkit
from crmkit import migrations

with tempfile.TemporaryDirectory() as d:
    crm = crmkit.open(f"sqlite:///{d}/t.db", plugins=["crmkit_followup"], discover=False)
    crm.init()
    crm.plugins.enable("followup")  # as the page does: its branch comes with enabling
    print(migrations.revision(crm, "followup", sys.argv[1])["revision"])
"""


def test_tutorial_code_works(tmp_path):
    """The tutorial's code, applied to a fresh scaffold as the page says, with its two
    migrations written where the page runs `crmkit db revision`, passes its tests.

    (tools/run_tutorial.py does the whole tutorial, commands included, in fresh virtual
    environments: test_tutorial_followed_word_for_word; this is the part that needs no
    package index.)"""
    from crmkit import scaffold

    run_tutorial = _tutorial()
    target = tmp_path / "crmkit-followup"
    scaffold.write("followup", target)
    template = (ROOT / "tools" / "tutorial.md.in").read_text(encoding="utf-8")
    applied, revisions = 0, []
    for m in run_tutorial.BLOCK.finditer(template):
        if m.group(1) == "python" and "title=" in m.group(2):
            run_tutorial.apply_block(target, m.group(2), m.group(3))
            applied += 1
        for msg in re.findall(r'^\$ crmkit db revision --plugin followup -m "(.*)"$',
                              m.group(3), re.MULTILINE):
            made = subprocess.run([sys.executable, "-c", REVISION, msg], capture_output=True,
                                  text=True, timeout=120, cwd=tmp_path,
                                  env=dict(os.environ, PYTHONPATH=str(target)))
            assert made.returncode == 0, made.stderr
            revisions.append(made.stdout.strip())
    assert applied == 12
    assert revisions == ["followup_0002", "followup_0003"]
    versions = target / "crmkit_followup" / "migrations" / "versions"
    assert sorted(p.name for p in versions.glob("*.py")) == [
        "followup_0001_initial.py", "followup_0002_snoozes_table.py",
        "followup_0003_snooze_reason.py"]
    env = install_isolated(target, tmp_path / "site")
    run = subprocess.run([sys.executable, "-m", "pytest", str(target / "tests"), "-q", "-p",
                          "no:cacheprovider"], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "10 passed" in run.stdout, run.stdout


@pytest.mark.tutorial
@pytest.mark.skipif(not (os.environ.get("CI") or os.environ.get("CRMKIT_TEST_TUTORIAL")),
                    reason="builds two virtual environments (minutes): runs in CI, or with "
                           "CRMKIT_TEST_TUTORIAL=1")
def test_tutorial_followed_word_for_word(tmp_path):
    """tools/run_tutorial.py follows docs/author/tutorial.md in a fresh virtual
    environment: a plugin with a table and two migrations, its tests passing; a wheel of
    it installed (not editable) into a second environment, whose existing database it
    upgrades, and its tests passing there."""
    page = tmp_path / "tutorial.md"
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "run_tutorial.py"),
                          str(tmp_path / "work"), "--output", str(page)],
                         capture_output=True, text=True, timeout=3000)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    text = page.read_text(encoding="utf-8")

    def output(command: str, after: str = "") -> str:
        rest = text.split(after, 1)[1] if after else text
        return rest.split(f"$ {command}\n", 1)[1].split("\n$ ", 1)[0].split("\n```", 1)[0]

    assert output("crmkit db revision --plugin followup -m \"snooze reason\"").startswith(
        "created crmkit_followup/migrations/versions/followup_0003_snooze_reason.py")
    assert output('pip show -f crmkit-followup | grep "versions/.*py$"').split() == [
        f"crmkit_followup/migrations/versions/{f}.py" for f in
        ("followup_0001_initial", "followup_0002_snoozes_table", "followup_0003_snooze_reason")]
    # the shop's database, made before the plugin came, is upgraded by the wheel's revisions
    assert "followup: followup_0003" in output("crmkit db upgrade", after="## 8. Ship it")
    shop_tests = output("CRMKIT_TEST_DATABASES=sqlite python -m pytest ../crmkit-followup/tests -q")
    assert "10 passed" in shop_tests and "failed" not in shop_tests
    shop = tmp_path / "work" / "followup-work" / "shop-venv" / "bin" / "python"
    where = subprocess.run([str(shop), "-c", "import crmkit_followup; "
                            "print(crmkit_followup.__file__)"], capture_output=True,
                           text=True, timeout=60, cwd=tmp_path)
    assert "/site-packages/crmkit_followup/" in where.stdout, where  # from the wheel


def test_guarantees_name_tests_that_exist():
    """docs/guarantees.md names the test that holds each promise: every ``file::test``
    (and ``::test``, in the file named last) is a test function of that file."""
    page = (DOCS / "guarantees.md").read_text(encoding="utf-8")
    missing, found, last = [], 0, None
    for file, name in re.findall(r"`((?:tests/)?[\w/]+\.py)?::(test_\w+)`", page):
        last = file or last
        assert last, f"::{name} names no file"
        path = ROOT / (last if last.startswith("tests/") else f"tests/{last}")
        if not path.exists() or f"def {name}(" not in path.read_text(encoding="utf-8"):
            missing.append(f"{last}::{name}")
        found += 1
    assert found > 40 and missing == [], missing
