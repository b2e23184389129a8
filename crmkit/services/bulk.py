"""The bulk path of ``add_many``: batches below the ORM, every guarantee kept per record.

Per batch: each record is built and checked once (``_proposed``), asked about with
``crm_permission``, then the plugins check it (the per-record validate hook for plugins
that implement only that, ``crm_customers_validate`` once for the batch for the others,
see :mod:`.customer_hooks`); the rows, then the created hooks, then one audit row per
record. On SQLite, ids are assigned from ``max(id)`` inside the write transaction
(which holds the database's write lock), and the rows and the audit rows go through the
driver's ``executemany`` as pre-converted tuples (the instant as its stored text, the
audit image as JSON text written once); elsewhere through SQLAlchemy Core
(``INSERT .. RETURNING`` in insertmanyvalues batches).
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from ..checks import quote
from ..errors import ValidationError
from ..i18n import _
from ..records import Customer
from ..storage import sqlite_utc_text
from ._base import customer_label
from .customer_hooks import announce_new, validate_new, wants_created
from .customers import FIELDS, _proposed, _tags_db

if TYPE_CHECKING:
    from ..context import Context
    from .customers import CustomerService

#: the errors of a refused batch are collected up to about this many (then it stops)
MAX_ERRORS = 20
#: SQLite: the audit image of a new customer as JSON text, written once from the values
#: already checked, the keys in the order ``crmkit.to_dict(customer)`` gives them
#: (test_bulk_audit_image_is_to_dict); 2-3x faster than a dict through json.dumps
_IMAGE = ('{"id": %d, "tenant_id": %d, "name": %s, "kind": %s, "status": %s, '
          '"owner": %s, "email": %s, "phone": %s, "address": %s, "tags": %s, '
          '"external_id": %s, "extra": %s, "created_at": %s, "updated_at": %s}')
_text = encode_basestring  # a str as a JSON string (the C encoder; non-ASCII kept)


def insert_batch(svc: CustomerService, ctx: Context, batch: list[Any], owners: set[str],
                 offset: int) -> int:
    """Insert the records of ``batch`` (the ``offset``-th onwards of ``add_many``'s
    input), or raise ValidationError naming each bad record's position."""
    proposed, changes = _checked(ctx, batch, owners, offset)
    t = svc.table("customers")
    now = ctx.now()
    tid = ctx.tenant.id
    sqlite = ctx.conn.dialect.name == "sqlite"
    cols = list(FIELDS)
    iso = now.isoformat()
    user = ctx.user.name
    if sqlite:
        at = _text(iso)
        start = ctx.conn.execute(select(func.coalesce(func.max(t.c.id), 0))).scalar_one()
        stamp = sqlite_utc_text(now)
        ids: list[int] = list(range(start + 1, start + 1 + len(proposed)))
        rows, images = [], []
        for n, p in zip(ids, proposed, strict=True):
            extra = json.dumps(p.extra, ensure_ascii=False) if p.extra else None
            rows.append((n, p.name, p.kind, p.status, p.owner, p.email, p.phone, p.address,
                         _tags_db(p.tags), p.external_id, extra))
            images.append((user, n, n, _IMAGE % (
                n, tid, _text(p.name), _text(p.kind), _text(p.status), _json(p.owner),
                _json(p.email), _json(p.phone), _json(p.address),
                f"[{', '.join(map(_text, p.tags))}]" if p.tags else "[]",
                _json(p.external_id), extra or "{}", at, at)))
        names = ["id", *cols]
        ctx.conn.exec_driver_sql(
            f"INSERT INTO {t.name} (tenant_id, created_at, updated_at, {', '.join(names)}) "
            f"VALUES ({tid}, '{stamp}', '{stamp}', {', '.join('?' * len(names))})", rows)
    else:
        res = ctx.conn.execute(
            t.insert().returning(t.c.id, sort_by_parameter_order=True),
            [{"tenant_id": tid, "created_at": now, "updated_at": now,
              **{f: getattr(p, f) for f in cols if f != "tags"}, "tags": _tags_db(p.tags)}
             for p in proposed])
        ids = [r[0] for r in res]

    if wants_created(ctx):
        # the stored records, built once from the checked ones (positional: no
        # keyword parsing per record)
        announce_new(ctx, [Customer(n, tid, p.name, p.kind, p.status, p.owner, p.email,
                                    p.phone, p.address, p.tags, p.external_id, p.extra,
                                    now, now)
                           for n, p in zip(ids, proposed, strict=True)])

    a = svc.table("audit")
    if sqlite:
        ctx.conn.exec_driver_sql(
            f"INSERT INTO {a.name} (tenant_id, at, user, table_name, row_id, customer_id, "
            f"op, before, after) VALUES ({tid}, '{stamp}', ?, 'customer', ?, ?, 'insert', "
            f"NULL, ?)", images)
    else:
        # the image as a dict: the JSON column serialises it, once
        ctx.conn.execute(a.insert(), [
            {"tenant_id": tid, "at": now, "user": user, "table_name": "customer",
             "row_id": n, "customer_id": n, "op": "insert", "before": None,
             "after": {"id": n, "tenant_id": tid, "name": p.name, "kind": p.kind,
                       "status": p.status, "owner": p.owner, "email": p.email,
                       "phone": p.phone, "address": p.address, "tags": list(p.tags),
                       "external_id": p.external_id, "extra": p.extra,
                       "created_at": iso, "updated_at": iso}}
            for n, p in zip(ids, proposed, strict=True)])
    return len(proposed)


def _json(value: str | None) -> str:
    return "null" if value is None else _text(value)


def _checked(ctx: Context, batch: list[Any], owners: set[str], offset: int
             ) -> tuple[list[Customer], list[dict[str, Any]]]:
    """The batch's records built and checked (core, permission, plugins, external ids),
    with the fields given for each; ValidationError with every error found, in record
    order, each naming the record's position in ``add_many``'s input."""
    may_create = ctx.asker("create")
    proposed: list[Customer] = []
    changes: list[dict[str, Any]] = []
    clean: list[int] = []  # indexes in ``proposed`` of the records the core found valid
    errors: list[tuple[int, str]] = []
    exts: dict[str, int] = {}
    for i, rec in enumerate(batch, start=offset + 1):
        customer, fields, c = _proposed(ctx, rec, None, owners)
        errs = c.errors
        ext = customer.external_id
        if ext:
            if ext in exts:
                errs = [*errs, _("external id '{ext}' repeats record {n}").format(
                    ext=quote(ext), n=exts[ext])]
            exts[ext] = i
        if errs:
            errors += [(i, _at(i, e)) for e in errs]
            if len(errors) >= MAX_ERRORS:
                break
        if not may_create(customer):
            errors.append((i, _("record {i}: permission denied: user '{name}' may not "
                                "create customer '{customer}'").format(
                                  i=i, name=ctx.user.name, customer=quote(customer.name))))
        if not c.errors:
            clean.append(len(proposed))
        proposed.append(customer)
        changes.append(fields)
    if len(clean) == len(proposed):
        found = validate_new(ctx, proposed, changes)
    else:
        found = validate_new(ctx, [proposed[j] for j in clean], [changes[j] for j in clean])
    for j, msgs in zip(clean, found, strict=True):
        errors += [(offset + j + 1, _at(offset + j + 1, m)) for m in msgs]
    if exts and not errors:
        errors += _external_ids_taken(ctx, exts)
    if errors:
        errors.sort(key=itemgetter(0))  # stable: a record's own errors keep their order
        raise ValidationError([e for _i, e in errors])
    return proposed, changes


def _at(i: int, message: str) -> str:
    return _("record {i}: {exc}").format(i=i, exc=message)


def _external_ids_taken(ctx: Context, exts: dict[str, int]) -> list[tuple[int, str]]:
    """(record, error) for each external id of the batch that a stored customer holds;
    the holder is named only to a user who may see it (issue 11.4)."""
    t = ctx.crm.table("customers")
    tid = ctx.tenant.id
    if ctx.conn.dialect.name == "sqlite":
        # one parameter for the whole batch (a 5,000-value IN list costs SQLAlchemy more
        # to compile than SQLite to run); the unique (tenant_id, external_id) index answers
        taken = ctx.conn.exec_driver_sql(
            f"SELECT external_id, id FROM {t.name} WHERE tenant_id = ? AND external_id IN "
            f"(SELECT value FROM json_each(?))", (tid, json.dumps(list(exts)))).all()
    else:
        taken = ctx.conn.execute(select(t.c.external_id, t.c.id).where(
            t.c.tenant_id == tid, t.c.external_id.in_(list(exts)))).all()
    return [(exts[ext], _at(exts[ext], _("external id '{ext}' is already used by "
                                         "{holder}").format(
                 ext=ext[:80], holder=customer_label(ctx, id_)))) for ext, id_ in taken]
