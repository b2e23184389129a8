"""Hooks the csv plugin declares (added through ``crm_addhooks``): other plugins read
extra columns of an import (the marketing plugin's ``campaign`` column)."""

from __future__ import annotations

from typing import Any

import crmkit


@crmkit.hookspec
def crm_import_columns(ctx: Any, kind: str) -> dict[str, str] | None:
    """Claim extra columns of an import of ``kind`` rows (``customers``, ``contacts``,
    ``activities`` or ``documents``).

    Fires once per import, for plugins enabled for the tenant, inside the import's
    transaction, after the file's header is read. Return ``{header: field}``: header
    names (compared as the csv plugin compares headers, case and spaces, ``_``, ``-``,
    ``.`` ignored) mapped to a field name of the plugin's own, e.g.
    ``{"campaign": "campaign", "市场活动": "campaign"}``; or None. Only columns that no
    core field takes can be claimed; a claimed column is no longer reported as ignored,
    and its cells reach ``crm_import_row``. Must not write.

    Since 0.2.
    """


@crmkit.hookspec
def crm_import_row(ctx: Any, kind: str, record: Any, values: dict[str, str]
                   ) -> dict[str, str] | None:
    """Act on one imported row's claimed cells, after its record was written.

    Fires for every row of an import of ``kind`` with at least one non-empty cell in a
    column claimed through ``crm_import_columns``, inside that row's savepoint, right
    after its record was inserted (or updated, with ``--update-existing``). ``record``
    is the written :class:`crmkit.Customer` (``Contact``, ``Activity``, ``Document``);
    ``values`` maps each claimed field of the row to its stripped cell text (empty
    cells left out; every plugin's fields, so read your own). May write through
    ``ctx.crm``/``ctx.conn`` and emit outbox events: they join the import's
    transaction and are undone with the row, or with everything on a dry run or an
    all-or-nothing import that found bad rows. Return ``{field: reason}`` to reject the
    row (the reason is reported against that field's column and the row's record is
    rolled back), or None.

    Since 0.2.
    """
