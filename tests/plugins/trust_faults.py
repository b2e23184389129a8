"""Test plugins for the atomicity tests: one that writes an outbox row in every
lifecycle hook, and one that fails in a chosen hook on its n-th call."""

from __future__ import annotations

from typing import Any

import crmkit

EMITTING = {
    "crm_customer_created": "customer", "crm_customer_updated": "customer",
    "crm_customer_archived": "customer", "crm_activity_logged": "activity",
    "crm_activity_updated": "activity", "crm_document_created": "document",
    "crm_document_updated": "document",
}


class Emitter:
    """``aa_emitter``: ``ctx.emit("<hook>", {...})`` in every lifecycle hook (its name
    sorts first, so it runs before ``zz_faulty``)."""

    def __init__(self) -> None:
        self.PLUGIN = crmkit.PluginSpec(name="aa_emitter", description="emits (tests)")
        for hook, arg in EMITTING.items():
            setattr(self, hook, crmkit.hookimpl(self._make(hook, arg)))

    @staticmethod
    def _make(hook: str, arg: str) -> Any:
        def emit(ctx: Any, **kw: Any) -> None:
            record = kw[arg]
            cid = record.id if arg == "customer" else record.customer_id
            ctx.emit(hook, {"id": record.id}, customer_id=cid)

        # pluggy reads the argument names from the signature
        if arg == "customer":
            return lambda ctx, customer: emit(ctx, customer=customer)
        if arg == "activity":
            return lambda ctx, activity: emit(ctx, activity=activity)
        return lambda ctx, document: emit(ctx, document=document)


class Faulty:
    """``zz_faulty``: in ``hook``, raise RuntimeError (or, for a validate hook, return
    an error) on call number ``at`` and every later call (set ``at`` and ``calls``
    again to arm it later)."""

    def __init__(self, hook: str, at: int) -> None:
        self.PLUGIN = crmkit.PluginSpec(name="zz_faulty", description="fails (tests)")
        self.calls = 0
        self.at = at

        def fail(ctx: Any) -> Any:
            self.calls += 1
            if self.calls < self.at:
                return [] if hook.endswith("_validate") else None
            if hook.endswith("_validate"):
                return [f"zz_faulty refuses record {self.calls}"]
            raise RuntimeError(f"zz_faulty fails in {hook} on call {self.calls}")

        setattr(self, hook, crmkit.hookimpl(fail))
