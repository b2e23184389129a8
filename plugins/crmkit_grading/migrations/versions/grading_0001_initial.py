"""grading: initial tables

Revision ID: grading_0001
Revises: -
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import crmkit

revision = "grading_0001"
down_revision = None
branch_labels = ("grading",)
depends_on = "core_0001"

def upgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    op.create_table(p + 'grading_grades',
    sa.Column('tenant_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('customer_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('recency_days', sa.Integer(), nullable=True),
    sa.Column('frequency', sa.Integer(), nullable=False),
    sa.Column('monetary', crmkit.Money(), nullable=False),
    sa.Column('r', sa.Integer(), nullable=True),
    sa.Column('f', sa.Integer(), nullable=True),
    sa.Column('m', sa.Integer(), nullable=True),
    sa.Column('segment', sa.String(length=20).with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('abc', sa.String(length=1).with_variant(sa.String(length=1, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=1, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('tier', sa.String(length=20).with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'customer_id'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index(p + 'ix_grading_grades_segment', p + 'grading_grades', ['tenant_id', 'segment'], unique=False)
    op.create_table(p + 'grading_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('recency_days', sa.Integer(), nullable=True),
    sa.Column('frequency', sa.Integer(), nullable=False),
    sa.Column('monetary', crmkit.Money(), nullable=False),
    sa.Column('r', sa.Integer(), nullable=True),
    sa.Column('f', sa.Integer(), nullable=True),
    sa.Column('m', sa.Integer(), nullable=True),
    sa.Column('segment', sa.String(length=20).with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('abc', sa.String(length=1).with_variant(sa.String(length=1, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=1, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('tier', sa.String(length=20).with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index(p + 'ix_grading_history_customer', p + 'grading_history', ['tenant_id', 'customer_id', 'as_of'], unique=False)
    op.create_table(p + 'grading_stage',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('run', sa.String(length=32).with_variant(sa.String(length=32, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=32, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('recency_days', sa.Integer(), nullable=True),
    sa.Column('frequency', sa.Integer(), nullable=False),
    sa.Column('monetary', crmkit.Money(), nullable=False),
    sa.Column('r', sa.Integer(), nullable=True),
    sa.Column('f', sa.Integer(), nullable=True),
    sa.Column('m', sa.Integer(), nullable=True),
    sa.Column('segment', sa.String(length=20).with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('abc', sa.String(length=1).with_variant(sa.String(length=1, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=1, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('tier', sa.String(length=20).with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index(p + 'ix_grading_stage_run', p + 'grading_stage', ['tenant_id', 'run', 'customer_id'], unique=False)

def downgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    op.drop_table(p + 'grading_stage')
    op.drop_table(p + 'grading_history')
    op.drop_table(p + 'grading_grades')
