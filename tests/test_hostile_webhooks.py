"""Issue 20.6: ``webhooks deliver --max-seconds`` bounds the whole run, and each
request's timeout fits inside it. Before, the limit was checked only when there was
nothing to send: against hanging endpoints each request waited its full timeout."""

from __future__ import annotations

import time

import pytest
from test_webhooks import Receiver, webhooks_api

import crmkit


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_max_seconds_bounds_a_run_against_a_hanging_endpoint(crm_factory, receiver):
    crm = crm_factory(enable=("webhooks",))
    Webhooks, Deliverer = webhooks_api()
    for k, v in {"timeout_seconds": 2, "lease_seconds": 60, "concurrency": 1}.items():
        crm.plugins.set("webhooks", k, v)
    Webhooks(crm).add(receiver.url, ["*"], "s3cret-s3cret-01")
    receiver.respond = lambda req: (200, 3.0)  # answers after 3 s: it "hangs"
    for i in range(4):
        crm.customers.add(name=f"挂起{i}")
    deliverer = Deliverer(crm)
    started = time.monotonic()
    r = deliverer.run(once=True, max_seconds=1.0)
    took = time.monotonic() - started
    deliverer.close()
    # before: 4 requests x 2 s timeout = 8 s; now the first request's timeout is cut to
    # the 1 s left and nothing starts after the deadline. The bound leaves room for a
    # loaded machine (a 2-core CI with other jobs) and is still far below the old 8 s;
    # on such a machine the deadline may even pass before the first request starts
    assert took < 5.0, took
    assert r.delivered == 0 and r.failed in (0, 1) and r.pending == 4, r


@pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan"), 10**9])
def test_max_seconds_out_of_range_is_refused(crm_factory, value):
    crm = crm_factory(enable=("webhooks",))
    _, Deliverer = webhooks_api()
    with pytest.raises(crmkit.ValidationError, match="--max-seconds"):
        Deliverer(crm).run(once=True, max_seconds=value)
