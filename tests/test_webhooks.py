"""webhooks plugin: endpoints, CLI, signed delivery to a real HTTP server on 127.0.0.1.

The receiver (``Receiver``), the settable clock (``Clock``) and ``load_plugin`` are
shared with test_webhooks_delivery.py and test_webhooks_soak.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import importlib.util
import json
import pathlib
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import crmkit

UTC = dt.UTC
HERE = pathlib.Path(__file__).parent


def load_plugin(name: str) -> Any:
    """Import a test plugin from tests/plugins/ by path."""
    spec = importlib.util.spec_from_file_location(f"crmkit_test_{name}",
                                                  HERE / "plugins" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


class Clock:
    """A settable clock for the deliverer: ``clock()`` is now, ``clock.sleep(s)`` and
    ``clock.advance(s)`` move it on."""

    def __init__(self, start: dt.datetime | None = None):
        self.now = start or dt.datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
        self.slept: list[float] = []

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)


class Receiver:
    """A real HTTP server on 127.0.0.1 (port 0) recording every POST.

    ``respond(request) -> status`` or ``(status, delay_seconds)`` decides the answer;
    each recorded request is a dict with ``headers``, ``raw`` (bytes), ``body`` (parsed
    JSON) and ``status``.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.respond: Callable[[dict[str, Any]], Any] = lambda req: 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else delayed ACKs cost 40 ms a request

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                req = {"headers": {k.lower(): v for k, v in self.headers.items()},
                       "raw": raw, "body": json.loads(raw), "path": self.path}
                answer = receiver.respond(req)
                status, delay = answer if isinstance(answer, tuple) else (answer, 0)
                req["status"] = status
                with receiver.lock:
                    receiver.requests.append(req)
                if delay:
                    time.sleep(delay)
                payload = b"ok" if 200 <= status < 300 else b"nope"
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up (timeout)
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def ok(self) -> list[dict[str, Any]]:
        """Requests answered with 2xx, in arrival order."""
        with self.lock:
            return [r for r in self.requests if 200 <= r["status"] < 300]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def webhooks_api() -> tuple[Any, Any]:
    from crmkit_webhooks.deliver import Deliverer
    from crmkit_webhooks.endpoints import Webhooks

    return Webhooks, Deliverer


def verify(secret: str, req: dict[str, Any]) -> bool:
    """What a receiver does: recompute the signature over "<timestamp>.<body>"."""
    ts = req["headers"]["x-crmkit-timestamp"]
    mac = hmac.new(secret.encode(), ts.encode() + b"." + req["raw"], hashlib.sha256)
    return hmac.compare_digest("sha256=" + mac.hexdigest(),
                               req["headers"]["x-crmkit-signature"])


def counts(crm: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    out = {}
    with crm.unit(write=False) as ctx:
        for name in ("outbox", "webhooks_endpoints", "webhooks_deliveries", "audit"):
            t = crm.table(name)
            out[name] = ctx.conn.execute(select(func.count()).select_from(t)).scalar_one()
    return out


# --- CLI ------------------------------------------------------------------------------


def test_cli_add_list_remove_masks_the_secret(cli, crm_factory):
    crm = crm_factory(enable=("webhooks",))
    r = cli("webhooks", "add", "https://example.com/hook", "--event", "customer.*",
            "--event", "document.created")
    assert r.exit_code == 0, r
    assert r.stdout.strip() == "1"
    secret = r.stderr.strip().rsplit(" ", 1)[-1]
    assert secret.startswith("whsec_") and len(secret) == 6 + 48
    listed = cli("webhooks", "list", "--json").json
    assert listed == [{"id": 1, "url": "https://example.com/hook",
                       "events": ["customer.*", "document.created"],
                       "secret": "****" + secret[-4:], "active": True,
                       "created_at": listed[0]["created_at"]}]
    human = cli("webhooks", "list")
    assert secret not in human.stdout and "****" + secret[-4:] in human.stdout
    # the change feed records the endpoint with the secret masked, never in clear
    feed = json.dumps(crm.changes())
    assert secret not in feed and '"****' in feed
    r = cli("webhooks", "remove", "1")
    assert r.exit_code == 0 and r.stdout.strip() == "removed webhook 1"
    assert cli("webhooks", "list", "--json").json == []
    assert [c["op"] for c in crm.changes() if c["table"] == "webhook"] == ["insert", "delete"]


def test_cli_given_secret_is_never_printed(cli, crm_factory):
    crm_factory(enable=("webhooks",))
    r = cli("webhooks", "add", "http://127.0.0.1:1/x", "--secret", "short-secret")
    assert r.exit_code == 0 and r.stdout.strip() == "1"
    assert "short-secret" not in r.stdout + r.stderr
    r = cli("webhooks", "add", "http://127.0.0.1:1/y", "--secret", "a-long-secret-0123456789",
            "--json")
    assert r.json["secret"] == "****" and r.json["events"] == ["*"]
    # 12 characters: too short to show any of it; 24 characters: the last four
    assert [w["secret"] for w in cli("webhooks", "list", "--json").json] == ["****",
                                                                             "****6789"]


@pytest.mark.parametrize("args, message", [
    (("ftp://example.com",), "invalid webhook URL 'ftp://example.com'"),
    (("https://example.com", "--event", "customer created"),
     "invalid event pattern 'customer created'"),
    (("https://example.com", "--secret", "short"),
     "webhook secret must be 8 to 200 characters long, got 5"),
])
def test_cli_bad_input_changes_nothing(cli, crm_factory, args, message):
    crm = crm_factory(enable=("webhooks",))
    before = counts(crm)
    r = cli("webhooks", "add", *args)
    assert r.exit_code == 1 and message in r.stderr
    assert counts(crm) == before


def test_cli_remove_unknown_and_not_enabled(cli, crm_factory):
    crm = crm_factory()
    r = cli("webhooks", "list")
    assert r.exit_code == 1 and "crmkit plugins enable webhooks" in r.stderr
    crm.plugins.enable("webhooks")
    r = cli("webhooks", "remove", "99")
    assert r.exit_code == 1 and r.stderr.strip() == "Error: webhook 99 not found"


def test_cli_sales_user_may_not_add(cli, crm_factory):
    crm = crm_factory(enable=("webhooks",))
    crm.users.add("li", role="sales")
    r = cli("webhooks", "add", "https://example.com/h", user="li")
    assert r.exit_code == 1 and "may not webhooks.manage" in r.stderr


def test_settings_are_validated(crm_factory):
    crm = crm_factory(enable=("webhooks",))
    with pytest.raises(crmkit.ValidationError,
                       match="max_attempts must be a whole number from 1 to 100"):
        crm.plugins.set("webhooks", "max_attempts", 0)
    with pytest.raises(crmkit.ValidationError, match="lease_seconds"):
        crm.plugins.set("webhooks", "timeout_seconds", 60)
    assert crm.plugins.settings("webhooks").max_attempts == 8


# --- delivery -------------------------------------------------------------------------


def test_cli_deliver_posts_a_signed_event(cli, crm_factory, receiver):
    crm = crm_factory(enable=("webhooks",))
    secret = "s3cret-for-tests"
    assert cli("webhooks", "add", receiver.url, "--secret", secret).exit_code == 0
    c = crm.customers.add(name="上海大众", phone="021-1234")
    r = cli("webhooks", "deliver", "--once", "--json")
    assert r.exit_code == 0, r
    assert r.json == {"delivered": 1, "failed": 0, "dead": 0, "pending": 0, "attempts": 1}
    [req] = receiver.requests
    h, body = req["headers"], req["body"]
    assert verify(secret, req)
    assert not verify("another-secret", req)
    assert h["x-crmkit-event"] == "customer.created"
    assert h["x-crmkit-delivery"] == body["id"]
    assert abs(int(h["x-crmkit-timestamp"]) - time.time()) < 60
    assert body["event"] == "customer.created" and body["tenant"] == "default"
    assert body["data"]["id"] == c.id and body["data"]["name"] == "上海大众"
    assert body["data"]["phone"] == "021-1234"
    st = cli("webhooks", "status", "--json").json
    assert st == {"endpoints": [{"id": 1, "url": receiver.url, "pending": 0, "delivered": 1,
                                 "dead": 0}], "dead": []}
    again = cli("webhooks", "deliver", "--once", "--json").json
    assert again["attempts"] == 0 and len(receiver.requests) == 1


def test_patterns_select_events_and_new_endpoints_get_only_new_events(crm_factory, receiver):
    Webhooks, Deliverer = webhooks_api()
    crm = crm_factory(enable=("webhooks",))
    wh = Webhooks(crm)
    old = crm.customers.add(name="Before")  # emitted before any endpoint: not sent
    a = wh.add(receiver.url + "/a", ["customer.*"])
    b = wh.add(receiver.url + "/b", ["document.*", "grade.changed"])
    wh.add(receiver.url + "/all", ["*"])
    c = crm.customers.add(name="Acme")
    crm.activities.add(c.id, kind="call", subject="hello")
    crm.documents.add(c.id, kind="quote", number="Q-1", amount="1234.50")
    with crm.unit() as ctx:  # what another plugin does
        ctx.emit("grade.changed", {"customer_id": c.id, "grade": "A"}, customer_id=c.id)
    report = Deliverer(crm).run(once=True)
    seen: dict[str, list[str]] = {}
    for req in receiver.ok():
        seen.setdefault(req["path"].rsplit("/", 1)[-1], []).append(req["body"]["event"])
    assert seen == {
        "a": ["customer.created"],
        "b": ["document.created", "grade.changed"],
        "all": ["customer.created", "activity.logged", "document.created", "grade.changed"],
    }
    assert report.delivered == 1 + 2 + 4
    assert all(r["body"]["data"].get("id") != old.id or r["body"]["event"] != "customer.created"
               for r in receiver.ok() if r["body"]["event"] == "customer.created")
    doc = next(r["body"]["data"] for r in receiver.ok() if r["path"].endswith("/b")
               and r["body"]["event"] == "document.created")
    assert doc["amount"] == "1234.50" and doc["number"] == "Q-1"
    assert a["id"] == 1 and b["id"] == 2


def test_updates_carry_changes(crm_factory, receiver):
    Webhooks, Deliverer = webhooks_api()
    crm = crm_factory(enable=("webhooks",))
    Webhooks(crm).add(receiver.url)
    c = crm.customers.add(name="Acme")
    crm.customers.update(c.id, phone="010-5555", tags=["vip"])
    act = crm.activities.add(c.id, kind="task", subject="call back", due_on="2026-11-30")
    crm.activities.done(act.id)
    doc = crm.documents.add(c.id, kind="invoice", number="INV-1", amount="100.00",
                            issued_on="2026-11-01")
    crm.documents.set_status(doc.id, "void")
    crm.customers.archive(c.id)
    Deliverer(crm).run(once=True)
    events = [(r["body"]["event"], r["body"]["data"].get("changes")) for r in receiver.ok()]
    names = [e for e, _ in events]
    assert names == ["customer.created", "customer.updated", "activity.logged",
                     "activity.updated", "customer.updated", "document.created",
                     "document.updated", "customer.archived"]
    assert events[1][1] == {"phone": "010-5555", "tags": ["vip"]}
    assert "done_at" in events[3][1]
    # the built-in lifecycle plugin (called before plugins) activates the customer on its
    # first invoice, inside the document's transaction: that update is emitted first
    assert events[4][1] == {"status": "active"}
    assert events[6][1] == {"status": "void"}


def test_webhooks_plugin_is_conformant():
    from crmkit.testing import assert_conformant

    assert_conformant("crmkit_webhooks")


# One test per lifecycle hook the plugin implements: each change leaves its event in the
# outbox, with the record as payload (and `changes` for updates), in the change's
# transaction; without the plugin enabled there is none.

@pytest.fixture
def hooked(crm_factory):
    crm = crm_factory(enable=("webhooks",))
    return crm, crm.customers.add(name="上海大众")


def _events(crm, event):
    from crmkit.testing import emitted_events

    return emitted_events(crm, event)


def test_crm_customers_created_emits_customer_created(hooked):
    crm, c = hooked
    [e] = _events(crm, "customer.created")
    assert (e["customer_id"], e["payload"]["name"]) == (c.id, "上海大众")
    assert e["payload"] == crmkit.to_dict(c)
    # a bulk insert: one event per customer, in insertion order, the same payload
    crm.customers.add_many({"name": f"客户{i}"} for i in range(3))
    new = crm.customers.list()[1:]
    assert [(e["customer_id"], e["payload"]) for e in _events(crm, "customer.created")[1:]
            ] == [(x.id, crmkit.to_dict(x)) for x in new]
    crm.plugins.disable("webhooks")
    crm.customers.add(name="B")
    assert len(_events(crm, "customer.created")) == 4  # disabled: no event


def test_crm_customer_updated_emits_the_changes(hooked):
    crm, c = hooked
    crm.customers.update(c.id, phone="021-1234")
    [e] = _events(crm, "customer.updated")
    assert e["customer_id"] == c.id and e["payload"]["phone"] == "021-1234"
    assert "phone" in e["payload"]["changes"]


def test_crm_customer_archived_emits_customer_archived(hooked):
    crm, c = hooked
    crm.customers.archive(c.id)
    assert [e["customer_id"] for e in _events(crm, "customer.archived")] == [c.id]


def test_crm_activity_logged_and_crm_activity_updated_emit_their_events(hooked):
    crm, c = hooked
    a = crm.activities.add(c.id, kind="call", subject="回访")
    crm.activities.update(a.id, subject="回访 2")
    [logged] = _events(crm, "activity.logged")
    [updated] = _events(crm, "activity.updated")
    assert (logged["customer_id"], logged["payload"]["subject"]) == (c.id, "回访")
    assert updated["payload"]["subject"] == "回访 2" and "subject" in updated["payload"][
        "changes"]


def test_crm_document_created_and_crm_document_updated_emit_their_events(hooked):
    crm, c = hooked
    d = crm.documents.add(c.id, kind="invoice", number="INV-1", amount="100.00",
                          issued_on="2026-11-01")
    crm.documents.set_status(d.id, "void")
    [created] = _events(crm, "document.created")
    [updated] = _events(crm, "document.updated")
    assert (created["payload"]["number"], created["payload"]["amount"]) == ("INV-1", "100.00")
    assert updated["payload"]["status"] == "void"
