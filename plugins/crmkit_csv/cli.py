"""``crmkit import KIND FILE`` and ``crmkit export KIND FILE``."""

from __future__ import annotations

import sys
from typing import Any

import click

from crmkit.i18n import Domain
from crmkit.output import pass_crm, print_json, progress, writable

_domain = Domain("crmkit_csv")
_, ngettext = _domain.gettext, _domain.ngettext

KIND_HELP = "customers, contacts, activities or documents"


@click.command("import")
@click.argument("kind", metavar="KIND")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--map", "mapping", multiple=True, metavar="COLUMN=field",
              help="Read COLUMN as field (repeat for more); beats names and aliases.")
@click.option("--dry-run", is_flag=True, help="Validate and report; write nothing.")
@click.option("--skip-invalid", is_flag=True,
              help="Write the valid rows; put the others, with a reason column, in "
                   "FILE.rejected.csv.")
@click.option("--update-existing", is_flag=True,
              help="Update records already in the database instead of skipping them.")
@click.option("--encoding", default="auto", show_default=True, metavar="ENC",
              help="auto (UTF-8 with or without BOM, else detected; an ambiguous file "
                   "is refused), utf-8, gb18030, cp1252, ...")
@click.option("--delimiter", default=None, metavar="CHAR",
              help="The CSV delimiter (',', ';', tab, '|'); default: the one the header "
                   "line uses.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@pass_crm
def import_cmd(crm: Any, kind: str, file: str, mapping: tuple[str, ...], dry_run: bool,
               skip_invalid: bool, update_existing: bool, encoding: str,
               delimiter: str | None, as_json: bool) -> None:
    """Import KIND (customers, contacts, activities or documents) from a .csv, .xlsx
    or .json FILE.

    All or nothing: if any row is invalid, nothing is written and each bad row is
    listed on stderr (line number, column, value, reason). Duplicates (by external
    id, then e-mail, then name plus phone) are skipped and counted, or updated with
    --update-existing.
    """
    from .importer import import_file

    def say(msg: str) -> None:
        click.echo(msg, err=True)

    with progress(_("importing {kind}").format(kind=kind)) as bar:
        report = import_file(crm, kind, file, mapping=mapping, dry_run=dry_run,
                             skip_invalid=skip_invalid, update_existing=update_existing,
                             encoding=encoding, delimiter=delimiter, on_message=say,
                             progress=bar)
    if as_json:
        print_json(report.to_dict())
    r = report
    parts = [_("{n} rows read").format(n=r.rows),
             (_("{n} imported") if r.written else _("{n} valid, not written")).format(
                 n=r.imported)]
    if r.updated or update_existing:
        parts.append((_("{n} updated") if r.written else _("{n} to update")).format(
            n=r.updated))
    parts.append(_("{n} duplicates skipped").format(n=r.duplicates))
    if r.invalid:
        parts.append((_("{n} invalid skipped") if skip_invalid else _("{n} invalid")).format(
            n=r.invalid))
    if r.rejected_file:
        parts.append(_("rejected rows in {file}").format(file=r.rejected_file))
    if dry_run:
        parts.append(_("dry run: nothing written"))
    click.echo(f"{kind}: " + ", ".join(parts), err=True)
    if r.invalid and not skip_invalid:
        click.echo(ngettext("Error: {n} invalid row in {file}; nothing imported (fix it, "
                            "or use --skip-invalid)",
                            "Error: {n} invalid rows in {file}; nothing imported (fix them, "
                            "or use --skip-invalid)", r.invalid).format(n=r.invalid, file=file),
                   err=True)
        sys.exit(1)


@click.command("export")
@click.argument("kind", metavar="KIND")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", metavar="FORMAT",
              help="csv, xlsx or json [default: from FILE's extension].")
@pass_crm
def export_cmd(crm: Any, kind: str, file: str, fmt: str | None) -> None:
    """Export KIND (customers, contacts, activities or documents) you may see to FILE,
    in the columns `crmkit import` reads back."""
    from .export import export_file

    writable(file)
    with progress(_("exporting {kind}").format(kind=kind)) as bar:
        n = export_file(crm, kind, file, fmt, progress=bar)
    click.echo(_("{n} {kind} exported to {file}").format(n=n, kind=kind, file=file),
               err=True)
