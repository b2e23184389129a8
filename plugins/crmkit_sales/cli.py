"""``crmkit sales ...``: the pipeline and its reports on the command line."""

from __future__ import annotations

from typing import Any

import click

from crmkit.output import json_option, parse_date, pass_crm, print_json, table


def _m(v: Any) -> str:
    return "" if v is None else f"{v:.2f}"


def _period_options(fn: Any) -> Any:
    fn = click.option("--to", "to_", metavar="D", help="Last day (default today).")(fn)
    return click.option("--from", "from_", metavar="D",
                        help="First day (default the 1st of --to's month).")(fn)


@click.group()
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
    click.echo(f"opportunity {opp.id} is now {opp.stage}"
               + (f" (closed on {opp.closed_on})" if opp.closed_on else ""))


@sales.command("list")
@click.option("--owner", metavar="U")
@click.option("--stage", metavar="S")
@click.option("--open", "open_only", is_flag=True, help="Only open opportunities.")
@json_option
@pass_crm
def list_cmd(crm: Any, owner: str | None, stage: str | None, open_only: bool,
             as_json: bool) -> None:
    """List opportunities (by expected close)."""
    from .service import list_opportunities

    rows = list_opportunities(crm, owner=owner, stage=stage, open_only=open_only)
    if as_json:
        return print_json(rows)
    table([(r["id"], r["customer"], r["title"], r["stage"], f"{r['probability']}%",
            r["amount"], r["weighted"], r["expected_close"], r["owner"], r["next_step"] or "")
           for r in rows], ["id", "customer", "title", "stage", "prob", "amount", "weighted",
                            "close", "owner", "next step"], empty="no opportunities")


@sales.command("forecast")
@click.option("--by", default="month", show_default=True, metavar="month|owner")
@json_option
@pass_crm
def forecast_cmd(crm: Any, by: str, as_json: bool) -> None:
    """Open pipeline by month of expected close (or owner), weighted, with amounts won."""
    from .reports import forecast

    rows = forecast(crm, by)
    if as_json:
        return print_json(rows)
    table([(r["period"], r["count"], _m(r["best_case"]), _m(r["weighted"]), _m(r["won"]))
           for r in rows], [by, "open", "best case", "weighted", "won"],
          title="Forecast", empty="no opportunities")


@sales.command("prospects")
@json_option
@pass_crm
def prospects_cmd(crm: Any, as_json: bool) -> None:
    """Prospect classes: A closes soon, B needs follow-up, C intent unclear."""
    from .reports import prospects

    rows = prospects(crm)
    if as_json:
        return print_json(rows)
    table([(r["class"], r["customer_id"], r["customer"], r["owner"], r["opportunity_id"],
            r["expected_close"], "" if r["probability"] is None else f"{r['probability']}%")
           for r in rows], ["class", "id", "customer", "owner", "opportunity", "close", "prob"],
          title="Prospects", empty="no prospects")


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
    table([(x["stage"], x["probability"], x["count"], _m(x["amount"])) for x in f["stages"]],
          ["stage", "prob %", "count", "amount"], title="Pipeline now")
    table([(x["stage"], x["next"], x["entered"], x["advanced"], x["lost"],
            "" if x["rate"] is None else f"{x['rate']:.0%}") for x in f["conversions"]],
          ["stage", "next", "entered", "advanced", "lost", "rate"],
          title=f"Conversion {f['from']} .. {f['to']}")


@sales.command("team")
@_period_options
@json_option
@pass_crm
def team_cmd(crm: Any, from_: str | None, to_: str | None, as_json: bool) -> None:
    """Per salesperson: activities, new customers, wins, expenses (flagged if high)."""
    from .reports import team

    rows = team(crm, parse_date(from_, "--from"), parse_date(to_, "--to"))
    if as_json:
        return print_json(rows)
    table([(r["owner"], sum(r["activities"].values()), r["new_customers"], r["won"], r["lost"],
            _m(r["won_amount"]), "" if r["win_rate"] is None else f"{r['win_rate']:.0%}",
            "" if r["avg_days_to_first_win"] is None else r["avg_days_to_first_win"],
            _m(r["expenses"]),
            "" if r["expense_ratio"] is None else f"{r['expense_ratio']:.2%}",
            "!" if r["flagged"] else "") for r in rows],
          ["owner", "activities", "new cust.", "won", "lost", "won amount", "win rate",
           "days to 1st win", "expenses", "exp. ratio", "flag"], title="Team",
          empty="nothing in this period")


@sales.command("products")
@_period_options
@json_option
@pass_crm
def products_cmd(crm: Any, from_: str | None, to_: str | None, as_json: bool) -> None:
    """Per product from order and invoice lines: quantity, revenue, prices."""
    from .reports import products

    rows = products(crm, parse_date(from_, "--from"), parse_date(to_, "--to"))
    if as_json:
        return print_json(rows)
    table([(r["product"], r["quantity"], _m(r["revenue"]), r["customers"], _m(r["avg_price"]),
            _m(r["min_price"]), _m(r["max_price"])) for r in rows],
          ["product", "quantity", "revenue", "customers", "avg", "min", "max"],
          title="Products", empty="no sales in this period")
