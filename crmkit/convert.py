"""One private cattrs converter: records to JSON-ready dicts and settings from dicts."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import attrs
import cattrs
from cattrs.errors import ClassValidationError

from .errors import ValidationError
from .i18n import _
from .money import fmt_money
from .records import Line

_conv = cattrs.Converter(forbid_extra_keys=True)
_conv.register_unstructure_hook(Decimal, fmt_money)
_conv.register_unstructure_hook(dt.date, lambda d: d.isoformat())
_conv.register_unstructure_hook(dt.datetime, lambda d: d.isoformat())
_conv.register_unstructure_hook(tuple, list)
_conv.register_unstructure_hook(
    Line,
    lambda ln: {"product": ln.product, "quantity": str(ln.quantity),
                "unit_price": fmt_money(ln.unit_price)},
)
_conv.register_structure_hook(Decimal, lambda v, _: Decimal(str(v)))


def to_dict(record: Any) -> Any:
    """A record (or list of records) as a JSON-ready dict: amounts as ``"1234.50"``."""
    return _conv.unstructure(record)


def structure_settings(data: dict[str, Any], cls: type, plugin: str) -> Any:
    """Build a plugin's settings object, turning cattrs' errors into one ValidationError."""
    try:
        return _conv.structure(data, cls)
    except ClassValidationError as exc:
        msgs = cattrs.transform_error(exc, path=plugin, format_exception=_format)
        raise ValidationError([_("invalid setting: {m}").format(m=m) for m in msgs]) from None
    except (ValueError, TypeError) as exc:
        raise ValidationError(_("invalid settings for {plugin}: {exc}").format(
                                  plugin=plugin, exc=exc)) from None


def _format(exc: BaseException, type_: Any) -> str:
    """cattrs' wording, but keep a validator's own message (it names the setting)."""
    from cattrs.v import format_exception

    if type(exc) in (ValueError, TypeError) and str(exc) and type_ is None:
        return str(exc)
    return format_exception(exc, type_)


def unstructure_settings(obj: Any) -> dict[str, Any]:
    return _conv.unstructure(obj)


def _default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return fmt_money(o)
    if isinstance(o, dt.date | dt.datetime):
        return o.isoformat()
    if attrs.has(type(o)):
        return to_dict(o)
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    raise TypeError(f"cannot encode {type(o).__name__} as JSON")


def dumps(obj: Any, **kw: Any) -> str:
    """JSON with crmkit's encodings (Decimal -> two-decimal string, dates ISO 8601)."""
    return json.dumps(to_dict(obj) if attrs.has(type(obj)) else obj, default=_default,
                      ensure_ascii=False, **kw)
