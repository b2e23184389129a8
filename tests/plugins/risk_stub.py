"""Test plugins for grading: a stand-in for the receivables plugin's risk hook, and a
counter of ``crm_grade_changed`` calls."""

from __future__ import annotations

import datetime as dt
from typing import Any

import crmkit


class _RiskSpec:
    @staticmethod
    @crmkit.hookspec
    def crm_customers_at_risk(ctx: Any, on: dt.date) -> list[int]:
        """Ids of the customers at risk on ``on`` (the same spec receivables declares).

        Since 0.1.
        """


class RiskStub:
    """Declares ``crm_customers_at_risk`` (unless another plugin did) and answers with
    fixed ids; records the dates it was asked for."""

    def __init__(self, ids: tuple[int, ...] = ()):
        self.PLUGIN = crmkit.PluginSpec(name="risk_stub", description="risk stand-in")
        self.ids = set(ids)
        self.asked: list[dt.date] = []

    @crmkit.hookimpl
    def crm_addhooks(self, pluginmanager: Any) -> None:
        hc = getattr(pluginmanager.hook, "crm_customers_at_risk", None)
        if hc is None or hc.spec is None:
            pluginmanager.add_hookspecs(_RiskSpec)

    @crmkit.hookimpl
    def crm_customers_at_risk(self, ctx: Any, on: dt.date) -> list[int]:
        self.asked.append(on)
        return sorted(self.ids)


class GradeCounter:
    """Records every ``crm_grade_changed`` call as (customer id, before, after)."""

    def __init__(self) -> None:
        self.PLUGIN = crmkit.PluginSpec(name="grade_counter", description="counts")
        self.calls: list[tuple[int, Any, Any]] = []

    @crmkit.hookimpl
    def crm_grade_changed(self, ctx: Any, customer: Any, before: Any, after: Any) -> None:
        self.calls.append((customer.id, before, after))
