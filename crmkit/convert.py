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
from .money import Rate, fmt_money
from .records import Line

_conv = cattrs.Converter(forbid_extra_keys=True)
_conv.register_unstructure_hook(Decimal, fmt_money)
_conv.register_unstructure_hook(Rate, str)  # "7.1": a rate is not money
_conv.register_unstructure_hook(dt.date, lambda d: d.isoformat())
_conv.register_unstructure_hook(dt.datetime, lambda d: d.isoformat())
_conv.register_unstructure_hook(tuple, list)
def _line(ln: Line) -> dict[str, Any]:
    """A line as JSON: ``unit_cost`` only when it is known (so a line without one keeps
    the contract's ``product``, ``quantity``, ``unit_price``)."""
    out = {"product": ln.product, "quantity": str(ln.quantity),
           "unit_price": fmt_money(ln.unit_price)}
    if ln.unit_cost is not None:
        out["unit_cost"] = fmt_money(ln.unit_cost)
    return out


_conv.register_unstructure_hook(Line, _line)
_conv.register_structure_hook(Decimal, lambda v, _: Decimal(str(v)))


class SettingTypeError(ValueError):
    """A setting value of the wrong JSON type (its message is kept as is)."""


def _strict(kind: str, ok: Any, make: Any) -> Any:
    def hook(value: Any, _type: Any) -> Any:
        if not ok(value):
            from .i18n import _
            from .settings import quote

            raise SettingTypeError(_("must be {kind}, got {value}").format(
                kind=kind, value=quote(value)))
        return make(value)
    return hook


def _register_strict() -> None:
    """Settings are JSON values taken strictly: ``no`` is not true, ``1.5`` is not 1,
    ``NaN`` is not a number. (Records never go through these hooks: only settings are
    structured.)"""
    from .settings import is_int, is_number

    _conv.register_structure_hook(bool, _strict("true or false",
                                                lambda v: isinstance(v, bool), bool))
    _conv.register_structure_hook(int, _strict("a whole number", is_int, int))
    _conv.register_structure_hook(float, _strict("a finite number", is_number, float))
    _conv.register_structure_hook(str, _strict(
        "a text", lambda v: isinstance(v, str) or is_int(v), str))


_register_strict()


def to_dict(record: Any) -> Any:
    """A record (or list of records) as a JSON-ready dict: amounts as ``"1234.50"``."""
    return _conv.unstructure(record)


def structure_settings(data: dict[str, Any], cls: type, plugin: str) -> Any:
    """Build a plugin's settings object, turning cattrs' errors into one ValidationError."""
    try:
        return _conv.structure(data, cls)
    except ClassValidationError as exc:
        msgs = cattrs.transform_error(exc, path=plugin, format_exception=_format)
        names = {f.name for f in attrs.fields(cls)} if attrs.has(cls) else set()
        raise ValidationError([_tidy(m, plugin, names) for m in msgs]) from None
    except (ValueError, TypeError) as exc:
        raise ValidationError(_("invalid settings for {plugin}: {exc}").format(
                                  plugin=plugin, exc=exc)) from None


def _tidy(message: str, plugin: str, names: set[str] | frozenset[str] = frozenset()) -> str:
    """``must be X, got V @ grading.window_days`` (a value of the wrong type) ->
    ``setting window_days of grading must be X, got V``."""
    text, sep, path = message.rpartition(" @ ")
    key = path[len(plugin) + 1:] if sep and path.startswith(plugin + ".") else ""
    if not key and sep:  # a check of the whole class that names the setting it is about
        first = text.removeprefix("setting ").split(" ", 1)[0].rstrip(":")
        key = first if first in names else ""
    if key:
        own = _("setting {key}").format(key=key)  # the sentence's start, translated
        if text.startswith((f"setting {key} ", f"setting {key}:", own + " ", own + "：")):
            return text  # the validator's own sentence names the setting
        if text.startswith((f"{key} ", f"{key}:")):
            return _("setting {text}").format(text=text)
        if text.startswith("must be "):
            return _("setting {key} of {plugin} {text}").format(key=key, plugin=plugin,
                                                                text=text)
    return _("invalid setting: {message}").format(message=message)


def _format(exc: BaseException, type_: Any) -> str:
    """cattrs' wording, but keep a validator's own message (it names the setting)."""
    from cattrs.v import format_exception

    if type(exc) in (ValueError, TypeError) and str(exc) and type_ is None:
        return str(exc)
    if isinstance(exc, SettingTypeError):
        return str(exc)
    return format_exception(exc, type_)


def unstructure_settings(obj: Any) -> dict[str, Any]:
    return _conv.unstructure(obj)


def _default(o: Any) -> Any:
    if isinstance(o, Rate):
        return str(o)
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
