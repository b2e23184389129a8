"""The service plugin's tables: cases and their replies.

Every index leads with ``tenant_id``. Two columns are denormalised for the reports:
``resolution_seconds`` (``resolved_at - opened_at`` in whole seconds, so that the median
is an integer sort on every backend) and ``search_text`` (the lower-cased subject and
solution of a resolved or closed case, NULL while it is open: what ``case search``
matches). On SQLite a contentless FTS5 table of character bigrams
(``{prefix}service_case_fts``, created by the migration, see :mod:`.fulltext`) indexes
``search_text``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, Table

from crmkit import LongText, Str, UTCDateTime

SUBJECT_MAX = 500
PRODUCT_MAX = 200
CHANNELS = ("phone", "email", "visit", "web", "wechat", "other")
STATUSES = ("open", "resolved", "closed")


def define_tables(metadata: Any, prefix: str) -> None:
    """``{prefix}service_cases`` and ``{prefix}service_replies``."""
    p = prefix
    mysql: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB",
                             "mariadb_charset": "utf8mb4", "mariadb_engine": "InnoDB"}
    Table(
        f"{p}service_cases", metadata,
        Column("id", Integer, primary_key=True),
        Column("tenant_id", Integer, nullable=False),
        Column("customer_id", Integer, ForeignKey(f"{p}customers.id"), nullable=False),
        Column("subject", Str(SUBJECT_MAX), nullable=False),
        Column("body", LongText()),
        Column("priority", Str(10), nullable=False),
        Column("channel", Str(10), nullable=False),
        Column("product", Str(PRODUCT_MAX)),
        Column("owner", Str(100)),
        Column("status", Str(10), nullable=False),
        Column("opened_at", UTCDateTime, nullable=False),
        Column("first_response_at", UTCDateTime),
        Column("resolved_at", UTCDateTime),
        Column("closed_at", UTCDateTime),
        Column("solution", LongText()),
        Column("rating", Integer),
        Column("response_due", UTCDateTime, nullable=False),
        Column("resolution_due", UTCDateTime, nullable=False),
        Column("resolution_seconds", Integer),
        Column("search_text", LongText()),
        Column("reopened", Integer, nullable=False, default=0),
        Column("created_by", Str(100)),
        # a customer's cases, newest first (360° view, --customer)
        Index(f"{p}ix_service_cases_customer", "tenant_id", "customer_id", "opened_at"),
        # list and search newest first; stats of a period
        Index(f"{p}ix_service_cases_opened", "tenant_id", "opened_at"),
        # open cases for reminders and --overdue
        Index(f"{p}ix_service_cases_status", "tenant_id", "status", "resolution_due"),
        **mysql,
    )
    Table(
        f"{p}service_replies", metadata,
        Column("id", Integer, primary_key=True),
        Column("tenant_id", Integer, nullable=False),
        Column("case_id", Integer, ForeignKey(f"{p}service_cases.id"), nullable=False),
        Column("body", LongText(), nullable=False),
        Column("at", UTCDateTime, nullable=False),
        Column("by", Str(100)),
        Column("activity_id", Integer),
        Index(f"{p}ix_service_replies_case", "tenant_id", "case_id", "at"),
        **mysql,
    )
