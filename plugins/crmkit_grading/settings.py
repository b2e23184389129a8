"""The grading plugin's settings (``crmkit plugins set grading KEY VALUE``)."""

from __future__ import annotations

from typing import Any

from attrs import field, frozen

from crmkit import DOCUMENT_KINDS
from crmkit.i18n import Domain
from crmkit.settings import MAX_DAYS, integer, number, quote

_ = Domain("crmkit_grading").gettext


def _kinds(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(k.strip() for k in value.split(",") if k.strip())
    if isinstance(value, list | tuple):
        return tuple(str(k).strip() for k in value)
    raise ValueError(_("value_kinds must be a list of document kinds, got {value}").format(
                         value=quote(value)))


def _check_kinds(_inst: Any, _attr: Any, value: tuple[str, ...]) -> None:
    if not value:
        raise ValueError(_("value_kinds must name at least one document kind; "
                           "valid: {valid}").format(valid=", ".join(DOCUMENT_KINDS)))
    for k in value:
        if k not in DOCUMENT_KINDS:
            raise ValueError(_("value_kinds: unknown document kind '{k}'; valid: "
                               "{valid}").format(k=k, valid=", ".join(DOCUMENT_KINDS)))


@frozen
class GradingSettings:
    """Settings of the ``grading`` plugin, per tenant.

    * ``value_kinds`` - document kinds that count as purchases (default ``["invoice"]``).
    * ``window_days`` - the frequency/monetary window ending on the as-of date (365;
      1 to 36500).
    * ``repurchase_factor`` - a customer is overdue for a repurchase when the days since
      the last purchase exceed this many mean intervals (1.5; more than 1, at most 1000).
    * ``lost_after_days`` - days without a purchase after which a customer is lost (365;
      1 to 36500).
    """

    value_kinds: Any = field(default=("invoice",), converter=_kinds, validator=_check_kinds)
    window_days: int = integer(365, low=1, high=MAX_DAYS)
    repurchase_factor: float = number(1.5, low=1, high=1000, low_inclusive=False)
    lost_after_days: int = integer(365, low=1, high=MAX_DAYS)
