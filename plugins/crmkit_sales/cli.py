"""``crmkit sales ...``: the pipeline and its reports on the command line."""

from __future__ import annotations

from typing import Any

import click

from crmkit.i18n import Domain
from crmkit.output import Group, Page, json_option, paging, parse_date, pass_crm, print_json, table

_ = Domain("crmkit_sales").gettext


def _period_options(fn: Any) -> Any:
    fn = click.option("--to", "to_", metavar="D", help="Last day (default today).")(fn)
    return click.option("--from", "from_", metavar="D",
                        help="First day (default the 1st of --to's month).")(fn)


@click.group(cls=Group)
def sales() -> None:
    """Sales pipeline: opportunities, forecast, prospects, funnel, team, products."""


@sales.command("add")
@click.argument("customer_id", type=int)
@click.option("--title", required=True, metavar="T", help="What is being sold.")
@click.option("--amount", required=True, metavar="A", help="Expected amount, e.g. 12000.00.")
@click.option("--close", required=True, metavar="D", help="Expected close date.")
@click.option("--stage", metavar="S", help="Starting stage (default the first one).")
@click.option("--owner", metavar="U", help="Salesperson (default the customer's owner).")
@click.option("--next-step", metavar="D", help="Date of the next follow-up.")
@json_option
@pass_crm
def add_cmd(crm: Any, customer_id: int, title: str, amount: str, close: str,
            stage: str | None, owner: str | None, next_step: str | None,
            as_json: bool) -> None:
    """Open an opportunity for a customer; prints its id."""
    from .service import add

    opp = add(crm, customer_id, title=title, amount=amount, close=parse_date(close, "--close"),
              stage=stage, owner=owner, next_step=parse_date(next_step, "--next-step"))
    print_json(opp) if as_json else click.echo(opp.id)


@sales.command("move")
@click.argument("opportunity_id", type=int)
@click.argument("stage")
@click.option("--on", metavar="DATE", help="Date of the change (default today).")
@click.option("--reason", metavar="R", help="Why (kept as the lost reason when lost).")
@click.option("--contract-number", metavar="N",
              help="When won: add a contract document with this number.")
@click.option("--next-step", metavar="D", help="Set the date of the next follow-up.")
@json_option
@pass_crm
def move_cmd(crm: Any, opportunity_id: int, stage: str, on: str | None, reason: str | None,
             contract_number: str | None, next_step: str | None, as_json: bool) -> None:
    """Move an opportunity to STAGE (won and lost close it)."""
    from .service import move

    opp = move(crm, opportunity_id, stage, on=parse_date(on, "--on"), reason=reason,
               contract_number=contract_number,
               next_step=parse_date(next_step, "--next-step"))
    if as_json:
        return print_json(opp)
    click.echo(_("opportunity {id} is now {stage}").format(id=opp.id, stage=opp.stage)
               + (_(" (closed on {day})").format(day=opp.closed_on) if opp.closed_on
                  else ""))


@sales.command("list")
@click.option("--owner", metavar="U")
@click.option("--stage", metavar="S")
@click.option("--open", "open_only", is_flag=True, help="Only open opportunities.")
@paging
@json_option
@pass_crm
def list_cmd(crm: Any, owner: str | None, stage: str | None, open_only: bool,
             as_json: bool, page: Page) -> None:
    """List opportunities (by expected close)."""
    from .service import list_opportunities

    rows, more = page.slice(list_opportunities(crm, owner=owner, stage=stage,
                                               open_only=open_only))
    if as_json:
        return print_json(rows)
    table([(r["id"], r["customer"], r["title"], r["stage"], r["probability"],
            r["amount"], r["weighted"], r["expected_close"], r["owner"], r["next_step"])
           for r in rows], [_("id"), _("customer"), _("title"), _("stage"), _("prob %"),
                            _("amount"), _("weighted"), _("close"), _("owner"),
                            _("next step")],
          empty=_("no opportunities"), more=more, offset=page.next_offset,
          optional=(8, 9, 6, 4))


@sales.command("forecast")
@click.option("--by", default="month", show_default=True, metavar="month|owner")
@paging
@json_option
@pass_crm
def forecast_cmd(crm: Any, by: str, as_json: bool, page: Page) -> None:
    """Open pipeline by month of expected close (or owner), weighted, with amounts won."""
    from .reports import forecast

    rows, more = page.slice(forecast(crm, by))
    if as_json:
        return print_json(rows)
    table([(r["period"], r["count"], r["best_case"], r["weighted"], r["won"]) for r in rows],
          [_("month") if by == "month" else _("owner"), _("open"), _("best case"),
           _("weighted"), _("won")],
          title=_("Forecast"), empty=_("no opportunities"), more=more,
          offset=page.next_offset)


@sales.command("prospects")
@paging
@json_option
@pass_crm
def prospects_cmd(crm: Any, as_json: bool, page: Page) -> None:
    """Prospect classes: A closes soon, B needs follow-up, C intent unclear."""
    from .reports import prospects

    rows, more = page.slice(prospects(crm))
    if as_json:
        return print_json(rows)
    table([(r["class"], r["customer_id"], r["customer"], r["owner"], r["opportunity_id"],
            r["expected_close"], r["probability"]) for r in rows],
          [_("class"), _("id"), _("customer"), _("owner"), _("opportunity"), _("close"),
           _("prob %")],
          title=_("Prospects"), empty=_("no prospects"), more=more, offset=page.next_offset)


@sales.command("funnel")
@_period_options
@json_option
@pass_crm
def funnel_cmd(crm: Any, from_: str | None, to_: str | None, as_json: bool) -> None:
    """Count and amount per stage now; stage-to-stage conversion over the period."""
    from .reports import funnel

    f = funnel(crm, parse_date(from_, "--from"), parse_date(to_, "--to"))
    if as_json:
        return print_json(f)
    table([(x["stage"], x["probability"], x["count"], x["amount"]) for x in f["stages"]],
          [_("stage"), _("prob %"), _("count"), _("amount")], title=_("Pipeline now"))
    table([(x["stage"], x["next"], x["entered"], x["advanced"], x["lost"],
            _percent(x["rate"], 0)) for x in f["conversions"]],
          [_("stage"), _("next"), _("entered"), _("advanced"), _("lost"), _("rate")],
          title=_("Conversion {start} .. {end}").format(start=f["from"], end=f["to"]))


def _percent(v: Any, places: int) -> str:
    return "" if v is None else f"{v:.{places}%}"


@sales.command("team")
@_period_options
@paging
@json_option
@pass_crm
def team_cmd(crm: Any, from_: str | None, to_: str | None, as_json: bool,
             page: Page) -> None:
    """Per salesperson: activities, new customers, wins, expenses (flagged if high)."""
    from .reports import team

    rows, more = page.slice(team(crm, parse_date(from_, "--from"), parse_date(to_, "--to")))
    if as_json:
        return print_json(rows)
    table([(r["owner"], sum(r["activities"].values()), r["new_customers"], r["won"],
            r["lost"], r["won_amount"], _percent(r["win_rate"], 0),
            r["avg_days_to_first_win"], r["expenses"], _percent(r["expense_ratio"], 2),
            "!" if r["flagged"] else "") for r in rows],
          [_("owner"), _("activities"), _("new cust."), _("won"), _("lost"),
           _("won amount"), _("win rate"), _("days to 1st win"), _("expenses"),
           _("exp. ratio"), _("flag")], title=_("Team"),
          empty=_("nothing in this period"), more=more, offset=page.next_offset,
          optional=(10, 7, 9, 4, 2))


@sales.command("products")
@_period_options
@paging
@json_option
@pass_crm
def products_cmd(crm: Any, from_: str | None, to_: str | None, as_json: bool,
                 page: Page) -> None:
    """Per product from order and invoice lines: quantity, revenue, prices."""
    from .reports import products

    rows, more = page.slice(products(crm, parse_date(from_, "--from"),
                                     parse_date(to_, "--to")))
    if as_json:
        return print_json(rows)
    table([(r["product"], r["quantity"], r["revenue"], r["customers"], r["avg_price"],
            r["min_price"], r["max_price"]) for r in rows],
          [_("product"), _("quantity"), _("revenue"), _("customers"), _("avg"), _("min"),
           _("max")], title=_("Products"), empty=_("no sales in this period"), more=more,
          offset=page.next_offset)
