"""crmkit plugin ``csv``: import customers, contacts, activities and documents from
.csv/.xlsx files (Chinese headers, GB18030, duplicates, all or nothing) and export
them back without loss.

Commands: ``crmkit import KIND FILE`` and ``crmkit export KIND FILE``. Python API:
:func:`import_file` and :func:`export_file`. Hooks it declares for other plugins:
``crm_import_columns`` and ``crm_import_row`` (extra columns of an import; see
``hookspecs.py``). See docs/plugins/csv.md.
"""

from __future__ import annotations

from typing import Any

import attrs

import crmkit
from crmkit.i18n import Domain

_ = Domain("crmkit_csv").gettext


def _batch(_inst: Any, _attr: Any, value: int) -> None:
    if not 100 <= value <= 100_000:
        raise ValueError(_("batch_size must be between 100 and 100000, got {value}").format(
                             value=value))


@attrs.frozen
class CsvSettings:
    """``batch_size``: rows validated and inserted per batch (memory vs. speed)."""

    batch_size: int = attrs.field(default=5000, validator=_batch)


PLUGIN = crmkit.PluginSpec(
    name="csv", version="0.1.0",
    description="Import and export customers, contacts, activities and documents "
                "(.csv, .xlsx, .json).",
    settings=CsvSettings)


@crmkit.hookimpl
def crm_addhooks(pluginmanager: Any) -> None:
    """Declare ``crm_import_columns`` and ``crm_import_row``. Since 0.2."""
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


@crmkit.hookimpl
def crm_cli(cli: Any) -> None:
    """Add the top-level ``crmkit import`` and ``crmkit export`` commands.

    Called for every installed plugin when the CLI starts; the commands refuse to run
    (with the fix) while ``csv`` is not enabled for the tenant. Returns nothing.

    Since 0.1.
    """
    from .cli import export_cmd, import_cmd

    cli.add_command(import_cmd)
    cli.add_command(export_cmd)


def import_file(crm: Any, kind: str, path: Any, **kw: Any) -> Any:
    """Import a file; see :func:`crmkit_csv.importer.import_file`."""
    from .importer import import_file as run

    return run(crm, kind, path, **kw)


def export_file(crm: Any, kind: str, path: Any, fmt: str | None = None) -> int:
    """Export records; see :func:`crmkit_csv.export.export_file`."""
    from .export import export_file as run

    return run(crm, kind, path, fmt)


__all__ = ["PLUGIN", "CsvSettings", "crm_addhooks", "crm_cli", "export_file", "import_file"]
