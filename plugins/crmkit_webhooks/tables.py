"""The webhooks plugin's tables: endpoints, deliveries and the fan-out markers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    Table,
    UniqueConstraint,
)

from crmkit import Str, UTCDateTime

_MYSQL = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}


def _bigint_id() -> Column:
    return Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True)


def define_tables(metadata: Any, prefix: str) -> None:
    """Endpoints (one per receiving URL), deliveries (one per endpoint and outbox event)
    and fan-out markers (one per outbox event already turned into deliveries)."""
    p = prefix
    Table(
        f"{p}webhooks_endpoints", metadata,
        Column("id", Integer, primary_key=True),
        Column("tenant_id", Integer, nullable=False),
        Column("url", Str(2000), nullable=False),
        Column("events", JSON, nullable=False),
        Column("secret", Str(200), nullable=False),
        Column("active", Boolean, nullable=False, default=True),
        # outbox rows with an id above this one are for this endpoint
        Column("since_outbox_id", BigInteger, nullable=False, default=0),
        Column("created_at", UTCDateTime, nullable=False),
        Index(f"{p}ix_webhooks_endpoints_active", "tenant_id", "active"),
        **_MYSQL,
    )
    Table(
        f"{p}webhooks_deliveries", metadata,
        _bigint_id(),
        Column("tenant_id", Integer, nullable=False),
        Column("endpoint_id", Integer, nullable=False),
        Column("outbox_id", BigInteger, nullable=False),
        Column("customer_id", Integer),
        Column("event", Str(100), nullable=False),
        Column("uid", Str(36), nullable=False),  # X-Crmkit-Delivery: same on every retry
        Column("status", Str(20), nullable=False),  # pending | delivered | dead
        Column("attempts", Integer, nullable=False, default=0),
        Column("next_attempt_at", UTCDateTime, nullable=False),
        Column("last_error", Str(500)),
        Column("lease_until", UTCDateTime),
        Column("leased_by", Str(100)),
        Column("delivered_at", UTCDateTime),
        Column("created_at", UTCDateTime, nullable=False),
        UniqueConstraint("tenant_id", "endpoint_id", "outbox_id",
                         name=f"{p}uq_webhooks_deliveries_event"),
        Index(f"{p}ix_webhooks_deliveries_due", "tenant_id", "status", "next_attempt_at"),
        Index(f"{p}ix_webhooks_deliveries_order", "tenant_id", "endpoint_id", "customer_id",
              "outbox_id"),
        **_MYSQL,
    )
    Table(
        f"{p}webhooks_fanout", metadata,
        Column("tenant_id", Integer, primary_key=True),
        Column("outbox_id", BigInteger, primary_key=True),
        **_MYSQL,
    )
