"""crmkit plugin ``marketing``: campaigns, their costs, first-touch attribution of
customers and revenue, ROI, target lists and win-back measurement.

Commands hang under ``crmkit campaign``. Hooks implemented: ``crm_addhooks``
(declares ``crm_campaign_revenue``), ``crm_tables``, ``crm_cli``,
``crm_customer_sections``, ``crm_campaign_revenue`` (the default, ``trylast``),
``crm_demo`` and the csv plugin's ``crm_import_columns`` / ``crm_import_row``. Python API: ``add``,
``add_cost``, ``add_lead``, ``target``, ``list_campaigns``, ``show``, ``report``. See
docs/plugins/marketing.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import crmkit

from .settings import MarketingSettings

PLUGIN = crmkit.PluginSpec(
    name="marketing", version="0.1.0",
    description="Marketing campaigns: costs, leads, first-touch attribution, ROI, target "
                "lists and win-back measurement.",
    settings=MarketingSettings)


@crmkit.hookimpl
def crm_addhooks(pluginmanager: Any) -> None:
    """Declare ``crm_campaign_revenue``. Since 0.2."""
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


@crmkit.hookimpl
def crm_tables(metadata: Any, prefix: str) -> None:
    """Define ``marketing_campaigns``, ``_costs``, ``_leads`` and ``_targets``. Since 0.2."""
    from .tables import define_tables

    define_tables(metadata, prefix)


@crmkit.hookimpl
def crm_cli(cli: Any) -> None:
    """Add the ``crmkit campaign`` command group. Since 0.2."""
    from .cli import campaign

    cli.add_command(campaign)


@crmkit.hookimpl
def crm_customer_sections(ctx: Any, customer: crmkit.Customer, on: dt.date
                          ) -> crmkit.Section:
    """The 360° view's ``marketing`` panel as of ``on``: the source campaign with its
    lead date, every lead, and the campaigns that targeted the customer. Read-only.
    Since 0.2."""
    from .service import section

    return section(ctx, customer, on)


@crmkit.hookimpl(trylast=True)
def crm_campaign_revenue(ctx: Any, on: dt.date) -> Any:
    """The default revenue: invoices less the credit notes applied to them. Since 0.2."""
    from .reports import default_revenue

    return default_revenue(ctx, on)


@crmkit.hookimpl
def crm_import_columns(ctx: Any, kind: str) -> dict[str, str] | None:
    """Claim the ``campaign`` column (and its Chinese names) of a customers import.
    Since 0.2."""
    from .service import CAMPAIGN_HEADERS

    return dict.fromkeys(CAMPAIGN_HEADERS, "campaign") if kind == "customers" else None


@crmkit.hookimpl
def crm_import_row(ctx: Any, kind: str, record: Any, values: dict[str, str]
                   ) -> dict[str, str] | None:
    """Record a lead for the row's campaign (by name) on the import date; an unknown
    campaign rejects the row. Since 0.2."""
    from .service import import_row

    return import_row(ctx, kind, record, values)


@crmkit.hookimpl
def crm_demo(crm: Any, customers: list[Any], rng: Any) -> None:
    """Add three campaigns to ``crmkit demo``: a trade fair and a WeChat push with costs
    and leads from the sample customers, and a win-back campaign aimed at the lost
    ones. Returns nothing. Since 0.2."""
    from .demo import build

    build(crm, customers, rng)


@crmkit.hookimpl
def crm_report_sections(ctx: Any, on: dt.date) -> Any:
    """The report's marketing section as of ``on``: cost, revenue and ROI per campaign,
    in the user's scope. Read-only. Since 0.2."""
    from .report_section import sections

    return sections(ctx, on)


# --- Python API --------------------------------------------------------------------------


def add(crm: crmkit.Crm, name: str, **kw: Any) -> Any:
    """Add a campaign; see :func:`crmkit_marketing.service.add`."""
    from .service import add as run

    return run(crm, name, **kw)


def add_cost(crm: crmkit.Crm, campaign_id: int, amount: Any, **kw: Any) -> Any:
    """Record a campaign cost; see :func:`crmkit_marketing.service.add_cost`."""
    from .service import add_cost as run

    return run(crm, campaign_id, amount, **kw)


def add_lead(crm: crmkit.Crm, campaign_id: int, customer_id: int, **kw: Any) -> Any:
    """Record a lead; see :func:`crmkit_marketing.service.add_lead`."""
    from .service import add_lead as run

    return run(crm, campaign_id, customer_id, **kw)


def target(crm: crmkit.Crm, campaign_id: int, **filters: Any) -> dict[str, Any]:
    """Target customers; see :func:`crmkit_marketing.service.target`."""
    from .service import target as run

    return run(crm, campaign_id, **filters)


def list_campaigns(crm: crmkit.Crm, **kw: Any) -> Any:
    """Campaigns and their count; see :func:`crmkit_marketing.service.list_campaigns`."""
    from .service import list_campaigns as run

    return run(crm, **kw)


def show(crm: crmkit.Crm, campaign_id: int) -> dict[str, Any]:
    """One campaign; see :func:`crmkit_marketing.service.show`."""
    from .service import show as run

    return run(crm, campaign_id)


def report(crm: crmkit.Crm, as_of: dt.date | None = None, **kw: Any) -> Any:
    """The campaign report rows and the campaign count; see
    :func:`crmkit_marketing.reports.report`."""
    from .reports import report as run

    return run(crm, as_of, **kw)


__all__ = ["PLUGIN", "MarketingSettings", "add", "add_cost", "add_lead",
           "list_campaigns", "report", "show", "target"]
