"""Jobs: the ``crm_jobs`` hook, ``crm.jobs.run`` / ``run_all``, ``crmkit jobs list/run``.

Every test runs on SQLite, PostgreSQL and MariaDB. The probe plugin
(``tests/plugins/jobs_probe.py``) gives each tenant three reminders and a channel that
logs one row per delivered reminder (no unique key: a double delivery would show).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

import crmkit
from crmkit.jobs import Job, JobResult
from tests.plugins import jobs_probe

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ["tenant", "job", "status", "seconds", "detail"]


def _probe_crm(crm_factory, tenants=("default",)):
    """A Crm with the probe plugin, enabled in each of ``tenants`` (added if needed)."""
    crm = crm_factory(plugins=[jobs_probe])
    for slug in tenants:
        if slug != "default":
            crm.tenants.add(slug)
        crm.using(tenant=slug).plugins.enable("jobprobe")
    return crm


def _counts(crm):
    """Rows of the tables a job could write, and the change feed's last cursor."""
    with crm.engine.connect() as conn:
        rows = {name: conn.execute(select(func.count()).select_from(crm.table(name)))
                .scalar_one() for name in ("deliveries", "audit", "outbox", "customers")}
    return rows, [c["cursor"] for c in crm.changes()][-1:]


# --- the hook ---------------------------------------------------------------------------


def test_crm_jobs_declares_the_core_and_plugin_jobs(crm_factory):
    crm = _probe_crm(crm_factory)
    jobs = crm.jobs.declared()
    assert {"reminders.send", "grading.run", "webhooks.deliver", "jobprobe.work"} <= set(jobs)
    assert jobs["reminders.send"].plugin == "jobs" and jobs["reminders.send"].builtin
    assert jobs["grading.run"].plugin == "grading"
    listed = {r["name"]: r for r in crm.jobs.list()}
    # reminders.send is the core's and runs everywhere; grading is not enabled here
    assert listed["reminders.send"]["plugin"] == "core" and listed["reminders.send"]["enabled"]
    assert listed["grading.run"] == {"name": "grading.run", "plugin": "grading",
                                     "description": jobs["grading.run"].job.description,
                                     "enabled": False}
    assert listed["jobprobe.work"]["enabled"] is True
    assert crm.jobs.problems() == []


class _BadJobs:
    """Declares a job with a bad name and one that the probe already declares."""

    PLUGIN = crmkit.PluginSpec(name="zbadjobs", version="1.0")

    @crmkit.hookimpl
    def crm_jobs(self):
        return [Job("Not A Name", lambda crm: None), Job("jobprobe.work", lambda crm: None),
                Job("zbadjobs.fine", lambda crm: "fine")]


class _BrokenJobs:
    PLUGIN = crmkit.PluginSpec(name="brokenjobs", version="1.0")

    @crmkit.hookimpl
    def crm_jobs(self):
        raise RuntimeError("cannot declare")


def test_crm_jobs_bad_declarations_are_reported_and_never_hide_other_jobs(crm_factory):
    crm = crm_factory(plugins=[jobs_probe, _BadJobs(), _BrokenJobs()])
    jobs = crm.jobs.declared()
    assert "zbadjobs.fine" in jobs and "reminders.send" in jobs
    assert jobs["jobprobe.work"].plugin == "jobprobe"  # the first in call order wins
    problems = crm.jobs.problems()
    assert len(problems) == 3, problems
    assert any("brokenjobs" in p and "cannot declare" in p for p in problems)
    assert any("invalid job" in p and "Not A Name" in p for p in problems)
    assert any("'jobprobe.work' of plugin 'zbadjobs' is ignored" in p for p in problems)


# --- running for one tenant -------------------------------------------------------------


def test_reminders_send_delivers_once_and_a_second_run_changes_nothing(crm_factory):
    crm = _probe_crm(crm_factory)
    first = crm.jobs.run("reminders.send")
    assert isinstance(first, JobResult)
    # three probe reminders, none delivered before
    assert (first.tenant, first.job, first.status) == ("default", "reminders.send", "ok")
    assert first.detail == "3 delivered, 0 already delivered"
    assert first.seconds >= 0
    before = _counts(crm)
    second = crm.jobs.run("reminders.send")
    assert (second.status, second.detail) == ("ok", "0 delivered, 3 already delivered")
    assert _counts(crm) == before  # nothing new written, not even a change-feed row
    assert jobs_probe.log_counts(crm) == {f"jobprobe:default:{i}": 1 for i in range(3)}


def test_a_job_of_a_plugin_not_enabled_is_skipped_and_says_why(crm):
    row = crm.jobs.run("grading.run")
    assert row.as_dict() == {"tenant": "default", "job": "grading.run", "status": "skipped",
                             "seconds": row.seconds,
                             "detail": "plugin 'grading' is not enabled for this tenant"}


def test_grading_run_job_grades_then_finds_nothing_changed(crm_factory, today):
    crm = crm_factory(enable=("grading",))
    c = crm.customers.add(name="上海大众")
    crm.documents.add(c.id, kind="invoice", number="INV-1", amount="100.00",
                      issued_on=today)
    first = crm.jobs.run("grading.run")
    # one customer with one purchase in the window: its first grade is a change
    assert (first.status, first.detail) == (
        "ok", "graded 1 customers as of 2026-11-22: 1 changed, 0 newly lost")
    before = _counts(crm)
    second = crm.jobs.run("grading.run")
    assert second.detail == "graded 1 customers as of 2026-11-22: 0 changed, 0 newly lost"
    assert _counts(crm) == before


def test_webhooks_deliver_job_runs_the_deliverer_once(crm_factory):
    crm = crm_factory(enable=("webhooks",))
    row = crm.jobs.run("webhooks.deliver")
    assert (row.status, row.detail) == (
        "ok", "0 delivered, 0 failed (will retry), 0 dead, 0 pending")


def test_a_long_lived_process_sees_a_plugin_another_process_enabled(crm_factory,
                                                                     crm_db_url):
    worker = crm_factory()  # a Celery worker, say: its cache says grading is off
    assert worker.jobs.run("grading.run").status == "skipped"
    other = crmkit.open(crm_db_url)
    other.plugins.enable("grading")
    other.close()
    assert worker.jobs.run("grading.run").status == "ok"


def test_a_failing_job_is_a_failed_row_with_its_error(crm_factory):
    crm = _probe_crm(crm_factory, tenants=("boom1",))
    row = crm.using(tenant="boom1").jobs.run("jobprobe.work")
    assert (row.tenant, row.status) == ("boom1", "failed")
    assert row.detail == "RuntimeError: probe failure in boom1"


def test_unknown_job_is_a_validation_error_listing_the_valid_ones(crm):
    with pytest.raises(crmkit.ValidationError) as err:
        crm.jobs.run("reminders.sned")
    assert str(err.value) == ("unknown job 'reminders.sned'; valid: email.deliver, "
                              "grading.run, reminders.send, webhooks.deliver")


# --- permissions -------------------------------------------------------------------------


def test_jobs_run_is_for_admins_and_managers(crm_factory):
    crm = _probe_crm(crm_factory)
    crm.users.add("li", role="sales")
    crm.users.add("wang", role="manager")
    with pytest.raises(crmkit.PermissionDenied) as err:
        crm.using(user="li").jobs.run("reminders.send")
    assert "li" in str(err.value) and "jobs.run" in str(err.value)
    assert jobs_probe.log_counts(crm) == {}  # nothing delivered
    assert crm.using(user="wang").jobs.run("reminders.send").status == "ok"


def test_running_for_every_tenant_is_for_an_admin_of_tenant_default(crm_factory):
    crm = _probe_crm(crm_factory, tenants=("default", "acme"))
    crm.users.add("wang", role="manager")
    with pytest.raises(crmkit.PermissionDenied):
        crm.using(user="wang").jobs.run_all("reminders.send")
    with pytest.raises(crmkit.PermissionDenied):  # acme's admin is no operator
        crm.using(tenant="acme").jobs.run_all("reminders.send")
    assert jobs_probe.log_counts(crm) == {}
    rows = crm.jobs.run_all("reminders.send")
    assert [(r.tenant, r.status) for r in rows] == [("default", "ok"), ("acme", "ok")]


# --- every tenant -----------------------------------------------------------------------


def test_one_failing_tenant_does_not_stop_the_others(crm_factory):
    crm = _probe_crm(crm_factory, tenants=("default", "boom1", "zeta"))
    crm.tenants.add("plain")  # the probe is not enabled there
    seen = []
    rows = crm.jobs.run_all("jobprobe.work", on_result=seen.append)
    assert [(r.tenant, r.status, r.detail) for r in rows] == [
        ("default", "ok", "worked"),
        ("boom1", "failed", "RuntimeError: probe failure in boom1"),
        ("zeta", "ok", "worked"),
        ("plain", "skipped", "plugin 'jobprobe' is not enabled for this tenant")]
    assert seen == rows


def test_two_worker_processes_give_the_same_rows_and_a_dying_worker_fails_one_tenant(
        crm_factory):
    crm = _probe_crm(crm_factory, tenants=("default", "a1", "crash1", "boom1", "a2", "a3"))
    rows = crm.jobs.run_all("jobprobe.work", workers=2)
    assert [(r.tenant, r.status) for r in rows] == [
        ("default", "ok"), ("a1", "ok"), ("crash1", "failed"), ("boom1", "failed"),
        ("a2", "ok"), ("a3", "ok")]
    assert rows[2].detail == "the worker process died while running this tenant's job"
    assert rows[3].detail == "RuntimeError: probe failure in boom1"
    sent = crm.jobs.run_all("reminders.send", workers=2)
    assert {r.detail for r in sent} == {"3 delivered, 0 already delivered"}
    assert jobs_probe.log_counts(crm) == {
        f"jobprobe:{slug}:{i}": 1 for slug in ("default", "a1", "crash1", "boom1", "a2", "a3")
        for i in range(3)}


def test_an_in_memory_database_is_not_handed_to_worker_processes(today):
    crm = crmkit.open("sqlite://", today=today)  # each process would get its own, empty
    crm.init()
    crm.tenants.add("acme")
    with pytest.raises(crmkit.ValidationError) as err:
        crm.jobs.run_all("reminders.send", workers=2)
    assert "in-memory database cannot be shared with worker processes" in str(err.value)
    assert [r.status for r in crm.jobs.run_all("reminders.send")] == ["ok", "ok"]


def test_workers_must_be_a_whole_number_from_1_to_64(crm):
    for bad in (0, 65, -1, True, "2"):
        with pytest.raises(crmkit.ValidationError) as err:
            crm.jobs.run_all("reminders.send", workers=bad)
        assert "expected a whole number from 1 to 64" in str(err.value)


# --- never twice at once ------------------------------------------------------------------


def test_a_second_runner_skips_the_tenant_while_the_first_holds_its_lock(
        crm_factory, crm_db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("CRMKIT_JOBPROBE_GATE", str(tmp_path))
    crm = _probe_crm(crm_factory, tenants=("default", "other"))
    gate = tmp_path / "default.work"
    gate.write_text("")
    first: list[JobResult] = []
    runner = threading.Thread(target=lambda: first.append(crm.jobs.run("jobprobe.work")))
    runner.start()
    try:
        _wait_for(tmp_path / "default.work.entered")
        second = crmkit.open(crm_db_url, plugins=[jobs_probe])  # its own engine
        try:
            row = second.jobs.run("jobprobe.work")
            assert (row.status, row.detail) == (
                "skipped", "another runner is running this job for this tenant")
            # another tenant, and another job of the same tenant, are not blocked
            assert second.using(tenant="other").jobs.run("jobprobe.work").status == "ok"
            assert second.jobs.run("reminders.send").status == "ok"
        finally:
            second.close()
    finally:
        gate.unlink()
        runner.join(60)
    assert first[0].status == "ok"
    assert crm.jobs.run("jobprobe.work").status == "ok"  # the lock was released


def test_a_killed_runner_leaves_no_lock_and_nothing_half_delivered(
        crm_factory, crm_db_url, tmp_path):
    crm = _probe_crm(crm_factory)
    gate = tmp_path / "default"
    gate.write_text("")
    code = ("import sys, crmkit; from tests.plugins import jobs_probe; "
            "crmkit.open(sys.argv[1], plugins=[jobs_probe]).jobs.run('reminders.send')")
    proc = subprocess.Popen([sys.executable, "-c", code, crm_db_url], cwd=ROOT,
                            env={**_env(), "CRMKIT_JOBPROBE_GATE": str(tmp_path)})
    try:
        # the channel has written its three log rows, in the open transaction
        _wait_for(tmp_path / "default.entered", proc=proc)
        proc.kill()  # SIGKILL, mid-delivery, holding the tenant's lock
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    gate.unlink()
    assert jobs_probe.log_counts(crm) == {}  # rolled back with the dead session
    row = _eventually(lambda: crm.jobs.run("reminders.send"),
                      lambda r: r.status != "skipped")
    assert (row.status, row.detail) == ("ok", "3 delivered, 0 already delivered")
    assert jobs_probe.log_counts(crm) == {f"jobprobe:default:{i}": 1 for i in range(3)}


# --- the command line -----------------------------------------------------------------------


def test_cli_jobs_list_json(cli):
    cli("init")
    res = cli("jobs", "list", "--json")
    assert res.exit_code == 0, res
    by_name = {r["name"]: r for r in res.json}
    assert by_name["reminders.send"]["plugin"] == "core"
    assert sorted(by_name["grading.run"]) == ["description", "enabled", "name", "plugin"]
    assert cli("plugins", "enable", "grading").exit_code == 0
    assert {r["name"]: r for r in cli("jobs", "list", "--json").json}[
        "grading.run"]["enabled"] is True


def test_cli_jobs_run_json_rows_have_exactly_the_five_fields(cli):
    cli("init")
    cli("customer", "add", "Acme")
    cli("activity", "add", "1", "--kind", "task", "--subject", "call back", "--due",
        "2026-11-20")
    res = cli("jobs", "run", "reminders.send", "--json")
    assert res.exit_code == 0, res
    (row,) = res.json
    assert list(row) == FIELDS
    assert row["status"] == "ok" and row["detail"] == "1 delivered, 0 already delivered"
    assert isinstance(row["seconds"], float)
    again = cli("jobs", "run", "reminders.send")
    assert again.exit_code == 0
    assert "0 delivered, 1 already delivered" in again.stdout
    assert "1 ok, 0 skipped, 0 failed" in again.stdout


def test_cli_all_tenants_reports_a_failing_tenant_exits_1_and_is_silent_on_stderr(
        cli, crm_db_url):
    cli("init")
    for slug in ("acme", "beta"):
        assert cli("tenant", "add", slug).exit_code == 0
    # beta's admin was renamed: the job cannot act there
    crm = crmkit.open(crm_db_url)
    u, t = crm.table("users"), crm.table("tenants")
    with crm.engine.begin() as conn:
        beta = conn.execute(select(t.c.id).where(t.c.slug == "beta")).scalar_one()
        conn.execute(update(u).where(u.c.tenant_id == beta).values(name="root"))
    crm.close()
    res = cli("jobs", "run", "reminders.send", "--all-tenants", "--workers", "2", "--json")
    assert res.exit_code == 1, res
    assert [(r["tenant"], r["status"]) for r in res.json] == [
        ("default", "ok"), ("acme", "ok"), ("beta", "failed")]
    assert res.json[2]["detail"] == "user 'admin' not found in tenant 'beta'"
    # not a terminal: no progress bar, only the one-line error
    assert res.stderr == "Error: job reminders.send failed for 1 of 3 tenants\n"
    ok = cli("jobs", "run", "reminders.send", "--all-tenants", tenant="default")
    assert ok.exit_code == 1 and "2 ok, 0 skipped, 1 failed" in ok.stdout


def test_cli_bad_input_is_refused_and_changes_nothing(cli, crm_db_url):
    cli("init")
    crm = crmkit.open(crm_db_url)
    before = _counts(crm)
    for args, code, message in [
            (("jobs", "run", "nope"), 1, "unknown job 'nope'; valid: email.deliver, grading.run"),
            (("jobs", "run", "reminders.send", "--all-tenants", "--workers", "0"), 1,
             "invalid number of workers 0; expected a whole number from 1 to 64"),
            (("jobs", "run", "reminders.send", "--all-tenants", "--workers", "65"), 1,
             "invalid number of workers 65"),
            (("jobs", "run", "reminders.send", "--workers", "2"), 2,
             "--workers needs --all-tenants"),
            (("jobs", "run", "reminders.send", "--all-tenants"), 1, "permission denied")]:
        user = "wang" if message == "permission denied" else None
        if user:
            cli("user", "add", "wang", "--role", "manager")
            before = _counts(crm)
        res = cli(*args, user=user)
        assert res.exit_code == code, (args, res)
        assert message in res.stderr, (args, res.stderr)
        assert res.stdout == ""
        assert _counts(crm) == before, args
    crm.close()


# --- helpers ------------------------------------------------------------------------------


def _env():
    import os

    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}


def _wait_for(path, proc=None, limit=120.0):
    deadline = time.monotonic() + limit
    while not path.exists():
        assert proc is None or proc.poll() is None, "the runner ended before the gate"
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


def _eventually(call, done, limit=60.0):
    """``call()`` until ``done(result)``: a server may need a moment to see a dead
    client's session go (its lock with it)."""
    deadline = time.monotonic() + limit
    while True:
        result = call()
        if done(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.2)
