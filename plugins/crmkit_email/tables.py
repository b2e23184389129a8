"""The email plugin's table: the queue of messages to send after commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, Table

from crmkit import LongText, Str, UTCDateTime

_MYSQL = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}


def define_tables(metadata: Any, prefix: str) -> None:
    """``email_queue``: one row per message, written in the transaction that records the
    reminders, sent after commit by whoever claims it (a lease, like webhooks)."""
    p = prefix
    Table(
        f"{p}email_queue", metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
        Column("tenant_id", Integer, nullable=False),
        Column("kind", Str(20), nullable=False),  # digest | dunning
        Column("recipients", JSON, nullable=False),
        Column("subject", Str(500), nullable=False),
        Column("message", LongText(), nullable=False),  # the whole RFC 5322 message
        Column("status", Str(20), nullable=False),  # pending | sent | dead
        Column("attempts", Integer, nullable=False, default=0),
        Column("next_attempt_at", UTCDateTime, nullable=False),
        Column("last_error", Str(500)),
        Column("lease_until", UTCDateTime),
        Column("leased_by", Str(100)),
        Column("sent_at", UTCDateTime),
        Column("created_at", UTCDateTime, nullable=False),
        Index(f"{p}ix_email_queue_due", "tenant_id", "status", "next_attempt_at"),
        **_MYSQL,
    )
