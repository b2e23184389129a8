"""core: money, terms and zones - documents get an exchange ``rate`` and a
``base_amount`` (existing rows: rate 1, base amount = amount), invoices their payment
terms (``document_terms``), tenants a ``timezone`` (UTC) and a ``locale`` (en)

Revision ID: core_0004
Revises: core_0003
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

import crmkit.storage
from crmkit.storage import Str

revision = "core_0004"
down_revision = "core_0003"
branch_labels = None
depends_on = None

_MYSQL: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB",
          "mariadb_charset": "utf8mb4", "mariadb_engine": "InnoDB"}


def upgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    with op.batch_alter_table(p + "tenants") as batch:
        batch.add_column(sa.Column("timezone", Str(64), nullable=False,
                                   server_default="UTC"))
        batch.add_column(sa.Column("locale", Str(16), nullable=False, server_default="en"))
    # rate is stored in millionths: 1000000 is a rate of 1
    with op.batch_alter_table(p + "documents") as batch:
        batch.add_column(sa.Column("rate", crmkit.storage.RateType(), nullable=False,
                                   server_default="1000000"))
        batch.add_column(sa.Column("base_amount", crmkit.storage.Money(), nullable=True))
    docs = sa.table(p + "documents", sa.column("amount"), sa.column("base_amount"))
    op.execute(docs.update().values(base_amount=docs.c.amount))
    with op.batch_alter_table(p + "documents") as batch:
        batch.alter_column("base_amount", existing_type=crmkit.storage.Money(),
                           nullable=False)
    op.create_table(
        p + "document_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("no", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount", crmkit.storage.Money(), nullable=False),
        sa.Column("base_amount", crmkit.storage.Money(), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], [p + "documents.id"]),
        sa.ForeignKeyConstraint(["tenant_id"], [p + "tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "document_id", "no",
                            name=p + "uq_document_terms_no"),
        **_MYSQL,
    )


def downgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    op.drop_table(p + "document_terms")
    with op.batch_alter_table(p + "documents") as batch:
        batch.drop_column("base_amount")
        batch.drop_column("rate")
    with op.batch_alter_table(p + "tenants") as batch:
        batch.drop_column("locale")
        batch.drop_column("timezone")
