"""Shared test fixtures: crmkit.testing provides crm, crm_factory, cli, today.

Hypothesis profiles (issue 11.8), chosen with ``HYPOTHESIS_PROFILE``:

- ``dev`` (the default): 25 random examples per property, for a quick local run;
- ``ci`` (``.ci/run`` sets it): 200 random examples per property, no deadline (a
  database round trip has no fixed duration on a shared machine).

Neither is derandomised: every run tries new examples, and a failure prints the seed
to reproduce it (``--hypothesis-seed``). Properties set no ``max_examples`` of their
own; stateful tests set their own step counts (``stateful_step_count``).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "derandomize": False,
    # the properties share one database per test (a function-scoped fixture) on purpose
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                              HealthCheck.data_too_large],
}
settings.register_profile("ci", max_examples=200, **_COMMON)
settings.register_profile("dev", max_examples=25, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
