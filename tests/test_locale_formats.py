"""Issue 12: numbers per locale. crmkit prints amounts as ``1,234,567.50`` in every
supported locale; that is right only while CLDR (through Babel) formats numbers the same
way for each of them. A locale with other symbols (``de``:
``1.234.567,50``) makes this test fail, and ``crmkit.output.amount`` must then format
through Babel."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import format_decimal, get_decimal_symbol, get_group_symbol

from crmkit.i18n import LOCALES
from crmkit.output import amount


@pytest.mark.parametrize("locale", LOCALES)
def test_amounts_are_printed_as_cldr_formats_them_for_each_locale(locale):
    for v in ("0", "0.5", "-14.65", "1234.5", "1234567.50", "-99999999999.99"):
        assert amount(Decimal(v)) == format_decimal(Decimal(v), format="#,##0.00",
                                                    locale=locale), (locale, v)
    assert (get_group_symbol(locale), get_decimal_symbol(locale)) == (",", ".")


def test_a_locale_with_other_symbols_would_be_caught():
    # the check above is not vacuous: German groups with "." and separates with ","
    assert format_decimal(Decimal("1234567.50"), format="#,##0.00", locale="de") \
        == "1.234.567,50" != amount(Decimal("1234567.50"))

