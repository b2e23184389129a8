"""Soak: 10,000 events, a receiver failing 30% of requests at random (seeded).

Every event reaches the receiver's de-duplicated view exactly once (by
X-Crmkit-Delivery), none is lost, and no event is answered 2xx twice. Runs on SQLite
only: on the servers the same path is covered by the smaller delivery tests and the
10,000 per-row HTTP round trips take minutes there.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest
from test_webhooks import Clock, Receiver, webhooks_api

N = 10_000


@pytest.mark.backends("sqlite")  # soak test runs on SQLite only (slow on the servers)
def test_soak_10000_events_with_30_percent_failures(crm_factory):
    crm = crm_factory(enable=("webhooks",))
    Webhooks, Deliverer = webhooks_api()
    receiver = Receiver()
    try:
        rng = random.Random(20261122)
        lock = threading.Lock()

        def respond(req):
            with lock:
                return 500 if rng.random() < 0.30 else 200

        receiver.respond = respond
        crm.plugins.set("webhooks", "batch_size", 1000)
        crm.plugins.set("webhooks", "max_attempts", 30)  # 0.3**30: nothing goes dead
        crm.plugins.set("webhooks", "max_delay_seconds", 16)
        Webhooks(crm).add(receiver.url, ["customer.*"], "soak-secret-0001")
        started = time.monotonic()
        # 10,000 customer.created events, written in one unit by the bulk path
        assert crm.customers.add_many({"name": f"客户{i:05d}"} for i in range(N)) == N
        clock = Clock()
        deliverer = Deliverer(crm, clock=clock, sleep=clock.sleep)
        report = deliverer.run()
        deliverer.close()
        elapsed = time.monotonic() - started

        ok = Counter(r["headers"]["x-crmkit-delivery"] for r in receiver.ok())
        assert len(ok) == N  # every event, none lost
        assert set(ok.values()) == {1}  # and none delivered (2xx) twice
        names = {r["body"]["data"]["name"] for r in receiver.ok()}
        assert names == {f"客户{i:05d}" for i in range(N)}
        failed = len(receiver.requests) - N
        assert report.delivered == N and report.failed == failed and report.pending == 0
        # about 30% of all attempts fail: N / 0.7 - N ~ 4,286 failures expected
        assert 3_800 < failed < 4_800
        st = Webhooks(crm).status()["endpoints"][0]
        assert (st["delivered"], st["pending"], st["dead"]) == (N, 0, 0)
        assert elapsed < 180, f"soak took {elapsed:.0f} s"  # ~25 s on an idle 2-core box
    finally:
        receiver.close()
