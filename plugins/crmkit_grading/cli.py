"""``crmkit grading run`` and ``crmkit grading show``."""

from __future__ import annotations

from typing import Any

import click

from crmkit.output import json_option, parse_date, pass_crm, print_json, table


@click.group(name="grading")
def grading() -> None:
    """Customer grading: RFM scores and segments, ABC classes, tiers, lost customers."""


@grading.command(name="run")
@click.option("--as-of", "as_of", metavar="DATE", help="Grade as of this date [default: today].")
@json_option
@pass_crm
def run_cmd(crm: Any, as_of: str | None, as_json: bool) -> None:
    """Compute and store every customer's grade (admins and managers).

    Records a history row, an audit row, a `grade.changed` event and a
    `crm_grade_changed` hook call for each customer whose segment, ABC class or tier
    changed; marks customers without a purchase for `lost_after_days` as lost. Prints
    the number of customers per segment and tier.
    """
    from .service import run

    result = run(crm, parse_date(as_of, "--as-of"))
    if as_json:
        print_json(result)
        return
    click.echo(f"Graded {result['customers']} customers as of {result['as_of']}: "
               f"{result['changed']} changed, {result['lost']} newly lost.")
    table(list(result["segments"].items()), ["segment", "customers"], title="Segments")
    table(list(result["tiers"].items()), ["tier", "customers"], title="Tiers")


@grading.command(name="show")
@click.option("--segment", metavar="S", help="Only this segment (champions, loyal, ...).")
@click.option("--tier", metavar="T", help="Only this tier (special, important, general).")
@click.option("--as-of", "as_of", metavar="DATE", help="Grade as of this date [default: today].")
@json_option
@pass_crm
def show_cmd(crm: Any, segment: str | None, tier: str | None, as_of: str | None,
             as_json: bool) -> None:
    """Customers' grades as of a date, computed from the data (largest monetary first).

    Ranks are over the whole tenant; a salesperson sees their own customers' rows.
    """
    from .service import SHOW_FIELDS, grades

    rows = grades(crm, parse_date(as_of, "--as-of"), segment=segment, tier=tier)
    if as_json:
        print_json(rows)
        return
    table([[r[k] for k in SHOW_FIELDS] for r in rows], list(SHOW_FIELDS), title="Grades",
          empty="no customers to show")
