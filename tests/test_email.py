"""email plugin: reminders sent through a real SMTP server (aiosmtpd on 127.0.0.1).

Reminders come from tests/plugins/email_reminders.py (open tasks due, overdue invoices
shaped like the receivables plugin's); the CLI fixture cannot see that plugin, so the
tests drive ``crm.reminders.send`` through the Python API.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from typing import Any

import pytest
from sqlalchemy import select
from test_webhooks import load_plugin

import crmkit

TODAY = "2026-11-22"


class Inbox:
    """An aiosmtpd server on 127.0.0.1 collecting every message it accepts."""

    def __init__(self, password: str | None = None):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.messages: list[dict[str, Any]] = []
        self.logins: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        inbox = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                with inbox.lock:
                    inbox.messages.append({
                        "to": sorted(envelope.rcpt_tos), "from": envelope.mail_from,
                        "subject": str(msg["Subject"]), "header_to": str(msg["To"]),
                        "body": msg.get_body(("plain",)).get_content()})
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, auth_data):
            user = auth_data.login.decode()
            pw = auth_data.password.decode()
            inbox.logins.append((user, pw))
            return AuthResult(success=(password is not None and pw == password))

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        kw: dict[str, Any] = {}
        if password is not None:
            kw = {"authenticator": authenticator, "auth_require_tls": False}
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kw)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


@pytest.fixture
def inbox():
    box = Inbox()
    yield box
    box.close()


def setup(crm_factory, port: int, **settings: Any) -> Any:
    crm = crm_factory(plugins=[load_plugin("email_reminders")])
    crm.plugins.enable("emailtest", "email")
    crm.users.add("li", role="sales")
    crm.users.add("wang", role="sales")
    values = {"host": "127.0.0.1", "port": port, "sender": "crm@example.com",
              "owner_emails": {"li": "li@example.com", "wang": "wang@example.com"},
              **settings}
    for k, v in values.items():
        crm.plugins.set("email", k, v)
    return crm


def sample(crm: Any) -> dict[str, Any]:
    """li owns 上海大众 (to follow up, one overdue invoice) and 广州 (nothing due); wang
    owns 北京华信 (to follow up)."""
    sh = crm.customers.add(name="上海大众", owner="li", tags=["follow-up"])
    bj = crm.customers.add(name="北京华信", owner="wang", tags=["follow-up"])
    crm.customers.add(name="广州", owner="li")
    crm.documents.add(sh.id, kind="invoice", number="INV-001", amount="1234.50",
                      issued_on="2026-10-02", due_on="2026-11-01")
    crm.contacts.add(sh.id, "张伟", email="zhang@vw.example.com")
    crm.contacts.add(sh.id, "Li Na", email="lina@vw.example.com")
    crm.contacts.add(sh.id, "No Mail")
    return {"sh": sh, "bj": bj}


def test_crm_deliver_one_digest_per_owner_in_chinese_and_nothing_twice(crm_factory, inbox):
    crm = setup(crm_factory, inbox.port)
    sample(crm)
    delivered, already = crm.reminders.send()
    # li: follow up 上海大众 + its overdue invoice; wang: follow up 北京华信
    assert (len(delivered), already) == (3, 0)
    assert [m["to"] for m in inbox.messages] == [["li@example.com"], ["wang@example.com"]]
    li, wang = inbox.messages
    assert li["from"] == "crm@example.com"
    assert li["subject"] == "[Default] 2026-11-22 的提醒（2 项）"
    assert wang["subject"] == "[Default] 2026-11-22 的提醒（1 项）"
    assert "li，您好" in li["body"]
    # sorted by due date: the invoice (due 11-01) before the follow-up (today)
    assert "1. Invoice INV-001 is overdue" in li["body"] and "客户：上海大众" in li["body"]
    assert "2. 跟进 上海大众" in li["body"] and "广州" not in li["body"]
    # INV-001 due 2026-11-01: 2026-11-22 - 2026-11-01 = 21 days overdue
    assert "单据：INV-001" in li["body"] and "逾期天数：21" in li["body"]
    assert "金额：1,234.50 CNY" in li["body"]
    assert "1. 跟进 北京华信" in wang["body"] and "上海" not in wang["body"]
    # dun_customers is off: nothing went to the customer's contacts
    assert not any("vw.example.com" in a for m in inbox.messages for a in m["to"])
    # a second send finds everything delivered: no mail
    delivered, already = crm.reminders.send()
    assert (delivered, already) == ([], 3)
    assert len(inbox.messages) == 2


def test_english_digest(crm_factory, inbox):
    crm = setup(crm_factory, inbox.port, language="en")
    sample(crm)
    crm.reminders.send()
    li = inbox.messages[0]
    assert li["subject"] == "[Default] Your reminders for 2026-11-22 (2)"
    assert li["body"].startswith("Hello li,")
    assert "Customer: 上海大众" in li["body"] and "Days overdue: 21" in li["body"]
    assert "Amount: 1,234.50 CNY" in li["body"]


@pytest.mark.parametrize("language, subject, line", [
    ("zh", "付款提醒：上海大众 有 1 张逾期发票",
     "- INV-001，到期日 2026-11-01，逾期 21 天，金额 1,234.50 CNY"),
    ("en", "Payment reminder: 1 overdue invoice for 上海大众",
     "- INV-001, due 2026-11-01, 21 days overdue, 1,234.50 CNY"),
])
def test_dunning_goes_to_the_customers_contacts(crm_factory, inbox, language, subject, line):
    crm = setup(crm_factory, inbox.port, language=language, dun_customers=True)
    sample(crm)
    crm.reminders.send()
    # two digests (li, wang) and one dunning letter for 上海大众's two contacts with e-mail
    assert len(inbox.messages) == 3
    [dun] = [m for m in inbox.messages if "vw.example.com" in m["header_to"]]
    assert dun["to"] == ["lina@vw.example.com", "zhang@vw.example.com"]
    assert "张伟" in dun["header_to"]
    assert dun["subject"] == subject
    assert line in dun["body"]
    assert "1,234.50 CNY" in dun["body"].split(line, 1)[1]  # the total
    crm.reminders.send()
    assert len(inbox.messages) == 3


def test_dunning_falls_back_to_the_customer_address(crm_factory, inbox):
    crm = setup(crm_factory, inbox.port, dun_customers=True, owner_emails={})
    c = crm.customers.add(name="Solo Ltd", email="ap@solo.example.com")
    crm.documents.add(c.id, kind="invoice", number="S-1", amount="10.00",
                      issued_on="2026-10-01", due_on="2026-11-21")
    crm.reminders.send()
    # no owner has an address: only the dunning letter goes out, to the customer
    assert [m["to"] for m in inbox.messages] == [["ap@solo.example.com"]]
    assert "逾期 1 天" in inbox.messages[0]["body"]  # 11-22 - 11-21 = 1 day


def test_password_comes_from_the_environment_and_is_never_stored(crm_factory, monkeypatch):
    box = Inbox(password="pa55-word")
    try:
        crm = setup(crm_factory, box.port, username="mailer",
                    password_env="CRMKIT_TEST_SMTP_PASSWORD")
        sample(crm)
        monkeypatch.delenv("CRMKIT_TEST_SMTP_PASSWORD", raising=False)
        with pytest.raises(crmkit.ValidationError,
                           match="environment variable 'CRMKIT_TEST_SMTP_PASSWORD'"):
            crm.reminders.send()
        assert box.messages == []
        assert crm.reminders.delivered("emailtest:follow_up:1") is False
        monkeypatch.setenv("CRMKIT_TEST_SMTP_PASSWORD", "pa55-word")
        delivered, _ = crm.reminders.send()
        assert len(delivered) == 3 and len(box.messages) == 2
        assert box.logins == [("mailer", "pa55-word")]
        ps = crm.table("plugin_state")
        with crm.unit(write=False) as ctx:
            stored = ctx.conn.execute(select(ps.c.settings).where(
                ps.c.plugin == "email")).scalar_one()
        assert "pa55-word" not in json.dumps(stored) and "pa55-word" not in json.dumps(
            crm.changes())
        assert stored["password_env"] == "CRMKIT_TEST_SMTP_PASSWORD"
    finally:
        box.close()


def test_smtp_down_keeps_the_mails_queued_and_a_later_run_sends_them(crm_factory):
    """Issue 20.4: the reminders are recorded (the terminal saw them), the mails wait
    in the queue; a later sender (past the 30 s backoff) sends them."""
    import datetime as dt

    from crmkit_email.queue import Sender

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    crm = setup(crm_factory, dead_port)
    sample(crm)
    delivered, already = crm.reminders.send()
    assert (len(delivered), already) == (3, 0)
    assert crm.reminders.delivered("emailtest:follow_up:1") is True
    box = Inbox()
    try:
        crm.plugins.set("email", "port", box.port)
        assert Sender(crm).run().sent == 0  # the first retry waits 30 s
        later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=31)
        report = Sender(crm, clock=lambda: later).run()
        assert (report.sent, report.pending) == (2, 0) and len(box.messages) == 2
        assert Sender(crm, clock=lambda: later).run().sent == 0  # nothing twice
    finally:
        box.close()


@pytest.mark.parametrize("key, value, message", [
    ("language", "fr", "setting language must be one of zh, en, got 'fr'"),
    ("password_env", "my password", "setting password_env must be the NAME"),
    ("port", 70000, "setting port must be a whole number from 1 to 65535"),
    ("lease_seconds", 20, r"setting lease_seconds \(20\) must exceed timeout_seconds \(30\) by "
                          "more than 1"),
    ("owner_emails", {"li": "not-an-address"}, "setting owner_emails must map"),
    ("password", "secret", "unknown setting 'password' of email"),
])
def test_bad_settings_are_refused(crm_factory, key, value, message):
    crm = crm_factory(enable=("email",))
    before = crm.changes()
    with pytest.raises(crmkit.ValidationError, match=message):
        crm.plugins.set("email", key, value)
    assert crm.changes() == before
    assert crm.plugins.settings("email").language == "zh"


def test_cli_enables_and_sets_email(cli, crm_factory):
    crm_factory()
    assert cli("plugins", "enable", "email").exit_code == 0
    r = cli("plugins", "set", "email", "owner_emails", '{"admin": "boss@example.com"}')
    assert r.exit_code == 0, r
    r = cli("plugins", "set", "email", "language", "de")
    assert r.exit_code == 1 and "'de'" in r.stderr


def test_email_plugin_is_conformant():
    from crmkit.testing import assert_conformant

    assert_conformant("crmkit_email")


def test_owner_digest_goes_to_the_users_own_address_unless_overridden(crm_factory, inbox):
    crm = crm_factory(plugins=[load_plugin("email_reminders")])
    crm.plugins.enable("emailtest", "email")
    crm.users.add("li", role="sales", email="li.own@example.com")
    crm.users.add("wang", role="sales", email="wang.own@example.com")
    for k, v in {"host": "127.0.0.1", "port": inbox.port, "sender": "crm@example.com",
                 "owner_emails": {"wang": "wang.override@example.com"}}.items():
        crm.plugins.set("email", k, v)
    sample(crm)
    crm.reminders.send()
    # li has no override: the user's e-mail; wang's override wins over his own address
    assert sorted(m["to"][0] for m in inbox.messages) == ["li.own@example.com",
                                                          "wang.override@example.com"]
