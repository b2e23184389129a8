"""marketing: initial tables

Revision ID: marketing_0001
Revises: -
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import crmkit

revision = "marketing_0001"
down_revision = None
branch_labels = ("marketing",)
depends_on = "core_0001"

def upgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    op.create_table(p + 'marketing_campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200).with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('channel', sa.String(length=20).with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('start_on', sa.Date(), nullable=True),
    sa.Column('end_on', sa.Date(), nullable=True),
    sa.Column('budget', crmkit.Money(), nullable=True),
    sa.Column('created_on', sa.Date(), nullable=False),
    sa.Column('created_by', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('created_at', crmkit.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'name', name=p + 'uq_marketing_campaign_name'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_table(p + 'marketing_costs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('amount', crmkit.Money(), nullable=False),
    sa.Column('spent_on', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=500).with_variant(sa.String(length=500, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=500, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('created_by', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('created_at', crmkit.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], [p + 'marketing_campaigns.id'], ),
    sa.PrimaryKeyConstraint('id'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index(p + 'ix_marketing_costs_campaign', p + 'marketing_costs', ['tenant_id', 'campaign_id', 'spent_on'], unique=False)
    op.create_table(p + 'marketing_leads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('lead_on', sa.Date(), nullable=False),
    sa.Column('created_by', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('created_at', crmkit.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], [p + 'marketing_campaigns.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], [p + 'customers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'campaign_id', 'customer_id', 'lead_on', name=p + 'uq_marketing_lead'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index(p + 'ix_marketing_leads_customer', p + 'marketing_leads', ['tenant_id', 'customer_id', 'lead_on', 'campaign_id'], unique=False)
    op.create_table(p + 'marketing_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('target_on', sa.Date(), nullable=False),
    sa.Column('created_by', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('created_at', crmkit.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], [p + 'marketing_campaigns.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], [p + 'customers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'campaign_id', 'customer_id', name=p + 'uq_marketing_target'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index(p + 'ix_marketing_targets_customer', p + 'marketing_targets', ['tenant_id', 'customer_id'], unique=False)

def downgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    op.drop_table(p + 'marketing_targets')
    op.drop_table(p + 'marketing_leads')
    op.drop_table(p + 'marketing_costs')
    op.drop_table(p + 'marketing_campaigns')
