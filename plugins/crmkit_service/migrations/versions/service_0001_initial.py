"""service: initial

Revision ID: service_0001
Revises: -
"""

import crmkit
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "service_0001"
down_revision = None
branch_labels = ("service",)
depends_on = "core_0001"


def upgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    op.create_table(p + 'service_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=500).with_variant(sa.String(length=500, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=500, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('body', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.Column('priority', sa.String(length=10).with_variant(sa.String(length=10, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=10, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('channel', sa.String(length=10).with_variant(sa.String(length=10, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=10, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('product', sa.String(length=200).with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('owner', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('status', sa.String(length=10).with_variant(sa.String(length=10, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=10, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('opened_at', crmkit.UTCDateTime(), nullable=False),
    sa.Column('first_response_at', crmkit.UTCDateTime(), nullable=True),
    sa.Column('resolved_at', crmkit.UTCDateTime(), nullable=True),
    sa.Column('closed_at', crmkit.UTCDateTime(), nullable=True),
    sa.Column('solution', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('response_due', crmkit.UTCDateTime(), nullable=False),
    sa.Column('resolution_due', crmkit.UTCDateTime(), nullable=False),
    sa.Column('resolution_seconds', sa.Integer(), nullable=True),
    sa.Column('search_text', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.Column('reopened', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], [p + 'customers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index(p + 'ix_service_cases_customer', p + 'service_cases', ['tenant_id', 'customer_id', 'opened_at'], unique=False)
    op.create_index(p + 'ix_service_cases_opened', p + 'service_cases', ['tenant_id', 'opened_at'], unique=False)
    op.create_index(p + 'ix_service_cases_status', p + 'service_cases', ['tenant_id', 'status', 'resolution_due'], unique=False)
    op.create_table(p + 'service_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=False),
    sa.Column('at', crmkit.UTCDateTime(), nullable=False),
    sa.Column('by', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('activity_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], [p + 'service_cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index(p + 'ix_service_replies_case', p + 'service_replies', ['tenant_id', 'case_id', 'at'], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        # the solution base's index of character bigrams (crmkit_service/search.py); a
        # SQLite built without FTS5 searches without it
        try:
            op.execute(f'CREATE VIRTUAL TABLE IF NOT EXISTS "{p}service_case_fts" USING '
                       "fts5(grams, content='', tokenize='ascii')")
        except sa.exc.OperationalError:
            pass


def downgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f'DROP TABLE IF EXISTS "{p}service_case_fts"')
    op.drop_table(p + 'service_replies')
    op.drop_table(p + 'service_cases')
