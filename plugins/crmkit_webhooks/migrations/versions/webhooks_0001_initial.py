"""webhooks: initial tables

Revision ID: webhooks_0001
Revises: -
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import crmkit

revision = "webhooks_0001"
down_revision = None
branch_labels = ("webhooks",)
depends_on = "core_0001"

def upgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    op.create_table(p + 'webhooks_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('outbox_id', sa.BigInteger(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('event', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('uid', sa.String(length=36).with_variant(sa.String(length=36, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=36, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('status', sa.String(length=20).with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', crmkit.UTCDateTime(), nullable=False),
    sa.Column('last_error', sa.String(length=500).with_variant(sa.String(length=500, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=500, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('lease_until', crmkit.UTCDateTime(), nullable=True),
    sa.Column('leased_by', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('delivered_at', crmkit.UTCDateTime(), nullable=True),
    sa.Column('created_at', crmkit.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'endpoint_id', 'outbox_id', name=p + 'uq_webhooks_deliveries_event'),
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index(p + 'ix_webhooks_deliveries_due', p + 'webhooks_deliveries', ['tenant_id', 'status', 'next_attempt_at'], unique=False)
    op.create_index(p + 'ix_webhooks_deliveries_order', p + 'webhooks_deliveries', ['tenant_id', 'endpoint_id', 'customer_id', 'outbox_id'], unique=False)
    op.create_table(p + 'webhooks_endpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2000).with_variant(sa.String(length=2000, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=2000, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('secret', sa.String(length=200).with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('since_outbox_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', crmkit.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index(p + 'ix_webhooks_endpoints_active', p + 'webhooks_endpoints', ['tenant_id', 'active'], unique=False)
    op.create_table(p + 'webhooks_fanout',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('outbox_id', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'outbox_id'),
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )

def downgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    op.drop_table(p + 'webhooks_fanout')
    op.drop_table(p + 'webhooks_endpoints')
    op.drop_table(p + 'webhooks_deliveries')
