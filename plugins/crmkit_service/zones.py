"""The tenant's time zone and the datetimes users type."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from crmkit import ValidationError
from crmkit.i18n import Domain

_ = Domain("crmkit_service").gettext
UTC = ZoneInfo("UTC")


def tenant_zone(ctx: Any) -> ZoneInfo:
    """The tenant's zone: ``ctx.zone`` (from the core, once it has one), else the
    tenant's ``timezone`` field, else UTC."""
    zone = getattr(ctx, "zone", None)
    if zone is not None:
        return zone
    name = getattr(ctx.tenant, "timezone", None)
    return ZoneInfo(name) if name else UTC


def day_start(ctx: Any, day: dt.date) -> dt.datetime:
    """The UTC instant at which ``day`` begins in the tenant's zone."""
    return dt.datetime.combine(day, dt.time(), tenant_zone(ctx)).astimezone(dt.UTC)


def day_end(ctx: Any, day: dt.date) -> dt.datetime:
    """The UTC instant at which ``day`` ends (the next day begins) in the tenant's zone:
    "at or before the end of D" is ``< day_end(D)``."""
    return day_start(ctx, day + dt.timedelta(days=1))


def local_date(ctx: Any, instant: dt.datetime) -> dt.date:
    """The tenant's calendar date of a UTC instant."""
    return instant.astimezone(tenant_zone(ctx)).date()


def add_hours(ctx: Any, instant: dt.datetime, hours: float) -> dt.datetime:
    """``hours`` after ``instant`` on the tenant's wall clock (the same as elapsed hours
    except across a daylight-saving change), as a UTC instant."""
    local = instant.astimezone(tenant_zone(ctx))
    return (local + dt.timedelta(hours=hours)).astimezone(dt.UTC)


def parse_at(ctx: Any, value: Any, option: str = "--at") -> dt.datetime | None:
    """An ISO 8601 datetime (``2026-11-22T10:30``), in the tenant's zone when it has no
    offset, as a UTC instant; None stays None."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        at = value
    else:
        try:
            at = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise ValidationError(_("invalid {option} '{value}'; expected a datetime like "
                                    "2026-11-22T10:30").format(option=option,
                                                               value=str(value)[:80])) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=tenant_zone(ctx))
    return at.astimezone(dt.UTC)
