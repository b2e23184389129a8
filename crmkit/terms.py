"""Payment terms: an invoice paid in installments (DESIGN "Money, terms, time and
language").

``--term DAYS:PERCENT`` (whole percents summing to 100, due = issue date + DAYS) or
``--term DATE:AMOUNT`` (amounts summing to the invoice amount, dates on or after the
issue date), repeated, in due order. From percentages each installment is the amount ×
percent / 100 rounded half up to the cent and the last takes the remainder; every
installment's base amount is rounded the same way, the last taking the base amount's
remainder, so the installments always add up to the invoice exactly.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .checks import DATE_MAX
from .errors import ValidationError
from .i18n import _, _clip
from .money import base_amount, parse_money
from .records import Term

_CENT = Decimal("0.01")
_DAYS = re.compile(r"^\d{1,5}$")
_PERCENT = re.compile(r"^\d{1,3}$")
FORMS = "DAYS:PERCENT (30:50) or DATE:AMOUNT (2026-12-31:5000.00)"


def split_terms(value: Any) -> list[Any]:
    """``"30:30;60:50;90:20"`` (a CSV cell), a list of such strings, or Term/tuples."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [value]
    out: list[Any] = []
    for v in value:
        if isinstance(v, str):
            out.extend(p.strip() for p in v.split(";") if p.strip())
        else:
            out.append(v)
    return out


def _bad(value: Any, why: str) -> ValidationError:
    return ValidationError(_("invalid term '{term}': {why}; expected {forms}").format(
        term=_clip(value), why=why, forms=FORMS))


def _past_last_date() -> str:
    return _("the due date is after {last}, the last date crmkit accepts").format(
        last=DATE_MAX.isoformat())


def parse_terms(value: Any, *, amount: Decimal, base: Decimal, rate: Decimal,
                issued_on: dt.date) -> tuple[list[Term], list[Decimal]]:
    """The installments of an invoice and their base amounts (see the module doc)."""
    items = split_terms(value)
    if not items:
        return [], []
    parsed: list[tuple[str, dt.date, Any]] = []  # (form, due, percent or amount)
    for item in items:
        if isinstance(item, Term):
            parsed.append(("date", item.due_on, item.amount))
            continue
        if isinstance(item, str):
            left, sep, right = item.rpartition(":")
        else:
            try:
                left, right = item
            except (TypeError, ValueError):
                raise _bad(item, _("not a pair")) from None
            sep = ":"
        left, right = str(left).strip(), str(right).strip()
        if not sep or not left:
            raise _bad(item, _("no ':' between its two parts"))
        if _DAYS.match(left):
            if not _PERCENT.match(right) or not 0 < int(right) <= 100:
                raise _bad(item, _("the percent must be a whole number from 1 to 100"))
            if int(left) > (DATE_MAX - issued_on).days:
                raise _bad(item, _past_last_date())
            parsed.append(("days", issued_on + dt.timedelta(days=int(left)), int(right)))
            continue
        try:
            due = dt.date.fromisoformat(left)
        except ValueError:
            raise _bad(item, _("'{left}' is neither days nor a date").format(
                left=_clip(left, 40))) from None
        try:
            amt = parse_money(right, what="term amount")
        except ValidationError:
            raise _bad(item, _("'{right}' is not an amount").format(
                right=_clip(right, 40))) from None
        if amt <= 0:
            raise _bad(item, _("the amount must be positive"))
        if due > DATE_MAX:
            raise _bad(item, _past_last_date())
        if due < issued_on:
            raise ValidationError(_(
                "term '{term}' is due before the issue date {issued}").format(
                    term=_clip(item), issued=issued_on))
        parsed.append(("date", due, amt))
    forms = {p[0] for p in parsed}
    if len(forms) > 1:
        raise ValidationError(_(
            "terms mix DAYS:PERCENT and DATE:AMOUNT ({terms}); use one form").format(
                terms=_clip(";".join(map(str, items)))))
    dues = [p[1] for p in parsed]
    for a, b in zip(dues, dues[1:], strict=False):
        if b <= a:
            raise ValidationError(_(
                "terms must be in due order, each due after the one before; {due} "
                "follows {before}").format(due=b, before=a))
    if forms == {"days"}:
        total = sum(p[2] for p in parsed)
        if total != 100:
            raise ValidationError(_(
                "term percents add up to {total}, not 100 ({terms})").format(
                    total=total, terms=_clip(";".join(map(str, items)))))
        amounts = [(amount * p[2] / 100).quantize(_CENT, ROUND_HALF_UP) for p in parsed]
        amounts[-1] = amount - sum(amounts[:-1], Decimal("0.00"))
    else:
        amounts = [p[2] for p in parsed]
        total = sum(amounts, Decimal("0.00"))
        if total != amount:
            raise ValidationError(_(
                "term amounts add up to {total}, not the invoice amount {amount}").format(
                    total=total, amount=amount))
    bases = [base_amount(a, rate) for a in amounts]
    bases[-1] = base - sum(bases[:-1], Decimal("0.00"))
    terms = [Term(no=i, due_on=d, amount=a)
             for i, (d, a) in enumerate(zip(dues, amounts, strict=True), 1)]
    return terms, bases


def term_rows(tenant_id: int, document_id: int, terms: Iterable[Term],
              bases: Iterable[Decimal]) -> list[dict[str, Any]]:
    """Insert rows of ``document_terms``."""
    return [{"tenant_id": tenant_id, "document_id": document_id, "no": t.no,
             "due_on": t.due_on, "amount": t.amount, "base_amount": b}
            for t, b in zip(terms, bases, strict=True)]
