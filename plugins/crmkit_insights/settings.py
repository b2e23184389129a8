"""The insights plugin's settings (``crmkit plugins set insights KEY VALUE``)."""

from __future__ import annotations

from typing import Any

from attrs import field, frozen

from crmkit.i18n import Domain

_ = Domain("crmkit_insights").gettext


def _pct(_inst: Any, attr: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10_000:
        raise ValueError(_("setting {name} must be a whole percentage from 0 to 10000, "
                           "got {value}").format(name=attr.name, value=repr(value)[:80]))


@frozen
class InsightsSettings:
    """Settings of the ``insights`` plugin, per tenant.

    * ``expense_growth_alert_pct`` - ``insights expenses --by item`` flags an item whose
      expenses grew by more than this many percent on the period before (default 20).
    * ``expense_alert_pct`` - ``--by owner`` flags an owner whose expenses / sales ratio
      is above the team's by more than this many percent (default 50, as ``sales team``).
    """

    expense_growth_alert_pct: int = field(default=20, validator=_pct)
    expense_alert_pct: int = field(default=50, validator=_pct)
