"""The deliverer: fan the outbox out into deliveries, claim due ones with a lease, POST
them outside any transaction, record each result in a short transaction.

Guarantees: an event is fanned out once per endpoint (unique key), claimed by one
deliverer at a time (lease column on every backend, plus ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL and MariaDB), and for one endpoint and customer delivered in outbox order
(a delivery waits while an earlier one of the same customer is still pending).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any

from attrs import define, field
from sqlalchemy import and_, bindparam, exists, func, insert, or_, select

from .endpoints import _, require_enabled

UTC = dt.UTC


@define
class DeliveryReport:
    """What one ``deliver`` run did."""

    delivered: int = 0
    failed: int = 0  # failed attempts that will be retried
    dead: int = 0
    pending: int = 0  # still pending when the run ended
    attempts: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"delivered": self.delivered, "failed": self.failed, "dead": self.dead,
                "pending": self.pending, "attempts": self.attempts}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``"<timestamp>.<body>"`` with the secret."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body,
                   hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def backoff(settings: Any, attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failure: base, 2*base, 4*base... capped."""
    return min(settings.base_delay_seconds * 2 ** (attempts - 1), settings.max_delay_seconds)


def _insert_ignore(conn: Any, table: Any) -> Any:
    name = conn.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if name == "sqlite":
        return insert(table).prefix_with("OR IGNORE")
    return insert(table).prefix_with("IGNORE")


POLL_SECONDS = 1.0
MAX_RUN_SECONDS = 7 * 86_400  # --max-seconds: a week at most (and never NaN/inf)
SKIPPED = "(not sent: lease too short)"


def _real_clock() -> dt.datetime:
    return dt.datetime.now(UTC)


@define
class _Job:
    id: int
    token: str
    uid: str
    attempts: int
    event: str
    url: str
    secret: str
    body: bytes


@define
class Deliverer:
    """Delivers the tenant's webhooks: ``Deliverer(crm).run(once=True)``.

    ``clock`` (a callable returning an aware UTC datetime) and ``sleep`` can be replaced
    in tests; ``name`` identifies this deliverer in the lease column.
    """

    crm: Any
    clock: Callable[[], dt.datetime] = _real_clock
    sleep: Callable[[float], None] = time.sleep
    #: called with the run's report after each batch is recorded (a progress bar)
    on_batch: Callable[[DeliveryReport], None] | None = None
    name: str = field(factory=lambda: f"{socket.gethostname()[:40]}:{os.getpid()}:"
                                      f"{uuid.uuid4().hex[:8]}")

    _client: Any = field(default=None, init=False, repr=False)
    _deadline: dt.datetime | None = field(default=None, init=False, repr=False)
    _timeout: float | None = field(default=None, init=False, repr=False)
    _claims: int = field(default=0, init=False, repr=False)

    def _t(self, name: str) -> Any:
        return self.crm.table(f"webhooks_{name}")

    def client(self, timeout: float) -> Any:
        """The HTTP client (httpx, keep-alive), built on first use and kept: building
        one costs a TLS context."""
        if self._client is None or self._timeout != timeout:
            import httpx

            self.close()
            self._client = httpx.Client(timeout=timeout)
            self._timeout = timeout
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _locking(self, conn: Any) -> bool:
        return conn.dialect.name in ("postgresql", "mysql", "mariadb")

    # --- fan-out ---------------------------------------------------------------------

    def fan_out(self, limit: int = 1000) -> int:
        """Turn outbox rows not yet seen into deliveries for matching endpoints; one
        short transaction per batch. Returns the number of outbox rows processed."""
        total = 0
        while True:
            n = self._fan_out_batch(limit)
            total += n
            if n < limit:
                return total

    def _fan_out_batch(self, limit: int) -> int:
        ep, d, f = self._t("endpoints"), self._t("deliveries"), self._t("fanout")
        o = self.crm.table("outbox")
        with self.crm.unit() as ctx:
            tid = ctx.tenant.id
            q = (select(ep.c.id, ep.c.events, ep.c.since_outbox_id)
                 .where(ep.c.tenant_id == tid, ep.c.active.is_(True)).order_by(ep.c.id))
            if self._locking(ctx.conn):  # serialises fan-out between deliverers
                q = q.with_for_update()
            endpoints = ctx.conn.execute(q).all()
            if not endpoints:
                return 0
            low = min(e.since_outbox_id for e in endpoints)
            seen = exists().where(f.c.tenant_id == o.c.tenant_id, f.c.outbox_id == o.c.id)
            rows = ctx.conn.execute(
                select(o.c.id, o.c.event, o.c.customer_id)
                .where(o.c.tenant_id == tid, o.c.id > low, ~seen)
                .order_by(o.c.id).limit(limit)).all()
            if not rows:
                return 0
            ctx.conn.execute(_insert_ignore(ctx.conn, f),
                             [{"tenant_id": tid, "outbox_id": r.id} for r in rows])
            now = self.clock()
            new = [
                {"tenant_id": tid, "endpoint_id": e.id, "outbox_id": r.id,
                 "customer_id": r.customer_id, "event": r.event, "uid": str(uuid.uuid4()),
                 "status": "pending", "attempts": 0, "next_attempt_at": now,
                 "created_at": now}
                for r in rows for e in endpoints
                if r.id > e.since_outbox_id and any(fnmatchcase(r.event, p)
                                                    for p in e.events or ())
            ]
            if new:
                ctx.conn.execute(_insert_ignore(ctx.conn, d), new)
            return len(rows)

    # --- claim, send, record ---------------------------------------------------------

    def _due(self, d: Any, tid: int) -> Any:
        e = d.alias("earlier")
        blocked = exists().where(
            e.c.tenant_id == d.c.tenant_id, e.c.endpoint_id == d.c.endpoint_id,
            e.c.customer_id == d.c.customer_id, e.c.status == "pending",
            e.c.outbox_id < d.c.outbox_id)
        return and_(d.c.tenant_id == tid, d.c.status == "pending", ~blocked)

    def claim(self, limit: int, lease_seconds: float) -> tuple[list[_Job], dt.datetime]:
        """Claim up to ``limit`` due deliveries with a lease; returns what to send and
        when the lease ends."""
        d, ep = self._t("deliveries"), self._t("endpoints")
        o = self.crm.table("outbox")
        with self.crm.unit() as ctx:
            now = self.clock()
            until = now + dt.timedelta(seconds=lease_seconds)
            free = or_(d.c.lease_until.is_(None), d.c.lease_until < now)
            ids = list(ctx.conn.scalars(
                select(d.c.id).where(self._due(d, ctx.tenant.id), d.c.next_attempt_at <= now,
                                     free)
                .order_by(d.c.outbox_id, d.c.endpoint_id).limit(limit)))
            if ids and self._locking(ctx.conn):
                # row locks: rows another deliverer is claiming right now are skipped
                ids = sorted(ctx.conn.scalars(
                    select(d.c.id).where(d.c.id.in_(ids)).with_for_update(skip_locked=True)))
            # the lease, on every backend: one UPDATE .. WHERE id = ? AND the lease is
            # free, for each candidate (an executemany), checked by its rowcount; the
            # token names this claim, so what it got can be read back when the
            # driver cannot count an executemany
            self._claims += 1
            token = f"{self.name}/{self._claims}"
            claimed = ids
            if ids:
                res = ctx.conn.execute(
                    d.update().where(d.c.id == bindparam("b_id"), d.c.status == "pending",
                                     free).values(lease_until=until, leased_by=token),
                    [{"b_id": i} for i in ids])
                if not (ctx.conn.dialect.supports_sane_multi_rowcount
                        and res.rowcount == len(ids)):
                    claimed = list(ctx.conn.scalars(select(d.c.id).where(
                        d.c.id.in_(ids), d.c.leased_by == token)))
            if not claimed:
                return [], until
            rows = ctx.conn.execute(
                select(d.c.id, d.c.uid, d.c.attempts, d.c.event, ep.c.url, ep.c.secret,
                       o.c.payload, o.c.created_at)
                .join(ep, ep.c.id == d.c.endpoint_id).join(o, o.c.id == d.c.outbox_id)
                .where(d.c.id.in_(claimed)).order_by(d.c.outbox_id, d.c.endpoint_id)).all()
            slug = ctx.tenant.slug
        jobs = []
        for r in rows:
            body = {"id": r.uid, "event": r.event, "created_at": r.created_at.isoformat(),
                    "tenant": slug, "data": r.payload}
            jobs.append(_Job(r.id, token, r.uid, r.attempts, r.event, r.url, r.secret,
                             json.dumps(body, ensure_ascii=False,
                                        separators=(",", ":")).encode("utf-8")))
        return jobs, until

    def send(self, client: Any, job: _Job, timeout: float | None = None) -> str | None:
        """POST one delivery; None when the receiver answered 2xx, else the error.
        ``timeout`` (seconds) overrides the client's for this request."""
        import httpx

        ts = str(int(self.clock().timestamp()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "crmkit-webhooks/0.1",
            "X-Crmkit-Event": job.event,
            "X-Crmkit-Delivery": job.uid,
            "X-Crmkit-Timestamp": ts,
            "X-Crmkit-Signature": sign(job.secret, ts, job.body),
        }
        kw = {} if timeout is None else {"timeout": timeout}
        try:
            resp = client.post(job.url, content=job.body, headers=headers, **kw)
        except httpx.TimeoutException:
            return "timeout"
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= resp.status_code < 300:
            return None
        return f"HTTP {resp.status_code}: {resp.text[:200]}"[:500]

    def record(self, results: list[tuple[_Job, str | None]], settings: Any,
               report: DeliveryReport) -> None:
        """Store the results of one batch in one short transaction (one executemany);
        a row whose lease this deliverer lost is left alone."""
        d = self._t("deliveries")
        now = self.clock()
        released, done = [], []
        for job, error in results:
            if error is SKIPPED:  # not sent: release the lease only
                released.append({"b_id": job.id, "b_by": job.token})
                continue
            attempts = job.attempts + 1
            row = {"b_id": job.id, "b_by": job.token, "b_attempts": attempts,
                   "b_status": "pending", "b_error": error, "b_next": now, "b_at": None}
            if error is None:
                row |= {"b_status": "delivered", "b_at": now}
                report.delivered += 1
            elif attempts >= settings.max_attempts:
                row["b_status"] = "dead"
                report.dead += 1
            else:
                row["b_next"] = now + dt.timedelta(seconds=backoff(settings, attempts))
                report.failed += 1
            report.attempts += 1
            done.append(row)
        mine = and_(d.c.id == bindparam("b_id"), d.c.leased_by == bindparam("b_by"))
        with self.crm.unit() as ctx:
            if released:
                ctx.conn.execute(d.update().where(mine).values(lease_until=None,
                                                                leased_by=None), released)
            if done:
                ctx.conn.execute(d.update().where(mine).values(
                    lease_until=None, leased_by=None, attempts=bindparam("b_attempts"),
                    status=bindparam("b_status"), last_error=bindparam("b_error"),
                    next_attempt_at=bindparam("b_next"), delivered_at=bindparam("b_at")),
                    done)

    def next_wake(self) -> tuple[dt.datetime | None, bool]:
        """When the earliest pending, unblocked delivery becomes due (None: nothing is
        pending), and whether that moment is the end of another deliverer's lease."""
        d = self._t("deliveries")
        with self.crm.unit(write=False) as ctx:
            due = self._due(d, ctx.tenant.id)
            retry = ctx.conn.execute(select(func.min(d.c.next_attempt_at)).where(
                due, or_(d.c.lease_until.is_(None),
                         d.c.lease_until <= d.c.next_attempt_at))).scalar()
            leased = ctx.conn.execute(select(func.min(d.c.lease_until)).where(
                due, d.c.lease_until > d.c.next_attempt_at)).scalar()
        if retry is None or (leased is not None and leased < retry):
            return leased, leased is not None
        return retry, False

    def pending(self) -> int:
        d = self._t("deliveries")
        with self.crm.unit(write=False) as ctx:
            return ctx.conn.execute(select(func.count()).where(
                d.c.tenant_id == ctx.tenant.id, d.c.status == "pending")).scalar_one()

    def run(self, *, once: bool = False, max_seconds: float | None = None) -> DeliveryReport:
        """Deliver what is due. ``once``: everything due now, then return. Otherwise also
        wait for retries until nothing is pending (or ``max_seconds`` would pass)."""
        with self.crm.unit(write=False) as ctx:
            require_enabled(ctx)
            ctx.check("webhooks.deliver", None, _("the outbox"))
        if max_seconds is not None and (isinstance(max_seconds, bool) or not isinstance(
                max_seconds, int | float) or not 0 < max_seconds <= MAX_RUN_SECONDS):
            from crmkit import ValidationError

            raise ValidationError(_("--max-seconds must be a number greater than 0 "
                                    "and at most {MAX_RUN_SECONDS}, got "
                                    "{max_seconds}").format(
                                      MAX_RUN_SECONDS=MAX_RUN_SECONDS,
                                      max_seconds=str(max_seconds)[:80]))
        settings = self.crm.plugins.settings("webhooks")
        report = DeliveryReport()
        started = self.clock()
        # --max-seconds bounds the whole run: no request starts after the deadline and
        # each one's timeout ends by it (before: only the waits were bounded, so two
        # deliverers against hanging endpoints ran for 24 minutes with 120)
        self._deadline = (started + dt.timedelta(seconds=max_seconds)
                          if max_seconds is not None else None)
        client = self.client(settings.timeout_seconds)
        while True:
            if self._deadline is not None and self.clock() >= self._deadline:
                break
            self.fan_out()
            jobs, until = self.claim(settings.batch_size, settings.lease_seconds)
            if jobs:
                self.record(self._send_all(client, jobs, until, settings), settings,
                            report)
                if self.on_batch is not None:
                    self.on_batch(report)
                continue
            if once:
                break
            wake, leased = self.next_wake()
            if wake is None:
                break
            wait = max((wake - self.clock()).total_seconds(), 0.0) + 0.001
            spent = (self.clock() - started).total_seconds()
            if max_seconds is not None and spent + wait > max_seconds:
                break
            # while another deliverer holds the lease, look again every second: it
            # usually finishes long before its lease ends
            self.sleep(min(wait, POLL_SECONDS) if leased else wait)
        report.pending = self.pending()
        return report

    def _send_all(self, client: Any, jobs: list[_Job], until: dt.datetime,
                  settings: Any) -> list[tuple[_Job, str | None]]:
        """Send a claimed batch, ``concurrency`` requests at a time. A batch holds at most
        one delivery per endpoint and customer (later ones wait behind the earliest
        pending one), so sending it in parallel keeps each customer's order. Jobs that
        could outlive the lease are not sent and their lease is released, so that no
        other deliverer can send them at the same time."""
        margin = dt.timedelta(seconds=settings.timeout_seconds + 1)

        deadline = self._deadline

        def one(job: _Job) -> tuple[_Job, str | None]:
            now = self.clock()
            if now + margin >= until:
                return job, SKIPPED
            if deadline is None:
                return job, self.send(client, job)
            left = (deadline - now).total_seconds()
            if left < 0.05:  # the run's time is up: leave it for the next run
                return job, SKIPPED
            return job, self.send(client, job, timeout=min(settings.timeout_seconds, left))

        if settings.concurrency == 1 or len(jobs) == 1:
            return [one(job) for job in jobs]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=settings.concurrency) as pool:
            return list(pool.map(one, jobs))
