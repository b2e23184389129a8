"""Typed, bounded plugin settings: one mechanism for every plugin.

A plugin's settings class is a frozen attrs class whose fields come from these helpers::

    from crmkit.settings import boolean, integer, number, text

    @frozen
    class Settings:
        window_days: int = integer(365, low=1, high=36_500)
        factor: float = number(1.5, low=1, high=1000, low_inclusive=False)
        notify: bool = boolean(False)
        language: str = text("zh", choices=("zh", "en"))

Every value is checked when the settings object is built, which happens before
``plugins set`` writes anything, so a setting that was accepted can never break a
command later. The checks are strict:

* a boolean is only JSON ``true`` or ``false`` (``no``, ``off``, ``"False"``, ``0`` are
  refused, not taken as true);
* a whole number is an ``int`` within ``[low, high]`` (``1.5``, ``true`` and
  ``"30"`` are refused, never rounded);
* a number is an ``int`` or a finite ``float`` within its bounds (``NaN`` and
  ``Infinity`` are refused);
* a text is a ``str`` of at most ``max_length`` characters, optionally one of
  ``choices``.

The core's settings converter (:func:`crmkit.convert.structure_settings`) applies the
same type rules to fields declared without these helpers. Messages quote at most 80
characters of the value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import attrs

__all__ = ["MAX_DAYS", "boolean", "check_lease", "integer", "number", "quote", "text"]

#: The largest number of days a setting may hold (about 100 years): date arithmetic
#: (today - days) stays inside the calendar for any date crmkit accepts.
MAX_DAYS = 36_500


def quote(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (with ``…`` when cut): the cut of
    :func:`crmkit.checks.quote`, applied to the repr (settings name the type)."""
    from .checks import quote as cut

    return cut(repr(value), limit)


def _refuse(name: str, what: str, value: Any) -> ValueError:
    from .i18n import _

    return ValueError(_("setting {name} must be {what}, got {value}").format(
        name=name, what=what, value=quote(value)))


def is_int(value: Any) -> bool:
    """A whole number: an ``int`` that is not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An ``int`` (not ``bool``) or a finite ``float``."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def _bounds(low: Any, high: Any, low_inclusive: bool = True) -> str:
    from .i18n import _

    if low is not None and high is not None:
        if low_inclusive:
            return _("from {low} to {high}").format(low=low, high=high)
        return _("greater than {low} and at most {high}").format(low=low, high=high)
    if low is not None:
        return (_("of {low} or more") if low_inclusive
                else _("greater than {low}")).format(low=low)
    if high is not None:
        return _("of at most {high}").format(high=high)
    return ""


def integer(default: int, *, low: int | None = None, high: int | None = None,
            optional: bool = False) -> Any:
    """A whole-number field within ``[low, high]`` (None when ``optional``)."""
    from .i18n import _

    def what() -> str:  # in the language of the moment the value is refused
        return (_("a whole number {bounds}").format(bounds=_bounds(low, high))).strip()

    def check(_inst: Any, attr: Any, value: Any) -> None:
        if optional and value is None:
            return
        if not is_int(value) or (low is not None and value < low) or (
                high is not None and value > high):
            raise _refuse(attr.name, what(), value)

    return attrs.field(default=default, validator=check)


def number(default: float, *, low: float | None = None, high: float | None = None,
           low_inclusive: bool = True) -> Any:
    """A finite number field within its bounds, stored as ``float``."""
    from .i18n import _

    def what() -> str:  # in the language of the moment the value is refused
        return (_("a finite number {bounds}").format(
            bounds=_bounds(low, high, low_inclusive))).strip()

    def check(_inst: Any, attr: Any, value: Any) -> None:
        if not is_number(value):
            raise _refuse(attr.name, what(), value)
        too_low = low is not None and (value < low if low_inclusive else value <= low)
        if too_low or (high is not None and value > high):
            raise _refuse(attr.name, what(), value)

    def convert(value: Any) -> Any:
        return float(value) if is_number(value) else value

    return attrs.field(default=float(default), converter=convert, validator=check)


def boolean(default: bool) -> Any:
    """A boolean field: only ``True``/``False`` (JSON ``true``/``false``)."""
    from .i18n import _

    def check(_inst: Any, attr: Any, value: Any) -> None:
        if not isinstance(value, bool):
            raise _refuse(attr.name, _("true or false"), value)

    return attrs.field(default=default, validator=check)


def text(default: str | None, *, max_length: int = 200, choices: Sequence[str] = (),
         optional: bool = False) -> Any:
    """A text field of at most ``max_length`` characters, one of ``choices`` if given."""
    from .i18n import _

    def check(_inst: Any, attr: Any, value: Any) -> None:
        if optional and value is None:
            return
        if choices:
            if value not in choices:
                raise _refuse(attr.name, _("one of {choices}").format(
                    choices=", ".join(choices)), value)
            return
        if not isinstance(value, str) or len(value) > max_length:
            raise _refuse(attr.name, _("a text of at most {n} characters").format(
                n=max_length), value)

    return attrs.field(default=default, validator=check)


def check_lease(settings: Any) -> None:
    """For a queue's settings (``lease_seconds``, ``timeout_seconds``): refuse a lease
    no longer than a send, which would let a second sender claim a message still being
    sent. Call it from the settings class's ``__attrs_post_init__``."""
    from .i18n import _

    if settings.lease_seconds <= settings.timeout_seconds + 1:
        raise ValueError(_("setting lease_seconds ({lease_seconds:g}) must "
                           "exceed timeout_seconds ({timeout_seconds:g}) by "
                           "more than 1").format(lease_seconds=settings.lease_seconds,
                                                 timeout_seconds=settings.timeout_seconds))
