"""insights: the product catalogue

Revision ID: insights_0001
Revises: -
"""

import sqlalchemy as sa
from alembic import op

import crmkit

revision = "insights_0001"
down_revision = None
branch_labels = ("insights",)
depends_on = "core_0001"


def _str(n):
    return sa.String(length=n).with_variant(
        sa.String(length=n, collation='utf8mb4_bin'), 'mariadb').with_variant(
        sa.String(length=n, collation='utf8mb4_bin'), 'mysql')


def upgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    op.create_table(p + 'insights_products',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', _str(200), nullable=False),
    sa.Column('category', _str(100), nullable=True),
    sa.Column('cost', crmkit.Money(), nullable=True),
    sa.Column('price', crmkit.Money(), nullable=True),
    sa.Column('created_at', crmkit.UTCDateTime(), nullable=False),
    sa.Column('updated_at', crmkit.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'name', name=p + 'uq_insights_product_name'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )


def downgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    op.drop_table(p + 'insights_products')
