"""Install a generated plugin distribution for one subprocess only.

``pip install --target`` puts the package and its entry points in a private folder;
the subprocess gets it on ``PYTHONPATH``. Nothing is added to the environment the other
tests (and other pytest-xdist workers) discover plugins in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def install_isolated(src: Path, into: Path) -> dict[str, str]:
    """Install ``src`` into ``into``; return the environment for a subprocess."""
    inst = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "install", "-q",
         "--no-deps", "--no-build-isolation", "--target", str(into), str(src)],
        capture_output=True, text=True, timeout=300)
    assert inst.returncode == 0, inst.stdout + inst.stderr
    path = os.pathsep.join(p for p in (str(into), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, CRMKIT_TEST_DATABASES="sqlite")
