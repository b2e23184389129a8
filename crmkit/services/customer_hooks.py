"""The validate and created hooks of new customers, in both forms, for every insert path
(``customers.add``, ``check``, ``add_many`` and the imports built on it).

The rule (docs/author/hooks.md, "Batch hooks"): a plugin that implements the batch form
(``crm_customers_validate``, ``crm_customers_created``) is called once per batch with
every record, and never with the per-record form for those records; a plugin that
implements only the per-record form (``crm_customer_validate``,
``crm_customer_created``) is called once per record. Each pair is decided on its own:
a plugin may have the batch form of one and the per-record form of the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import PluginError
from ._base import flatten

if TYPE_CHECKING:
    from ..context import Context
    from ..records import Customer

VALIDATE = ("crm_customer_validate", "crm_customers_validate")
CREATED = ("crm_customer_created", "crm_customers_created")


def validate_new(ctx: Context, customers: Sequence[Customer],
                 changes: Sequence[dict[str, Any]]) -> list[list[str]]:
    """The enabled plugins' errors about each of ``customers`` (new records, in the order
    given; ``changes`` the fields given for each): a list of messages per record."""
    out: list[list[str]] = [[] for _ in customers]
    one = ctx.hooks.per_record(*VALIDATE)
    if one.plugins:
        for i, (customer, fields) in enumerate(zip(customers, changes, strict=True)):
            out[i] = flatten(one(ctx=ctx, customer=customer, changes=fields, before=None))
    many = ctx.hooks.crm_customers_validate
    if many.plugins:
        n = len(customers)
        for answer in many(ctx=ctx, customers=list(customers), changes=list(changes)):
            for pair in answer or ():
                pos, message = _pair(many.plugins, pair, n)
                out[pos].append(message)
    return out


def _pair(plugins: list[str], pair: Any, n: int) -> tuple[int, str]:
    """One ``(position, message)`` answer of ``crm_customers_validate``, checked: a
    position outside the batch is the plugin's error, not the record's."""
    try:
        pos, message = pair
    except (TypeError, ValueError):
        pos, message = None, None
    if pos.__class__ is not int or not 0 <= pos < n or not isinstance(message, str):
        culprit = plugins[0] if len(plugins) == 1 else " or ".join(plugins)
        raise PluginError(culprit, "crm_customers_validate", ValueError(
            f"returned {pair!r}; expected (position, message) pairs with a position "
            f"from 0 to {n - 1}"))
    return pos, message


def wants_created(ctx: Context) -> bool:
    """Whether an enabled plugin implements either form of the created hook (when none
    does, the bulk path builds no stored records for it)."""
    return bool(ctx.hooks.crm_customer_created.plugins
                or ctx.hooks.crm_customers_created.plugins)


def announce_new(ctx: Context, customers: Sequence[Customer]) -> None:
    """Fire the created hooks for ``customers`` (stored, ids assigned, in insertion
    order): each per-record plugin once per record, then each batch plugin once."""
    one = ctx.hooks.per_record(*CREATED)
    if one.plugins:
        for customer in customers:
            one(ctx=ctx, customer=customer)
    many = ctx.hooks.crm_customers_created
    if many.plugins:
        many(ctx=ctx, customers=list(customers))
