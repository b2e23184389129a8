"""Issue 20.4: e-mail goes out after commit, claimed with a lease, and what is printed
as delivered was delivered.

Before: ``crm_deliver`` sent over SMTP inside the transaction that records the
reminders, so a slow server held the SQLite write lock (a concurrent ``customer add``
waited), and a server that was down printed every reminder, then rolled back (exit 1).
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time

from sqlalchemy import select, update
from test_email import Inbox, sample, setup


class SlowServer:
    """Accepts a connection and says nothing for ``delay`` seconds, then hangs up."""

    def __init__(self, delay: float):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.accepted = threading.Event()
        self.delay = delay
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        self.accepted.set()
        time.sleep(self.delay)
        conn.close()

    def close(self) -> None:
        self.sock.close()


def test_a_slow_smtp_server_does_not_block_other_writers(crm_factory):
    slow = SlowServer(delay=3.0)
    crm = setup(crm_factory, slow.port, timeout_seconds=10)
    sample(crm)
    result: dict = {}

    def send() -> None:
        result["sent"] = crm.reminders.send()

    sender = threading.Thread(target=send)
    sender.start()
    try:
        assert slow.accepted.wait(10), "the sender never connected"
        other = crm_factory()
        started = time.monotonic()
        other.customers.add(name="并发写入")
        waited = time.monotonic() - started
    finally:
        sender.join(20)
        slow.close()
    # the SMTP server stalls for 3 s; the reminders were committed before connecting,
    # so the other writer does not wait for it (before the fix: about 3 s, or "locked")
    assert waited < 1.5, waited
    delivered, already = result["sent"]
    assert (len(delivered), already) == (3, 0)
    q = crm.table("email_queue")
    with crm.unit(write=False) as ctx:
        rows = ctx.conn.execute(select(q.c.status, q.c.attempts, q.c.last_error)).all()
    # two digests (li, wang), not sent, waiting for a retry
    assert [(r.status, r.attempts) for r in rows] == [("pending", 1), ("pending", 1)]
    assert all(r.last_error for r in rows)


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _overdue(cli, crm_factory, port: int):
    crm = crm_factory(enable=("receivables", "email"))
    for k, v in {"host": "127.0.0.1", "port": port, "sender": "crm@example.com",
                 "owner_emails": {"admin": "boss@example.com"}}.items():
        crm.plugins.set("email", k, v)
    c = crm.customers.add(name="上海大众", owner="admin")
    crm.documents.add(c.id, kind="invoice", number="INV-9", amount="100.00",
                      issued_on="2026-10-01", due_on="2026-11-01")
    return crm


def test_smtp_down_prints_the_reminders_that_were_recorded_and_says_the_mail_waits(
        cli, crm_factory):
    crm = _overdue(cli, crm_factory, _dead_port())
    r = cli("reminders", "--send")
    # before: the reminder was printed as delivered, then the send failed with exit 1
    # and nothing was recorded
    assert r.exit_code == 0, r
    assert "INV-9" in r.stdout
    assert "email: 0 message(s) sent, 1 not sent" in r.stdout
    assert "crmkit jobs run email.deliver" in r.stdout
    assert "1 delivered, 0 already delivered" in r.stdout
    again = cli("reminders", "--send")
    assert again.exit_code == 0 and "0 delivered, 1 already delivered" in again.stdout
    # the server comes back; the job sends the queued digest once the retry is due
    box = Inbox()
    try:
        crm.plugins.set("email", "port", box.port)
        q = crm.table("email_queue")
        with crm.unit() as ctx:
            ctx.conn.execute(update(q).values(
                next_attempt_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        r = cli("jobs", "run", "email.deliver", "--json")
        assert r.exit_code == 0, r
        assert r.json[0]["detail"] == "1 sent, 0 failed (will retry), 0 dead, 0 pending"
        assert [m["to"] for m in box.messages] == [["boss@example.com"]]
        assert "INV-9" in box.messages[0]["body"]
        r = cli("jobs", "run", "email.deliver", "--json")
        assert r.json[0]["detail"].startswith("0 sent") and len(box.messages) == 1
    finally:
        box.close()


def test_printed_as_sent_only_when_the_server_took_it(cli, crm_factory):
    box = Inbox()
    try:
        _overdue(cli, crm_factory, box.port)
        r = cli("reminders", "--send")
        assert r.exit_code == 0, r
        assert "email: 1 message(s) sent" in r.stdout and len(box.messages) == 1
    finally:
        box.close()


def test_a_claimed_message_is_not_sent_by_a_second_sender_until_the_lease_ends(
        crm_factory):
    from crmkit_email.queue import Sender

    crm = setup(crm_factory, _dead_port())
    sample(crm)
    crm.reminders.send()  # two digests queued (the send failed: attempts 1)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=31)
    a = Sender(crm, clock=lambda: later, name="a")
    b = Sender(crm, clock=lambda: later, name="b")
    jobs, until = a.claim(10, 300)
    assert len(jobs) == 2
    assert b.claim(10, 300)[0] == []  # a holds both
    # a dies without recording; once its lease has passed, b may take them
    after = until + dt.timedelta(seconds=1)
    b2 = Sender(crm, clock=lambda: after, name="b2")
    assert len(b2.claim(10, 300)[0]) == 2
