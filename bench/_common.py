"""Shared bench helpers: timing (median of runs) and one line per figure.

Every figure is a ratio against a raw baseline measured in the same run, because
machines here are noisy. Print with :func:`figure` so ``bench/run.py`` collects it.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def timed(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Median wall time of ``fn`` over ``repeat`` runs, in seconds."""
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def timed_in_turn(*fns: Callable[[], Any], repeat: int = 5,
                  clock: Callable[[], float] = time.perf_counter) -> list[float]:
    """Median time of each of ``fns`` by ``clock`` (wall time; ``time.process_time``
    for this process's CPU, :func:`children_cpu` for the processes it ran), run in turn
    ``repeat`` times (a, b, a, b, ...): a machine whose speed wanders over seconds slows
    both sides alike, where timing all of one and then all of the other compares two
    moments."""
    runs: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, out in zip(fns, runs, strict=True):
            t0 = clock()
            fn()
            out.append(clock() - t0)
    return [statistics.median(r) for r in runs]


def children_cpu() -> float:
    """CPU seconds (user + system) of the child processes that have ended so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def figure(name: str, value: float, unit: str = "x", target: str = "", detail: str = "") -> None:
    """One result line: ``FIGURE <name>: <value><unit> (target ...) [detail]``."""
    t = f" (target {target})" if target else ""
    d = f"  [{detail}]" if detail else ""
    print(f"FIGURE {name}: {value:.2f}{unit}{t}{d}", flush=True)


def crmkit_cli() -> list[str]:
    """The command that runs this interpreter's ``crmkit`` CLI, found without PATH.

    The console script beside ``sys.executable`` (a virtual environment's ``bin/``, used
    by path: ``bench/run.py`` works without activating it), else ``python -m crmkit``."""
    script = Path(sys.executable).parent / "crmkit"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "crmkit"]
