"""``crmkit receivables aging`` and ``crmkit receivables open``."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import click

from crmkit.i18n import Domain
from crmkit.output import (
    Group,
    Page,
    fit,
    json_option,
    money,
    natural_width,
    paging,
    parse_date,
    pass_crm,
    print_json,
    progress,
    stream_json,
    table,
    width,
    writable,
)

_ = Domain("crmkit_receivables").gettext


@click.group("receivables", cls=Group)
def receivables() -> None:
    """Who owes what: outstanding invoices and aging buckets.

    Reminders for overdue and soon-due invoices appear in `crmkit reminders`.
    """


@receivables.command("aging")
@click.option("--as-of", "as_of", metavar="DATE", help="The day (default today).")
@click.option("--by", default="customer", show_default=True, metavar="customer|owner",
              help="One row per customer, or per owner (salesperson).")
@click.option("--csv", "csv_file", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write every row to a CSV file.")
@paging
@json_option
@pass_crm
def aging_cmd(crm: Any, as_of: str | None, by: str, csv_file: str | None,
              as_json: bool, page: Page) -> None:
    """Outstanding amounts per customer (or owner) in aging buckets, largest first.

    --limit and --offset choose the rows shown (the totals are the whole report's);
    --csv writes every row."""
    from . import api  # here, not at the top: `crmkit --help` loads this module

    if csv_file:
        writable(csv_file)
    report = api.aging(crm, parse_date(as_of, "--as-of"), by)
    if csv_file:
        n = _write_csv(csv_file, report, by)
        if not as_json:
            click.echo(_("{n} rows written to {file}").format(n=n, file=csv_file), err=True)
    shown, more = page.slice(report["rows"])
    if as_json:
        return print_json({**report, "rows": shown})
    head = ["owner"] if by == "owner" else ["customer_id", "customer", "owner"]
    cols = ["total", *report["buckets"], "credit"]
    rows = [[*(r[h] for h in head), *(r[c] for c in cols)] for r in shown]
    if rows:
        rows.append([_("TOTAL"), *[""] * (len(head) - 1),
                     *(report["totals"][c] for c in cols)])
    headers = [*([_("owner")] if by == "owner" else [_("id"), _("customer"), _("owner")]),
               _("total"), *report["buckets"], _("credit")]
    # narrow screens: the owner goes, then a credit column of zeros; if the buckets
    # still do not fit, they are shown in whole units (the JSON and CSV keep cents)
    optional = [] if by == "owner" else [2]
    if all(not r["credit"] for r in report["rows"]):
        optional.insert(0, len(headers) - 1)
    rows, headers = fit(rows, headers, optional)
    note = None
    if rows and natural_width(rows, headers) > width():
        first = headers.index(_("total"))
        rows = [[_whole(v) if i >= first and v != "" else v for i, v in enumerate(r)]
                for r in rows]
        note = _("amounts rounded to whole units; --json or --csv gives the cents")
    table(rows, headers,
          title=_("Aging as of {day} ({basis})").format(day=report["as_of"],
                                                        basis=report["basis"]),
          empty=_("nothing outstanding"), more=more, offset=page.next_offset)
    if note:
        click.echo(note)


def _whole(v: Any) -> str:
    """An amount rounded half up to a whole unit, grouped (``17,850``)."""
    return f"{Decimal(v).quantize(Decimal(1), ROUND_HALF_UP):,}"


def _write_csv(path: str, report: dict[str, Any], by: str) -> int:
    import csv

    head = ["owner"] if by == "owner" else ["customer_id", "customer", "owner"]
    cols = [*head, "total", *report["buckets"], "credit"]
    with progress(_("writing {file}").format(file=path), total=len(report["rows"])) as bar, \
            open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for i, r in enumerate(report["rows"], 1):
            w.writerow([money(r[c]) if c not in head else ("" if r[c] is None else r[c])
                        for c in cols])
            if i % 1000 == 0:
                bar.update(completed=i)
    return len(report["rows"])


@receivables.command("open")
@click.option("--customer", "customer_id", type=int, metavar="ID",
              help="Only this customer's invoices.")
@click.option("--as-of", "as_of", metavar="DATE", help="The day (default today).")
@paging
@json_option
@pass_crm
def open_cmd(crm: Any, customer_id: int | None, as_of: str | None, as_json: bool,
             page: Page) -> None:
    """Invoices with an outstanding amount, oldest due date first: one row per
    installment of an invoice with payment terms. Amounts in the tenant's currency."""
    from . import api

    day = parse_date(as_of, "--as-of")
    if as_json:
        stream_json(api.stream_open_items(crm, day, customer_id, limit=page.limit,
                                          offset=page.offset))
        return
    items = list(api.stream_open_items(crm, day, customer_id, limit=page.limit,
                                       offset=page.offset))
    total = api.count_open_items(crm, day, customer_id)
    # "2/3" for an installment of an invoice with terms; blank for a single one
    table([(i["number"], f"{i['installment']}/{i['installments']}"
            if i["installments"] > 1 else "", i["customer"],
            i["amount"], i["outstanding"], i["due_on"], i["days_overdue"], i["bucket"])
           for i in items],
          [_("number"), _("installment"), _("customer"), _("amount"), _("outstanding"),
           _("due"), _("days overdue"), _("bucket")], title=_("Open invoices"),
          empty=_("no open invoices"), more=page.more(total, len(items)),
          offset=page.next_offset, optional=(7, 3, 1))
