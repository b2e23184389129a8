"""core: initial tables

Revision ID: core_0001
Revises: -
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import crmkit.storage

revision = "core_0001"
down_revision = None
branch_labels = ("core",)
depends_on = None

def upgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    op.create_table(p + 'tenants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=64).with_variant(sa.String(length=64, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=64, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('name', sa.String(length=200).with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('currency', sa.String(length=3).with_variant(sa.String(length=3, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=3, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('created_at', crmkit.storage.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('slug'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_table(p + 'users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('role', sa.String(length=20).with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('created_at', crmkit.storage.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], [p + 'tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'name', name=p + 'uq_users_name'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_table(p + 'customers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200).with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('kind', sa.String(length=20).with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('status', sa.String(length=20).with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('owner', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('email', sa.String(length=200).with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('phone', sa.String(length=64).with_variant(sa.String(length=64, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=64, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('address', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.Column('tags', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.Column('external_id', sa.String(length=200).with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=True),
    sa.Column('created_at', crmkit.storage.UTCDateTime(), nullable=False),
    sa.Column('updated_at', crmkit.storage.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], [p + 'tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'external_id', name=p + 'uq_customers_external_id'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index(p + 'ix_customers_email', p + 'customers', ['tenant_id', 'email'], unique=False)
    op.create_index(p + 'ix_customers_name', p + 'customers', ['tenant_id', 'name'], unique=False)
    op.create_index(p + 'ix_customers_owner', p + 'customers', ['tenant_id', 'owner'], unique=False)
    op.create_index(p + 'ix_customers_status', p + 'customers', ['tenant_id', 'status'], unique=False)
    op.create_table(p + 'contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200).with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('title', sa.String(length=200).with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('email', sa.String(length=200).with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('phone', sa.String(length=64).with_variant(sa.String(length=64, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=64, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], [p + 'customers.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], [p + 'tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index(p + 'ix_contacts_customer', p + 'contacts', ['tenant_id', 'customer_id'], unique=False)
    op.create_table(p + 'activities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20).with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('subject', sa.String(length=500).with_variant(sa.String(length=500, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=500, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('body', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.Column('owner', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('occurred_at', crmkit.storage.UTCDateTime(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('done_at', crmkit.storage.UTCDateTime(), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], [p + 'customers.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], [p + 'tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index(p + 'ix_activities_customer', p + 'activities', ['tenant_id', 'customer_id', 'occurred_at'], unique=False)
    op.create_index(p + 'ix_activities_owner', p + 'activities', ['tenant_id', 'owner', 'occurred_at'], unique=False)
    op.create_table(p + 'documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20).with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('number', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('status', sa.String(length=20).with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=20, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('amount', crmkit.storage.Money(), nullable=False),
    sa.Column('currency', sa.String(length=3).with_variant(sa.String(length=3, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=3, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('applies_to', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('attachment', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=True),
    sa.Column('created_at', crmkit.storage.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], [p + 'customers.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], [p + 'tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'kind', 'number', name=p + 'uq_documents_number'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index(p + 'ix_documents_applies', p + 'documents', ['tenant_id', 'applies_to'], unique=False)
    op.create_index(p + 'ix_documents_customer', p + 'documents', ['tenant_id', 'customer_id', 'kind', 'issued_on'], unique=False)
    op.create_index(p + 'ix_documents_kind', p + 'documents', ['tenant_id', 'kind', 'issued_on'], unique=False)
    op.create_table(p + 'document_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('product', sa.String(length=200).with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=200, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('quantity', crmkit.storage.Quantity(), nullable=False),
    sa.Column('unit_price', crmkit.storage.Money(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], [p + 'documents.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], [p + 'tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index(p + 'ix_document_lines_document', p + 'document_lines', ['tenant_id', 'document_id'], unique=False)
    op.create_index(p + 'ix_document_lines_product', p + 'document_lines', ['tenant_id', 'product'], unique=False)
    op.create_table(p + 'plugin_state',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('plugin', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=True),
    sa.Column('updated_at', crmkit.storage.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], [p + 'tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant_id', 'plugin'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_table(p + 'audit',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('at', crmkit.storage.UTCDateTime(), nullable=False),
    sa.Column('user', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('table_name', sa.String(length=64).with_variant(sa.String(length=64, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=64, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('row_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('op', sa.String(length=10).with_variant(sa.String(length=10, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=10, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index(p + 'ix_audit_cursor', p + 'audit', ['tenant_id', 'id'], unique=False)
    op.create_index(p + 'ix_audit_customer', p + 'audit', ['tenant_id', 'customer_id'], unique=False)
    op.create_table(p + 'outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', crmkit.storage.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index(p + 'ix_outbox_cursor', p + 'outbox', ['tenant_id', 'id'], unique=False)
    op.create_table(p + 'deliveries',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255).with_variant(sa.String(length=255, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=255, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('plugin', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('kind', sa.String(length=64).with_variant(sa.String(length=64, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=64, collation='utf8mb4_bin'), 'mysql'), nullable=False),
    sa.Column('owner', sa.String(length=100).with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=100, collation='utf8mb4_bin'), 'mysql'), nullable=True),
    sa.Column('delivered_at', crmkit.storage.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'key'),
    mariadb_charset='utf8mb4',
    mariadb_engine='InnoDB',
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )

def downgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    op.drop_table(p + 'deliveries')
    op.drop_table(p + 'outbox')
    op.drop_table(p + 'audit')
    op.drop_table(p + 'plugin_state')
    op.drop_table(p + 'document_lines')
    op.drop_table(p + 'documents')
    op.drop_table(p + 'activities')
    op.drop_table(p + 'contacts')
    op.drop_table(p + 'customers')
    op.drop_table(p + 'users')
    op.drop_table(p + 'tenants')
