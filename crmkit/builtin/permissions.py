"""Default permissions: admins and managers do everything in their tenant; a ``sales``
user sees and changes only the customers they own and those customers' items.

Registered ``trylast`` so that other plugins' opinions come first; any plugin's False
still denies.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..hookspecs import hookimpl
from ..plugins import PluginSpec
from ..records import Customer

PLUGIN = PluginSpec(name="permissions", version="0.1.0",
                    description="Role-based default permissions (built in).")


def _owner_of(ctx: Any, record: Any) -> str | None:
    if isinstance(record, Customer):
        return record.owner
    customer_id = getattr(record, "customer_id", None)
    if customer_id is not None:
        t = ctx.crm.table("customers")
        return ctx.conn.execute(select(t.c.owner).where(
            t.c.tenant_id == ctx.tenant.id, t.c.id == customer_id)).scalar()
    return getattr(record, "owner", None)


@hookimpl(trylast=True)
def crm_permission(ctx: Any, user: Any, action: str, record: Any) -> bool | None:
    if user.role in ("admin", "manager"):
        return True
    if record is None:
        return True
    return _owner_of(ctx, record) == user.name


@hookimpl(trylast=True)
def crm_customer_scope(ctx: Any, user: Any, customers: Any) -> Any:
    if user.role == "sales":
        return customers.c.owner == user.name
    return None
