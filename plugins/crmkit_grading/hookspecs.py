"""Hooks the grading plugin declares (added through ``crm_addhooks``)."""

from __future__ import annotations

from typing import Any

import crmkit


@crmkit.hookspec
def crm_grade_changed(ctx: Any, customer: Any, before: Any, after: Any) -> None:
    """A customer's grade changed during ``crmkit grading run``.

    Fires once per customer whose grade (``segment``, ``abc`` or ``tier``) differs from
    the stored one, inside the run's transaction, after the history row is written and
    before ``grading_grades`` is replaced (read the new grade from ``after``); a run
    that changes nothing fires nothing. ``customer`` is the :class:`crmkit.Customer`,
    ``before`` the previous grade (a dict, or None for a customer's first grade) and
    ``after`` the new one: ``{"as_of", "recency_days", "frequency", "monetary", "r",
    "f", "m", "segment", "abc", "tier"}`` (``monetary`` a Decimal). An implementation
    may write through ``ctx.crm``/``ctx.conn`` and emit outbox events with
    ``ctx.emit``; raising rolls the whole run back. Returns nothing.

    Since 0.1.
    """
