"""``crmkit product ...`` and ``crmkit insights ...``."""

from __future__ import annotations

from typing import Any

import click

from crmkit.i18n import N_, Domain
from crmkit.output import Page, amount, json_option, paging, parse_date, pass_crm, print_json, table

_ = Domain("crmkit_insights").gettext


def _pct(v: float | None) -> str:
    """A share (0.2512) as ``25.1%``; blank for None."""
    return "" if v is None else f"{v:.1%}"


def _growth(v: float | None) -> str:
    """A growth already in percent (12.5) as ``+12.5%``; blank for None."""
    return "" if v is None else f"{v:+.1f}%"


def _yes(flag: bool) -> str:
    return "⚑" if flag else ""


# --- product ---------------------------------------------------------------------------


@click.group(help=N_("The product catalogue: categories, unit costs and prices."))
def product() -> None:
    pass


@product.command("add", help=N_("Add a product to the catalogue; prints its id."))
@click.argument("name")
@click.option("--category", metavar="C", help=N_("The product's category."))
@click.option("--cost", metavar="A", help=N_("Unit cost in the base currency, e.g. 12.50."))
@click.option("--price", metavar="A", help=N_("List price in the base currency."))
@json_option
@pass_crm
def product_add(crm: Any, name: str, category: str | None, cost: str | None,
                price: str | None, as_json: bool) -> None:
    from .products import add

    p = add(crm, name, category=category, cost=cost, price=price)
    print_json(p) if as_json else click.echo(p.id)


@product.command("list", help=N_("List the catalogue by name."))
@paging
@json_option
@pass_crm
def product_list(crm: Any, page: Page, as_json: bool) -> None:
    from .products import list_products

    rows, total = list_products(crm, limit=page.limit, offset=page.offset)
    if as_json:
        return print_json(rows)
    table([(p.id, p.name, p.category or "", amount(p.cost), amount(p.price)) for p in rows],
          [_("id"), _("product"), _("category"), _("cost"), _("price")],
          empty=_("no products"), more=page.more(total, len(rows)), offset=page.next_offset)


@product.command("update", help=N_("Change a product (an empty value clears it)."))
@click.argument("name")
@click.option("--name", "new_name", metavar="N", help=N_("A new name."))
@click.option("--category", metavar="C")
@click.option("--cost", metavar="A")
@click.option("--price", metavar="A")
@json_option
@pass_crm
def product_update(crm: Any, name: str, new_name: str | None, category: str | None,
                   cost: str | None, price: str | None, as_json: bool) -> None:
    from .products import update

    kw = {k: v for k, v in (("new_name", new_name), ("category", category), ("cost", cost),
                            ("price", price)) if v is not None}
    p = update(crm, name, **kw)
    print_json(p) if as_json else click.echo(p.id)


# --- insights --------------------------------------------------------------------------


def _period(fn: Any) -> Any:
    fn = click.option("--to", "to", metavar="D", help=N_("Last day (default today)."))(fn)
    return click.option("--from", "frm", metavar="D",
                        help=N_("First day (default the first of --to's month)."))(fn)


@click.group(help=N_("Profit, expense control, trends, cohorts and cross-selling."))
def insights() -> None:
    pass


def _by_label(by: str) -> str:
    return {"customer": _("customer"), "product": _("product"), "owner": _("owner"),
            "category": _("category")}.get(by, by)


@insights.command("profit", help=N_(
    "Revenue, cost and margin of invoice lines in the period, by customer, product, "
    "owner or category; largest margin first."))
@click.option("--by", default="customer", show_default=True, metavar="K",
              help=N_("customer, product, owner or category."))
@_period
@json_option
@pass_crm
def profit_cmd(crm: Any, by: str, frm: str | None, to: str | None, as_json: bool) -> None:
    from .analyses import profit

    rows = profit(crm, by, parse_date(frm, "--from"), parse_date(to, "--to"))
    if as_json:
        return print_json(rows)
    table([(r["key"] or "", amount(r["revenue"]), amount(r["cost"]), amount(r["margin"]),
            _pct(r["margin_pct"]), amount(r["unknown_cost_revenue"])) for r in rows],
          [_by_label(by), _("revenue"), _("cost"), _("margin"), _("margin %"),
           _("unknown cost")], empty=_("no invoice lines in the period"))


@insights.command("expenses", help=N_(
    "Expenses in the period by item (growth on the period before), owner (against "
    "their sales) or month; flags what grows or weighs too much."))
@click.option("--by", default="item", show_default=True, metavar="K",
              help=N_("item, owner or month."))
@_period
@json_option
@pass_crm
def expenses_cmd(crm: Any, by: str, frm: str | None, to: str | None, as_json: bool) -> None:
    from .analyses import expenses

    rows = expenses(crm, by, parse_date(frm, "--from"), parse_date(to, "--to"))
    if as_json:
        return print_json(rows)
    if by == "item":
        table([(r["item"], amount(r["amount"]), amount(r["previous"]),
                _growth(r["growth_pct"]), _yes(r["flagged"])) for r in rows],
              [_("item"), _("amount"), _("previous"), _("growth"), _("flag")],
              empty=_("no expenses"))
    elif by == "owner":
        table([(r["owner"] or "", amount(r["expenses"]), amount(r["sales"]),
                _pct(r["ratio"]), _yes(r["flagged"])) for r in rows],
              [_("owner"), _("expenses"), _("sales"), _("ratio"), _("flag")],
              empty=_("no expenses"))
    else:
        table([(r["month"], amount(r["amount"]), _growth(r["growth_pct"])) for r in rows],
              [_("month"), _("amount"), _("growth")])


@insights.command("trend", help=N_(
    "Per month: new customers, first purchases, buying customers and invoice revenue."))
@click.option("--months", type=int, default=12, show_default=True, metavar="N")
@click.option("--as-of", metavar="D", help=N_("The last month's date (default today)."))
@json_option
@pass_crm
def trend_cmd(crm: Any, months: int, as_of: str | None, as_json: bool) -> None:
    from .analyses import trend

    rows = trend(crm, months, parse_date(as_of, "--as-of"))
    if as_json:
        return print_json(rows)
    table([(r["month"], r["new"], r["first_purchase"], r["buying"], amount(r["revenue"]))
           for r in rows],
          [_("month"), _("new"), _("first purchase"), _("buying"), _("revenue")])


@insights.command("cohorts", help=N_(
    "Per month of first purchase: how many of those customers bought again 1 to 12 "
    "months later."))
@click.option("--as-of", metavar="D", help=N_("The date (default today)."))
@json_option
@pass_crm
def cohorts_cmd(crm: Any, as_of: str | None, as_json: bool) -> None:
    from .analyses import cohorts

    rows = cohorts(crm, parse_date(as_of, "--as-of"))
    if as_json:
        return print_json(rows)
    table([(r["cohort"], r["customers"],
            *("" if x is None else f"{x:.0%}" for x in r["retention"])) for r in rows],
          [_("cohort"), _("customers"), *(f"+{i}" for i in range(1, 13))],
          empty=_("no customers have bought yet"))


@insights.command("cross-sell", help=N_(
    "Products bought together: rules P → Q with support, confidence and lift; with "
    "--customer, the products to offer that customer."))
@click.option("--customer", "customer_id", type=int, metavar="ID")
@click.option("--min-customers", type=int, default=2, show_default=True, metavar="N")
@click.option("--as-of", metavar="D", help=N_("The date (default today)."))
@json_option
@pass_crm
def cross_sell_cmd(crm: Any, customer_id: int | None, min_customers: int,
                   as_of: str | None, as_json: bool) -> None:
    from .crosssell import cross_sell

    rows = cross_sell(crm, customer_id=customer_id, min_customers=min_customers,
                      as_of=parse_date(as_of, "--as-of"))
    if as_json:
        return print_json(rows)
    if customer_id is not None:
        return table([(r["product"], _pct(r["confidence"]), f"{r['lift']:.2f}",
                       r["because"]) for r in rows],
                     [_("offer"), _("confidence"), _("lift"), _("because they bought")],
                     empty=_("no suggestions"))
    table([(r["if"], r["then"], r["customers"], _pct(r["support"]), _pct(r["confidence"]),
            f"{r['lift']:.2f}") for r in rows],
          [_("if bought"), _("then"), _("customers"), _("support"), _("confidence"),
           _("lift")], empty=_("no rules"))
