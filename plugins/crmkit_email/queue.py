"""The e-mail queue: messages are written in the transaction that records the reminders
and sent after it commits, outside any transaction.

Like the webhooks deliverer: a sender claims due messages with a lease (``lease_until``,
``leased_by``; plus ``FOR UPDATE SKIP LOCKED`` on PostgreSQL and MariaDB), sends them
over one SMTP connection, and records each result in a short transaction. A message
that fails waits (30 s, 60 s, 120 s, ... at most an hour) and is retried by the next
sender; after ``max_attempts`` it is ``dead``. Two senders never send the same message
at once; a sender killed mid-run leaves its claims to expire.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import smtplib
import socket
import uuid
from collections.abc import Callable
from typing import Any

from attrs import define, field
from sqlalchemy import bindparam, func, or_, select

from crmkit.i18n import Domain

_ = Domain("crmkit_email").gettext
UTC = dt.UTC
BATCH = 100


def _real_clock() -> dt.datetime:
    return dt.datetime.now(UTC)


def enqueue(ctx: Any, messages: list[Any]) -> None:
    """Write the messages to ``email_queue`` in the caller's transaction."""
    now = _real_clock()
    rows = [{"tenant_id": ctx.tenant.id,
             "kind": getattr(m, "crmkit_kind", "digest"),
             "recipients": [a.strip() for a in str(m["To"]).split(",")],
             "subject": str(m["Subject"])[:500], "message": m.as_string(),
             "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
            for m in messages]
    ctx.conn.execute(ctx.crm.table("email_queue").insert(), rows)


def backoff(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failure: 30, 60, 120, ... at most 3600."""
    return float(min(30 * 2 ** (attempts - 1), 3600))


@define
class SendReport:
    """What one run did; ``error`` is the last failure's reason."""

    sent: int = 0
    failed: int = 0
    dead: int = 0
    pending: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "failed": self.failed, "dead": self.dead,
                "pending": self.pending}

    def summary(self) -> str:
        """One line for the terminal: what was sent, and what was not and why."""
        if not self.failed and not self.dead:
            return _("email: {n} message(s) sent").format(n=self.sent)
        return _("email: {sent} message(s) sent, {failed} not sent ({reason}); they stay "
                 "queued and `crmkit jobs run email.deliver` sends them").format(
            sent=self.sent, failed=self.failed + self.dead,
            reason=(self.error or "?")[:120])


@define
class _Job:
    id: int
    token: str
    attempts: int
    message: str


@define
class Sender:
    """Sends the tenant's queued e-mails: ``Sender(crm).run()`` sends what is due now."""

    crm: Any
    clock: Callable[[], dt.datetime] = _real_clock
    name: str = field(factory=lambda: f"{socket.gethostname()[:40]}:{os.getpid()}:"
                                      f"{uuid.uuid4().hex[:8]}")
    _claims: int = field(default=0, init=False, repr=False)

    def _table(self) -> Any:
        return self.crm.table("email_queue")

    def claim(self, limit: int, lease_seconds: float) -> tuple[list[_Job], dt.datetime]:
        """Claim up to ``limit`` due messages with a lease; returns them and when the
        lease ends."""
        q = self._table()
        with self.crm.unit() as ctx:
            now = self.clock()
            until = now + dt.timedelta(seconds=lease_seconds)
            free = or_(q.c.lease_until.is_(None), q.c.lease_until < now)
            ids = list(ctx.conn.scalars(
                select(q.c.id).where(q.c.tenant_id == ctx.tenant.id, q.c.status == "pending",
                                     q.c.next_attempt_at <= now, free)
                .order_by(q.c.id).limit(limit)))
            if ids and ctx.conn.dialect.name in ("postgresql", "mysql", "mariadb"):
                ids = sorted(ctx.conn.scalars(
                    select(q.c.id).where(q.c.id.in_(ids)).with_for_update(skip_locked=True)))
            if not ids:
                return [], until
            self._claims += 1
            token = f"{self.name}/{self._claims}"
            ctx.conn.execute(
                q.update().where(q.c.id == bindparam("b_id"), q.c.status == "pending",
                                 free).values(lease_until=until, leased_by=token),
                [{"b_id": i} for i in ids])
            rows = ctx.conn.execute(
                select(q.c.id, q.c.attempts, q.c.message)
                .where(q.c.id.in_(ids), q.c.leased_by == token).order_by(q.c.id)).all()
        return [_Job(r.id, token, r.attempts, r.message) for r in rows], until

    def send(self, settings: Any, jobs: list[_Job],
             until: dt.datetime) -> list[tuple[_Job, str | None]]:
        """Send over one connection; (job, None) when the server accepted it, else the
        reason. A message that could outlive the lease is not sent: (job, SKIPPED)
        releases it untouched."""
        from .mailer import connect

        results: list[tuple[_Job, str | None]] = []
        try:
            smtp = connect(settings)
        except Exception as exc:  # noqa: BLE001 - down, refused, bad password: retried
            reason = _reason(exc)
            return [(job, reason) for job in jobs]
        margin = dt.timedelta(seconds=settings.timeout_seconds + 1)
        try:
            for i, job in enumerate(jobs):
                if self.clock() + margin >= until:
                    results.extend((j, SKIPPED) for j in jobs[i:])
                    break
                msg = email.message_from_string(job.message, policy=email.policy.default)
                try:
                    smtp.send_message(msg)
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError,
                        smtplib.SMTPSenderRefused) as exc:
                    results.append((job, _reason(exc)))
                except (OSError, smtplib.SMTPException) as exc:  # the connection is gone
                    reason = _reason(exc)
                    results.extend((j, reason) for j in jobs[i:])
                    break
                else:
                    results.append((job, None))
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        return results

    def record(self, results: list[tuple[_Job, str | None]], settings: Any,
               report: SendReport) -> None:
        """Store one batch's results in one short transaction; a message whose lease
        this sender lost is left alone."""
        q = self._table()
        now = self.clock()
        released, done = [], []
        for job, error in results:
            if error is SKIPPED:
                released.append({"b_id": job.id, "b_by": job.token})
                continue
            attempts = job.attempts + 1
            row = {"b_id": job.id, "b_by": job.token, "b_attempts": attempts,
                   "b_status": "pending", "b_error": error, "b_next": now, "b_at": None}
            if error is None:
                row |= {"b_status": "sent", "b_at": now}
                report.sent += 1
            elif attempts >= settings.max_attempts:
                row["b_status"] = "dead"
                report.dead += 1
                report.error = error
            else:
                row["b_next"] = now + dt.timedelta(seconds=backoff(attempts))
                report.failed += 1
                report.error = error
            done.append(row)
        mine = (q.c.id == bindparam("b_id")) & (q.c.leased_by == bindparam("b_by"))
        with self.crm.unit() as ctx:
            if released:
                ctx.conn.execute(q.update().where(mine).values(lease_until=None,
                                                                leased_by=None), released)
            if done:
                ctx.conn.execute(q.update().where(mine).values(
                    lease_until=None, leased_by=None, attempts=bindparam("b_attempts"),
                    status=bindparam("b_status"), last_error=bindparam("b_error"),
                    next_attempt_at=bindparam("b_next"), sent_at=bindparam("b_at")), done)

    def pending(self) -> int:
        q = self._table()
        with self.crm.unit(write=False) as ctx:
            return ctx.conn.execute(select(func.count()).where(
                q.c.tenant_id == ctx.tenant.id, q.c.status == "pending")).scalar_one()

    def run(self) -> SendReport:
        """Send every message that is due now, batch by batch, then return. A batch
        whose connection failed ends the run (the server is down: the rest waits)."""
        settings = self.crm.plugins.settings("email")
        report = SendReport()
        while True:
            jobs, until = self.claim(BATCH, settings.lease_seconds)
            if not jobs:
                break
            results = self.send(settings, jobs, until)
            self.record(results, settings, report)
            if not any(error is None for _job, error in results):
                break  # nothing went through: the server is down, the rest waits
        report.pending = self.pending()
        return report


SKIPPED = "(not sent: lease too short)"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:500] if text else type(exc).__name__
