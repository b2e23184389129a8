"""The service plugin's settings (``crmkit plugins set service KEY VALUE``)."""

from __future__ import annotations

from typing import Any

from attrs import field, frozen

from crmkit.i18n import Domain

_ = Domain("crmkit_service").gettext

PRIORITIES = ("low", "normal", "high", "urgent")
#: Hours from ``opened_at`` to the response and the resolution deadline, per priority.
DEFAULT_SLA_HOURS: dict[str, list[int]] = {"urgent": [1, 8], "high": [4, 24],
                                           "normal": [8, 72], "low": [24, 168]}
#: The longest deadline (ten years of hours) and renewal window (ten years of days).
MAX_HOURS = 87_600
MAX_RENEWAL_DAYS = 3_650


def _merge(value: Any) -> Any:
    """Priorities left out keep their default hours (``{"urgent": [2, 6]}`` is enough)."""
    if isinstance(value, dict):
        return {**{k: list(v) for k, v in DEFAULT_SLA_HOURS.items()}, **value}
    return value


def _hours(_inst: Any, attr: Any, value: Any) -> None:
    def bad(detail: str) -> ValueError:
        return ValueError(_("setting sla_hours {detail}, got {value}")
                          .format(detail=detail, value=repr(value)[:80]))

    if not isinstance(value, dict):
        raise bad(_("must map each priority to [response hours, resolution hours]"))
    unknown = [k for k in value if k not in PRIORITIES]
    if unknown:
        raise bad(_("has unknown priority '{p}' (valid: {valid})")
                  .format(p=str(unknown[0])[:80], valid=", ".join(PRIORITIES)))
    for p, pair in value.items():
        if (not isinstance(pair, list | tuple) or len(pair) != 2
                or any(isinstance(h, bool) or not isinstance(h, int | float)
                       or not 0 < h <= MAX_HOURS for h in pair)):
            raise bad(_("needs two numbers of hours above 0 and at most {high} for "
                        "'{p}'").format(high=MAX_HOURS, p=p))
        if pair[0] > pair[1]:
            raise bad(_("has a response deadline after the resolution deadline for '{p}'")
                      .format(p=p))


def _days(_inst: Any, attr: Any, value: Any) -> None:
    if (isinstance(value, bool) or not isinstance(value, int)
            or not 0 <= value <= MAX_RENEWAL_DAYS):
        raise ValueError(_("setting {name} must be a whole number of days from 0 to "
                           "{high}, got {value}").format(name=attr.name,
                                                         high=MAX_RENEWAL_DAYS,
                                                         value=repr(value)[:80]))


@frozen
class ServiceSettings:
    """Settings of the ``service`` plugin, per tenant.

    * ``sla_hours`` - per priority, ``[response, resolution]`` hours from a case's
      ``opened_at`` to its deadlines (default urgent 1/8, high 4/24, normal 8/72,
      low 24/168). Priorities left out keep their default.
    * ``renewal_days`` - ``contract_expiring`` reminds from a contract's end date (its
      ``due_on``) minus this many days to the end date (default 30).
    """

    sla_hours: dict[str, list[float]] = field(
        factory=lambda: {k: list(v) for k, v in DEFAULT_SLA_HOURS.items()},
        converter=_merge, validator=_hours)
    renewal_days: int = field(default=30, validator=_days)
