"""core: document lines may carry a unit cost (insights' profit)

Revision ID: core_0005
Revises: core_0004
"""

import sqlalchemy as sa
from alembic import op

import crmkit

revision = "core_0005"
down_revision = "core_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    with op.batch_alter_table(p + "document_lines") as batch:
        batch.add_column(sa.Column("unit_cost", crmkit.Money(), nullable=True))


def downgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    with op.batch_alter_table(p + "document_lines") as batch:
        batch.drop_column("unit_cost")
