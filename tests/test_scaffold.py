"""`crmkit plugins new`: hyphenated names, a wheel that ships the migrations, and tests
that pass untouched once the wheel is installed."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from crmkit import ValidationError, scaffold
from tests.plugins.installing import install_isolated


def _new(tmp_path, *args):
    from click.testing import CliRunner

    from crmkit.cli import cli

    return CliRunner().invoke(cli, ["plugins", "new", *args])


def test_a_hyphenated_name_gives_the_three_names(tmp_path):
    # the defect: `plugins new acme-loyalty` was refused ("use lowercase letters, digits and _")
    target = tmp_path / "crmkit-acme-loyalty"
    res = _new(tmp_path, "acme-loyalty", "--dir", str(target))
    assert res.exit_code == 0, res.output
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) \
        == ["README.md", "crmkit_acme_loyalty/__init__.py",
            "crmkit_acme_loyalty/migrations/versions/acme_loyalty_0001_initial.py",
            "pyproject.toml", "tests/test_acme_loyalty.py"]
    pyproject = (target / "pyproject.toml").read_text(encoding="utf-8")
    assert 'name = "crmkit-acme-loyalty"' in pyproject
    assert 'acme_loyalty = "crmkit_acme_loyalty"' in pyproject
    assert 'name="acme_loyalty"' in (target / "crmkit_acme_loyalty" / "__init__.py").read_text()
    readme = (target / "README.md").read_text(encoding="utf-8")
    assert "crmkit db revision --plugin acme_loyalty -m" in readme  # how to add the next one
    assert "Next: pip install -e" in res.stdout and "plugins enable acme_loyalty" in res.stdout
    for given in ("acme-loyalty", "acme_loyalty", "crmkit-acme-loyalty"):
        assert scaffold.names(given) == scaffold.Names(
            plugin="acme_loyalty", package="crmkit_acme_loyalty",
            distribution="crmkit-acme-loyalty")


def test_the_wheel_ships_the_migrations_and_the_tests_pass_installed_from_it(tmp_path):
    target = tmp_path / "crmkit-zz-wheel"
    scaffold.write("zz-wheel", target)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "wheel", "-q",
         "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(target)],
        capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    assert wheel.name == "crmkit_zz_wheel-0.1.0-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    # the defect: the wheel had the top-level module only, no migrations/versions
    assert {"crmkit_zz_wheel/__init__.py",
            "crmkit_zz_wheel/migrations/versions/zz_wheel_0001_initial.py"} <= names
    assert not any(n.startswith("tests/") for n in names)
    entry = zipfile.ZipFile(wheel).read("crmkit_zz_wheel-0.1.0.dist-info/entry_points.txt")
    assert b"[crmkit.plugins]\nzz_wheel = crmkit_zz_wheel" in entry
    env = install_isolated(wheel, tmp_path / "site")
    run = subprocess.run([sys.executable, "-m", "pytest", str(target / "tests"), "-q", "-p",
                          "no:cacheprovider"], capture_output=True, text=True,
                         timeout=300, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "5 passed" in run.stdout, run.stdout
    where = subprocess.run([sys.executable, "-c", "import crmkit_zz_wheel as m; "
                            "print(m.__file__)"], capture_output=True, text=True,
                           timeout=60, env=env, cwd=tmp_path)
    assert where.stdout.startswith(str(tmp_path / "site")), where  # the wheel, not the source


def test_refuses_bad_names_and_non_empty_dirs(tmp_path):
    bad = _new(tmp_path, "My-Plugin", "--dir", str(tmp_path / "x"))
    assert bad.exit_code == 1
    assert bad.stderr == (
        "Error: invalid plugin name 'My-Plugin'; use lowercase letters and digits, words "
        "joined by - or _, starting with a letter, at most 40 characters (e.g. "
        "acme-loyalty)\n")
    assert not (tmp_path / "x").exists()
    taken = _new(tmp_path, "customer", "--dir", str(tmp_path / "x"))
    assert taken.exit_code == 1 and "`crmkit customer` is a crmkit command" in taken.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    res = _new(tmp_path, "ok", "--dir", str(tmp_path / "full"))
    assert res.exit_code == 1
    assert "already exists and is not empty" in res.stderr
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("name", ["class", "1abc", "a" * 41, "", "Acme", "a--b", "-x", "x-",
                                  "acme loyalty", "acme.loyalty", "doc", "crmkit-"])
def test_check_name(name):
    with pytest.raises(ValidationError, match="invalid plugin name"):
        scaffold.check_name(name)


def test_a_long_bad_name_is_quoted_short():
    with pytest.raises(ValidationError) as info:
        scaffold.check_name("X" * 500)
    assert "X" * 79 + "…'" in str(info.value) and "X" * 80 not in str(info.value)
