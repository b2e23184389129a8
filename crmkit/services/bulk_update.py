"""The bulk path of ``customers.update_many`` and ``change_many``: many customers changed
in one transaction, with every guarantee of ``update``, written set-wise.

Per record, in the order given: the customer is loaded (a batch to a query on SQLite, 500
elsewhere: ``crmkit.sql.in_ids``), ``crm_permission`` is asked whether the user may
``update`` it (and ``customers.change_owner`` when its owner changes), the core checks
and ``crm_customer_validate`` run. Only when the whole
batch passed is anything written: one ``UPDATE`` executemany per set of changed fields,
one audit row per change in one executemany, then ``crm_customer_updated`` (and
``crm_customer_archived``) for each changed customer. A refusal or an error anywhere rolls
the caller's unit of work back, earlier batches included: all or nothing.

The set-wise form of a batch (:func:`_set_batch`): when nothing outside the core would
see a record (no plugin implements ``crm_customer_validate`` or ``crm_customer_updated``,
and the built-in role table alone answers ``crm_permission``) and the batch gives every
customer the same new status or kind, in ascending id order, the batch is checked and
written in a few statements per batch (per 500 customers outside SQLite), the audit
images built by the database: the same rows, in the same order, with the same values as
the per-record form writes (``tests/test_bulk_update.py`` compares the two on every
backend). Anything else, and any batch that would fail (a customer missing or refused),
goes through the per-record form, which raises what it raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
from sqlalchemy import Text, bindparam, case, cast, func, literal, or_, select, update

from .. import sql
from ..batching import each_batch
from ..errors import NotFound, ValidationError
from ..i18n import _
from ..records import CUSTOMER_KINDS, CUSTOMER_STATUSES, Customer
from ._base import flatten, record_id, user_names
from .customers import FIELDS, _check_owner_change, _proposed, _tags_db

if TYPE_CHECKING:
    from ..context import Context
    from .customers import CustomerService

#: errors collected before a batch gives up (the message stays readable)
MAX_ERRORS = 20
#: the fields a batch may change set-wise, with their valid values: choices, whose core
#: check needs nothing of the record (archiving has a hook and a permission of its own)
SET_FIELDS: dict[str, tuple[str, ...]] = {
    "status": tuple(s for s in CUSTOMER_STATUSES if s != "archived"),
    "kind": CUSTOMER_KINDS}


def update_many(svc: CustomerService, ctx: Context,
                changes: Iterable[tuple[int, Mapping[str, Any]]], batch_size: int) -> int:
    """Apply ``changes`` (``(customer id, fields)`` pairs) in ``ctx``'s transaction, a
    batch at a time; returns how many customers changed (a no-op change writes and fires
    nothing)."""
    owners = user_names(ctx, active_only=True)
    seen: set[int] = set()
    exts: dict[str, int] = {}
    h = ctx.hooks
    rule = ctx.allowed_where("update", svc.table("customers"))
    set_wise = (rule is not None and not h.crm_customer_validate.plugins
                and not h.crm_customer_updated.plugins)

    def one(batch: list[Any], _done: int) -> int:
        if set_wise:
            n = _set_batch(svc, ctx, batch, seen, rule)
            if n is not None:
                return n
        return _batch(svc, ctx, batch, owners, seen, exts)

    return each_batch(changes, batch_size, one)


def _uniform(batch: list[Any], seen: set[int]) -> tuple[list[int], dict[str, str]] | None:
    """The ids and the one change of a batch that gives every customer the same new
    status or kind (:data:`SET_FIELDS`), ids ascending and not seen before; else None."""
    fields = batch[0][1]
    if not isinstance(fields, Mapping) or not fields:
        return None
    for k, v in fields.items():
        valid = SET_FIELDS.get(k)
        if valid is None or v.__class__ is not str or v not in valid:
            return None
    ids: list[int] = []
    last = 0
    for id_, f in batch:
        if id_.__class__ is not int or id_ <= last or id_ in seen or (
                f is not fields and f != fields):
            return None
        ids.append(id_)
        last = id_
    return ids, dict(fields)


def _set_batch(svc: CustomerService, ctx: Context, batch: list[Any], seen: set[int],
               rule: Any) -> int | None:
    """A batch written set-wise (see the module's docstring), or None when it is not
    one that may be (nothing checked or written then). Per batch on SQLite, per 500
    customers elsewhere (:func:`crmkit.sql.in_ids`): one count of those found and
    permitted (``rule``: the ``update`` permission as a condition,
    ``ctx.allowed_where``), then, once every customer of the batch passed, one ``INSERT
    ... SELECT`` of the audit rows of those that change and one ``UPDATE`` of them. The
    other fields of a record are not checked again: they were when it was written."""
    got = _uniform(batch, seen)
    if got is None:
        return None
    ids, fields = got
    t = svc.table("customers")
    tid = ctx.tenant.id
    chunks = sql.id_chunks(ctx.conn, ids)
    for chunk in chunks:
        found, permitted = ctx.conn.execute(
            select(func.count(), func.coalesce(func.sum(case((rule, 1), else_=0)), 0))
            .where(t.c.tenant_id == tid, sql.in_ids(ctx.conn, t.c.id, chunk))).one()
        if found != len(chunk) or permitted != found:
            return None  # the per-record form raises NotFound or PermissionDenied
    seen.update(ids)
    now = ctx.now()
    changed = or_(*[t.c[k] != v for k, v in fields.items()])
    before, after = _image_sql(t), _image_sql(t, fields, now)
    n = 0
    for chunk in chunks:
        mine = (t.c.tenant_id == tid, sql.in_ids(ctx.conn, t.c.id, chunk), changed)
        ctx.audit_select(select(literal("customer", Text()), t.c.id,
                                literal("update", Text()), before, after, t.c.id)
                         .where(*mine).order_by(t.c.id), at=now)
        n += ctx.conn.execute(update(t).where(*mine)
                              .values({**fields, "updated_at": now})).rowcount
    return n


def _image_sql(t: Any, fields: Mapping[str, str] | None = None, now: Any = None) -> Any:
    """:func:`image` built by the database from the customers table ``t``; with
    ``fields`` and ``now``, the image after those fields changed at ``now``."""
    fields = fields or {}
    extra = t.c.extra
    empty = or_(extra.is_(None), cast(extra, Text) == "null")

    def value(k: str) -> Any:
        if k in fields:
            return cast(literal(fields[k]), Text())
        if k == "tags":
            return sql.tags_json(t.c.tags)
        if k == "extra":
            return sql.json_text(case((empty, "{}"), else_=cast(extra, Text)))
        if k == "updated_at" and now is not None:
            return cast(literal(now.isoformat()), Text())
        if k in ("created_at", "updated_at"):
            return sql.iso_utc(t.c[k])
        return t.c[k]

    return sql.json_object(*[(k, value(k)) for k in IMAGE_KEYS])


def _load(svc: CustomerService, ctx: Context, ids: list[int]) -> dict[int, Customer]:
    t = svc.table("customers")
    out: dict[int, Customer] = {}
    for chunk in sql.id_chunks(ctx.conn, ids):
        for row in ctx.conn.execute(select(t).where(t.c.tenant_id == ctx.tenant.id,
                                                    sql.in_ids(ctx.conn, t.c.id, chunk))):
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


#: the keys of a customer's audit image, in order: :func:`image` and :func:`_image_sql`
#: (``tests/test_bulk_update.py`` holds the two to it)
IMAGE_KEYS = ("id", "tenant_id", "name", "kind", "status", "owner", "email", "phone",
              "address", "tags", "external_id", "extra", "created_at", "updated_at")


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

