"""Alembic environment for crmkit: driven programmatically by crmkit.migrations.

The connection, table prefix and version table come from ``config.attributes``; the
prefix reaches revision scripts as ``op.get_context().opts["crmkit_prefix"]``.
"""

from alembic import context

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=config.attributes.get("metadata"),
    version_table=config.attributes["version_table"],
    crmkit_prefix=config.attributes["prefix"],
)
with context.begin_transaction():
    context.run_migrations()
