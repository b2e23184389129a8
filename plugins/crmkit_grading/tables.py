"""The grading plugin's tables: current grades, their history, and a staging table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Date, Index, Integer, Table

from crmkit import Money, Str

SEGMENTS = ("champions", "loyal", "potential", "at_risk", "hibernating", "needs_attention",
            "no_purchases")
TIERS = ("special", "important", "general")
ABC = ("A", "B", "C")

#: Columns a grade is made of, in the order ``grading show`` prints them.
GRADE_COLUMNS = ("recency_days", "frequency", "monetary", "r", "f", "m", "segment", "abc",
                 "tier")


def _grade_columns() -> list[Column]:
    return [
        Column("as_of", Date, nullable=False),
        Column("recency_days", Integer),
        Column("frequency", Integer, nullable=False),
        Column("monetary", Money, nullable=False),
        Column("r", Integer),
        Column("f", Integer),
        Column("m", Integer),
        Column("segment", Str(20), nullable=False),
        Column("abc", Str(1)),
        Column("tier", Str(20), nullable=False),
    ]


_MYSQL: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB",
                          "mariadb_charset": "utf8mb4", "mariadb_engine": "InnoDB"}


def define_tables(metadata: Any, prefix: str) -> None:
    """``grading_grades`` (one row per customer: the last run's grade),
    ``grading_history`` (one row per change) and ``grading_stage`` (a run's work area on
    PostgreSQL and MariaDB, emptied before the run commits; on SQLite a run uses a
    temporary table of its connection instead, see ``service._stage``)."""
    p = prefix
    Table(
        f"{p}grading_grades", metadata,
        Column("tenant_id", Integer, primary_key=True, autoincrement=False),
        Column("customer_id", Integer, primary_key=True, autoincrement=False),
        *_grade_columns(),
        Index(f"{p}ix_grading_grades_segment", "tenant_id", "segment"),
        **_MYSQL,
    )
    Table(
        f"{p}grading_history", metadata,
        Column("id", Integer, primary_key=True),
        Column("tenant_id", Integer, nullable=False),
        Column("customer_id", Integer, nullable=False),
        *_grade_columns(),
        Index(f"{p}ix_grading_history_customer", "tenant_id", "customer_id", "as_of"),
        **_MYSQL,
    )
    Table(
        f"{p}grading_stage", metadata,
        Column("tenant_id", Integer, nullable=False),
        Column("run", Str(32), nullable=False),
        Column("customer_id", Integer, nullable=False),
        *_grade_columns(),
        Index(f"{p}ix_grading_stage_run", "tenant_id", "run", "customer_id"),
        **_MYSQL,
    )
