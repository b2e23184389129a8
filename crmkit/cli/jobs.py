"""``crmkit jobs list`` and ``crmkit jobs run NAME [--all-tenants] [--workers N]``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from ..i18n import _
from ..output import json_option, pass_crm, print_json, table


@contextmanager
def progress(total: int, label: str) -> Iterator[Callable[..., None]]:
    """A progress bar on stderr, advanced by one each time the yielded function is
    called; silent when stderr is not a terminal (cron, pipes, ``--json`` into a file)."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda *_args: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda *_args: bar.advance(task)


@click.group()
def jobs() -> None:
    """Periodic work, run per tenant: reminders, grading, webhook delivery, ..."""


@jobs.command("list")
@json_option
@pass_crm
def list_cmd(crm: Any, as_json: bool) -> None:
    """The jobs the installed plugins declare, and whether each runs for this tenant."""
    rows = crm.jobs.list()
    for problem in crm.jobs.problems():
        click.echo(_("warning: {problem}").format(problem=problem), err=True)
    if as_json:
        return print_json(rows)
    table([(r["name"], r["plugin"], _("yes") if r["enabled"] else _("no"), r["description"])
           for r in rows], [_("job"), _("plugin"), _("enabled here"), _("description")],
          empty=_("no jobs"))


@jobs.command("run")
@click.argument("name")
@click.option("--all-tenants", is_flag=True,
              help="Run it for every tenant (an admin of tenant 'default' only).")
@click.option("--workers", type=int, default=1, show_default=True, metavar="N",
              help="With --all-tenants: run tenants in N processes (1 to 64).")
@json_option
@pass_crm
def run_cmd(crm: Any, name: str, all_tenants: bool, workers: int, as_json: bool) -> None:
    """Run job NAME for this tenant, or for every tenant; one row per tenant.

    A tenant whose plugin is off, or whose job another runner is running right now, is
    skipped; one tenant failing never stops the others. Exit code 1 when any failed.
    """
    from ..jobs import check_workers, summary

    if not all_tenants and workers != 1:
        raise click.UsageError(_("--workers needs --all-tenants"))
    if all_tenants:
        check_workers(workers)
        crm.jobs.get(name)
        with crm.unit(write=False) as ctx:  # asked before the tenants are counted
            ctx.check("jobs.run_all", None, _("for every tenant"))
        total = len(crm.tenants._all())
        with progress(total, name) as advance:
            rows = crm.jobs.run_all(name, workers=workers, on_result=advance)
    else:
        rows = [crm.jobs.run(name)]
    counts = summary(rows)
    if as_json:
        print_json([r.as_dict() for r in rows])
    else:
        table([(r.tenant, r.status, f"{r.seconds:.3f}", r.detail) for r in rows],
              [_("tenant"), _("status"), _("seconds"), _("detail")], title=name,
              empty=_("no tenants"))
        click.echo(_("{ok} ok, {skipped} skipped, {failed} failed").format(**counts))
    if counts["failed"]:
        click.echo(_("Error: job {job} failed for {n} of {total} tenants").format(
            job=name, n=counts["failed"], total=len(rows)), err=True)
        click.get_current_context().exit(1)
