"""The insights plugin's table: the product catalogue.

Products are matched to document lines by exact name. ``cost`` and ``price`` are in the
tenant's base currency; a line's own unit cost (``document_lines.unit_cost``) wins over
the catalogue's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Integer, Table, UniqueConstraint

from crmkit import Money, Str, UTCDateTime

NAME_MAX = 200
CATEGORY_MAX = 100


def define_tables(metadata: Any, prefix: str) -> None:
    """``{prefix}insights_products``."""
    p = prefix
    Table(
        f"{p}insights_products", metadata,
        Column("id", Integer, primary_key=True),
        Column("tenant_id", Integer, nullable=False),
        Column("name", Str(NAME_MAX), nullable=False),
        Column("category", Str(CATEGORY_MAX)),
        Column("cost", Money),
        Column("price", Money),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        # the unique key is also the index lines are matched through
        UniqueConstraint("tenant_id", "name", name=f"{p}uq_insights_product_name"),
        mysql_charset="utf8mb4", mysql_engine="InnoDB",
        mariadb_charset="utf8mb4", mariadb_engine="InnoDB",
    )
