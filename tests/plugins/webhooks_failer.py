"""Test plugin for the webhooks tests: makes changes fail inside the transaction.

``crm_customer_validate`` refuses a customer named ``bad``; ``crm_customer_created``
raises for a customer named ``坏`` (after the webhooks plugin, called first because its
name sorts before this one's, has already emitted ``customer.created``).
"""

from __future__ import annotations

from typing import Any

import crmkit

PLUGIN = crmkit.PluginSpec(name="zz_failer", version="0.1.0",
                           description="Fails some changes on purpose (tests only).")


@crmkit.hookimpl
def crm_customer_validate(ctx: Any, customer: Any, changes: dict, before: Any) -> list[str]:
    """Refuse customers named ``bad``. Since 0.1."""
    return ["customer name 'bad' is refused by zz_failer"] if customer.name == "bad" else []


@crmkit.hookimpl
def crm_customer_created(ctx: Any, customer: Any) -> None:
    """Raise for customers named ``坏`` so the whole change rolls back. Since 0.1."""
    if customer.name == "坏":
        raise RuntimeError("zz_failer refuses 坏 after the insert")
