"""What every insights figure shares: base-currency money in SQL, the user's scope,
periods and rounding.

Money is summed as integer cents (documents) or as exact integers of 10**-5 (a line's
quantity in thousandths times its price in cents), and divided and rounded half up in
Python on the aggregated rows only. A document in another currency counts in the base
currency: its ``base_amount``, and a line's value and own unit cost times the
document's ``rate``.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import BigInteger, Numeric, case, cast, literal_column, type_coerce

import crmkit
from crmkit import sql
from crmkit.i18n import Domain

_ = Domain("crmkit_insights").gettext

CENT = Decimal("0.01")
#: Documents that count as buying (trend, cohorts, persistency): the pinned set.
VALUE_KINDS = ("order", "contract", "invoice")
#: Documents whose lines make a customer's basket (cross-sell).
BASKET_KINDS = ("order", "invoice")
READ = "insights.read"
#: a line's quantity (thousandths) × price (cents) is in units of 10**-5
LINE_SCALE = 100_000


def raw(col: Any) -> Any:
    """A money or quantity column as its stored integer (cents, thousandths)."""
    return type_coerce(col, BigInteger)


#: ``documents.rate`` is stored in millionths (1.000000 = 1000000)
RATE_ONE = 1_000_000


def base_cents(d: Any) -> Any:
    """A document's amount in the base currency (``base_amount``), as integer cents."""
    return raw(d.c.base_amount)


def to_base(d: Any, expr: Any) -> Any:
    """``expr`` (an exact integer amount in document ``d``'s currency) in the base
    currency: unchanged, and exact, for a base-currency document (rate 1); else times
    the document's rate (a decimal on PostgreSQL and MariaDB, a double on SQLite)."""
    rate = raw(d.c.rate)
    return case((rate == RATE_ONE, expr),
                else_=cast(expr, Numeric(38, 6)) * rate / literal_column("1000000.0"))


def money_of(units: Any, scale: int = 100) -> Decimal:
    """An exact sum in units of ``1/scale`` as Decimal money, rounded half up."""
    return (Decimal(str(units or 0)) / scale).quantize(CENT, rounding=ROUND_HALF_UP)


def ratio(num: Any, den: Any, places: str = "0.0001") -> float | None:
    """``num / den`` rounded half up (None when ``den`` is 0)."""
    if not den:
        return None
    return float((Decimal(num) / Decimal(den)).quantize(Decimal(places), ROUND_HALF_UP))


def scope(ctx: crmkit.Context, col: Any) -> list[Any]:
    """``col`` (a customer id) limited to the customers this user may see."""
    return [col.in_(ctx.crm.customers.visible_ids(ctx))] if ctx.crm.customers.scoped(ctx) \
        else []


def period(ctx: crmkit.Context, frm: dt.date | None, to: dt.date | None
           ) -> tuple[dt.date, dt.date]:
    """``--from``/``--to``: by default from the first day of ``--to``'s month to today."""
    to = to or ctx.today
    frm = frm or to.replace(day=1)
    if frm > to:
        raise crmkit.ValidationError(_("--from {frm} is after --to {to}")
                                     .format(frm=frm, to=to))
    return frm, to


def choice(value: str, valid: tuple[str, ...], option: str) -> str:
    if value not in valid:
        raise crmkit.ValidationError(_("unknown {option} '{value}'; valid: {valid}").format(
            option=option, value=str(value)[:80], valid=", ".join(valid)))
    return value


def month_index(col: Any) -> Any:
    """year × 12 + month of a date column (portable: months apart = a difference)."""
    return sql.month_index(col)


def index_of(day: dt.date) -> int:
    return day.year * 12 + day.month


def month_of(index: int) -> str:
    y, m = divmod(int(index) - 1, 12)
    return f"{y:04d}-{m + 1:02d}"


def month_start(index: int) -> dt.date:
    y, m = divmod(int(index) - 1, 12)
    return dt.date(y, m + 1, 1)
