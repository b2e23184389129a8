"""``crmkit.celery`` with real Celery workers, Redis and PostgreSQL.

Workers are ``celery worker --pool solo`` processes (one process each) started by the
tests, on a queue and a Redis key prefix unique to the test (the shared Redis on
127.0.0.1:6379 is never flushed: only this test's keys are deleted afterwards). The
broker-restart test starts a private ``redis-server`` on a free port and restarts
that one. Every reminder a channel delivers leaves one row in the probe's log (no
unique key), so a double delivery would be counted.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, select, text

import crmkit
from crmkit import testing
from tests.plugins import jobs_probe

pytest.importorskip("celery")
import redis  # noqa: E402
from celery.result import AsyncResult, ResultSet  # noqa: E402

from crmkit.celery import BrokerUnavailable, beat_schedule  # noqa: E402
from tests.plugins.celery_app import make_app  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED_REDIS = os.environ.get("CRMKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
REQUIRED = os.environ.get("CRMKIT_TEST_REQUIRE_ALL") == "1"


def _unavailable(what: str, why: str) -> None:
    if REQUIRED:
        pytest.fail(f"{what} is required (CRMKIT_TEST_REQUIRE_ALL=1) but {why}")
    pytest.skip(f"{what}: {why}")


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL schema (these tests run on PostgreSQL only)."""
    if "postgresql" not in testing._backends():
        pytest.skip("PostgreSQL is not among CRMKIT_TEST_DATABASES")
    why = testing._why_unreachable("postgresql")
    if why:
        _unavailable("PostgreSQL", f"unreachable: {why}")
    base = testing._server_url("postgresql")
    name = "crmkit_t_" + uuid.uuid4().hex[:12]
    server = create_engine(base, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    try:
        yield f"{base}?options=-csearch_path%3D{name}"
    finally:
        with server.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        server.dispose()


@pytest.fixture
def celery_env(pg_url, tmp_path):
    """The environment of this test's workers (and of its own client app)."""
    client = redis.Redis.from_url(SHARED_REDIS)
    try:
        client.ping()
    except redis.RedisError as exc:
        _unavailable("Redis", f"unreachable at {SHARED_REDIS}: {exc}")
    uid = uuid.uuid4().hex[:12]
    (tmp_path / "ready").mkdir()
    (tmp_path / "gate").mkdir()
    env = {"CRMKIT_CELERY_BROKER": SHARED_REDIS, "CRMKIT_CELERY_BACKEND": SHARED_REDIS,
           "CRMKIT_CELERY_KEYPREFIX": f"crmkit-test-{uid}:",
           "CRMKIT_CELERY_QUEUE": f"crmkit-test-{uid}", "CRMKIT_CELERY_DB": pg_url,
           "CRMKIT_CELERY_READY": str(tmp_path / "ready"),
           "CRMKIT_JOBPROBE_GATE": str(tmp_path / "gate")}
    yield env
    for key in client.scan_iter(match=env["CRMKIT_CELERY_KEYPREFIX"] + "*", count=1000):
        client.delete(key)
    client.close()


class Workers:
    """``celery worker`` processes of one test; stopped (killed if need be) at the end."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.procs: list[subprocess.Popen] = []

    def start(self, n: int, env: dict[str, str], limit: float = 120.0) -> None:
        ready = Path(env["CRMKIT_CELERY_READY"])
        before = len(list(ready.iterdir()))
        for _ in range(n):
            i = len(self.procs)
            log = open(self.folder / f"worker{i}.log", "wb")  # noqa: SIM115 - kept open
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "tests.plugins.celery_app", "worker",
                 "--pool", "solo", "-Q", env["CRMKIT_CELERY_QUEUE"],
                 "-n", f"w{i}-{uuid.uuid4().hex[:6]}@%h", "--without-heartbeat",
                 "--without-mingle", "--without-gossip", "-l", "WARNING"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, **env, "PYTHONPATH": str(ROOT)}))
        deadline = time.monotonic() + limit
        while len(list(ready.iterdir())) < before + n:
            dead = [p for p in self.procs if p.poll() is not None]
            assert not dead, self.logs()
            assert time.monotonic() < deadline, "workers not ready:\n" + self.logs()
            time.sleep(0.1)

    def kill(self, pid: int) -> None:
        (proc,) = [p for p in self.procs if p.pid == pid]
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:]
                         for p in sorted(self.folder.glob("worker*.log")))

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(30)


@pytest.fixture
def workers(tmp_path):
    w = Workers(tmp_path)
    yield w
    w.stop()


def _database(url: str, slugs: list[str]):
    """An initialised database with the probe plugin enabled in ``default`` and in
    every tenant of ``slugs``."""
    crm = crmkit.open(url, plugins=[jobs_probe])
    crm.init()
    crm.plugins.enable("jobprobe")  # creates its table
    # tenants.add and plugins.enable are one transaction per tenant; the rows they write
    # (the tenant, its admin, the plugin switched on) are all these tests need, so they
    # are written in one go
    t, u, ps = crm.table("tenants"), crm.table("users"), crm.table("plugin_state")
    now = dt.datetime.now(dt.UTC)
    with crm.engine.begin() as conn:
        conn.execute(insert(t), [{"slug": s, "name": s, "currency": "CNY", "created_at": now}
                                 for s in slugs])
        ids = conn.execute(select(t.c.id).where(t.c.slug.in_(slugs))).scalars().all()
        conn.execute(insert(u), [{"tenant_id": i, "name": "admin", "role": "admin",
                                  "created_at": now} for i in ids])
        conn.execute(insert(ps), [{"tenant_id": i, "plugin": "jobprobe", "enabled": True,
                                   "settings": None, "updated_at": now}
                                  for i in ids])
    return crm


def _delivered(detail: str) -> int:
    return int(detail.split(" delivered,")[0]) if " delivered," in detail else 0


# --- registration -----------------------------------------------------------------------


def test_register_makes_a_task_per_job_a_fan_out_and_a_beat_schedule(celery_env):
    app, tasks = make_app(celery_env)
    assert {"reminders.send", "grading.run", "webhooks.deliver", "jobprobe.work"} <= set(
        tasks.jobs)
    for job in tasks.jobs:
        assert tasks.tasks[job].name == f"crmkit.jobs.{job}"
        assert f"crmkit.jobs.{job}" in app.tasks
    assert tasks.fan_out.name == "crmkit.jobs.fan_out" and tasks.tasks[
        "reminders.send"].acks_late
    assert beat_schedule({"reminders.send": 60.0}) == {
        "crmkit reminders.send for every tenant": {
            "task": "crmkit.jobs.fan_out", "schedule": 60.0, "args": ("reminders.send",)}}
    with pytest.raises(crmkit.ValidationError):
        tasks.schedule("no.such")


def test_the_command_line_never_imports_celery():
    code = ("import sys\nfrom click.testing import CliRunner\nfrom crmkit.cli import cli\n"
            "r = CliRunner().invoke(cli, ['--help'])\nassert r.exit_code == 0\n"
            "r = CliRunner().invoke(cli, ['jobs', 'run', '--help'])\nassert r.exit_code == 0\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('celery', 'kombu', 'redis')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# --- real workers -----------------------------------------------------------------------


def test_200_tenants_two_workers_the_job_scheduled_twice_each_reminder_delivered_once(
        celery_env, workers):
    slugs = [f"t{i:03d}" for i in range(200)]
    crm = _database(celery_env["CRMKIT_CELERY_DB"], slugs)
    workers.start(2, celery_env)
    app, tasks = make_app(celery_env)
    fan_outs = [tasks.schedule("reminders.send"), tasks.schedule("reminders.send")]
    ids = [i for f in fan_outs for i in f.get(timeout=300)]
    assert len(ids) == 2 * 201  # every tenant (200 and default), twice
    rows = ResultSet([AsyncResult(i, app=app) for i in ids], app=app).get(timeout=900)
    per_tenant = defaultdict(list)
    for r in rows:
        per_tenant[r["tenant"]].append(r)
    assert sorted(per_tenant) == sorted([*slugs, "default"])
    for twice in per_tenant.values():
        assert len(twice) == 2
        # the second run found the lock held (skipped) or nothing new (0 delivered)
        assert {r["status"] for r in twice} <= {"ok", "skipped"}, twice
        assert sum(_delivered(r["detail"]) for r in twice) == 3, twice
    counts = jobs_probe.log_counts(crm)
    # 201 tenants x 3 reminders = 603 keys, each logged by a channel exactly once
    assert len(counts) == 603 and set(counts.values()) == {1}
    t = crm.table("jobprobe_log")
    with crm.engine.connect() as conn:
        pids = set(conn.execute(select(t.c.pid).distinct()).scalars())
    assert len(pids) == 2, "both workers delivered"
    crm.close()


def test_a_worker_killed_mid_job_the_next_schedule_delivers_once_and_loses_nothing(
        celery_env, workers):
    crm = _database(celery_env["CRMKIT_CELERY_DB"], ["victim"])
    gate = Path(celery_env["CRMKIT_JOBPROBE_GATE"]) / "victim"
    gate.write_text("")
    workers.start(2, celery_env)
    app, tasks = make_app(celery_env)
    tasks.schedule("reminders.send", "victim")
    entered = gate.with_name("victim.entered")
    deadline = time.monotonic() + 120
    while not entered.exists():
        assert time.monotonic() < deadline, workers.logs()
        time.sleep(0.05)
    # the channel has logged the three reminders in the open transaction: kill it now
    workers.kill(int(entered.read_text()))
    gate.unlink()
    assert jobs_probe.log_counts(crm) == {}  # the dead transaction left nothing behind
    deadline = time.monotonic() + 120
    while True:  # the next schedule; the server frees a dead session's lock at once,
        # but a run that still found it held would say "skipped": then the next one
        row = tasks.schedule("reminders.send", "victim").get(timeout=120)
        if row["status"] != "skipped" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert (row["status"], row["detail"]) == ("ok", "3 delivered, 0 already delivered")
    again = tasks.schedule("reminders.send", "victim").get(timeout=120)
    assert (again["status"], again["detail"]) == ("ok", "0 delivered, 3 already delivered")
    assert jobs_probe.log_counts(crm) == {f"jobprobe:victim:{i}": 1 for i in range(3)}
    crm.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_server(port: int, folder: Path) -> subprocess.Popen:
    exe = shutil.which("redis-server")
    if exe is None:
        _unavailable("redis-server", "not installed")
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 60
    while True:
        try:
            client.ping()
            return proc
        except redis.ConnectionError:
            assert proc.poll() is None, "private redis-server did not start"
            assert time.monotonic() < deadline, "private redis-server never answered"
            time.sleep(0.05)


def test_broker_restarted_a_clear_error_meanwhile_and_the_next_run_completes(
        celery_env, workers, tmp_path):
    port = _free_port()
    broker = _redis_server(port, tmp_path)
    try:
        env = {**celery_env, "CRMKIT_CELERY_BROKER": f"redis://127.0.0.1:{port}/0"}
        crm = _database(env["CRMKIT_CELERY_DB"], ["t1", "t2"])
        workers.start(1, env)
        app, tasks = make_app(env)
        first = tasks.schedule("reminders.send", "t1").get(timeout=120)
        assert (first["status"], first["detail"]) == ("ok", "3 delivered, 0 already delivered")

        broker.terminate()
        broker.wait(30)
        with pytest.raises(BrokerUnavailable) as err:
            tasks.schedule("reminders.send", "t2")
        message = str(err.value)
        assert message.startswith(f"cannot reach the Celery broker redis://127.0.0.1:{port}/0")
        assert message.endswith("job reminders.send was not scheduled for tenant 't2': run "
                                "it again once the broker is back")
        assert not any(k.startswith("jobprobe:t2:") for k in jobs_probe.log_counts(crm))

        broker = _redis_server(port, tmp_path)  # back, empty (nothing persisted)
        row = tasks.schedule("reminders.send", "t2").get(timeout=180)
        assert (row["status"], row["detail"]) == ("ok", "3 delivered, 0 already delivered")
        assert jobs_probe.log_counts(crm) == {
            f"jobprobe:{slug}:{i}": 1 for slug in ("default", "t1", "t2") for i in range(3)
            if slug != "default"}
        crm.close()
    finally:
        workers.stop()
        broker.terminate()
        broker.wait(30)


RABBITMQ = os.environ.get("CRMKIT_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def test_rabbitmq_as_the_broker_fans_a_job_out_over_every_tenant(celery_env, workers):
    from kombu import Connection

    try:
        with Connection(RABBITMQ, connect_timeout=5) as probe:
            probe.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        _unavailable("RabbitMQ", f"unreachable at {RABBITMQ}: {exc}")
    env = {**celery_env, "CRMKIT_CELERY_BROKER": RABBITMQ}
    crm = _database(env["CRMKIT_CELERY_DB"], ["r1", "r2"])
    try:
        workers.start(1, env)
        app, tasks = make_app(env)
        ids = tasks.schedule("reminders.send").get(timeout=120)
        rows = ResultSet([AsyncResult(i, app=app) for i in ids], app=app).get(timeout=300)
        assert sorted((r["tenant"], r["detail"]) for r in rows) == [
            (slug, "3 delivered, 0 already delivered") for slug in ("default", "r1", "r2")]
        assert set(jobs_probe.log_counts(crm).values()) == {1}
        assert len(jobs_probe.log_counts(crm)) == 9  # 3 tenants x 3 reminders
    finally:
        workers.stop()
        crm.close()
        with Connection(RABBITMQ) as conn:  # the test's queue only
            conn.default_channel.queue_delete(env["CRMKIT_CELERY_QUEUE"])
