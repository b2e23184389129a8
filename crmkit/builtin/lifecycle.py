"""Customer status follows the business: a ``prospect`` becomes ``active`` with its
first contract, order or invoice (through the core, so it is hooked and audited)."""

from __future__ import annotations

from typing import Any

from ..hookspecs import hookimpl
from ..plugins import PluginSpec

PLUGIN = PluginSpec(name="lifecycle", version="0.1.0",
                    description="Prospects become active with their first contract, order "
                                "or invoice (built in).")

ACTIVATING = ("contract", "order", "invoice")


@hookimpl
def crm_document_created(ctx: Any, document: Any) -> None:
    if document.kind not in ACTIVATING or document.status == "void":
        return
    customers = ctx.crm.customers
    customer = customers._load(ctx, document.customer_id)
    if customer.status == "prospect":
        customers.change(ctx, customer, {"status": "active"})
