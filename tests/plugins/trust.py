"""Helpers for the trust tests: row counts, per-tenant snapshots, hostile strings, and
how many examples a property of crmkit's rules gets on each backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import Phase, given, settings
from sqlalchemy import func, inspect, select

# Tables a change could touch; counted in one round trip.
COUNTED = ("customers", "contacts", "activities", "documents", "document_lines", "audit",
           "outbox", "deliveries", "users", "plugin_state")

HOSTILE = [
    "'; DROP TABLE crm_customers; --",
    "Robert'); DROP TABLE crm_customers;--",
    "1' OR '1'='1",
    '"quoted" and \'single\' and `back`',
    "\\", "\\'", "%", "_", "%_\\%",
    "😀", "👩‍👩‍👧‍👦 family", "𝕏𝔸",
    "\u202eevil right-to-left override", "שלום עולם", "مرحبا بالعالم",
    "e\u0301\u0301\u0301", "Z\u0351\u0352\u0357\u0358 combining",
    "上海大众汽车有限公司", "北京·王府井", "\u3000全角空格\u3000",
    " ", "\t\n\r", " padded ", "\ufeffbom", "zero\u200bwidth", "line1\nline2",
    "NULL", "null", "None", "0", "-1", "<script>alert(1)</script>", "${jndi:x}",
    "\x00", "a\x00b", "\x01\x1f\x7f",
    "x" * 10_000, "汉" * 10_000,
]


def counts(crm: Any) -> dict[str, Any]:
    """Row counts of every table a write could touch, and the change-feed cursor."""
    cols = [select(func.count()).select_from(crm.table(n)).scalar_subquery().label(n)
            for n in COUNTED]
    a = crm.table("audit")
    cols.append(select(func.coalesce(func.max(a.c.id), 0)).scalar_subquery().label("cursor"))
    with crm.engine.connect() as conn:
        return dict(conn.execute(select(*cols)).one()._mapping)


def tenant_snapshot(crm: Any, tenant_id: int) -> dict[str, list[tuple]]:
    """Every row of every existing table with a tenant_id column, for one tenant, sorted."""
    out: dict[str, list[tuple]] = {}
    with crm.engine.connect() as conn:
        existing = set(inspect(conn).get_table_names())
        for name, t in sorted(crm.metadata.tables.items()):
            if name not in existing or "tenant_id" not in t.c:
                continue
            rows = conn.execute(select(t).where(t.c.tenant_id == tenant_id)).all()
            out[name] = sorted(tuple(repr(v) for v in r) for r in rows)
    return out


def tenant_id(crm: Any, slug: str) -> int:
    return crm.tenants.get(slug).id


def examples_on(crm: Any, n: int | None = None) -> int:
    """How many random examples a property of crmkit's *rules* (scope, tenant isolation,
    sequences of changes) runs on ``crm``'s backend: ``n`` (default: the Hypothesis
    profile's, 200 at ``ci``) on SQLite, a quarter of it (at least 5) on PostgreSQL and
    MariaDB. The rules are the same Python on every backend; what a server does
    differently (types, collation, locking) a quarter of the examples still meets, and
    the properties of stored *values* (hostile text, decimals:
    ``tests/test_trust_hostile.py``) keep every example on every backend. The suite's
    time on the servers went mostly to these properties (2026-12-03: 183 of about
    2,000 worker-seconds)."""
    n = settings.default.max_examples if n is None else n
    return n if crm.engine.dialect.name == "sqlite" else max(n // 4, min(n, 5))


def rule_property(**strategies: Any) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """``@given(**strategies)`` for a property of crmkit's rules whose first argument is
    the ``Crm`` under test: the examples of :func:`examples_on` for its backend, the
    profile's other settings (no shrinking: a failure prints its example and seed)."""
    def wrap(body: Callable[..., None]) -> Callable[..., None]:
        built: dict[int, Callable[..., None]] = {}

        def run(crm: Any, *args: Any) -> None:
            n = examples_on(crm)
            if n not in built:
                built[n] = settings(max_examples=n, phases=[Phase.explicit, Phase.generate])(
                    given(**strategies)(body))
            built[n](crm, *args)

        run.__name__ = run.__qualname__ = body.__name__
        run.__doc__ = body.__doc__
        return run
    return wrap
