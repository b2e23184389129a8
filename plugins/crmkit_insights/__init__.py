"""crmkit plugin ``insights``: the 7P view - profitability per customer, product, owner
and category; expense control by item, owner and month; the customer trend;
persistency cohorts; product association for cross-selling; and the report's
headline charts.

Commands: ``crmkit product add|list|update`` and ``crmkit insights
profit|expenses|trend|cohorts|cross-sell``. Hooks implemented: ``crm_tables``,
``crm_cli``, ``crm_customer_sections``, ``crm_report_sections``, ``crm_demo`` (its actions
``insights.read`` and ``insights.manage`` are rows of the core's role table).
Python API: ``add_product``, ``update_product``, ``products``, ``profit``, ``expenses``,
``trend``, ``cohorts``, ``cross_sell``. See docs/plugins/insights.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import crmkit

from .settings import InsightsSettings

PLUGIN = crmkit.PluginSpec(
    name="insights", version="0.1.0",
    description="Profit, expense control, customer trend, cohorts, cross-selling and the "
                "report's charts.",
    settings=InsightsSettings)

@crmkit.hookimpl
def crm_tables(metadata: Any, prefix: str) -> None:
    """Define ``insights_products``, the product catalogue. Since 0.2."""
    from .tables import define_tables

    define_tables(metadata, prefix)


@crmkit.hookimpl
def crm_cli(cli: Any) -> None:
    """Add the ``crmkit product`` and ``crmkit insights`` command groups. Since 0.2."""
    from .cli import insights, product

    cli.add_command(product)
    cli.add_command(insights)


@crmkit.hookimpl
def crm_customer_sections(ctx: Any, customer: crmkit.Customer, on: dt.date) -> Any:
    """The 360° view's ``insights`` panel as of ``on``: persistency, profitability, top
    products and cross-sell suggestions. Read-only. Since 0.2."""
    from .section import section

    return section(ctx, customer, on)


@crmkit.hookimpl
def crm_report_sections(ctx: Any, on: dt.date) -> Any:
    """The report's insights section: revenue trend, new and buying customers, cohorts,
    profit by category, expenses by item and the most profitable customers, in the
    user's scope. Read-only. Since 0.2."""
    from .report import sections

    return sections(ctx, on)


@crmkit.hookimpl
def crm_demo(crm: Any, customers: list[Any], rng: Any) -> None:
    """Give ``crmkit demo``'s products a catalogue entry each (category and unit cost;
    one is left without a cost), so that profit and the report have margins. Returns
    nothing. Since 0.2."""
    from .products import add

    for name, category, cost in DEMO_CATALOGUE:
        add(crm, name, category=category, cost=cost)


#: ``crmkit demo``'s products: (name, category, unit cost or None).
DEMO_CATALOGUE = (("Standard license", "软件", "300.00"),
                  ("Support plan", "服务", "450.00"),
                  ("Installation", "服务", "500.00"),
                  ("Training day", "服务", None),
                  ("Hardware kit", "硬件", "1600.00"))


# --- Python API --------------------------------------------------------------------------


def add_product(crm: crmkit.Crm, name: str, **kw: Any) -> Any:
    """Add a product; see :func:`crmkit_insights.products.add`."""
    from .products import add

    return add(crm, name, **kw)


def update_product(crm: crmkit.Crm, name: str, **kw: Any) -> Any:
    """Change a product; see :func:`crmkit_insights.products.update`."""
    from .products import update

    return update(crm, name, **kw)


def products(crm: crmkit.Crm, **kw: Any) -> Any:
    """The catalogue and its size; see :func:`crmkit_insights.products.list_products`."""
    from .products import list_products

    return list_products(crm, **kw)


def profit(crm: crmkit.Crm, by: str = "customer", frm: dt.date | None = None,
           to: dt.date | None = None) -> list[dict[str, Any]]:
    """Profit rows; see :func:`crmkit_insights.analyses.profit`."""
    from .analyses import profit as run

    return run(crm, by, frm, to)


def expenses(crm: crmkit.Crm, by: str = "item", frm: dt.date | None = None,
             to: dt.date | None = None) -> list[dict[str, Any]]:
    """Expense rows; see :func:`crmkit_insights.analyses.expenses`."""
    from .analyses import expenses as run

    return run(crm, by, frm, to)


def trend(crm: crmkit.Crm, months: int = 12, as_of: dt.date | None = None) -> Any:
    """Trend rows; see :func:`crmkit_insights.analyses.trend`."""
    from .analyses import trend as run

    return run(crm, months, as_of)


def cohorts(crm: crmkit.Crm, as_of: dt.date | None = None) -> Any:
    """Cohort rows; see :func:`crmkit_insights.analyses.cohorts`."""
    from .analyses import cohorts as run

    return run(crm, as_of)


def cross_sell(crm: crmkit.Crm, **kw: Any) -> Any:
    """Rules or one customer's suggestions; see
    :func:`crmkit_insights.crosssell.cross_sell`."""
    from .crosssell import cross_sell as run

    return run(crm, **kw)


__all__ = ["PLUGIN", "InsightsSettings", "add_product", "cohorts", "cross_sell",
           "expenses", "products", "profit", "trend", "update_product"]
