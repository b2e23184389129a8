"""``crmkit grading run`` and ``crmkit grading show``."""

from __future__ import annotations

from itertools import islice
from typing import Any

import click

from crmkit.i18n import Domain
from crmkit.output import (
    Group,
    Page,
    json_option,
    paging,
    parse_date,
    pass_crm,
    print_json,
    progress,
    stream_json,
    table,
)

_ = Domain("crmkit_grading").gettext


@click.group(name="grading", cls=Group)
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

    with progress(_("grading customers"), total=4) as bar:
        result = run(crm, parse_date(as_of, "--as-of"), progress=bar)
    if as_json:
        print_json(result)
        return
    click.echo(_("Graded {n} customers as of {day}: {changed} changed, {lost} newly lost."
                 ).format(n=result["customers"], day=result["as_of"],
                          changed=result["changed"], lost=result["lost"]))
    table(list(result["segments"].items()), [_("segment"), _("customers")],
          title=_("Segments"))
    table(list(result["tiers"].items()), [_("tier"), _("customers")], title=_("Tiers"))


@grading.command(name="show")
@click.option("--segment", metavar="S", help="Only this segment (champions, loyal, ...).")
@click.option("--tier", metavar="T", help="Only this tier (special, important, general).")
@click.option("--as-of", "as_of", metavar="DATE", help="Grade as of this date [default: today].")
@paging
@json_option
@pass_crm
def show_cmd(crm: Any, segment: str | None, tier: str | None, as_of: str | None,
             as_json: bool, page: Page) -> None:
    """Customers' grades as of a date, computed from the data (largest monetary first).

    Ranks are over the whole tenant; a salesperson sees their own customers' rows.
    """
    from .service import stream_grades

    day = parse_date(as_of, "--as-of")
    if as_json:
        stream_json(stream_grades(crm, day, segment=segment, tier=tier, limit=page.limit,
                                  offset=page.offset))
        return
    # one pass over the grades: skip the offset, keep the page, count the rest
    rows = stream_grades(crm, day, segment=segment, tier=tier)
    for _skipped in islice(rows, page.offset):
        pass
    shown = list(islice(rows, page.limit))
    more = sum(1 for _row in rows)
    table([(r["customer_id"], r["customer"], r["owner"], r["recency_days"], r["frequency"],
            r["monetary"], f"{r['r']}{r['f']}{r['m']}" if r["r"] is not None else "",
            r["segment"], r["abc"], r["tier"]) for r in shown],
          [_("id"), _("customer"), _("owner"), _("days since"), _("purchases"),
           _("value"), _("RFM"), _("segment"), _("class"), _("tier")],
          title=_("Grades"), empty=_("no customers to show"), more=more,
          offset=page.next_offset, optional=(2, 3, 4, 0))
