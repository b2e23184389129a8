"""crmkit's jobs as Celery tasks, for vendors who outgrow one process (``crmkit[celery]``).

::

    from celery import Celery
    from celery.schedules import crontab

    import crmkit.celery

    app = Celery("erp", broker="redis://127.0.0.1:6379/0",
                 backend="redis://127.0.0.1:6379/1")
    app.conf.update(crmkit.celery.RECOMMENDED)
    tasks = crmkit.celery.register(app, "postgresql://crm@db/erp")
    app.conf.beat_schedule = crmkit.celery.beat_schedule({
        "reminders.send": crontab(hour=6, minute=0),     # every morning
        "grading.run": crontab(hour=2, minute=30),       # every night
        "webhooks.deliver": 60.0,                        # every minute
    })

``register`` makes one task per job, ``crmkit.jobs.<job>(tenant_slug)``, which runs the
job for that tenant and returns its row (``{"tenant", "job", "status", "seconds",
"detail"}``), and one task ``crmkit.jobs.fan_out(job)`` that sends the job's task for
every tenant and returns their task ids. Beat sends ``fan_out`` on the schedule; the
workers share the tenants. The rules of ``crmkit jobs run`` hold: a tenant whose plugin
is off is ``skipped``, a tenant whose job runs elsewhere right now is ``skipped`` (the
database lock, taken by whichever worker gets there first), a failing tenant's row is
``failed`` and logged at ERROR level, and no other tenant notices.

Run the workers with ``celery -A yourapp worker``; each worker process opens its own
engine the first time it runs a task. Only this module imports Celery.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError
from kombu.utils.url import maybe_sanitize_url

import crmkit

from .errors import CrmError
from .i18n import _
from .jobs import collect, execute
from .plugins import PluginHost

log = logging.getLogger("crmkit.celery")

#: Settings for a Celery app that runs crmkit's jobs (``app.conf.update(RECOMMENDED)``):
#: a task is acknowledged when it has run, so a worker that dies mid-job leaves its
#: message to be delivered again (a job is idempotent and locked, so a second delivery
#: skips or finds nothing new); one message at a time per worker process, so a long
#: tenant does not hold others' messages behind it. On Redis set
#: ``broker_transport_options={"visibility_timeout": S}`` above your longest job.
RECOMMENDED: dict[str, Any] = {
    "task_acks_late": True,
    "task_reject_on_worker_lost": False,
    "worker_prefetch_multiplier": 1,
    "task_serializer": "json",
    "result_serializer": "json",
    "accept_content": ["json"],
}

#: How hard ``schedule`` tries the broker before giving up (about 1.5 s in all).
PUBLISH_RETRY = {"max_retries": 3, "interval_start": 0, "interval_step": 0.5,
                 "interval_max": 0.5}


class BrokerUnavailable(CrmError):
    """The Celery broker could not be reached: nothing was scheduled."""


class JobTasks:
    """The tasks ``register`` made for one database: ``tasks[job]``, ``fan_out``, and
    ``schedule(job, tenant=None)`` to send one now."""

    def __init__(self, app: Celery, db_url: str, *, prefix: str, user: str,
                 plugins: tuple[Any, ...], discover: bool, namespace: str,
                 queue: str | None):
        self.app = app
        self.db_url = db_url
        self.prefix = prefix
        self.user = user
        self.plugins = plugins
        self.discover = discover
        self.namespace = namespace
        self.queue = queue
        self._crm: Any = None
        self._pid: int | None = None
        jobs, problems = collect(PluginHost(plugins, discover=discover))
        for problem in problems:
            log.warning("%s", problem)
        self.jobs = list(jobs)
        options: dict[str, Any] = {"acks_late": True, "reject_on_worker_lost": False}
        if queue is not None:
            options["queue"] = queue
        self.tasks = {job: self._job_task(job, options) for job in self.jobs}
        def fan_out(job: str) -> list[str]:
            """Send a crmkit job's task for every tenant; returns their task ids."""
            return self._fan_out(job)

        self.fan_out = app.task(name=f"{namespace}.jobs.fan_out", **options)(fan_out)

    def task_name(self, job: str) -> str:
        return f"{self.namespace}.jobs.{job}"

    def _job_task(self, job: str, options: dict[str, Any]) -> Any:
        def run(tenant: str) -> dict[str, Any]:
            return self.run(job, tenant)

        run.__name__ = run.__qualname__ = "run_" + job.replace(".", "_")
        run.__doc__ = f"Run the crmkit job {job} for one tenant (its slug)."
        return self.app.task(name=self.task_name(job), **options)(run)

    def crm(self) -> Any:
        """This process's Crm, opened on first use (a forked worker opens its own)."""
        if self._crm is None or self._pid != os.getpid():
            if self._crm is not None:  # inherited through fork: leave the parent's sockets
                self._crm.engine.dispose(close=False)
            self._crm = crmkit.open(self.db_url, prefix=self.prefix, user=self.user,
                                    plugins=self.plugins, discover=self.discover)
            self._pid = os.getpid()
        return self._crm

    def run(self, job: str, tenant: str) -> dict[str, Any]:
        """The body of ``<namespace>.jobs.<job>``: the job for one tenant, its row."""
        crm = self.crm()
        declared = crm.jobs.declared().get(job)
        if declared is None:
            raise CrmError(_("unknown job '{name}'; valid: {valid}").format(
                name=job, valid=", ".join(self.jobs)))
        row = execute(crm.using(tenant=tenant, user=self.user), declared).as_dict()
        if row["status"] == "failed":
            log.error("crmkit job %s failed for tenant %s: %s", job, tenant, row["detail"])
        return row

    def _fan_out(self, job: str) -> list[str]:
        """The body of ``<namespace>.jobs.fan_out``: the job's task for every tenant."""
        if job not in self.tasks:
            raise CrmError(_("unknown job '{name}'; valid: {valid}").format(
                name=job, valid=", ".join(self.jobs)))
        task = self.tasks[job]
        return [task.apply_async((t.slug,)).id for t in self.crm().tenants.list()]

    def schedule(self, job: str, tenant: str | None = None) -> Any:
        """Send ``job`` now, for ``tenant`` or (None) for every tenant through
        ``fan_out``; returns the AsyncResult. An unreachable broker is a
        :class:`BrokerUnavailable` saying that nothing was scheduled."""
        if job not in self.tasks:
            raise crmkit.ValidationError(_("unknown job '{name}'; valid: {valid}").format(
                name=job, valid=", ".join(self.jobs)))
        task, args = (self.fan_out, (job,)) if tenant is None else (self.tasks[job], (tenant,))
        try:
            return task.apply_async(args, retry=True, retry_policy=PUBLISH_RETRY)
        except OperationalError as exc:
            conf = self.app.conf
            url = maybe_sanitize_url(conf.broker_write_url or conf.broker_url)
            raise BrokerUnavailable(_(
                "cannot reach the Celery broker {url} ({reason}); job {job} was not "
                "scheduled for {tenant}: run it again once the broker is back").format(
                url=url, reason=str(exc).strip().splitlines()[0] if str(exc) else
                type(exc).__name__, job=job,
                tenant=_("tenant '{slug}'").format(slug=tenant) if tenant
                else _("every tenant"))) from None


def register(app: Celery, db_url: str, *, prefix: str = "crm_", user: str = "admin",
             plugins: tuple[Any, ...] | list[Any] = (), discover: bool = True,
             namespace: str = "crmkit", queue: str | None = None) -> JobTasks:
    """Register a Celery task per crmkit job, and ``<namespace>.jobs.fan_out``.

    ``db_url``, ``prefix``, ``plugins`` and ``discover`` are what each worker process
    passes to ``crmkit.open``; plugins must be importable (modules or dotted names).
    Jobs run as each tenant's user ``user``. ``namespace`` prefixes the task names (two
    crmkit databases in one Celery app need two); ``queue`` routes every task there.
    """
    return JobTasks(app, db_url, prefix=prefix, user=user, plugins=tuple(plugins),
                    discover=discover, namespace=namespace, queue=queue)


def beat_schedule(every: Mapping[str, Any], *, namespace: str = "crmkit"
                  ) -> dict[str, dict[str, Any]]:
    """A ``beat_schedule`` that fans each job out over every tenant on its schedule
    (a number of seconds, a ``timedelta`` or a ``crontab``)::

        app.conf.beat_schedule = beat_schedule({"reminders.send": crontab(hour=6)})
    """
    return {f"{namespace} {job} for every tenant": {
                "task": f"{namespace}.jobs.fan_out", "schedule": when, "args": (job,)}
            for job, when in every.items()}


__all__ = ["RECOMMENDED", "BrokerUnavailable", "JobTasks", "beat_schedule", "register"]
