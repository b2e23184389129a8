"""core: users get an optional e-mail address (where the e-mail channel reaches them)

Revision ID: core_0002
Revises: core_0001
"""

import sqlalchemy as sa
from alembic import op

from crmkit.storage import Str

revision = "core_0002"
down_revision = "core_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    with op.batch_alter_table(p + "users") as batch:
        batch.add_column(sa.Column("email", Str(200), nullable=True))


def downgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    with op.batch_alter_table(p + "users") as batch:
        batch.drop_column("email")
