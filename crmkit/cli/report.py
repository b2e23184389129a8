"""``crmkit report``: the HTML report with charts, for the user's scope."""

from __future__ import annotations

from typing import Any

import click

from ..output import parse_date, pass_crm, writable


@click.command("report")
@click.option("--out", "out", metavar="FILE",
              help="Where to write it (default crmkit-report-DATE.html).")
@click.option("--as-of", metavar="D", help="The date of the figures (default today).")
@pass_crm
def report_cmd(crm: Any, out: str | None, as_of: str | None) -> None:
    """Write one self-contained HTML file of headline figures and charts for every
    enabled plugin (your customers only, in the tenant's language); prints its path.
    Needs the report extra: pip install 'crmkit[report]'."""
    from ..report import make

    day = parse_date(as_of, "--as-of") or crm.today
    path = out or f"crmkit-report-{day.isoformat()}.html"
    writable(path)
    click.echo(make(crm, day, path))
