"""Checks of hostile input that every backend must answer alike: done in crmkit, before
the database sees the value (issue 20).

* ``extra`` holds JSON values only: objects with text keys, arrays, text, whole
  numbers, finite numbers, true, false, null; no NaN or Infinity, no lone surrogates or
  NUL in text, at most :data:`EXTRA_DEPTH` levels deep and :data:`EXTRA_MAX` characters
  as JSON. A ``Decimal`` (what a JSON file read with exact decimals gives) is taken as
  the JSON number it is.
* Dates lie from :data:`DATE_MIN` to :data:`DATE_MAX`: any of them plus or minus
  :data:`crmkit.settings.MAX_DAYS` days, or moved to another time zone, stays in the
  calendar (and MariaDB's ``DATE`` holds it).
* Ids, limits and offsets are whole numbers from 0 (or 1) to :data:`ID_MAX` (a signed
  64-bit integer): SQLite would take more, PostgreSQL and MariaDB would not.
* A message quotes at most 80 characters of a value (:func:`quote`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

from .errors import ValidationError
from .i18n import _

DATE_MIN = dt.date(1000, 1, 1)
DATE_MAX = dt.date(9899, 12, 31)
ID_MAX = 2**63 - 1
INT_MAX = 2**63 - 1
EXTRA_DEPTH = 32
EXTRA_MAX = 100_000


def quote(value: Any, limit: int = 80) -> str:
    """``value`` as text, cut to ``limit`` characters (``…`` marks the cut)."""
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates
    return text if len(text) <= limit else text[:limit - 1] + "…"


def has_surrogate(text: str) -> bool:
    """Does ``text`` hold a lone surrogate (not encodable as UTF-8)?"""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def json_value(value: Any, where: str = "extra") -> Any:
    """``value`` as a JSON-ready value (Decimal -> int or float, tuple -> list), or a
    ValidationError naming the first bad part."""
    out = _json(value, where, 0)
    size = len(json.dumps(out, ensure_ascii=False))
    if size > EXTRA_MAX:
        raise ValidationError(_("{where} is {size} characters as JSON; at most {max} are "
                                "allowed").format(where=where, size=size, max=EXTRA_MAX))
    return out


def _bad(where: str, value: Any, why: str) -> ValidationError:
    return ValidationError(_("{where} holds {value}, which {why}").format(
        where=where, value=quote(value), why=why))


def _json(v: Any, where: str, depth: int) -> Any:
    if depth > EXTRA_DEPTH:
        raise ValidationError(_("{where} is nested more than {n} levels deep").format(
            where=where, n=EXTRA_DEPTH))
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int):
        if abs(v) > INT_MAX:
            raise _bad(where, v, _("is too large (at most 19 digits)"))
        return v
    if isinstance(v, float | Decimal):
        if isinstance(v, Decimal):
            if not v.is_finite():
                raise _bad(where, v, _("is not a JSON number (NaN and Infinity are not)"))
            if v == v.to_integral_value() and abs(v) <= INT_MAX \
                    and int(v.as_tuple().exponent) >= 0:
                return int(v)
            v = float(v)
        if not math.isfinite(v):
            raise _bad(where, v, _("is not a JSON number (NaN and Infinity are not)"))
        return v
    if isinstance(v, str):
        return _text(v, where)
    if isinstance(v, dict):
        out = {}
        for k, item in v.items():
            if not isinstance(k, str):
                raise _bad(where, k, _("is a key that is not text"))
            out[_text(k, where)] = _json(item, f"{where}.{quote(k, 40)}", depth + 1)
        return out
    if isinstance(v, list | tuple):
        return [_json(item, where, depth + 1) for item in v]
    raise _bad(where, v, _("is not a JSON value (text, number, true/false, null, list "
                           "or object)"))


def _text(v: str, where: str) -> str:
    if "\x00" in v:
        raise _bad(where, v, _("contains a NUL character"))
    if has_surrogate(v):
        raise _bad(where, v, _("contains a lone surrogate (not valid Unicode text)"))
    return v


def extra(value: Any, where: str = "extra") -> dict[str, Any]:
    """An ``extra`` field: a JSON object (None -> ``{}``)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(_("{where} must be an object of JSON values, got {value}")
                              .format(where=where, value=quote(value)))
    return json_value(value, where)


def date_in_range(d: dt.date, what: str) -> dt.date:
    """``d`` if crmkit accepts it, else a ValidationError naming it and the range."""
    day = d.date() if isinstance(d, dt.datetime) else d
    if not DATE_MIN <= day <= DATE_MAX:
        raise ValidationError(_("{what} {value} is outside the dates crmkit accepts "
                                "({low} to {high})").format(
            what=what, value=d.isoformat(), low=DATE_MIN.isoformat(),
            high=DATE_MAX.isoformat()))
    return d


def whole(value: Any, what: str, *, low: int = 0, high: int = ID_MAX) -> int:
    """A whole number from ``low`` to ``high`` (ids, limits, offsets), else a
    ValidationError quoting it."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(_("{what} must be a whole number from {low} to {high}, got "
                                "{value}").format(what=what, low=low, high=high,
                                                  value=quote(value)))
    return value
