"""Helpers for the trust tests: row counts, per-tenant snapshots, hostile strings."""

from __future__ import annotations

from typing import Any

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
