"""The Celery app of the jobs tests' workers (``celery -A tests.plugins.celery_app``).

Everything comes from the environment the test gives the worker: the broker, the
result backend, a key prefix and a queue unique to the test (so parallel runs on the
shared Redis never meet), the database, and a folder where each worker, once ready,
writes a file named after itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import worker_ready

import crmkit.celery


def make_app(env: dict[str, str]) -> tuple[Celery, crmkit.celery.JobTasks]:
    app = Celery("crmkit_tests", broker=env["CRMKIT_CELERY_BROKER"],
                 backend=env["CRMKIT_CELERY_BACKEND"])
    prefix = env["CRMKIT_CELERY_KEYPREFIX"]
    app.conf.update(crmkit.celery.RECOMMENDED)
    app.conf.update(
        broker_transport_options={"global_keyprefix": prefix},
        result_backend_transport_options={"global_keyprefix": prefix},
        result_expires=3600,
        broker_connection_retry=True,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=2,
        worker_hijack_root_logger=False,
        task_default_queue=env["CRMKIT_CELERY_QUEUE"],
    )
    tasks = crmkit.celery.register(app, env["CRMKIT_CELERY_DB"],
                                   plugins=["tests.plugins.jobs_probe"])
    return app, tasks


if "CRMKIT_CELERY_BROKER" in os.environ:
    app, tasks = make_app(dict(os.environ))

    @worker_ready.connect
    def _ready(sender: Any = None, **_kw: Any) -> None:
        folder = Path(os.environ["CRMKIT_CELERY_READY"])
        (folder / f"{os.getpid()}").write_text(sender.hostname if sender else "")
