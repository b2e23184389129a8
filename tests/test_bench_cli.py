"""The benchmarks find the ``crmkit`` command without an activated virtual environment.

``bench/run.py`` is run as ``.venv/bin/python bench/run.py``: nothing puts the venv's
``bin/`` on PATH, so a bench that runs a bare ``crmkit`` fails (issue 17). Not timed.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import crmkit

ROOT = Path(__file__).resolve().parent.parent


def _common():
    spec = importlib.util.spec_from_file_location("bench_common", ROOT / "bench" / "_common.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _bare_env() -> dict[str, str]:
    """This environment as an unactivated shell has it: no venv on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(["/usr/bin", "/bin"])
    return env


def _version(cmd: list[str]) -> str:
    r = subprocess.run([*cmd, "--version"], capture_output=True, text=True, env=_bare_env(),
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_the_bench_cli_locator_runs_crmkit_without_path():
    cmd = _common().crmkit_cli()
    assert Path(cmd[0]).is_absolute()  # never a name looked up on PATH
    out = _version(cmd)
    assert out.startswith("crmkit") and crmkit.__version__ in out


def test_python_dash_m_crmkit_is_the_cli():
    out = _version([sys.executable, "-m", "crmkit"])
    assert out.startswith("crmkit") and crmkit.__version__ in out
    r = subprocess.run([sys.executable, "-m", "crmkit", "--help"], capture_output=True,
                       text=True, env=_bare_env(), timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("Usage: crmkit ")


def test_no_bench_runs_a_bare_crmkit_command():
    bare = re.compile(r"""\[\s*["']crmkit["']\s*,""")
    offenders = [f"{p.name}:{n}" for p in sorted((ROOT / "bench").glob("*.py"))
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if bare.search(line)]
    assert offenders == []
