"""The bulk path of ``customers.update_many`` and ``change_many``: many customers changed
in one transaction, with every guarantee of ``update``, written set-wise.

Per record, in the order given: the customer is loaded (500 to a query), ``crm_permission``
is asked whether the user may ``update`` it (and ``customers.change_owner`` when its
owner changes), the core checks and ``crm_customer_validate`` run. Only when the whole
batch passed is anything written: one ``UPDATE`` executemany per set of changed fields,
one audit row per change in one executemany, then ``crm_customer_updated`` (and
``crm_customer_archived``) for each changed customer. A refusal or an error anywhere rolls
the caller's unit of work back, earlier batches included: all or nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
from sqlalchemy import bindparam, select

from ..batching import each_batch
from ..errors import NotFound, ValidationError
from ..i18n import _
from ..records import Customer
from ._base import flatten, record_id, user_names
from .customers import FIELDS, _check_owner_change, _proposed, _tags_db

if TYPE_CHECKING:
    from ..context import Context
    from .customers import CustomerService

#: rows loaded per SELECT (well under every backend's limit of bound parameters)
LOAD = 500
#: errors collected before a batch gives up (the message stays readable)
MAX_ERRORS = 20


def update_many(svc: CustomerService, ctx: Context,
                changes: Iterable[tuple[int, Mapping[str, Any]]], batch_size: int) -> int:
    """Apply ``changes`` (``(customer id, fields)`` pairs) in ``ctx``'s transaction, a
    batch at a time; returns how many customers changed (a no-op change writes and fires
    nothing)."""
    owners = user_names(ctx, active_only=True)
    seen: set[int] = set()
    exts: dict[str, int] = {}
    return each_batch(changes, batch_size,
                      lambda batch, _done: _batch(svc, ctx, batch, owners, seen, exts))


def _load(svc: CustomerService, ctx: Context, ids: list[int]) -> dict[int, Customer]:
    t = svc.table("customers")
    out: dict[int, Customer] = {}
    for i in range(0, len(ids), LOAD):
        for row in ctx.conn.execute(select(t).where(t.c.tenant_id == ctx.tenant.id,
                                                    t.c.id.in_(ids[i:i + LOAD]))):
            out[row.id] = Customer.from_row(row)
    return out


def _batch(svc: CustomerService, ctx: Context, batch: list[Any], owners: set[str],
           seen: set[int], exts: dict[str, int]) -> int:
    pairs: list[tuple[Customer, Mapping[str, Any]]] = []
    ids: list[int] = []
    for id_, _fields in batch:
        cid = record_id(id_, "customer")
        if cid in seen:
            raise ValidationError(_("customer {id} is changed twice in one update_many; "
                                    "give each customer once").format(id=cid))
        seen.add(cid)
        ids.append(cid)
    befores = _load(svc, ctx, sorted(ids))
    for cid, (_id, fields) in zip(ids, batch, strict=True):
        before = befores.get(cid)
        if before is None:
            raise NotFound(_("{label} {id} not found").format(label="customer", id=cid))
        # permission first, for every record of the batch: a refused caller learns
        # nothing from validation
        ctx.check("update", before, f"customer {cid}")
        _check_owner_change(ctx, before, fields)
        pairs.append((before, fields))
    validate = ctx.hooks.crm_customer_validate
    errors: list[str] = []
    fields_of: list[str | None] = []
    todo: list[tuple[Customer, Customer, dict[str, Any]]] = []
    for before, fields in pairs:
        customer, changed, c = _proposed(ctx, fields, before, owners)
        errs, named = list(c.errors), c.fields()
        ext = customer.external_id
        if "external_id" in changed and ext:
            if ext in exts:
                errs.append(_("external id '{ext}' is also given to customer {other}")
                            .format(ext=ext[:80], other=exts[ext]))
                named.append("external_id")
            exts[ext] = int(before.id or 0)
            taken = svc._external_id_taken(ctx, ext, before.id)
            errs += taken
            named += ["external_id"] * len(taken)
        if not errs and changed:
            errs += flatten(validate(ctx=ctx, customer=customer, changes=changed,
                                     before=before))
        if errs:
            errors += [_("customer {id}: {error}").format(id=before.id, error=e)
                       for e in errs]
            fields_of += named[:len(errs)] + [None] * (len(errs) - len(named))
            if len(errors) >= MAX_ERRORS:
                break
        elif changed:
            todo.append((before, customer, changed))
    if errors:
        raise ValidationError(errors, fields_of)
    if not todo:
        return 0
    now = ctx.now()
    _write(svc, ctx, todo, now)
    stored = [(before, attrs.evolve(proposed, updated_at=now), changed)
              for before, proposed, changed in todo]
    # one executemany, dated like the customers' updated_at (on SQLite through the
    # driver), before the hooks: what a hook changes is audited after the change it saw
    ctx.audit_many([("customer", int(before.id or 0), "update", image(before),
                     image(customer), int(before.id or 0))
                    for before, customer, _changed in stored], at=now)
    updated = ctx.hooks.crm_customer_updated
    archived_hook = ctx.hooks.crm_customer_archived
    for before, customer, changed in stored:
        # as ``update`` does: archiving ends in crm_customer_archived, the other fields
        # changed with it are announced as an update first
        archived = changed.get("status") == "archived"
        rest = {k: v for k, v in changed.items() if k != "status"} if archived else changed
        if rest:
            updated(ctx=ctx, customer=customer, before=before, changes=rest)
        if archived:
            archived_hook(ctx=ctx, customer=customer)
    return len(todo)


def _write(svc: CustomerService, ctx: Context,
           todo: list[tuple[Customer, Customer, dict[str, Any]]], now: Any) -> None:
    """One executemany ``UPDATE`` per set of changed fields (one in the common case: the
    same change for every customer)."""
    t = svc.table("customers")
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for before, _customer, changed in todo:
        keys = tuple(k for k in FIELDS if k in changed)
        params = {"b_id": before.id, "b_now": now}
        for k in keys:
            params["b_" + k] = _tags_db(changed[k]) if k == "tags" else changed[k]
        groups.setdefault(keys, []).append(params)
    for keys, rows in groups.items():
        stmt = (t.update()
                .where(t.c.tenant_id == ctx.tenant.id, t.c.id == bindparam("b_id"))
                .values({"updated_at": bindparam("b_now"),
                         **{k: bindparam("b_" + k) for k in keys}}))
        ctx.conn.execute(stmt, rows)


def image(c: Customer) -> dict[str, Any]:
    """A customer as its audit row stores it: what ``crmkit.to_dict(customer)`` gives,
    built directly (the bulk paths write thousands; ``tests/test_bulk_update.py`` checks
    the two agree)."""
    return {"id": c.id, "tenant_id": c.tenant_id, "name": c.name, "kind": c.kind,
            "status": c.status, "owner": c.owner, "email": c.email, "phone": c.phone,
            "address": c.address, "tags": list(c.tags), "external_id": c.external_id,
            "extra": c.extra,
            "created_at": None if c.created_at is None else c.created_at.isoformat(),
            "updated_at": None if c.updated_at is None else c.updated_at.isoformat()}

