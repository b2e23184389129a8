"""The grading plugin's settings (``crmkit plugins set grading KEY VALUE``)."""

from __future__ import annotations

from typing import Any

from attrs import field, frozen

from crmkit import DOCUMENT_KINDS
from crmkit.i18n import Domain

_ = Domain("crmkit_grading").gettext


def _kinds(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(k.strip() for k in value.split(",") if k.strip())
    if isinstance(value, list | tuple):
        return tuple(str(k).strip() for k in value)
    raise ValueError(_("value_kinds must be a list of document kinds, got {value!r}").format(
                         value=value))


def _check_kinds(_inst: Any, _attr: Any, value: tuple[str, ...]) -> None:
    if not value:
        raise ValueError(_("value_kinds must name at least one document kind; "
                           "valid: {valid}").format(valid=", ".join(DOCUMENT_KINDS)))
    for k in value:
        if k not in DOCUMENT_KINDS:
            raise ValueError(_("value_kinds: unknown document kind '{k}'; valid: "
                               "{valid}").format(k=k, valid=", ".join(DOCUMENT_KINDS)))


def _positive(_inst: Any, attr: Any, value: int) -> None:
    if isinstance(value, bool) or value <= 0:
        raise ValueError(_("{name} must be a whole number of days greater than 0, "
                           "got {value}").format(name=attr.name, value=value))


def _factor(_inst: Any, attr: Any, value: float) -> None:
    if not value > 1 or value != value or value == float("inf"):
        raise ValueError(_("{name} must be a number greater than 1, got {value:g}").format(
                             name=attr.name, value=value))


@frozen
class GradingSettings:
    """Settings of the ``grading`` plugin, per tenant.

    * ``value_kinds`` - document kinds that count as purchases (default ``["invoice"]``).
    * ``window_days`` - the frequency/monetary window ending on the as-of date (365).
    * ``repurchase_factor`` - a customer is overdue for a repurchase when the days since
      the last purchase exceed this many mean intervals (1.5).
    * ``lost_after_days`` - days without a purchase after which a customer is lost (365).
    """

    value_kinds: Any = field(default=("invoice",), converter=_kinds, validator=_check_kinds)
    window_days: int = field(default=365, validator=_positive)
    repurchase_factor: float = field(default=1.5, validator=_factor)
    lost_after_days: int = field(default=365, validator=_positive)
