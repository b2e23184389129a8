"""``crmkit receivables aging`` and ``crmkit receivables open``."""

from __future__ import annotations

from typing import Any

import click

from crmkit.output import json_option, money, parse_date, pass_crm, print_json, table

from . import api


@click.group("receivables")
def receivables() -> None:
    """Who owes what: outstanding invoices and aging buckets.

    Reminders for overdue and soon-due invoices appear in `crmkit reminders`.
    """


@receivables.command("aging")
@click.option("--as-of", "as_of", metavar="DATE", help="The day (default today).")
@click.option("--by", default="customer", show_default=True, metavar="customer|owner",
              help="One row per customer, or per owner (salesperson).")
@click.option("--csv", "csv_file", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write the rows to a CSV file.")
@json_option
@pass_crm
def aging_cmd(crm: Any, as_of: str | None, by: str, csv_file: str | None,
              as_json: bool) -> None:
    """Outstanding amounts per customer (or owner) in aging buckets, largest first."""
    report = api.aging(crm, parse_date(as_of, "--as-of"), by)
    if csv_file:
        n = _write_csv(csv_file, report, by)
        if not as_json:
            click.echo(f"{n} rows written to {csv_file}", err=True)
    if as_json:
        return print_json(report)
    head = ["owner"] if by == "owner" else ["id", "customer", "owner"]
    cols = ["total", *report["buckets"], "credit"]
    rows = [[*(r[h if h != "id" else "customer_id"] for h in head),
             *(money(r[c]) for c in cols)] for r in report["rows"]]
    if rows:
        rows.append([*(["TOTAL"] + [""] * (len(head) - 1)),
                     *(money(report["totals"][c]) for c in cols)])
    table(rows, [*head, *cols], title=f"Aging as of {report['as_of']} ({report['basis']})",
          empty="nothing outstanding")


def _write_csv(path: str, report: dict[str, Any], by: str) -> int:
    import csv

    head = ["owner"] if by == "owner" else ["customer_id", "customer", "owner"]
    cols = [*head, "total", *report["buckets"], "credit"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in report["rows"]:
            w.writerow([money(r[c]) if c not in head else ("" if r[c] is None else r[c])
                        for c in cols])
    return len(report["rows"])


@receivables.command("open")
@click.option("--customer", "customer_id", type=int, metavar="ID",
              help="Only this customer's invoices.")
@click.option("--as-of", "as_of", metavar="DATE", help="The day (default today).")
@json_option
@pass_crm
def open_cmd(crm: Any, customer_id: int | None, as_of: str | None, as_json: bool) -> None:
    """Invoices with an outstanding amount, oldest due date first."""
    items = api.open_items(crm, parse_date(as_of, "--as-of"), customer_id)
    if as_json:
        return print_json(items)
    table([(i["number"], i["customer_id"], i["customer"], money(i["amount"]),
            money(i["outstanding"]), i["due_on"], i["days_overdue"], i["bucket"])
           for i in items],
          ["number", "customer_id", "customer", "amount", "outstanding", "due_on",
           "days_overdue", "bucket"], title="Open invoices", empty="no open invoices")
