"""sales: initial tables

Revision ID: sales_0001
Revises: -
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import crmkit

revision = "sales_0001"
down_revision = None
branch_labels = ("sales",)
depends_on = "core_0001"

def upgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    op.create_table(p + 'sales_opportunities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=500).with_variant(sa.String(length=500, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=500, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('amount', crmkit.Money(), nullable=False),
    sa.Column('stage', sa.String(length=64).with_variant(sa.String(length=64, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=64, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('expected_close', sa.Date(), nullable=False),
    sa.Column('owner', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('next_step', sa.Date(), nullable=True),
    sa.Column('created_on', sa.Date(), nullable=False),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('lost_reason', sa.String(length=500).with_variant(sa.String(length=500, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=500, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('created_at', crmkit.UTCDateTime(), nullable=False),
    sa.Column('updated_at', crmkit.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], [p + 'customers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index(p + 'ix_sales_opp_customer', p + 'sales_opportunities', ['tenant_id', 'customer_id'], unique=False)
    op.create_index(p + 'ix_sales_opp_open', p + 'sales_opportunities', ['tenant_id', 'closed_on', 'expected_close'], unique=False)
    op.create_index(p + 'ix_sales_opp_owner', p + 'sales_opportunities', ['tenant_id', 'owner'], unique=False)
    op.create_table(p + 'sales_stage_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('opportunity_id', sa.Integer(), nullable=False),
    sa.Column('from_stage', sa.String(length=64).with_variant(sa.String(length=64, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=64, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('to_stage', sa.String(length=64).with_variant(sa.String(length=64, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=64, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('changed_on', sa.Date(), nullable=False),
    sa.Column('changed_by', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('reason', sa.String(length=500).with_variant(sa.String(length=500, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=500, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.ForeignKeyConstraint(['opportunity_id'], [p + 'sales_opportunities.id'], ),
    sa.PrimaryKeyConstraint('id'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index(p + 'ix_sales_changes_on', p + 'sales_stage_changes', ['tenant_id', 'changed_on'], unique=False)
    op.create_index(p + 'ix_sales_changes_opp', p + 'sales_stage_changes', ['tenant_id', 'opportunity_id', 'id'], unique=False)

def downgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    op.drop_table(p + 'sales_stage_changes')
    op.drop_table(p + 'sales_opportunities')
