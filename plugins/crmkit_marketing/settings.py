"""The marketing plugin's settings (``crmkit plugins set marketing KEY VALUE``)."""

from __future__ import annotations

from typing import Any

from attrs import field, frozen

from crmkit.i18n import Domain

_ = Domain("crmkit_marketing").gettext

#: The longest attribution window (about 100 years): keeps date arithmetic in range.
MAX_ATTRIBUTION_DAYS = 36_500


def _days(_inst: Any, attr: Any, value: Any) -> None:
    if (isinstance(value, bool) or not isinstance(value, int)
            or not 1 <= value <= MAX_ATTRIBUTION_DAYS):
        raise ValueError(_("setting {name} must be a whole number of days from 1 to "
                           "{high}, got {value}").format(name=attr.name,
                                                         high=MAX_ATTRIBUTION_DAYS,
                                                         value=repr(value)[:80]))


@frozen
class MarketingSettings:
    """Settings of the ``marketing`` plugin, per tenant.

    * ``attribution_days`` - revenue counts for a campaign from a customer's lead date
      to the lead date + this many days - 1 (default 365).
    """

    attribution_days: int = field(default=365, validator=_days)
