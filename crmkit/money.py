"""Money and quantities: exact ``Decimal`` values, never floats.

Amounts have at most two decimal places and are stored as integer minor units
(cents); quantities have at most three and are stored as thousandths.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from .errors import ValidationError
from .i18n import _

_CENT = Decimal("0.01")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
_CURRENCY_SIGNS = "¥￥$€£"
# Largest amount that fits in a signed 64-bit count of cents, with headroom for sums.
MAX_AMOUNT = Decimal("999999999999.99")


def parse_decimal(value: object, *, places: int, what: str = "amount") -> Decimal:
    """Parse ``value`` into a Decimal with at most ``places`` decimals, exactly.

    Accepts ``Decimal``, ``int`` and strings such as ``1234.50``, ``1,234.50``,
    ``¥1234``; refuses floats, exponents (``1e3``), ``NaN``, infinities and any value
    that would need rounding (``0.005`` as an amount).
    """
    if isinstance(value, bool):
        raise ValidationError(_("invalid {what} {value!r}: not a number").format(
                                  what=what, value=value))
    if isinstance(value, float):
        raise ValidationError(
            _("invalid {what} {value!r}: pass a string or Decimal, floats are "
              "inexact").format(what=what, value=value)
        )
    if isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, Decimal):
        d = value
        if not d.is_finite():
            raise ValidationError(_("invalid {what} '{value}': not a finite number").format(
                                      what=what, value=value))
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        sign = ""
        if text[:1] in "+-":
            sign, text = text[0], text[1:]
        if text[:1] and text[0] in _CURRENCY_SIGNS:
            text = text[1:]
        text = sign + text
        if _GROUPED.match(text):
            text = text.replace(",", "")
        if not _NUMBER.match(text):
            raise ValidationError(_("invalid {what} '{value}': not a plain decimal "
                                    "number").format(what=what, value=value))
        try:
            d = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the regex already guards
            raise ValidationError(_("invalid {what} '{value}'").format(
                                      what=what, value=value)) from None
    else:
        raise ValidationError(_("invalid {what} {value!r}: not a number").format(
                                  what=what, value=value))
    quantum = Decimal(1).scaleb(-places)
    try:
        d.quantize(quantum)
    except InvalidOperation:  # more digits than Decimal's precision holds
        raise ValidationError(_("invalid {what} '{value}': too large").format(
                                  what=what, value=value)) from None
    if d != d.quantize(quantum):
        raise ValidationError(
            _("invalid {what} '{value}': more than {places} decimal places would "
              "be rounded").format(what=what, value=value, places=places)
        )
    d = d.quantize(quantum)
    if d == 0:
        d = abs(d)  # -0 is 0
    if abs(d) > MAX_AMOUNT:
        raise ValidationError(_("invalid {what} '{value}': too large").format(
                                  what=what, value=value))
    return d


def parse_money(value: object, what: str = "amount") -> Decimal:
    """An amount of money: a Decimal with two decimal places."""
    return parse_decimal(value, places=2, what=what)


def parse_quantity(value: object, what: str = "quantity") -> Decimal:
    """A quantity: a Decimal with up to three decimal places (trailing zeros dropped)."""
    d = parse_decimal(value, places=3, what=what)
    return d.normalize() if d != d.to_integral_value() else d.quantize(Decimal(1))


def fmt_money(value: Decimal | None) -> str | None:
    """``Decimal('1234.5')`` -> ``'1234.50'`` (the JSON form of every amount)."""
    if value is None:
        return None
    return str(Decimal(value).quantize(_CENT))


def to_cents(value: Decimal) -> int:
    return int(Decimal(value).scaleb(2).to_integral_value())


def from_cents(value: int) -> Decimal:
    return Decimal(int(value)).scaleb(-2)
