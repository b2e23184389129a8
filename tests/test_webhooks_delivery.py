"""webhooks delivery rules against a real HTTP server: retries with backoff, timeouts,
dead letters, per-customer order, rollback, two deliverers at once."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from test_webhooks import Clock, Receiver, counts, load_plugin, webhooks_api

import crmkit

SECRET = "test-secret-0001"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def setup(crm, receiver, **settings):
    Webhooks, Deliverer = webhooks_api()
    for k, v in settings.items():
        crm.plugins.set("webhooks", k, v)
    Webhooks(crm).add(receiver.url, ["*"], SECRET)
    clock = Clock()
    return Deliverer(crm, clock=clock, sleep=clock.sleep), clock


def due_at(crm):
    from sqlalchemy import select

    d = crm.table("webhooks_deliveries")
    with crm.unit(write=False) as ctx:
        return [(r.status, r.attempts, r.next_attempt_at) for r in
                ctx.conn.execute(select(d).order_by(d.c.id))]


def test_failures_retry_with_exponential_backoff_then_dead(crm_factory, receiver):
    crm = crm_factory(enable=("webhooks",))
    deliverer, clock = setup(crm, receiver, base_delay_seconds=2, max_attempts=3)
    receiver.respond = lambda req: 500
    crm.customers.add(name="Acme")
    t0 = clock()
    r = deliverer.run(once=True)
    assert (r.failed, r.dead, r.pending) == (1, 0, 1)
    # attempt 1 failed at t0: next attempt at t0 + 2 s (base 2 * 2**0)
    assert due_at(crm) == [("pending", 1, t0.replace(second=2))]
    clock.advance(1.9)
    assert deliverer.run(once=True).attempts == 0  # not due yet
    clock.advance(0.1)
    r = deliverer.run(once=True)
    assert (r.attempts, r.failed) == (1, 1)
    # attempt 2 failed at t0 + 2: next at t0 + 2 + 4 = t0 + 6 (base 2 * 2**1)
    assert due_at(crm) == [("pending", 2, t0.replace(second=6))]
    clock.advance(4)
    r = deliverer.run(once=True)
    assert (r.dead, r.pending) == (1, 0)  # the third attempt is the last (max_attempts 3)
    assert len(receiver.requests) == 3
    assert len({q["headers"]["x-crmkit-delivery"] for q in receiver.requests}) == 1
    Webhooks, _ = webhooks_api()
    st = Webhooks(crm).status()
    assert st["endpoints"][0]["dead"] == 1 and st["endpoints"][0]["pending"] == 0
    [dead] = st["dead"]
    assert dead["event"] == "customer.created" and dead["attempts"] == 3
    assert dead["last_error"] == "HTTP 500: nope"
    clock.advance(3600)
    assert deliverer.run(once=True).attempts == 0  # dead stays dead


def test_backoff_is_capped(crm_factory):
    from crmkit_webhooks.deliver import backoff

    crm = crm_factory(enable=("webhooks",))
    crm.plugins.set("webhooks", "max_delay_seconds", 20)
    s = crm.plugins.settings("webhooks")
    # base 2: 2, 4, 8, 16, then 32 capped at 20
    assert [backoff(s, n) for n in range(1, 6)] == [2, 4, 8, 16, 20]


def test_timeout_is_retried(crm_factory, receiver):
    crm = crm_factory(enable=("webhooks",))
    deliverer, clock = setup(crm, receiver, timeout_seconds=0.3, lease_seconds=10)
    first = threading.Event()

    def respond(req):
        if not first.is_set():
            first.set()
            return 200, 1.0  # answers after 1 s: too late for a 0.3 s timeout
        return 200

    receiver.respond = respond
    crm.customers.add(name="Slow Co")
    r = deliverer.run(once=True)
    assert (r.failed, r.pending) == (1, 1)
    Webhooks, _ = webhooks_api()
    assert due_at(crm)[0][:2] == ("pending", 1)
    clock.advance(2)
    r = deliverer.run(once=True)
    assert (r.delivered, r.pending) == (1, 0)
    ids = [q["headers"]["x-crmkit-delivery"] for q in receiver.requests]
    assert len(ids) == 2 and ids[0] == ids[1]


def test_loop_mode_sleeps_until_each_retry(crm_factory, receiver):
    crm = crm_factory(enable=("webhooks",))
    deliverer, clock = setup(crm, receiver, base_delay_seconds=2)
    answers = iter([500, 503, 200])
    receiver.respond = lambda req: next(answers)
    crm.customers.add(name="Acme")
    t0 = clock()
    r = deliverer.run()
    assert (r.delivered, r.failed, r.pending) == (1, 2, 0)
    # failed at t0, retried at t0+2, failed, retried at t0+2+4: about 6 s of sleeping
    assert 6 <= (clock() - t0).total_seconds() < 6.01


def test_events_of_one_customer_arrive_in_order(crm_factory, receiver):
    crm = crm_factory(enable=("webhooks",))
    deliverer, clock = setup(crm, receiver)
    a = crm.customers.add(name="A")
    crm.customers.update(a.id, phone="1")
    crm.customers.update(a.id, phone="2")
    b = crm.customers.add(name="B")
    receiver.respond = lambda req: (500 if req["body"]["data"]["name"] == "A"
                                    and req["body"]["event"] == "customer.created" else 200)
    r = deliverer.run(once=True)
    # A's creation failed: A's two updates wait behind it; B is independent
    assert (r.delivered, r.failed, r.pending) == (1, 1, 3)
    assert [q["body"]["data"]["id"] for q in receiver.ok()] == [b.id]
    receiver.respond = lambda req: 200
    clock.advance(2)
    r = deliverer.run(once=True)
    assert (r.delivered, r.pending) == (3, 0)
    a_events = [(q["body"]["event"], q["body"]["data"]["phone"]) for q in receiver.ok()
                if q["body"]["data"]["id"] == a.id]
    assert a_events == [("customer.created", None), ("customer.updated", "1"),
                        ("customer.updated", "2")]


def test_a_dead_event_unblocks_the_next(crm_factory, receiver):
    crm = crm_factory(enable=("webhooks",))
    deliverer, _ = setup(crm, receiver, max_attempts=1)
    a = crm.customers.add(name="A")
    crm.customers.update(a.id, phone="1")
    receiver.respond = lambda req: 500 if req["body"]["event"] == "customer.created" else 200
    r = deliverer.run(once=True)
    assert (r.dead, r.delivered, r.pending) == (1, 1, 0)
    assert [q["body"]["event"] for q in receiver.requests] == ["customer.created",
                                                               "customer.updated"]


def test_rolled_back_changes_send_nothing(crm_factory, receiver):
    crm = crm_factory(enable=("webhooks",), plugins=[load_plugin("webhooks_failer")])
    crm.plugins.enable("zz_failer")
    deliverer, _ = setup(crm, receiver)
    before = counts(crm)
    with pytest.raises(crmkit.ValidationError, match="refused by zz_failer"):
        crm.customers.add(name="bad")
    with pytest.raises(crmkit.PluginError, match="zz_failer"):
        crm.customers.add(name="坏")  # webhooks emitted, then the transaction rolled back
    assert counts(crm) == before
    assert deliverer.run(once=True).attempts == 0
    assert receiver.requests == []
    crm.customers.add(name="good")
    assert deliverer.run(once=True).delivered == 1
    assert [q["body"]["data"]["name"] for q in receiver.requests] == ["good"]


def test_two_deliverers_deliver_each_event_once(crm_factory, receiver):
    Webhooks, Deliverer = webhooks_api()
    crm = crm_factory(enable=("webhooks",))
    crm.plugins.set("webhooks", "batch_size", 3)
    Webhooks(crm).add(receiver.url, ["*"], SECRET)
    crm.customers.add_many({"name": f"C{i}"} for i in range(40))
    receiver.respond = lambda req: (200, 0.002)
    other = crm_factory(init=False)  # a second process, in effect
    errors = []

    def work(c):
        try:
            Deliverer(c).run()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in (crm, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    per_id = Counter(q["headers"]["x-crmkit-delivery"] for q in receiver.requests)
    assert len(per_id) == 40 and set(per_id.values()) == {1}
    assert sorted(q["body"]["data"]["name"] for q in receiver.requests) == sorted(
        f"C{i}" for i in range(40))
    assert Webhooks(crm).status()["endpoints"][0]["delivered"] == 40
