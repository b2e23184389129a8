"""A test plugin for the csv plugin's ``crm_import_columns`` / ``crm_import_row``: it
claims a ``loyalty`` (积分) column of a contacts import and records each value as an
audit row of its own (table ``loyalty``); a value that is not a whole number rejects
the row."""

from __future__ import annotations

from typing import Any

import crmkit


class ImportClaims:
    PLUGIN = crmkit.PluginSpec(name="claims", description="claims a loyalty column (tests)")

    def __init__(self) -> None:
        self.__name__ = "tests.plugins.import_claims"

    @crmkit.hookimpl
    def crm_import_columns(self, ctx: Any, kind: str) -> dict[str, str] | None:
        return {"loyalty": "loyalty", "积分": "loyalty"} if kind == "contacts" else None

    @crmkit.hookimpl
    def crm_import_row(self, ctx: Any, kind: str, record: Any,
                       values: dict[str, str]) -> dict[str, str] | None:
        value = values.get("loyalty")
        if value is None:
            return None
        if not value.isdigit():
            return {"loyalty": f"loyalty '{value}' is not a whole number"}
        ctx.audit("loyalty", record.id, "insert", None,
                  {"contact": record.name, "points": int(value)},
                  customer_id=record.customer_id)
        return None
