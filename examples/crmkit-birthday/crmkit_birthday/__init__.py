"""crmkit-birthday: birthday greetings for the contacts of your customers.

A third-party-style crmkit plugin, in its own distribution: it uses only crmkit's
public API. It shows every extension point a plugin usually needs:

* a setting (``days_ahead``: how many days ahead to remind, default 7);
* a table (``birthday_dates``: month, day and, when known, year of a contact's birth);
* a reminder (``crm_reminders``: "Zhang Wei turns 36" on the day of the birthday, to
  the customer's owner, ``days_ahead`` days in advance at most);
* a section of the customer's 360° view (``crm_customer_sections``);
* CLI commands (``crmkit birthday set CONTACT_ID DATE`` and ``crmkit birthday list``).
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

import attrs
from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    and_,
    or_,
    select,
)

import crmkit

from .service import list_birthdays, next_birthday, parse_birthday, set_birthday


def _days(instance: Any, attribute: Any, value: int) -> None:
    if not 0 <= value <= 366:
        raise ValueError(f"{attribute.name} must be between 0 and 366, not {value}")


@attrs.frozen
class Settings:
    """``crmkit plugins set birthday days_ahead 14``."""

    days_ahead: int = attrs.field(default=7, validator=_days)


PLUGIN = crmkit.PluginSpec(
    name="birthday",
    version="0.1.0",
    description="Birthday greetings: reminds a customer's owner of their contacts' "
                "birthdays.",
    settings=Settings,
)


@crmkit.hookimpl
def crm_tables(metadata: MetaData, prefix: str) -> None:
    """One row per contact with a known birthday (year may be unknown)."""
    Table(
        f"{prefix}birthday_dates", metadata,
        Column("tenant_id", Integer, nullable=False),
        Column("contact_id", Integer, nullable=False),
        Column("customer_id", Integer, nullable=False),
        Column("month", Integer, nullable=False),
        Column("day", Integer, nullable=False),
        Column("year", Integer),
        PrimaryKeyConstraint("tenant_id", "contact_id"),
        Index(f"{prefix}ix_birthday_dates_day", "tenant_id", "month", "day"),
    )


def _window(on: dt.date, days: int) -> dict[tuple[int, int], dt.date]:
    """(month, day) -> the date it is celebrated on, for every day from ``on`` to
    ``on + days``. In a year without 29 February, 29 February is celebrated on the 28th."""
    out: dict[tuple[int, int], dt.date] = {}
    for i in range(days + 1):
        d = on + dt.timedelta(days=i)
        out.setdefault((d.month, d.day), d)  # the first occurrence when days > 365
        if d.month == 2 and d.day == 28 and not calendar.isleap(d.year):
            out.setdefault((2, 29), d)
    return out


@crmkit.hookimpl
def crm_reminders(ctx: Any, on: dt.date) -> list[crmkit.Reminder]:
    """A reminder for each birthday from ``on`` to ``on + days_ahead``."""
    window = _window(on, ctx.settings("birthday").days_ahead)
    b = ctx.crm.table("birthday_dates")
    k, c = ctx.crm.table("contacts"), ctx.crm.table("customers")
    days_by_month: dict[int, list[int]] = {}
    for m, d in window:
        days_by_month.setdefault(m, []).append(d)
    in_window = or_(*(and_(b.c.month == m, b.c.day.between(min(ds), max(ds)))
                      for m, ds in sorted(days_by_month.items())))
    rows = ctx.conn.execute(
        select(b.c.contact_id, b.c.month, b.c.day, b.c.year, k.c.name.label("contact"),
               c.c.id.label("customer_id"), c.c.name.label("customer"), c.c.owner)
        .join(k, k.c.id == b.c.contact_id)
        .join(c, c.c.id == b.c.customer_id)
        .where(b.c.tenant_id == ctx.tenant.id, in_window, c.c.status != "archived")
    )
    out = []
    for r in rows:
        when = window.get((r.month, r.day))
        if when is None:  # a month both at the start and the end of a window near a year
            continue
        age = when.year - r.year if r.year else None
        subject = (f"{r.contact} turns {age}" if age else f"Birthday of {r.contact}")
        out.append(crmkit.Reminder(
            key=f"birthday:{r.contact_id}:{when.isoformat()}", plugin="birthday",
            kind="birthday", subject=f"{subject} ({r.customer})", customer_id=r.customer_id,
            customer=r.customer, owner=r.owner, due_on=when))
    return out


@crmkit.hookimpl
def crm_customer_sections(ctx: Any, customer: Any, on: dt.date) -> crmkit.Section | None:
    """The birthdays of the customer's contacts, next one first."""
    rows = list_birthdays(ctx.crm, on=on, customer_id=customer.id)
    if not rows:
        return None
    return crmkit.Section(plugin="birthday", title="Birthdays", data=rows)


@crmkit.hookimpl
def crm_cli(cli: Any) -> None:
    """``crmkit birthday set|list``."""
    from .cli import birthday

    cli.add_command(birthday)


__all__ = ["PLUGIN", "Settings", "list_birthdays", "next_birthday", "parse_birthday",
           "set_birthday"]
