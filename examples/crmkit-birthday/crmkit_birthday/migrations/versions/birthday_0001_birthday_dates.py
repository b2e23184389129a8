"""birthday: birthday dates

Revision ID: birthday_0001
Revises: -
"""

import sqlalchemy as sa
from alembic import op

revision = "birthday_0001"
down_revision = None
branch_labels = ("birthday",)
depends_on = "core_0001"


def upgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    op.create_table(p + 'birthday_dates',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('tenant_id', 'contact_id')
    )
    op.create_index(p + 'ix_birthday_dates_day', p + 'birthday_dates', ['tenant_id', 'month', 'day'], unique=False)


def downgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    op.drop_table(p + 'birthday_dates')
