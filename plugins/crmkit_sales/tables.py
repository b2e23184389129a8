"""The sales plugin's tables: opportunities and their recorded stage changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, Table

from crmkit import Money, Str, UTCDateTime

from .settings import STAGE_NAME_MAX

TITLE_MAX = 500


def define_tables(metadata: Any, prefix: str) -> None:
    """``{prefix}sales_opportunities`` and ``{prefix}sales_stage_changes``."""
    p = prefix
    mysql = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB",
             "mariadb_charset": "utf8mb4", "mariadb_engine": "InnoDB"}
    Table(
        f"{p}sales_opportunities", metadata,
        Column("id", Integer, primary_key=True),
        Column("tenant_id", Integer, nullable=False),
        Column("customer_id", Integer, ForeignKey(f"{p}customers.id"), nullable=False),
        Column("title", Str(TITLE_MAX), nullable=False),
        Column("amount", Money, nullable=False),
        Column("stage", Str(STAGE_NAME_MAX), nullable=False),
        Column("expected_close", Date, nullable=False),
        Column("owner", Str(100)),
        Column("next_step", Date),
        Column("created_on", Date, nullable=False),
        Column("closed_on", Date),  # NULL while open; the date of the move to won/lost
        Column("lost_reason", Str(TITLE_MAX)),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        Index(f"{p}ix_sales_opp_customer", "tenant_id", "customer_id"),
        Index(f"{p}ix_sales_opp_owner", "tenant_id", "owner"),
        Index(f"{p}ix_sales_opp_open", "tenant_id", "closed_on", "expected_close"),
        **mysql,
    )
    Table(
        f"{p}sales_stage_changes", metadata,
        Column("id", Integer, primary_key=True),
        Column("tenant_id", Integer, nullable=False),
        Column("opportunity_id", Integer, ForeignKey(f"{p}sales_opportunities.id"),
               nullable=False),
        Column("from_stage", Str(STAGE_NAME_MAX)),  # NULL: the opportunity was created
        Column("to_stage", Str(STAGE_NAME_MAX), nullable=False),
        Column("changed_on", Date, nullable=False),
        Column("changed_by", Str(100)),
        Column("reason", Str(TITLE_MAX)),
        Index(f"{p}ix_sales_changes_opp", "tenant_id", "opportunity_id", "id"),
        Index(f"{p}ix_sales_changes_on", "tenant_id", "changed_on"),
        **mysql,
    )
