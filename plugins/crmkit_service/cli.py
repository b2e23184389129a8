"""``crmkit case ...``: cases, the solution base and the service stats."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from crmkit.i18n import N_, Domain
from crmkit.output import (
    Group,
    Page,
    fields,
    json_option,
    paging,
    parse_date,
    pass_crm,
    print_json,
    stream_json,
    table,
    when,
)

_ = Domain("crmkit_service").gettext


def _at_option(fn: Any) -> Any:
    return click.option("--at", metavar="DATETIME", help=N_(
        "When it happened, e.g. 2026-11-22T10:30 (the tenant's time zone unless an "
        "offset is given; default now)."))(fn)


def _clock(crm: Any) -> Any:
    """``when`` on the tenant's wall clock: tables show local time."""
    from .zones import tenant_zone

    with crm.unit(write=False) as ctx:
        zone = tenant_zone(ctx)
    return lambda v: when(None if v is None else v.astimezone(zone))


def _print_case(crm: Any, case: Any, as_json: bool) -> None:
    if as_json:
        print_json(case.as_json())
    else:
        click.echo(case.id)


def _rows(cases: list[Any], local: Any) -> list[list[Any]]:
    return [[c.id, local(c.opened_at), c.customer, c.subject, c.priority, c.status,
             c.owner, local(c.resolution_due)] for c in cases]


def _head() -> list[str]:
    return [_("id"), _("opened"), _("customer"), _("subject"), _("priority"), _("status"),
            _("owner"), _("due")]


def _list(crm: Any, cases: list[Any], total: int, page: Page, as_json: bool,
          empty: str) -> None:
    if as_json:
        stream_json(c.as_json() for c in cases)
        return
    table(_rows(cases, _clock(crm)), _head(), empty=empty,
          more=page.more(total, len(cases)), offset=page.next_offset, optional=(7, 6, 4))


@click.group(cls=Group, help=N_("Customer service cases: SLA deadlines, replies, "
                               "solutions and the solution base."))
def case() -> None:
    pass


@case.command("add", help=N_("Open a case for customer CUSTOMER_ID; prints its id."))
@click.argument("customer_id", type=int)
@click.option("--subject", required=True, metavar="S", help=N_("What the customer asks."))
@click.option("--body", metavar="B", help=N_("The details."))
@click.option("--priority", metavar="P", help=N_("low, normal (default), high or urgent."))
@click.option("--channel", metavar="C",
              help=N_("phone (default), email, visit, web, wechat or other."))
@click.option("--product", metavar="P", help=N_("The product the case is about."))
@click.option("--owner", metavar="U", help=N_("Who handles it (default: the customer's "
                                             "owner)."))
@_at_option
@json_option
@pass_crm
def add_cmd(crm: Any, customer_id: int, subject: str, body: str | None,
            priority: str | None, channel: str | None, product: str | None,
            owner: str | None, at: str | None, as_json: bool) -> None:
    from .cases import add

    _print_case(crm, add(crm, customer_id, subject=subject, body=body, priority=priority,
                         channel=channel, product=product, owner=owner, at=at), as_json)


@case.command("reply", help=N_("Answer case ID (logged on the customer's timeline); the "
                              "first reply is the case's response."))
@click.argument("case_id", type=int, metavar="ID")
@click.option("--body", required=True, metavar="B", help=N_("What was said or written."))
@_at_option
@json_option
@pass_crm
def reply_cmd(crm: Any, case_id: int, body: str, at: str | None, as_json: bool) -> None:
    from .cases import reply

    _print_case(crm, reply(crm, case_id, body=body, at=at), as_json)


@case.command("resolve", help=N_("Resolve case ID with its solution (it joins the "
                                "solution base)."))
@click.argument("case_id", type=int, metavar="ID")
@click.option("--solution", required=True, metavar="TEXT", help=N_("How it was solved."))
@_at_option
@json_option
@pass_crm
def resolve_cmd(crm: Any, case_id: int, solution: str, at: str | None,
                as_json: bool) -> None:
    from .cases import resolve

    _print_case(crm, resolve(crm, case_id, solution=solution, at=at), as_json)


@case.command("close", help=N_("Close case ID, with the customer's rating."))
@click.argument("case_id", type=int, metavar="ID")
@click.option("--rating", metavar="1..5", help=N_("The customer's satisfaction, 1 to 5."))
@_at_option
@json_option
@pass_crm
def close_cmd(crm: Any, case_id: int, rating: str | None, at: str | None,
              as_json: bool) -> None:
    from .cases import close

    _print_case(crm, close(crm, case_id, rating=rating, at=at), as_json)


@case.command("reopen", help=N_("Open case ID again; its solution and rating are "
                               "cleared."))
@click.argument("case_id", type=int, metavar="ID")
@json_option
@pass_crm
def reopen_cmd(crm: Any, case_id: int, as_json: bool) -> None:
    from .cases import reopen

    _print_case(crm, reopen(crm, case_id), as_json)


@case.command("list", help=N_("Cases, newest first."))
@click.option("--status", metavar="S", help=N_("open, resolved or closed."))
@click.option("--owner", metavar="U", help=N_("Cases handled by this user."))
@click.option("--customer", type=int, metavar="ID", help=N_("Cases of this customer."))
@click.option("--overdue", is_flag=True, help=N_("Open cases past a deadline now."))
@paging
@json_option
@pass_crm
def list_cmd(crm: Any, status: str | None, owner: str | None, customer: int | None,
             overdue: bool, as_json: bool, page: Page) -> None:
    from .cases import list_cases

    cases, total = list_cases(crm, status=status, owner=owner, customer=customer,
                              overdue=overdue, limit=page.limit, offset=page.offset)
    _list(crm, cases, total, page, as_json, _("no cases"))


@case.command("show", help=N_("One case with its replies."))
@click.argument("case_id", type=int, metavar="ID")
@json_option
@pass_crm
def show_cmd(crm: Any, case_id: int, as_json: bool) -> None:
    from .cases import show

    c = show(crm, case_id)
    if as_json:
        return print_json(c)

    local = _clock(crm)

    def at(v: str | None) -> str | None:
        return None if v is None else local(dt.datetime.fromisoformat(v))

    for k in ("opened_at", "response_due", "first_response_at", "resolution_due",
              "resolved_at", "closed_at"):
        c[k] = at(c[k])
    fields([(_("customer"), f"{c['customer']} ({c['customer_id']})"),
            (_("subject"), c["subject"]), (_("body"), c["body"]),
            (_("priority"), c["priority"]), (_("channel"), c["channel"]),
            (_("product"), c["product"]), (_("owner"), c["owner"]),
            (_("status"), c["status"]), (_("opened"), c["opened_at"]),
            (_("response due"), c["response_due"]),
            (_("first response"), c["first_response_at"]),
            (_("resolution due"), c["resolution_due"]),
            (_("resolved"), c["resolved_at"]), (_("solution"), c["solution"]),
            (_("closed"), c["closed_at"]), (_("rating"), c["rating"]),
            (_("replies"), [{_("at"): at(r["at"]), _("by"): r["by"], _("reply"): r["body"]}
                            for r in c["replies"]] or None)],
           title=_("case {id}").format(id=c["id"]))


@case.command("search", help=N_("The solution base: resolved and closed cases whose "
                               "subject or solution contains TEXT, newest first."))
@click.argument("text")
@paging
@json_option
@pass_crm
def search_cmd(crm: Any, text: str, as_json: bool, page: Page) -> None:
    from .cases import find

    cases, total = find(crm, text, limit=page.limit, offset=page.offset)
    if as_json:
        stream_json(c.as_json() for c in cases)
        return
    local = _clock(crm)
    table([[c.id, local(c.opened_at), c.customer, c.subject, c.solution] for c in cases],
          [_("id"), _("opened"), _("customer"), _("subject"), _("solution")],
          empty=_("no case matches"), more=page.more(total, len(cases)),
          offset=page.next_offset, optional=(1, 2))


@case.command("stats", help=N_(
    "Per owner of the cases opened in the period: opened, resolved, open, median "
    "resolution hours, SLA met shares and the average rating, as of --to."))
@click.option("--from", "frm", metavar="D", help=N_("First day (default: the 1st of "
                                                   "--to's month)."))
@click.option("--to", metavar="D", help=N_("Last day (default today)."))
@json_option
@pass_crm
def stats_cmd(crm: Any, frm: str | None, to: str | None, as_json: bool) -> None:
    from .reports import stats

    rows = stats(crm, parse_date(frm, "--from"), parse_date(to, "--to"))
    if as_json:
        return print_json(rows)

    def pct(v: float | None) -> str:
        return "" if v is None else f"{v:.1%}"

    table([[r["owner"] or "", r["opened"], r["resolved"], r["open"],
            "" if r["median_resolution_hours"] is None else r["median_resolution_hours"],
            pct(r["response_met"]), pct(r["resolution_met"]),
            "" if r["avg_rating"] is None else f"{r['avg_rating']:.2f}"] for r in rows],
          [_("owner"), _("opened"), _("resolved"), _("open"), _("median h"),
           _("response met"), _("resolution met"), _("rating")],
          title=_("Cases"), empty=_("no cases in the period"))
