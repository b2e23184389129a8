"""Time zones: every tenant lives in one (an IANA name, default ``UTC``).

Today is the current date in the tenant's zone (unless ``--today`` fixes it); a
datetime given without an offset is in the tenant's zone; instants are stored and
printed in JSON in UTC with an offset; tables show them in the tenant's zone (the zone
of the running operation, a :class:`contextvars.ContextVar` like the locale, so threads
and tasks of a host application never see each other's).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ValidationError

UTC = dt.UTC
UTC_ZONE = ZoneInfo("UTC")
#: A clock: a callable giving the current instant (aware). Tests inject their own.
Clock = Callable[[], dt.datetime]

_display: ContextVar[ZoneInfo | None] = ContextVar("crmkit_zone", default=None)


def parse_zone(value: object, what: str = "time zone") -> ZoneInfo:
    """An IANA time zone (``Asia/Shanghai``, ``UTC``); anything else is a ValidationError
    naming the value."""
    from .i18n import _, _clip

    if isinstance(value, str) and value and not value.startswith(("/", ".")):
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise ValidationError(_(
        "unknown {what} '{value}'; expected an IANA name such as Asia/Shanghai or "
        "UTC").format(what=what, value=_clip(value)))


def zone_of(tenant: Any) -> ZoneInfo:
    """The tenant's zone (UTC for a record without one)."""
    name = getattr(tenant, "timezone", None) or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # pragma: no cover - validated
        return UTC_ZONE


def system_clock() -> dt.datetime:
    """The real current instant, in UTC."""
    return dt.datetime.now(UTC)


def instant(value: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """An aware instant in UTC: a naive ``value`` is read in ``zone``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def set_display_zone(zone: ZoneInfo | None) -> Token[ZoneInfo | None]:
    """Choose the zone tables show instants in (``None``: UTC). Returns the token."""
    return _display.set(zone)


def reset_display_zone(token: Token[ZoneInfo | None]) -> None:
    _display.reset(token)


def display_zone() -> ZoneInfo:
    """The zone of the running operation's tenant (UTC outside any)."""
    return _display.get() or UTC_ZONE


def local(value: dt.datetime) -> dt.datetime:
    """An instant as the running tenant's wall-clock time (for tables)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(display_zone())


__all__ = ["UTC_ZONE", "Clock", "display_zone", "instant", "local", "parse_zone",
           "reset_display_zone", "set_display_zone", "system_clock", "zone_of"]
