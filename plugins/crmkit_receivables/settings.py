"""The receivables plugin's settings and its aging buckets."""

from __future__ import annotations

from typing import Any

from attrs import field, frozen

from crmkit.i18n import Domain
from crmkit.settings import quote, text

_ = Domain("crmkit_receivables").gettext

BASES = ("due_date", "issue_date")
DEFAULT_RANGES = (30, 60, 90, 180)


def _ranges(value: Any) -> tuple[int, ...]:
    """``aging_ranges`` as a tuple of strictly increasing positive integers."""
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
        raise ValueError(_("aging_ranges must be a non-empty list of strictly "
                           "increasing positive integers, got {value}").format(
                             value=quote(value)))
    out: list[int] = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(_("aging_ranges must be strictly increasing positive "
                               "integers; {v} in {value} is not a positive "
                               "integer").format(v=quote(v), value=quote(list(value))))
        if out and v <= out[-1]:
            raise ValueError(_("aging_ranges must be strictly increasing; {v} "
                               "follows {out} in {value}").format(
                                 v=v, out=out[-1], value=quote(list(value))))
        out.append(v)
    return tuple(out)


@frozen
class ReceivablesSettings:
    """Settings of ``receivables`` (``crmkit plugins set receivables KEY VALUE``).

    ``aging_basis``: age invoices from their due date (``due_date``) or their issue date
    (``issue_date``). ``aging_ranges``: the upper day limits of the overdue buckets.
    """

    aging_basis: str = text("due_date", choices=BASES)
    aging_ranges: Any = field(default=DEFAULT_RANGES, converter=_ranges)


def bucket_labels(ranges: tuple[int, ...]) -> list[str]:
    """``not_due``, ``1-30``, ``31-60``, ... ``180+`` for ranges (30, 60, 90, 180)."""
    labels = ["not_due"]
    low = 1
    for r in ranges:
        labels.append(f"{low}-{r}")
        low = r + 1
    labels.append(f"{ranges[-1]}+")
    return labels


def bucket_of(days: int, ranges: tuple[int, ...]) -> int:
    """The bucket index of an age in days: 0 = not_due, 1 = first range, ..."""
    if days <= 0:
        return 0
    for i, r in enumerate(ranges, 1):
        if days <= r:
            return i
    return len(ranges) + 1
