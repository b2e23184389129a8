"""The product catalogue: ``product add|list|update``.

Every write is one ``crm.unit()``: the permission check (``insights.manage``), the row
and its audit row (table ``product`` in the change feed). Bad input raises before
anything is written.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from attrs import frozen
from sqlalchemy import func, select

import crmkit
from crmkit import NotFound, ValidationError, parse_money
from crmkit.i18n import Domain

from .tables import CATEGORY_MAX, NAME_MAX

_ = Domain("crmkit_insights").gettext

MANAGE, READ = "insights.manage", "insights.read"
_UNSET: Any = object()


@frozen
class Product:
    """A catalogue product: its category and its unit cost and price (base currency)."""

    id: int
    tenant_id: int
    name: str
    category: str | None = None
    cost: Decimal | None = None
    price: Decimal | None = None

    @classmethod
    def from_row(cls, row: Any) -> Product:
        return cls(id=row.id, tenant_id=row.tenant_id, name=row.name, category=row.category,
                   cost=row.cost, price=row.price)


def q(value: Any, limit: int = 80) -> str:
    """At most ``limit`` characters of a user's value, for a message."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(value: Any, what: str, limit: int, required: bool) -> str | None:
    text = None if value is None else str(value).strip()
    if not text:
        if required:
            raise ValidationError(_("{what} is required").format(what=what))
        return None
    if len(text) > limit or "\x00" in text:
        raise ValidationError(_("invalid {what} '{value}': at most {n} characters")
                              .format(what=what, value=q(text), n=limit))
    return text


def _amount(value: Any, what: str) -> Decimal | None:
    if value is None or value == "":
        return None
    amount = parse_money(value, what=what)
    if amount < 0:
        raise ValidationError(_("{what} must not be negative, got {value}")
                              .format(what=what, value=q(value)))
    return amount


def _load(ctx: crmkit.Context, name: str) -> Product:
    t = ctx.crm.table("insights_products")
    row = ctx.conn.execute(select(t).where(t.c.tenant_id == ctx.tenant.id,
                                           t.c.name == name)).first()
    if row is None:
        raise NotFound(_("no product '{name}'").format(name=q(name)))
    return Product.from_row(row)


def add(crm: crmkit.Crm, name: str, *, category: str | None = None, cost: Any = None,
        price: Any = None) -> Product:
    """Add a product to the catalogue."""
    with crm.unit() as ctx:
        ctx.check(MANAGE, None, _("the product catalogue"))
        clean = _text(name, _("product name"), NAME_MAX, True)
        values = {"name": clean,
                  "category": _text(category, _("category"), CATEGORY_MAX, False),
                  "cost": _amount(cost, _("cost of '{name}'").format(name=q(clean))),
                  "price": _amount(price, _("price of '{name}'").format(name=q(clean)))}
        t = ctx.crm.table("insights_products")
        if ctx.conn.execute(select(t.c.id).where(t.c.tenant_id == ctx.tenant.id,
                                                 t.c.name == clean)).first():
            raise ValidationError(_("product '{name}' already exists").format(name=q(clean)))
        now = ctx.now()
        ctx.conn.execute(t.insert().values(tenant_id=ctx.tenant.id, created_at=now,
                                           updated_at=now, **values))
        p = _load(ctx, clean)  # type: ignore[arg-type]
        ctx.audit("product", p.id, "insert", None, p)
        return p


def update(crm: crmkit.Crm, name: str, *, new_name: Any = _UNSET, category: Any = _UNSET,
           cost: Any = _UNSET, price: Any = _UNSET) -> Product:
    """Change a product; an empty category, cost or price clears it."""
    with crm.unit() as ctx:
        ctx.check(MANAGE, None, _("the product catalogue"))
        before = _load(ctx, name)
        changes: dict[str, Any] = {}
        if new_name is not _UNSET and new_name is not None:
            changes["name"] = _text(new_name, _("product name"), NAME_MAX, True)
        if category is not _UNSET:
            changes["category"] = _text(category, _("category"), CATEGORY_MAX, False)
        if cost is not _UNSET:
            changes["cost"] = _amount(cost, _("cost of '{name}'").format(name=q(name)))
        if price is not _UNSET:
            changes["price"] = _amount(price, _("price of '{name}'").format(name=q(name)))
        changes = {k: v for k, v in changes.items() if getattr(before, k) != v}
        if not changes:
            return before
        t = ctx.crm.table("insights_products")
        if "name" in changes and ctx.conn.execute(select(t.c.id).where(
                t.c.tenant_id == ctx.tenant.id, t.c.name == changes["name"])).first():
            raise ValidationError(_("product '{name}' already exists")
                                  .format(name=q(changes["name"])))
        ctx.conn.execute(t.update().where(t.c.id == before.id)
                         .values(updated_at=ctx.now(), **changes))
        after = _load(ctx, changes.get("name", before.name))
        ctx.audit("product", after.id, "update", before, after)
        return after


def list_products(crm: crmkit.Crm, *, limit: int | None = None, offset: int = 0
                  ) -> tuple[list[Product], int]:
    """The catalogue by name, and how many products it has."""
    with crm.unit(write=False) as ctx:
        ctx.check(READ, None, _("the product catalogue"))
        t = ctx.crm.table("insights_products")
        mine = t.c.tenant_id == ctx.tenant.id
        total = int(ctx.conn.execute(select(func.count()).where(mine)).scalar_one())
        stmt = select(t).where(mine).order_by(t.c.name, t.c.id).offset(offset)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [Product.from_row(r) for r in ctx.conn.execute(stmt)], total
