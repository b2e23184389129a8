"""``crm.jobs.run_all(NAME, workers=N)``: tenants run in N worker processes.

The pool uses the ``forkserver`` start method (``spawn`` where there is none), so a
worker never inherits the parent's connections or threads; each worker opens its own
engine from the parent's URL, with the parent's plugins (by module name), once, in
its initializer. A worker process that dies (a crash, the OOM killer) breaks the
pool: the tenants it may have been running are retried one at a time in a new pool,
so the one that kills its worker again is reported ``failed`` and the others go on.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from attrs import frozen

from .errors import ValidationError
from .i18n import _
from .jobs import MAX_POOL_RESTARTS, JobResult, collect, execute, today_of, worker_plugins

if TYPE_CHECKING:
    import datetime as dt

    from .app import Crm


@frozen
class WorkerSpec:
    """What a worker process needs to open the same CRM as its parent."""

    url: str
    prefix: str
    plugins: tuple[str, ...]
    user: str
    today: dt.date | None


# The Crm of *this worker process*, opened by its initializer. The parent process never
# sets it; it dies with the worker.
_worker: dict[str, Any] = {}


def _init_worker(spec: WorkerSpec) -> None:
    from .app import open as open_crm

    _worker["crm"] = open_crm(spec.url, prefix=spec.prefix, discover=False,
                              plugins=spec.plugins, user=spec.user, today=spec.today)


def _run_one(name: str, slug: str) -> JobResult:
    crm = _worker["crm"]
    jobs, _problems = collect(crm.host)
    view = crm.using(tenant=slug)
    if name not in jobs:  # the worker loaded fewer plugins than its parent
        return JobResult(slug, name, "failed", 0.0,
                         _("job '{name}' is not declared in the worker process")
                         .format(name=name))
    return execute(view, jobs[name], fresh=False)  # a worker lives for one run


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def run_in_processes(crm: Crm, name: str, slugs: list[str], workers: int, user: str,
                     on_result: Callable[[JobResult], None] | None) -> list[JobResult]:
    """Run job ``name`` for ``slugs`` in ``workers`` processes; rows in ``slugs`` order."""
    url = crm.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        raise ValidationError(_("an in-memory database cannot be shared with worker "
                                "processes; run with one worker"))
    workers = min(workers, len(slugs))
    spec = WorkerSpec(url.render_as_string(hide_password=False), crm.prefix,
                      worker_plugins(crm), user, today_of(crm))
    todo = list(reversed(slugs))  # popped from the end: tenant order
    suspects: list[str] = []  # in flight when a worker died: retried one at a time
    results: dict[str, JobResult] = {}

    def done(row: JobResult) -> None:
        results[row.tenant] = row
        if on_result is not None:
            on_result(row)

    restarts = 0
    while todo or suspects:
        if restarts > MAX_POOL_RESTARTS:
            for slug in reversed(suspects + todo):
                done(JobResult(slug, name, "failed", 0.0,
                               _("not run: worker processes died {n} times")
                               .format(n=restarts)))
            break
        suspects, todo = _one_pool(spec, name, workers, suspects, todo, done)
        restarts += 1
    return [results[s] for s in slugs]


def _one_pool(spec: WorkerSpec, name: str, workers: int, suspects: list[str],
              todo: list[str], done: Callable[[JobResult], None]
              ) -> tuple[list[str], list[str]]:
    """Run tenants in one pool until it is done or broken; returns what is left
    (suspects, todo)."""
    pool = ProcessPoolExecutor(workers, mp_context=_context(), initializer=_init_worker,
                               initargs=(spec,))
    running: dict[Future[JobResult], tuple[str, bool]] = {}
    broken: list[tuple[str, bool]] = []

    def room() -> int:
        # a suspect runs alone, so a worker dying then names its tenant
        if suspects or any(alone for _slug, alone in running.values()):
            return 0 if running else 1
        return 2 * workers

    try:
        while (todo or suspects or running) and not broken:
            while not broken and (suspects or todo) and len(running) < room():
                alone = bool(suspects)
                slug = suspects.pop() if alone else todo.pop()
                try:
                    running[pool.submit(_run_one, name, slug)] = (slug, alone)
                except BrokenProcessPool:
                    broken.append((slug, alone))
            finished, _pending = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                slug, alone = running.pop(future)
                try:
                    done(future.result())
                except BrokenProcessPool:
                    broken.append((slug, alone))
                except Exception as exc:  # the row could not come back (pickling, ...)
                    done(JobResult(slug, name, "failed", 0.0,
                                   f"{type(exc).__name__}: {exc}"[:500]))
        broken += list(running.values())
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=not broken, cancel_futures=True)
    for slug, alone in broken:
        if alone:
            done(JobResult(slug, name, "failed", 0.0,
                           _("the worker process died while running this tenant's job")))
        else:
            suspects.append(slug)
    return suspects, todo
