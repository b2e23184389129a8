"""email: initial tables

Revision ID: email_0001
Revises: -
"""

import crmkit
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "email_0001"
down_revision = None
branch_labels = ("email",)
depends_on = "core_0001"


def upgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    op.create_table(p + 'email_queue',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20).with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=False),
    sa.Column('subject', sa.String(length=500).with_variant(sa.String(length=500, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=500, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('message', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=False),
    sa.Column('status', sa.String(length=20).with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', crmkit.UTCDateTime(), nullable=False),
    sa.Column('last_error', sa.String(length=500).with_variant(sa.String(length=500, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=500, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('lease_until', crmkit.UTCDateTime(), nullable=True),
    sa.Column('leased_by', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('sent_at', crmkit.UTCDateTime(), nullable=True),
    sa.Column('created_at', crmkit.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index(p + 'ix_email_queue_due', p + 'email_queue', ['tenant_id', 'status', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    op.drop_table(p + 'email_queue')
