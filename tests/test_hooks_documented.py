"""Every hook (crmkit's and those first-party plugins add) has a docstring with a
"Since X.Y." line, and docs/reference/hooks.md is what tools/gen_hook_docs.py makes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_hook_reference_is_complete_and_up_to_date():
    p = subprocess.run([sys.executable, "tools/gen_hook_docs.py", "--check"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr


def test_check_fails_on_a_hook_without_since(tmp_path):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import gen_hook_docs
    finally:
        sys.path.remove(str(ROOT / "tools"))
    hooks = gen_hook_docs.collect()
    assert {h["name"] for h in hooks} >= {"crm_reminders", "crm_addhooks", "crm_tables"}
    assert gen_hook_docs.problems(hooks) == []
    broken = [dict(hooks[0], doc="Fires sometimes.", since=None), dict(hooks[1], doc="")]
    assert gen_hook_docs.problems(broken) == [
        f"{hooks[0]['name']} (crmkit) has no 'Since X.Y.' line in its docstring",
        f"{hooks[1]['name']} (crmkit) has no docstring",
    ]
    stale = tmp_path / "hooks.md"
    stale.write_text("# old\n", encoding="utf-8")
    assert gen_hook_docs.main(["--check", "--output", str(stale)]) == 1
    assert gen_hook_docs.main(["--output", str(stale)]) == 0
    assert gen_hook_docs.main(["--check", "--output", str(stale)]) == 0
    page = stale.read_text(encoding="utf-8")
    assert "### crm_reminders" in page and "Since 0.1." in page
