"""crmkit plugin ``grading``: RFM scores and segments, ABC value classes, tiers,
repurchase-overdue and lost customers.

Hooks implemented: ``crm_addhooks`` (declares ``crm_grade_changed``), ``crm_tables``,
``crm_cli``, ``crm_jobs`` (``grading.run``), ``crm_reminders``, ``crm_customer_sections``,
``crm_today``. Python API:
``crmkit_grading.run(crm, on)`` and ``crmkit_grading.grades(crm, on, segment=, tier=)``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import crmkit
import crmkit.i18n

from . import hookspecs
from .settings import GradingSettings

_ = crmkit.i18n.Domain("crmkit_grading").gettext

PLUGIN = crmkit.PluginSpec(
    name="grading", version="0.1.0",
    description="Customer grading: RFM segments, ABC classes, tiers, repurchase-overdue "
                "and lost customers.",
    settings=GradingSettings,
)


@crmkit.hookimpl
def crm_addhooks(pluginmanager: Any) -> None:
    pluginmanager.add_hookspecs(hookspecs)


@crmkit.hookimpl
def crm_tables(metadata: Any, prefix: str) -> None:
    from .tables import define_tables

    define_tables(metadata, prefix)


@crmkit.hookimpl
def crm_cli(cli: Any) -> None:
    from .cli import grading

    cli.add_command(grading)


@crmkit.hookimpl
def crm_reminders(ctx: Any, on: dt.date) -> list[crmkit.Reminder]:
    from .service import reminders

    return reminders(ctx, on)


@crmkit.hookimpl
def crm_jobs() -> list[Any]:
    """``grading.run``: grade the tenant as of today (``crmkit jobs run grading.run``).
    Returns the job. Since 0.2."""
    from crmkit.jobs import Job

    return [Job("grading.run", _run_job, _("Grade every customer as of today: RFM "
                                           "segments, ABC classes, tiers and lost "
                                           "customers."))]


def _run_job(crm: crmkit.Crm) -> str:
    r = run(crm)
    return _("graded {customers} customers as of {as_of}: {changed} changed, {lost} newly "
             "lost").format(customers=r["customers"], as_of=r["as_of"].isoformat(),
                            changed=r["changed"], lost=r["lost"])


@crmkit.hookimpl
def crm_customer_sections(ctx: Any, customer: crmkit.Customer, on: dt.date) -> crmkit.Section:
    from .service import section

    return section(ctx, customer, on)


@crmkit.hookimpl
def crm_today(ctx: Any, on: dt.date) -> dict[str, Any]:
    """``crmkit today``'s ``customers.at_risk``: visible customers in the RFM segment
    ``at_risk`` or at payment risk, as of ``on``. Read-only. Since 0.2."""
    from .service import today_part

    return today_part(ctx, on)


def run(crm: crmkit.Crm, on: dt.date | None = None) -> dict[str, Any]:
    """Grade the tenant as of ``on`` (default today) and store it; see ``service.run``."""
    from .service import run as _run

    return _run(crm, on)


def grades(crm: crmkit.Crm, on: dt.date | None = None, **filters: Any) -> list[dict[str, Any]]:
    """Grades as of ``on`` computed from the data; see ``service.grades``."""
    from .service import grades as _grades

    return _grades(crm, on, **filters)


__all__ = ["PLUGIN", "GradingSettings", "grades", "run"]


@crmkit.hookimpl
def crm_report_sections(ctx: Any, on: dt.date) -> Any:
    """The report's grading section as of ``on``: customers per RFM segment and per tier,
    in the user's scope. Read-only. Since 0.2."""
    from .report_section import sections

    return sections(ctx, on)
