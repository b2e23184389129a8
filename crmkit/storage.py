"""SQL storage: column types, the core tables (with a name prefix) and engines.

Every table carries ``tenant_id`` and every index leads with it. Money columns hold
integer minor units (:class:`Money`), quantities thousandths (:class:`Quantity`): sums
in SQL are exact on every backend. Wrap computed money expressions with
``sqlalchemy.type_coerce(expr, Money)`` to read them back as ``Decimal``.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    true,
)
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator

UTC = dt.UTC

# Limits on text, enforced with a clear error before anything reaches the database.
NAME_MAX = 200
SHORT_MAX = 200
SUBJECT_MAX = 500
TEXT_MAX = 100_000


class _Scaled(TypeDecorator):
    """A Decimal stored as an integer count of 10**-places units."""

    impl = BigInteger
    cache_ok = True
    places = 2

    def process_bind_param(self, value: Any, dialect: Any) -> int | None:
        if value is None:
            return None
        return int(Decimal(value).scaleb(self.places).to_integral_value())

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        d = Decimal(value)
        if d != d.to_integral_value():  # an average or a division: keep it exact-ish
            return d.scaleb(-self.places)
        return Decimal(int(d)).scaleb(-self.places)

    @property
    def python_type(self) -> type:
        return Decimal


class Money(_Scaled):
    """Money: ``Decimal`` with two places, stored as integer cents."""

    cache_ok = True
    places = 2


class Quantity(_Scaled):
    """Quantities: ``Decimal`` with up to three places, stored as integer thousandths."""

    cache_ok = True
    places = 3

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        d = super().process_result_value(value, dialect)
        if d is None:
            return None
        return d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize()


class RateType(_Scaled):
    """Exchange rates: ``Decimal`` with up to six places, stored as integer millionths."""

    cache_ok = True
    places = 6

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        d = super().process_result_value(value, dialect)
        if d is None:
            return None
        from .money import Rate

        return Rate(d)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes, stored naive in UTC on every backend."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            from sqlalchemy.dialects.mysql import DATETIME

            return dialect.type_descriptor(DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: Any, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - SQLite via raw SQL
            value = dt.datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)


def sqlite_utc_text(at: dt.datetime) -> str:
    """An aware instant as :class:`UTCDateTime` stores it on SQLite (naive UTC text with
    microseconds), for the bulk paths that write rows through the driver."""
    return at.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def Str(n: int) -> String:  # noqa: N802 - reads like a type
    """A VARCHAR that compares exactly (binary collation on MySQL/MariaDB)."""
    return String(n).with_variant(String(n, collation="utf8mb4_bin"), "mysql", "mariadb")


_MYSQL: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB",
                          "mariadb_charset": "utf8mb4", "mariadb_engine": "InnoDB"}


def LongText() -> Text:  # noqa: N802
    """Text up to 16 MB on MySQL/MariaDB too (plain TEXT stops at 64 KB there)."""
    from sqlalchemy.dialects.mysql import MEDIUMTEXT

    return Text().with_variant(MEDIUMTEXT(), "mysql", "mariadb")


def build_metadata(prefix: str = "crm_") -> MetaData:
    """The core tables on a fresh MetaData; plugins add theirs via ``crm_tables``."""
    md = MetaData(info={"crmkit_prefix": prefix})
    p = prefix

    Table(
        f"{p}tenants", md,
        Column("id", Integer, primary_key=True),
        Column("slug", Str(64), nullable=False, unique=True),
        Column("name", Str(NAME_MAX), nullable=False),
        Column("currency", Str(3), nullable=False, default="CNY"),
        Column("created_at", UTCDateTime, nullable=False),
        # core_0004: the tenant's IANA time zone and language
        Column("timezone", Str(64), nullable=False, default="UTC", server_default="UTC"),
        Column("locale", Str(16), nullable=False, default="en", server_default="en"),
        **_MYSQL,
    )
    tenant_fk = f"{p}tenants.id"
    Table(
        f"{p}users", md,
        Column("id", Integer, primary_key=True),
        Column("tenant_id", Integer, ForeignKey(tenant_fk), nullable=False),
        Column("name", Str(100), nullable=False),
        Column("role", Str(20), nullable=False),
        Column("email", Str(SHORT_MAX)),
        Column("created_at", UTCDateTime, nullable=False),
        # a disabled user cannot act (core_0003)
        Column("active", Boolean, nullable=False, default=True, server_default=true()),
        UniqueConstraint("tenant_id", "name", name=f"{p}uq_users_name"),
        **_MYSQL,
    )
    Table(
        f"{p}customers", md,
        Column("id", Integer, primary_key=True),
        Column("tenant_id", Integer, ForeignKey(tenant_fk), nullable=False),
        Column("name", Str(NAME_MAX), nullable=False),
        Column("kind", Str(20), nullable=False),
        Column("status", Str(20), nullable=False),
        Column("owner", Str(100)),
        Column("email", Str(SHORT_MAX)),
        Column("phone", Str(64)),
        Column("address", LongText()),
        Column("tags", LongText()),  # ",vip,special," so that LIKE '%,vip,%' finds a tag
        Column("external_id", Str(SHORT_MAX)),
        Column("extra", JSON),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        UniqueConstraint("tenant_id", "external_id", name=f"{p}uq_customers_external_id"),
        Index(f"{p}ix_customers_owner", "tenant_id", "owner"),
        Index(f"{p}ix_customers_status", "tenant_id", "status"),
        Index(f"{p}ix_customers_name", "tenant_id", "name"),
        Index(f"{p}ix_customers_email", "tenant_id", "email"),
        **_MYSQL,
    )
    cust_fk = f"{p}customers.id"
    Table(
        f"{p}contacts", md,
        Column("id", Integer, primary_key=True),
        Column("tenant_id", Integer, ForeignKey(tenant_fk), nullable=False),
        Column("customer_id", Integer, ForeignKey(cust_fk), nullable=False),
        Column("name", Str(NAME_MAX), nullable=False),
        Column("title", Str(SHORT_MAX)),
        Column("email", Str(SHORT_MAX)),
        Column("phone", Str(64)),
        Index(f"{p}ix_contacts_customer", "tenant_id", "customer_id"),
        **_MYSQL,
    )
    Table(
        f"{p}activities", md,
        Column("id", Integer, primary_key=True),
        Column("tenant_id", Integer, ForeignKey(tenant_fk), nullable=False),
        Column("customer_id", Integer, ForeignKey(cust_fk), nullable=False),
        Column("kind", Str(20), nullable=False),
        Column("subject", Str(SUBJECT_MAX), nullable=False),
        Column("body", LongText()),
        Column("owner", Str(100)),
        Column("occurred_at", UTCDateTime, nullable=False),
        Column("due_on", Date),
        Column("done_at", UTCDateTime),
        Column("extra", JSON),
        Index(f"{p}ix_activities_customer", "tenant_id", "customer_id", "occurred_at"),
        Index(f"{p}ix_activities_owner", "tenant_id", "owner", "occurred_at"),
        **_MYSQL,
    )
    Table(
        f"{p}documents", md,
        Column("id", Integer, primary_key=True),
        Column("tenant_id", Integer, ForeignKey(tenant_fk), nullable=False),
        Column("customer_id", Integer, ForeignKey(cust_fk), nullable=False),
        Column("kind", Str(20), nullable=False),
        Column("number", Str(100), nullable=False),
        Column("status", Str(20), nullable=False),
        Column("amount", Money, nullable=False),
        Column("currency", Str(3), nullable=False),
        # core_0004: base-currency units for one unit of ``currency``; amount x rate
        Column("rate", RateType, nullable=False, default=1,
               server_default="1000000"),
        Column("base_amount", Money, nullable=False),
        Column("issued_on", Date, nullable=False),
        Column("due_on", Date),
        Column("applies_to", Str(100)),
        Column("attachment", LongText()),
        Column("extra", JSON),
        Column("created_at", UTCDateTime, nullable=False),
        UniqueConstraint("tenant_id", "kind", "number", name=f"{p}uq_documents_number"),
        Index(f"{p}ix_documents_customer", "tenant_id", "customer_id", "kind", "issued_on"),
        Index(f"{p}ix_documents_kind", "tenant_id", "kind", "issued_on"),
        # core_0006: both cover what the receivables aging reads. ix_documents_aging:
        # every document of a tenant in customer order (grouped by customer from the
        # index alone) and an invoice by customer and number (on SQLite the aging's
        # correction finds applied invoices by the unique number index instead, in
        # number order); ix_documents_applies: the payments and credit notes applied
        # to an invoice
        Index(f"{p}ix_documents_applies", "tenant_id", "applies_to", "customer_id", "kind",
              "issued_on", "status", "base_amount"),
        # on PostgreSQL the migration (core_0006) also gives it INCLUDE (id, applies_to),
        # so that the aging's reads are index-only there too: without them each document
        # is fetched from the heap, where a tenant's rows lie among every other tenant's
        # (bench/bench_tenants.py). Not declared here: a postgresql_ argument makes
        # SQLAlchemy import its PostgreSQL dialect in every command, on every database
        Index(f"{p}ix_documents_aging", "tenant_id", "customer_id", "kind", "number",
              "issued_on", "status", "due_on", "base_amount"),
        **_MYSQL,
    )
    Table(
        f"{p}document_lines", md,
        Column("id", Integer, primary_key=True),
        Column("tenant_id", Integer, ForeignKey(tenant_fk), nullable=False),
        Column("document_id", Integer, ForeignKey(f"{p}documents.id"), nullable=False),
        Column("position", Integer, nullable=False),
        Column("product", Str(SHORT_MAX), nullable=False),
        Column("quantity", Quantity, nullable=False),
        Column("unit_price", Money, nullable=False),
        Column("unit_cost", Money),  # optional, in the document's currency (core_0005)
        Index(f"{p}ix_document_lines_document", "tenant_id", "document_id"),
        Index(f"{p}ix_document_lines_product", "tenant_id", "product"),
        **_MYSQL,
    )
    Table(
        f"{p}document_terms", md,  # core_0004: an invoice's installments, in due order
        Column("id", Integer, primary_key=True),
        Column("tenant_id", Integer, ForeignKey(tenant_fk), nullable=False),
        Column("document_id", Integer, ForeignKey(f"{p}documents.id"), nullable=False),
        Column("no", Integer, nullable=False),
        Column("due_on", Date, nullable=False),
        Column("amount", Money, nullable=False),
        Column("base_amount", Money, nullable=False),
        UniqueConstraint("tenant_id", "document_id", "no", name=f"{p}uq_document_terms_no"),
        **_MYSQL,
    )
    Table(
        f"{p}plugin_state", md,
        Column("tenant_id", Integer, ForeignKey(tenant_fk), primary_key=True),
        Column("plugin", Str(100), primary_key=True),
        Column("enabled", Boolean, nullable=False, default=False),
        Column("settings", JSON),
        Column("updated_at", UTCDateTime, nullable=False),
        **_MYSQL,
    )
    Table(
        f"{p}audit", md,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
        Column("tenant_id", Integer, nullable=False),
        Column("at", UTCDateTime, nullable=False),
        Column("user", Str(100)),
        Column("table_name", Str(64), nullable=False),
        Column("row_id", Integer),
        Column("customer_id", Integer),
        Column("op", Str(10), nullable=False),
        Column("before", JSON),
        Column("after", JSON),
        Index(f"{p}ix_audit_cursor", "tenant_id", "id"),
        Index(f"{p}ix_audit_customer", "tenant_id", "customer_id"),
        **_MYSQL,
    )
    Table(
        f"{p}outbox", md,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
        Column("tenant_id", Integer, nullable=False),
        Column("event", Str(100), nullable=False),
        Column("customer_id", Integer),
        Column("payload", JSON, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Index(f"{p}ix_outbox_cursor", "tenant_id", "id"),
        **_MYSQL,
    )
    Table(
        f"{p}deliveries", md,
        Column("tenant_id", Integer, primary_key=True),
        Column("key", Str(255), primary_key=True),
        Column("plugin", Str(100), nullable=False),
        Column("kind", Str(64), nullable=False),
        Column("owner", Str(100)),
        Column("delivered_at", UTCDateTime, nullable=False),
        **_MYSQL,
    )
    return md


#: The version of the core tables and columns plugins may read (docs/author/api.md).
#: It goes up when a listed column changes or goes away; adding columns keeps it.
SCHEMA_VERSION = 1

CORE_TABLES = ("tenants", "users", "customers", "contacts", "activities", "documents",
               "document_lines", "document_terms", "plugin_state", "audit", "outbox", "deliveries")


_CREDENTIALS = re.compile(r"(://[^/:@\s]*:)[^@/\s]+@")


def display_url(url: Any) -> str:
    """``url`` (a string or a SQLAlchemy URL) as it may be shown: the password masked
    (``postgresql://erp:***@db/erp``), even in a URL SQLAlchemy cannot parse."""
    from sqlalchemy.engine import URL, make_url

    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(str(url)).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: mask by its shape
        return _CREDENTIALS.sub(r"\1***@", str(url))


def hide_secret(text: str, url: Any) -> str:
    """``text`` (a driver's or SQLAlchemy's message) with ``url``'s password, and the
    URL itself, masked."""
    from sqlalchemy.engine import URL, make_url

    text = str(text)
    try:
        parsed = url if isinstance(url, URL) else make_url(str(url))
        secret = parsed.password
    except Exception:  # noqa: BLE001
        match = _CREDENTIALS.search(str(url))
        secret = str(url)[match.end(1):match.end() - 1] if match else None
    if not isinstance(url, URL) and str(url) in text:
        text = text.replace(str(url), display_url(url))
    if secret:
        text = text.replace(str(secret), "***")
    return _CREDENTIALS.sub(r"\1***@", text)


def normalize_url(url: str) -> str:
    """Pick the drivers crmkit documents: psycopg 3 and PyMySQL (utf8mb4)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    elif url.startswith("mysql://") or url.startswith("mariadb://"):
        url = "mysql+pymysql://" + url.split("://", 1)[1]
    if url.startswith("mysql+pymysql://") and "charset=" not in url:
        url += ("&" if "?" in url else "?") + "charset=utf8mb4"
    return url


def create_engine(url: str, **kw: Any) -> Engine:
    """An engine with crmkit's connection settings (WAL, foreign keys, busy timeout)."""
    from sqlalchemy import create_engine as sa_create_engine

    url = normalize_url(url)
    if url.startswith("sqlite"):
        kw.setdefault("connect_args", {}).setdefault("timeout", 60)
    else:
        kw.setdefault("pool_pre_ping", True)
    engine = sa_create_engine(url, **kw)
    if engine.dialect.name == "sqlite":
        configure_sqlite(engine)
    return engine


def configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys on, a busy timeout, and ``BEGIN IMMEDIATE`` for writes.

    pysqlite's own transaction handling is switched off so that a write transaction
    takes the write lock when it begins: two writers then queue on the busy timeout
    instead of failing with "database is locked" when a reader upgrades.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "close")
    def _close(dbapi_conn: Any, _rec: Any) -> None:
        # SQLite's advice: PRAGMA optimize before closing a connection. It runs ANALYZE
        # (bounded by analysis_limit) on the tables this connection's queries read that
        # have no statistics yet or have grown a lot since, so that after a bulk load the
        # planner knows one tenant's rows are most of a table (the "index trap"). Never
        # waits on another writer and never fails a close.
        try:
            dbapi_conn.execute("PRAGMA busy_timeout=0")
            dbapi_conn.execute("PRAGMA analysis_limit=1000")
            dbapi_conn.execute("PRAGMA optimize")
        except Exception:  # noqa: BLE001 - read-only file, locked, closed: skip it
            pass

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("crmkit_write", True)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if mode else "BEGIN")
