"""Helpers shared by the services: field checks that give one clear sentence each."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..errors import NotFound, ValidationError
from ..money import parse_money

if TYPE_CHECKING:
    from ..app import Crm
    from ..context import Context

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+\Z")  # \Z: "$" allows a final "\n"
UTC = dt.UTC


class Service:
    def __init__(self, crm: Crm):
        self.crm = crm

    def table(self, name: str) -> Any:
        return self.crm.table(name)


class Checker:
    """Collects field errors; ``raise_if_any`` turns them into one ValidationError."""

    def __init__(self, what: str):
        self.what = what
        self.errors: list[str] = []

    def text(self, field: str, value: Any, limit: int, *, required: bool = False) -> str | None:
        if value is None or (isinstance(value, str) and value == "" and not required):
            if required:
                self.errors.append(f"{self.what} {field} is required")
            return None
        if not isinstance(value, str):
            value = str(value)
        if required and not value.strip():
            self.errors.append(f"{self.what} {field} must not be empty")
        if "\x00" in value:
            self.errors.append(f"{self.what} {field} contains a NUL character")
        if len(value) > limit:
            self.errors.append(
                f"{self.what} {field} is {len(value)} characters long; the limit is {limit}")
        return value

    def choice(self, field: str, value: Any, allowed: tuple[str, ...]) -> Any:
        if value not in allowed:
            self.errors.append(
                f"unknown {self.what} {field} '{value}'; valid: {', '.join(allowed)}")
        return value

    def email(self, value: str | None) -> str | None:
        value = self.text("email", value, 200)
        if value and not EMAIL.match(value):
            self.errors.append(f"invalid e-mail address '{value}'")
        return value

    def money(self, field: str, value: Any, *, minimum: Any = 0) -> Any:
        try:
            d = parse_money(value, what=field)
        except ValidationError as exc:
            self.errors.extend(exc.errors)
            return None
        if minimum is not None and d < minimum:
            self.errors.append(f"{field} must not be negative, got {value}")
        return d

    def date(self, field: str, value: Any) -> dt.date | None:
        if value is None or isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            self.errors.append(f"invalid {field} '{value}'; expected YYYY-MM-DD")
            return None

    def raise_if_any(self, extra: Any = None) -> None:
        errs = list(self.errors)
        for group in extra or ():
            if isinstance(group, str):
                errs.append(group)
            elif group:
                errs.extend(group)
        if errs:
            raise ValidationError(errs)


def parse_datetime(value: Any, field: str = "datetime") -> dt.datetime:
    """ISO 8601; a value without offset is UTC."""
    if isinstance(value, dt.datetime):
        d = value
    elif isinstance(value, dt.date):
        d = dt.datetime.combine(value, dt.time(), UTC)
    else:
        try:
            d = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise ValidationError(
                f"invalid {field} '{value}'; expected YYYY-MM-DDTHH:MM") from None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def user_names(ctx: Context) -> set[str]:
    u = ctx.crm.table("users")
    return set(ctx.conn.scalars(select(u.c.name).where(u.c.tenant_id == ctx.tenant.id)))


def check_owner(ctx: Context, checker: Checker, owner: str | None) -> None:
    if owner is None:
        return
    u = ctx.crm.table("users")
    found = ctx.conn.execute(select(u.c.id).where(u.c.tenant_id == ctx.tenant.id,
                                                  u.c.name == owner)).first()
    if found is None:
        checker.errors.append(f"unknown owner '{owner}'; add the user first "
                              f"(`crmkit user add {owner}`)")


def get_row(ctx: Context, table: str, id_: int, label: str) -> Any:
    t = ctx.crm.table(table)
    row = ctx.conn.execute(select(t).where(t.c.tenant_id == ctx.tenant.id,
                                           t.c.id == id_)).first()
    if row is None:
        raise NotFound(f"{label} {id_} not found")
    return row


def flatten(results: Any) -> list[str]:
    out: list[str] = []
    for r in results or ():
        if isinstance(r, str):
            out.append(r)
        elif r:
            out.extend(r)
    return out


def audit_row(ctx: Context, table: str, row_id: int, after: Any,
              customer_id: int | None) -> dict[str, Any]:
    """An audit insert row for bulk paths (``ctx.audit`` writes one at a time)."""
    from ..context import _jsonable

    return {"tenant_id": ctx.tenant.id, "at": ctx.now(), "user": ctx.user.name,
            "table_name": table, "row_id": row_id, "customer_id": customer_id, "op": "insert",
            "before": None, "after": _jsonable(after)}
