"""`crmkit plugins new`: the new distribution installs and its tests pass untouched."""

from __future__ import annotations

import subprocess
import sys

import pytest

from crmkit import scaffold
from tests.plugins.installing import install_isolated


def test_scaffold_installs_and_its_tests_pass(tmp_path):
    from click.testing import CliRunner

    from crmkit.cli import cli

    target = tmp_path / "crmkit-zz-scaffold"
    res = CliRunner().invoke(cli, ["plugins", "new", "zz_scaffold", "--dir", str(target)])
    assert res.exit_code == 0, res.output
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) \
        == ["README.md", "crmkit_zz_scaffold/__init__.py", "pyproject.toml",
            "tests/test_zz_scaffold.py"]
    assert 'zz_scaffold = "crmkit_zz_scaffold"' in (target / "pyproject.toml").read_text()
    env = install_isolated(target, tmp_path / "site")
    run = subprocess.run([sys.executable, "-m", "pytest", str(target / "tests"), "-q", "-p",
                          "no:cacheprovider"], capture_output=True, text=True,
                         timeout=300, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "5 passed" in run.stdout, run.stdout


def test_refuses_bad_names_and_non_empty_dirs(tmp_path):
    from click.testing import CliRunner

    from crmkit.cli import cli

    bad = CliRunner().invoke(cli, ["plugins", "new", "My-Plugin", "--dir", str(tmp_path / "x")])
    assert bad.exit_code == 1
    assert "invalid plugin name 'My-Plugin'" in bad.stderr
    assert not (tmp_path / "x").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    res = CliRunner().invoke(cli, ["plugins", "new", "ok", "--dir", str(tmp_path / "full")])
    assert res.exit_code == 1
    assert "already exists and is not empty" in res.stderr
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("name", ["class", "1abc", "a" * 41, ""])
def test_check_name(name):
    with pytest.raises(Exception, match="invalid plugin name"):
        scaffold.check_name(name)
