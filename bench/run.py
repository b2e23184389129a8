"""Run every benchmark (``bench_*.py``) and print their FIGURE lines.

``python bench/run.py [--quick] [name ...]``: ``--quick`` uses about 1/20 of the data.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

here = Path(__file__).parent
quick = ["--quick"] if "--quick" in sys.argv else []
names = [a for a in sys.argv[1:] if not a.startswith("-")]
failed = False
for script in sorted(here.glob("bench_*.py")):
    if names and not any(n in script.stem for n in names):
        continue
    print(f"== {script.name}", flush=True)
    r = subprocess.run([sys.executable, str(script), *quick], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        if line.startswith("FIGURE"):
            print(line, flush=True)
    if r.returncode:
        failed = True
        print(f"{script.name} failed:\n{r.stderr[-2000:]}", flush=True)
sys.exit(1 if failed else 0)
