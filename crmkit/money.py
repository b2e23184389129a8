"""Money and quantities: exact ``Decimal`` values, never floats.

Amounts have at most two decimal places and are stored as integer minor units
(cents); quantities have at most three and are stored as thousandths.
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import ValidationError
from .i18n import _

_CENT = Decimal("0.01")
# ASCII digits only (``\d`` would take Arabic-Indic and mathematical digits too)
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$", re.ASCII)
_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$", re.ASCII)
# Fullwidth digits, point, comma and signs (what a Chinese input method types) are the
# ASCII ones; every other script's digits are refused.
_FULLWIDTH = str.maketrans("０１２３４５６７８９．，＋－\u3000", "0123456789.,+- ")
# a space may follow a leading sign or currency sign ("¥ 1,234.50"), never split digits
_LEADING_SPACE = re.compile(r"^([+-]?)\s*([¥￥$€£]?)\s*")


def _plain(value: str) -> str:
    """``value`` with fullwidth characters made ASCII and the spaces after a leading
    sign or currency sign dropped; ``"1 000"`` keeps its space (and is refused)."""
    text = value.translate(_FULLWIDTH).strip()
    return _LEADING_SPACE.sub(lambda m: m.group(1) + m.group(2), text, count=1)
_CURRENCY_SIGNS = "¥￥$€£"
# Largest amount that fits in a signed 64-bit count of cents, with headroom for sums.
MAX_AMOUNT = Decimal("999999999999.99")


def _q(value: object) -> str:
    from .checks import quote

    return quote(value)


def parse_decimal(value: object, *, places: int, what: str = "amount") -> Decimal:
    """Parse ``value`` into a Decimal with at most ``places`` decimals, exactly.

    Accepts ``Decimal``, ``int`` and strings such as ``1234.50``, ``1,234.50``,
    ``¥1234``, ``¥ 1234`` and fullwidth ``１２３４．５０``; refuses ``1 000`` (a space
    between digits), digits of other scripts (``١٢٣``, ``𝟏𝟐𝟑``), floats, exponents
    (``1e3``), ``NaN``, infinities and any value that would need rounding (``0.005``
    as an amount).
    """
    if isinstance(value, bool):
        raise ValidationError(_("invalid {what} {value}: not a number").format(
                                  what=what, value=_q(value)))
    if isinstance(value, float):
        raise ValidationError(
            _("invalid {what} {value}: pass a string or Decimal, floats are inexact").format(
                what=what, value=_q(value))
        )
    if isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, Decimal):
        d = value
        if not d.is_finite():
            raise ValidationError(_("invalid {what} '{value}': not a finite number").format(
                                      what=what, value=_q(value)))
    elif isinstance(value, str):
        text = _plain(value)
        if not text:
            raise ValidationError(_("invalid {what} '{value}': empty").format(
                                      what=what, value=_q(value)))
        sign = ""
        if text[:1] and text[0] in "+-":  # "" is "in" every string
            sign, text = text[0], text[1:]
        if text[:1] and text[0] in _CURRENCY_SIGNS:
            text = text[1:]
        text = sign + text
        if _GROUPED.match(text):
            text = text.replace(",", "")
        if not _NUMBER.match(text):
            raise ValidationError(_("invalid {what} '{value}': not a plain decimal "
                                    "number").format(what=what, value=_q(value)))
        try:
            d = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the regex already guards
            raise ValidationError(_("invalid {what} '{value}'").format(
                                      what=what, value=_q(value))) from None
    else:
        raise ValidationError(_("invalid {what} {value}: not a number").format(
                                  what=what, value=_q(value)))
    quantum = Decimal(1).scaleb(-places)
    try:
        d.quantize(quantum)
    except InvalidOperation:  # more digits than Decimal's precision holds
        raise ValidationError(_("invalid {what} '{value}': too large").format(
                                  what=what, value=_q(value))) from None
    if d != d.quantize(quantum):
        raise ValidationError(
            _("invalid {what} '{value}': more than {places} decimal places would "
              "be rounded").format(what=what, value=_q(value), places=places)
        )
    d = d.quantize(quantum)
    if d == 0:
        d = abs(d)  # -0 is 0
    if abs(d) > MAX_AMOUNT:
        raise ValidationError(_("invalid {what} '{value}': too large").format(
                                  what=what, value=_q(value)))
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


# --- currencies and exchange rates (ISO 4217; DESIGN "Money, terms, time and language")


@functools.cache
def currencies() -> frozenset[str]:
    """The ISO 4217 codes crmkit accepts, from Babel's CLDR data (not a hand-typed list).
    Read once per process: the list is immutable."""
    from babel.numbers import list_currencies

    return frozenset(c for c in list_currencies() if len(c) == 3 and c.isupper())


def parse_currency(value: object, what: str = "currency") -> str:
    """An ISO 4217 code, exactly as given: ``CNY``. ``rmb``, ``usd`` (lower case is
    refused, never upper-cased), ``dollars`` and ``ABCD`` are a ValidationError naming
    the value and the valid form."""
    from .i18n import _, _clip

    text = value if isinstance(value, str) else ""
    if text not in currencies():
        raise ValidationError(_(
            "unknown {what} '{value}'; expected an ISO 4217 code in capitals, such as "
            "CNY, USD or EUR").format(what=what, value=_clip(value)))
    return text


class Rate(Decimal):
    """An exchange rate: units of the base currency for one unit of a document's
    currency. Printed (and in JSON) as a plain decimal string without trailing zeros:
    ``7.1``, ``1``."""

    __slots__ = ()

    def __str__(self) -> str:
        return format(Decimal(self).normalize(), "f")

    def __format__(self, spec: str, context: Any = None, /) -> str:
        if not spec:
            return str(self)
        d = Decimal(self)
        return d.__format__(spec) if context is None else d.__format__(spec, context)

    def __repr__(self) -> str:
        return f"Rate('{self}')"


RATE_PLACES = 6
ONE = Rate(1)


def parse_rate(value: object, what: str = "rate") -> Rate:
    """A positive rate with at most six decimals (``7.1``, ``0.138``); zero, negative,
    over-precise, float or non-numeric values are a ValidationError naming the value."""
    from .i18n import _, _clip

    try:
        d = parse_decimal(value, places=RATE_PLACES, what=what)
    except ValidationError:
        raise ValidationError(_(
            "invalid {what} '{value}'; expected a positive number with at most 6 "
            "decimals, such as 7.1").format(what=what, value=_clip(value))) from None
    if d <= 0:
        raise ValidationError(_(
            "invalid {what} '{value}'; a rate must be positive, such as 7.1").format(
                what=what, value=_clip(value)))
    return Rate(d)


def base_amount(amount: Decimal, rate: Decimal) -> Decimal:
    """``amount`` × ``rate`` in the base currency, rounded half up to the cent."""
    from decimal import ROUND_HALF_UP

    return (Decimal(amount) * Decimal(rate)).quantize(_CENT, ROUND_HALF_UP)


def document_rate(currency: str, base: str, rate: object) -> Rate:
    """The rate of a document in ``currency`` for a tenant whose base currency is
    ``base``: required (and positive) outside the base currency, 1 in it (a rate other
    than 1 is refused there)."""
    from .i18n import _, _clip

    given = rate is not None and rate != ""
    if currency == base:
        if given and parse_rate(rate) != 1:
            raise ValidationError(_(
                "rate '{rate}' given for a document in the base currency {base}; its rate "
                "is 1 (leave --rate out)").format(rate=_clip(rate), base=base))
        return ONE
    if not given:
        raise ValidationError(_(
            "a document in {currency} needs a rate (--rate R: units of {base} for one "
            "{currency}, such as 7.1)").format(currency=currency, base=base))
    return parse_rate(rate)
