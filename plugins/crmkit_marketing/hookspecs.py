"""Hooks the marketing plugin declares (added through ``crm_addhooks``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import crmkit


@crmkit.hookspec(firstresult=True)
def crm_campaign_revenue(ctx: Any, on: dt.date) -> Any:
    """What counts as revenue in ``campaign report`` as of date ``on``.

    Fires once per report, inside its read transaction, for plugins enabled for the
    tenant; the first answer that is not None wins. Return a SQLAlchemy ``select``
    (or a list of them, whose rows are added up: faster than a ``UNION ALL``) with
    three columns, one row per revenue item of the tenant dated on or before ``on``:
    ``customer_id``, ``issued_on`` (the date the item counts on) and ``amount``
    (signed integer cents in the tenant's base currency). The report keeps the items
    of each campaign's source customers dated in their attribution window and sums
    them in SQL, in the user's scope. The marketing plugin's own implementation
    (``trylast``) gives the default: invoices, not void, and minus the non-void credit
    notes applied to them (on the invoice's date). Must not write.

    Since 0.2.
    """
