"""core: users can be disabled (a disabled user cannot act)

Revision ID: core_0003
Revises: core_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "core_0003"
down_revision = "core_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    with op.batch_alter_table(p + "users") as batch:
        batch.add_column(sa.Column("active", sa.Boolean(), nullable=False,
                                   server_default=sa.true()))


def downgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    with op.batch_alter_table(p + "users") as batch:
        batch.drop_column("active")
