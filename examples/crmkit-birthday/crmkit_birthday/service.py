"""The birthday plugin's Python API (the CLI and the hooks use it too)."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Any

from sqlalchemy import select

import crmkit

_DATE = re.compile(r"^(?:(\d{4})-)?(\d{2})-(\d{2})$")


def parse_birthday(text: str) -> tuple[int | None, int, int]:
    """``1990-11-25`` or ``11-25`` (year unknown) -> (year, month, day)."""
    m = _DATE.match(text.strip())
    if m:
        year, month, day = (int(g) if g else None for g in m.groups())
        try:
            dt.date(year or 2000, month, day)  # type: ignore[arg-type] - 2000 is a leap year
            return year, month, day  # type: ignore[return-value]
        except ValueError:
            pass
    raise crmkit.ValidationError(f"invalid birthday '{text}'; expected YYYY-MM-DD or MM-DD")


def next_birthday(month: int, day: int, on: dt.date) -> dt.date:
    """The first day on or after ``on`` the birthday is celebrated (29 February on the 28th
    in other years)."""
    for year in (on.year, on.year + 1):
        d = dt.date(year, month, 28 if (month, day) == (2, 29) and not calendar.isleap(year)
                    else day)
        if d >= on:
            return d
    raise AssertionError("unreachable")  # pragma: no cover


def set_birthday(crm: Any, contact_id: int, text: str) -> dict[str, Any]:
    """Record a contact's birthday (replacing one set before); audited."""
    year, month, day = parse_birthday(text)
    with crm.unit() as ctx:
        k, b = ctx.crm.table("contacts"), ctx.crm.table("birthday_dates")
        contact = ctx.conn.execute(select(k).where(
            k.c.tenant_id == ctx.tenant.id, k.c.id == contact_id)).first()
        if contact is None:
            raise crmkit.NotFound(f"contact {contact_id} not found")
        ctx.crm.customers.require(ctx, contact.customer_id, "update")
        where = (b.c.tenant_id == ctx.tenant.id, b.c.contact_id == contact_id)
        old = ctx.conn.execute(select(b).where(*where)).first()
        row = {"month": month, "day": day, "year": year}
        if old is None:
            ctx.conn.execute(b.insert().values(tenant_id=ctx.tenant.id, contact_id=contact_id,
                                               customer_id=contact.customer_id, **row))
        else:
            ctx.conn.execute(b.update().where(*where).values(**row))
        before = ({"month": old.month, "day": old.day, "year": old.year} if old else None)
        ctx.audit("birthday", contact_id, "update" if old else "insert", before, row,
                  customer_id=contact.customer_id)
        return {"contact_id": contact_id, "contact": contact.name, **row}


def list_birthdays(crm: Any, on: dt.date | None = None,
                   customer_id: int | None = None) -> list[dict[str, Any]]:
    """Birthdays of the contacts of customers the user may see, next one first."""
    with crm.unit(write=False) as ctx:
        on = on or ctx.today
        b, k = ctx.crm.table("birthday_dates"), ctx.crm.table("contacts")
        c = ctx.crm.table("customers")
        q = (select(b.c.contact_id, b.c.month, b.c.day, b.c.year, k.c.name.label("contact"),
                    c.c.id.label("customer_id"), c.c.name.label("customer"), c.c.owner)
             .join(k, k.c.id == b.c.contact_id).join(c, c.c.id == b.c.customer_id)
             .where(b.c.tenant_id == ctx.tenant.id,
                    c.c.id.in_(ctx.crm.customers.visible_ids(ctx))))
        if customer_id is not None:
            q = q.where(c.c.id == customer_id)
        out = []
        for r in ctx.conn.execute(q):
            nxt = next_birthday(r.month, r.day, on)
            out.append({
                "contact_id": r.contact_id, "contact": r.contact,
                "customer_id": r.customer_id, "customer": r.customer, "owner": r.owner,
                "birthday": (f"{r.year:04d}-" if r.year else "") + f"{r.month:02d}-{r.day:02d}",
                "next": nxt.isoformat(), "in_days": (nxt - on).days,
                "turns": nxt.year - r.year if r.year else None,
            })
        out.sort(key=lambda x: (x["next"], x["contact_id"]))
        return out
