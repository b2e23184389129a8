"""Jobs: named periodic work (``reminders.send``, ``grading.run``, ...), run per tenant.

Plugins declare jobs through the ``crm_jobs`` hook; ``crm.jobs`` runs them::

    row = crm.jobs.run("reminders.send")                  # this tenant, this user
    rows = crm.jobs.run_all("reminders.send", workers=2)  # every tenant, 2 processes

A job runs for a tenant only when the plugin that declares it is enabled there (else
the tenant's row is ``skipped``), never twice at once for one tenant (the lock of
:mod:`crmkit.locks`; a second runner's row is ``skipped``), and one tenant failing never
stops the others (its row is ``failed``, with the error). Every row is a
:class:`JobResult`: ``{"tenant", "job", "status", "seconds", "detail"}``.
"""

from __future__ import annotations

import builtins
import datetime as dt
import logging
import re
import time
import types
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from attrs import field, frozen
from sqlalchemy.exc import DBAPIError

from .context import Context
from .errors import CrmError, PermissionDenied, ValidationError
from .i18n import _
from .locks import job_lock, job_session

if TYPE_CHECKING:
    from .app import Crm
    from .plugins import PluginHost

log = logging.getLogger("crmkit.jobs")

NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+\Z")
STATUSES = ("ok", "skipped", "failed")
MAX_WORKERS = 64
#: pools rebuilt after worker processes died, before the remaining tenants are failed
MAX_POOL_RESTARTS = 5


@frozen
class Job:
    """A periodic job, declared by a plugin through ``crm_jobs``.

    ``run(crm)`` does the work of ``crm``'s tenant, as ``crm``'s user, and returns a
    one-line summary for humans (or None). It must be idempotent; crmkit holds the
    tenant's lock around it and catches what it raises.
    """

    name: str
    run: Callable[[Any], str | None] = field(repr=False, eq=False)
    description: str = ""


@frozen
class DeclaredJob:
    """A job with the plugin that declared it (``builtin``: one of the core's)."""

    job: Job
    plugin: str
    builtin: bool = False

    @property
    def name(self) -> str:
        return self.job.name


@frozen
class JobResult:
    """What one run of a job did for one tenant."""

    tenant: str
    job: str
    status: str  # ok | skipped | failed
    seconds: float
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "job": self.job, "status": self.status,
                "seconds": self.seconds, "detail": self.detail}


def collect(host: PluginHost) -> tuple[dict[str, DeclaredJob], list[str]]:
    """Every installed plugin's jobs by name, and the problems found on the way (a
    plugin's hook that raised, a bad declaration, a name declared twice: the first
    declaration in call order wins). A broken plugin never hides the others' jobs."""
    jobs: dict[str, DeclaredJob] = {}
    problems: list[str] = []
    for plugin, fn in host.impls_by_plugin("crm_jobs"):
        try:
            declared = list(fn() or ())
        except Exception as exc:  # a broken plugin must not break the others
            problems.append(_("plugin '{plugin}': crm_jobs failed: {error}").format(
                plugin=plugin, error=_one_line(exc)))
            continue
        for job in declared:
            if not isinstance(job, Job) or not NAME.match(str(job.name)):
                problems.append(_("plugin '{plugin}' declares an invalid job {job}; expected "
                                  "crmkit.jobs.Job(name='plugin.verb', run=...)").format(
                    plugin=plugin, job=_clip(repr(job))))
            elif job.name in jobs:
                problems.append(_("job '{job}' of plugin '{plugin}' is ignored: plugin "
                                  "'{first}' declares it too").format(
                    job=job.name, plugin=plugin, first=jobs[job.name].plugin))
            else:
                jobs[job.name] = DeclaredJob(job, plugin, host.installed[plugin].builtin)
    return dict(sorted(jobs.items())), problems


def check_workers(workers: Any) -> int:
    """``workers`` if it is a whole number from 1 to :data:`MAX_WORKERS`, else a
    ValidationError naming it."""
    if isinstance(workers, bool) or not isinstance(workers, int) or not (
            1 <= workers <= MAX_WORKERS):
        raise ValidationError(_("invalid number of workers {value}; expected a whole number "
                                "from 1 to {max}").format(value=_clip(workers), max=MAX_WORKERS))
    return workers


class JobService:
    """``crm.jobs``: the jobs plugins declare, run for this tenant or for every tenant."""

    def __init__(self, crm: Crm):
        self.crm = crm

    def declared(self) -> dict[str, DeclaredJob]:
        """Every installed plugin's jobs, by name."""
        return collect(self.crm.host)[0]

    def problems(self) -> list[str]:
        """What is wrong with the plugins' job declarations (empty when all is well)."""
        return collect(self.crm.host)[1]

    def get(self, name: str) -> DeclaredJob:
        jobs = self.declared()
        if name not in jobs:
            raise ValidationError(_("unknown job '{name}'; valid: {valid}").format(
                name=_clip(name), valid=", ".join(jobs) or _("none")))
        return jobs[name]

    def list(self) -> builtins.list[dict[str, Any]]:
        """``{"name", "plugin", "description", "enabled"}`` per job: ``plugin`` is
        ``core`` for the core's own jobs, ``enabled`` whether it runs for this tenant."""
        jobs = self.declared()
        with self.crm.unit(write=False) as ctx:
            enabled = ctx.hooks.plugins or frozenset()
        return [{"name": name, "plugin": "core" if d.builtin else d.plugin,
                 "description": d.job.description, "enabled": d.plugin in enabled}
                for name, d in jobs.items()]

    def run(self, name: str) -> JobResult:
        """Run job ``name`` for this tenant, as this user; returns its row.

        A user who may not run jobs (permission ``jobs.run``) gets PermissionDenied;
        everything that goes wrong inside the job is the row's ``failed`` status."""
        return execute(self.crm, self.get(name), raise_denied=True)

    def run_all(self, name: str, *, workers: int = 1, user: str = "admin",
                on_result: Callable[[JobResult], None] | None = None
                ) -> builtins.list[JobResult]:
        """Run job ``name`` for every tenant, as each tenant's user ``user``; one row per
        tenant, in tenant order. ``on_result`` is called with each row as it comes.

        An operator action (permission ``jobs.run_all``: an admin of tenant
        ``default``). With ``workers`` > 1 tenants run in that many processes, each
        with its own engine opened from this one's URL; plugins must then be
        importable modules. A worker process that dies fails the tenant it was running
        and the others go on."""
        job = self.get(name)
        workers = check_workers(workers)
        with self.crm.unit(write=False) as ctx:
            ctx.check("jobs.run_all", None, _("for every tenant"))
        slugs = [t.slug for t in self.crm.tenants._all()]
        if workers == 1 or len(slugs) <= 1:
            self.crm.invalidate_plugins()  # read afresh once, not once per tenant
            rows = []
            for slug in slugs:
                row = execute(self.crm.using(tenant=slug, user=user), job, fresh=False)
                rows.append(row)
                if on_result is not None:
                    on_result(row)
            return rows
        from .jobpool import run_in_processes

        return run_in_processes(self.crm, job.name, slugs, workers, user, on_result)


def execute(crm: Crm, declared: DeclaredJob, *, raise_denied: bool = False,
            fresh: bool = True) -> JobResult:
    """Run one job for ``crm``'s tenant as ``crm``'s user, under the tenant's lock.

    ``raise_denied``: a user who may not run jobs gets PermissionDenied instead of a
    ``failed`` row. ``fresh``: read the tenant's enabled plugins from the database,
    not the cache (a long-lived process may have missed a change)."""
    started = time.perf_counter()
    name = declared.name

    def row(status: str, detail: str) -> JobResult:
        return JobResult(crm.tenant_slug, name, status,
                         round(time.perf_counter() - started, 3), detail)

    try:
        with job_session(crm) as conn:
            tenant_id, skip = _admit(crm, conn, declared, fresh)
            if skip is not None:
                return row("skipped", skip)
            with job_lock(crm, conn, tenant_id, name) as got:
                if not got:
                    return row("skipped", _("another runner is running this job for this "
                                            "tenant"))
                detail = declared.job.run(crm)
        return row("ok", "" if detail is None else str(detail))
    except _Refused as refused:
        if raise_denied:
            raise refused.error from None
        return row("failed", _one_line(refused.error))
    except CrmError as exc:
        return row("failed", _one_line(exc))
    except DBAPIError as exc:
        return row("failed", _("database error: {reason}").format(
            reason=_one_line(getattr(exc, "orig", None) or exc)))
    except Exception as exc:
        log.exception("job %s failed for tenant %s", name, crm.tenant_slug)
        return row("failed", f"{type(exc).__name__}: {_one_line(exc)}")


class _Refused(Exception):
    """The acting user may not run jobs (kept apart from a job's own errors)."""

    def __init__(self, error: PermissionDenied):
        super().__init__(str(error))
        self.error = error


def _admit(crm: Crm, conn: Any, declared: DeclaredJob, fresh: bool
           ) -> tuple[int, str | None]:
    """The tenant's id, and why the job is skipped there (None: it runs), asked on the
    job's own session (one connection for the check and the lock, not two)."""
    tenant, user = crm._resolve(conn)
    if fresh:  # a long-lived worker must see today's plugins
        crm.invalidate_plugins(tenant.id)
    enabled = crm.enabled_plugins(conn, tenant.id)
    ctx = Context(crm=crm, tenant=tenant, user=user, today=crm.today_for(tenant), conn=conn,
                  hooks=crm.host.hooks(enabled))
    try:
        ctx.check("jobs.run", None, _("job {job}").format(job=declared.name))
    except PermissionDenied as exc:
        raise _Refused(exc) from None
    finally:
        conn.commit()  # SQLite: end the read; a server session is in autocommit
    if declared.plugin not in enabled:
        return tenant.id, _("plugin '{plugin}' is not enabled for this tenant").format(
            plugin=declared.plugin)
    return tenant.id, None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return _clip(text.splitlines()[0] if text else type(exc).__name__, 500)


def _clip(value: Any, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def worker_plugins(crm: Crm) -> tuple[str, ...]:
    """The module names that give a new process the same plugins as ``crm``."""
    names = []
    for name, p in sorted(crm.host.installed.items()):
        if p.builtin or not p.loaded:
            continue
        if not isinstance(p.obj, types.ModuleType):
            raise ValidationError(_("plugin '{name}' is an object, not a module: other "
                                    "processes cannot load it; run with one worker")
                                  .format(name=name))
        names.append(p.obj.__name__)
    return tuple(names)


def summary(rows: Iterable[JobResult]) -> dict[str, int]:
    """How many rows have each status."""
    counts = dict.fromkeys(STATUSES, 0)
    for r in rows:
        counts[r.status] += 1
    return counts


def today_of(crm: Crm) -> dt.date | None:
    """The day ``crm`` was opened with (None: the real date, read when a job runs)."""
    return crm._today


__all__ = ["DeclaredJob", "Job", "JobResult", "JobService", "check_workers", "collect",
           "execute", "summary"]
