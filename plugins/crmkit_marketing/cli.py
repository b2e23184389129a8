"""``crmkit campaign ...``: campaigns, their costs, leads, targets and the report."""

from __future__ import annotations

from typing import Any

import click

from crmkit.i18n import N_, Domain
from crmkit.output import json_option, parse_date, pass_crm, print_json, table

_ = Domain("crmkit_marketing").gettext

DEFAULT_LIMIT = 50


def _page_options(fn: Any) -> Any:
    fn = click.option("--offset", type=click.IntRange(min=0), default=0, metavar="N",
                      help=N_("Skip the first N rows."))(fn)
    return click.option("--limit", type=click.IntRange(min=0), metavar="N",
                        help=N_("At most N rows (tables: 50 by default; --json: all)."))(fn)


def _limit(limit: int | None, as_json: bool) -> int | None:
    return limit if limit is not None or as_json else DEFAULT_LIMIT


def _more(total: int, offset: int, shown: int) -> None:
    rest = total - offset - shown
    if rest > 0 and shown:
        click.echo(_("… {n} more (use --offset {next})").format(n=rest, next=offset + shown))


def money(v: Any) -> str:
    """An amount (Decimal or its JSON string) for a table; blank for None."""
    return "" if v is None else str(v)


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v:.1%}"


@click.group(help=N_("Marketing campaigns: costs, leads, targets and what they brought."))
def campaign() -> None:
    pass


@campaign.command("add", help=N_("Add a campaign; prints its id."))
@click.argument("name")
@click.option("--channel", required=True, metavar="C",
              help=N_("exhibition, online, wechat, email, referral, phone, print or other."))
@click.option("--start", metavar="D", help=N_("First day of the campaign."))
@click.option("--end", metavar="D", help=N_("Last day of the campaign."))
@click.option("--budget", metavar="A", help=N_("Planned spending, e.g. 20000.00."))
@json_option
@pass_crm
def add_cmd(crm: Any, name: str, channel: str, start: str | None, end: str | None,
            budget: str | None, as_json: bool) -> None:
    from .service import add, campaign_dict, load

    c = add(crm, name, channel=channel, start=parse_date(start, "--start"),
            end=parse_date(end, "--end"), budget=budget)
    if not as_json:
        return click.echo(c.id)
    with crm.unit(write=False) as ctx:
        print_json(campaign_dict(ctx, load(ctx, c.id)))


@campaign.command("cost", context_settings={"ignore_unknown_options": True},
                  help=N_("Record money spent on campaign ID; prints the cost's id."))
@click.argument("campaign_id", type=int, metavar="ID")
@click.argument("amount")
@click.option("--on", metavar="D", help=N_("Date of the cost (default today)."))
@click.option("--note", metavar="T", help=N_("What it was for."))
@json_option
@pass_crm
def cost_cmd(crm: Any, campaign_id: int, amount: str, on: str | None, note: str | None,
             as_json: bool) -> None:
    from .service import add_cost

    cost = add_cost(crm, campaign_id, amount, on=parse_date(on, "--on"), note=note)
    print_json(cost) if as_json else click.echo(cost.id)


@campaign.command("lead", help=N_("Record that customer CUSTOMER_ID came from (responded "
                                 "to) campaign ID; prints the lead's id."))
@click.argument("campaign_id", type=int, metavar="ID")
@click.argument("customer_id", type=int)
@click.option("--on", metavar="D", help=N_("Date of the lead (default today)."))
@json_option
@pass_crm
def lead_cmd(crm: Any, campaign_id: int, customer_id: int, on: str | None,
             as_json: bool) -> None:
    from .service import add_lead

    lead = add_lead(crm, campaign_id, customer_id, on=parse_date(on, "--on"))
    print_json(lead) if as_json else click.echo(lead.id)


@campaign.command("target", help=N_(
    "Target every visible customer matching all the filters with campaign ID; prints "
    "how many were added (customers already targeted are not added twice)."))
@click.argument("campaign_id", type=int, metavar="ID")
@click.option("--segment", metavar="S", help=N_("Grading segment (needs grading)."))
@click.option("--tier", metavar="T", help=N_("Grading tier (needs grading)."))
@click.option("--status", metavar="S", help=N_("prospect, active, lost (win-back) or "
                                              "archived."))
@click.option("--tag", "tags", multiple=True, metavar="T",
              help=N_("Customers with this tag (repeat: all of them)."))
@click.option("--customer", "customers", multiple=True, type=int, metavar="ID",
              help=N_("These customers only (repeat for more)."))
@click.option("--on", metavar="D", help=N_("Date of targeting (default today)."))
@json_option
@pass_crm
def target_cmd(crm: Any, campaign_id: int, segment: str | None, tier: str | None,
               status: str | None, tags: tuple[str, ...], customers: tuple[int, ...],
               on: str | None, as_json: bool) -> None:
    from .service import target

    r = target(crm, campaign_id, segment=segment, tier=tier, status=status, tags=tags,
               customers=customers, on=parse_date(on, "--on"))
    if as_json:
        return print_json(r)
    click.echo(r["added"])
    click.echo(_("{added} customers added to campaign {id} ({already} already targeted)")
               .format(added=r["added"], id=r["campaign_id"], already=r["already_targeted"]),
               err=True)


@campaign.command("list", help=N_("List the campaigns."))
@_page_options
@json_option
@pass_crm
def list_cmd(crm: Any, limit: int | None, offset: int, as_json: bool) -> None:
    from .service import list_campaigns

    rows, total = list_campaigns(crm, limit=_limit(limit, as_json), offset=offset)
    if as_json:
        return print_json(rows)
    table([(r["id"], r["name"], r["channel"], r["start_on"] or "", r["end_on"] or "",
            money(r["budget"]), r["created_on"]) for r in rows],
          [_("id"), _("name"), _("channel"), _("start"), _("end"), _("budget"),
           _("added")], empty=_("no campaigns"))
    _more(total, offset, len(rows))


@campaign.command("show", help=N_("One campaign with its costs, leads and targets."))
@click.argument("campaign_id", type=int, metavar="ID")
@json_option
@pass_crm
def show_cmd(crm: Any, campaign_id: int, as_json: bool) -> None:
    from .service import show

    c = show(crm, campaign_id)
    if as_json:
        return print_json(c)
    table([(_("name"), c["name"]), (_("channel"), c["channel"]),
           (_("start"), c["start_on"] or ""), (_("end"), c["end_on"] or ""),
           (_("budget"), money(c["budget"])), (_("cost"), money(c["cost"])),
           (_("leads"), c["leads"]), (_("targets"), c["targets"]),
           (_("added"), f"{c['created_on']} ({c['created_by'] or ''})")],
          [_("campaign {id}").format(id=c["id"]), ""])
    if c["costs"]:
        table([(x["spent_on"], x["amount"], x["note"] or "") for x in c["costs"]],
              [_("date"), _("amount"), _("note")], title=_("Costs"))


@campaign.command("report", help=N_(
    "Per campaign as of a date: cost, leads, customers, converted, revenue, cost per "
    "lead and customer, ROI, opportunities, targets and how many came back."))
@click.option("--as-of", metavar="D", help=N_("The date (default today)."))
@_page_options
@json_option
@pass_crm
def report_cmd(crm: Any, as_of: str | None, limit: int | None, offset: int,
               as_json: bool) -> None:
    from .reports import report

    day = parse_date(as_of, "--as-of") or crm.today
    rows, total = report(crm, day, limit=_limit(limit, as_json), offset=offset)
    if as_json:
        return print_json(rows)
    sales = any(r["opportunities"] is not None for r in rows)
    head = [_("id"), _("campaign"), _("cost"), _("leads"), _("customers"), _("converted"),
            _("revenue"), _("per lead"), _("per customer"), _("ROI")]
    if sales:
        head += [_("won/opps"), _("won amount")]
    head += [_("targets"), _("returned")]
    out = []
    for r in rows:
        line = [r["campaign_id"], r["name"], money(r["cost"]), r["leads"], r["customers"],
                r["converted"], money(r["revenue"]), money(r["cost_per_lead"]),
                money(r["cost_per_customer"]), _pct(r["roi"])]
        if sales:
            line += [f"{r['won']}/{r['opportunities']}", money(r["won_amount"])]
        line += [r["targets"], f"{r['returned']} ({_pct(r['return_rate'])})"
                 if r["return_rate"] is not None else r["returned"]]
        out.append(line)
    table(out, head, title=_("Campaigns as of {day}").format(day=day),
          empty=_("no campaigns"))
    _more(total, offset, len(rows))
