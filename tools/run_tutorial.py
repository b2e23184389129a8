"""Follow the plugin tutorial word for word in a fresh virtual environment.

    python tools/run_tutorial.py WORKDIR [--output docs/author/tutorial.md]

Copies this checkout to WORKDIR/crmkit, then does what tools/tutorial.md.in says, in
order: every ``$ command`` of a ``console`` block runs in one bash session (so ``cd``,
``export`` and ``. .venv/bin/activate`` carry over), every titled ``python`` block is
applied to the file it names (created, added at the end, or replacing what its title
says). The output of a command followed by a ``{{ name }}`` line replaces that line
(WORKDIR, the session's home, shown as ``~``), and the page is written to
docs/author/tutorial.md. Needs a package index for ``pip install`` (pip's cache of the
user running this is used). Exits 1 if a step could not be applied or a test run (in
the author's environment and in the second one, from the wheel) did not pass.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "tools" / "tutorial.md.in"
PAGE = ROOT / "docs" / "author" / "tutorial.md"
BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
MARK = "@@TUTORIAL-STEP@@"


def copy_checkout(dest: Path) -> None:
    ignore = shutil.ignore_patterns(".git", ".venv", "site", "*.egg-info", "__pycache__",
                                    "*.db", ".pytest_cache", ".ruff_cache")
    shutil.copytree(ROOT, dest, ignore=ignore)


def apply_block(base: Path, title: str, code: str) -> None:
    """Apply a titled python block to the file it names, relative to ``base``."""
    m = re.match(r'title="([^" ]+)(?: \((.*)\))?"', title.strip())
    if not m:
        raise SystemExit(f"cannot read block title {title!r}")
    path, how = base / m.group(1), (m.group(2) or "create")
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if how == "create":
        text = code
    elif how == "add at the end":
        text = text + code
    elif how == "replace the Settings class":
        new, n = re.subn(r"@attrs\.frozen\nclass Settings:.*?\n\n\n", code + "\n\n",
                         text, count=1, flags=re.DOTALL)
        if n != 1:
            raise SystemExit("Settings class not found")
        text = new
    elif how == "add below import crmkit":
        if "\nimport crmkit\n" not in text:
            raise SystemExit("'import crmkit' not found")
        text = text.replace("\nimport crmkit\n", "\nimport crmkit\n" + code, 1)
    elif how == "replace the snooze import":
        lines = text.splitlines(keepends=True)
        idx = [i for i, ln in enumerate(lines) if ln.startswith("from .snooze import")]
        if len(idx) != 1:
            raise SystemExit("snooze import not found")
        lines[idx[0]] = code
        text = "".join(lines)
    elif how == "add below the snooze import":
        lines = text.splitlines(keepends=True)
        idx = [i for i, ln in enumerate(lines) if ln.startswith("from .snooze import")]
        if len(idx) != 1:
            raise SystemExit("snooze import not found")
        lines.insert(idx[0] + 1, code)
        text = "".join(lines)
    elif how == "add below the snoozed_until column":
        lines = text.splitlines(keepends=True)
        idx = [i for i, ln in enumerate(lines) if 'Column("snoozed_until"' in ln]
        if len(idx) != 1:
            raise SystemExit("snoozed_until column not found")
        lines.insert(idx[0] + 1, code)
        text = "".join(lines)
    elif (m := re.fullmatch(r"replace the (\w+) function", how)):
        text = replace_function(text, m.group(1), code)
    else:
        raise SystemExit(f"unknown instruction {how!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def replace_function(text: str, name: str, code: str) -> str:
    """``text`` with the top-level function ``name`` (its decorators included) replaced."""
    lines = text.splitlines(keepends=True)
    idx = [i for i, ln in enumerate(lines) if ln.startswith(f"def {name}(")]
    if len(idx) != 1:
        raise SystemExit(f"function {name} not found")
    start = idx[0]
    while start > 0 and lines[start - 1].strip():  # its decorators
        start -= 1
    end = idx[0] + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"):
        end += 1
    while end > idx[0] + 1 and not lines[end - 1].strip():
        end -= 1
    return "".join(lines[:start]) + code.strip("\n") + "\n" + "".join(lines[end:])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--output", type=Path, default=PAGE)
    args = ap.parse_args(argv)
    work = args.workdir.resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    copy_checkout(work / "crmkit")
    template = TEMPLATE.read_text(encoding="utf-8")

    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8",
           "COLUMNS": "120", "TERM": "dumb", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR",
                                           str(Path.home() / ".cache" / "pip"))}
    shell = subprocess.Popen(["bash", "--noprofile", "--norc"], cwd=work, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, encoding="utf-8", env=env)
    assert shell.stdin and shell.stdout
    outputs: dict[str, str] = {}

    def run(cmd: str, *, shown: bool = True) -> str:
        shell.stdin.write(f"{cmd}\n__rc=$?; echo; echo {MARK} $__rc\n")  # type: ignore[union-attr]
        shell.stdin.flush()  # type: ignore[union-attr]
        lines = []
        for line in shell.stdout:  # type: ignore[union-attr]
            if line.startswith(MARK):
                print(f"$ {cmd}  -> exit {line.split()[-1]}", file=sys.stderr)
                break
            lines.append(line)
        out = "".join(lines).rstrip("\n")
        return out.replace(str(work), "~") if shown else out

    def cwd() -> Path:
        return Path(run("pwd", shown=False).strip())

    for m in BLOCK.finditer(template):
        lang, title, body = m.group(1), m.group(2), m.group(3)
        if lang == "console":
            lines = body.splitlines()
            for i, line in enumerate(lines):
                if not line.startswith("$ "):
                    continue
                out = run(line[2:])
                nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
                if nxt.startswith("{{"):
                    outputs[nxt.strip("{} ")] = out
        elif lang == "python" and "title=" in title:
            here = cwd()
            base = here if (here / "crmkit_followup").exists() else here / "crmkit-followup"
            apply_block(base, title, body)
    shell.stdin.write("exit\n")
    shell.stdin.flush()
    shell.wait(timeout=60)

    def fill(match: re.Match[str]) -> str:
        return outputs.get(match.group(1), f"(missing output {match.group(1)})")

    page = re.sub(r"\{\{ (\w+) \}\}", fill, template)
    args.output.write_text(page, encoding="utf-8")
    print(f"wrote {args.output}")
    for run_name in ("pytest_final", "pytest_shop"):
        final = outputs.get(run_name, "")
        if " passed" not in final or "failed" in final or "error" in final:
            print(f"the test run {run_name} did not pass:\n{final}", file=sys.stderr)
            return 1
    if "(missing output" in page:
        print("some outputs are missing", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
