"""The bulk path of ``add_many``: batches below the ORM, every guarantee kept per record.

Per batch: each record is built and checked once (``_proposed``), asked about with
``crm_permission``, then the plugins check it (the per-record validate hook for plugins
that implement only that, ``crm_customers_validate`` once for the batch for the others,
see :mod:`.customer_hooks`); the rows, one audit row per record, then the created
hooks (so that what a hook writes is audited after the insert it follows). On SQLite,
ids are assigned from ``max(id)`` inside the write transaction (which holds the
database's write lock), the rows go through the driver's ``executemany`` as
pre-converted tuples (the instant as its stored text), and the audit rows are one
``INSERT .. SELECT`` from them, SQLite building each image; elsewhere through
SQLAlchemy Core (``INSERT .. RETURNING`` in insertmanyvalues batches).
"""

from __future__ import annotations

import json
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
#: SQLite: the audit rows of a batch, read back from the rows just inserted (ids
#: ``start + 1`` onwards), the image in the key order ``crmkit.to_dict(customer)`` gives
#: (test_bulk_audit_image_is_to_dict): ?1 the user, ?2 the instant as ISO text, ?3 the
#: id before the batch, ?4 the batch's tags, one JSON array per record
_SQLITE_AUDIT = (
    "INSERT INTO {a} (tenant_id, at, user, table_name, row_id, customer_id, op, "
    '"before", "after") SELECT {tid}, \'{stamp}\', ?1, \'customer\', c.id, c.id, '
    "'insert', NULL, "
    "json_object('id', c.id, 'tenant_id', c.tenant_id, 'name', c.name, 'kind', c.kind, "
    "'status', c.status, 'owner', c.owner, 'email', c.email, 'phone', c.phone, "
    "'address', c.address, 'tags', json(tg.value), 'external_id', c.external_id, "
    "'extra', json(coalesce(c.extra, '{{}}')), 'created_at', ?2, 'updated_at', ?2) "
    "FROM json_each(?4) AS tg JOIN {t} AS c ON c.id = ?3 + 1 + tg.key")


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
        start = ctx.conn.execute(select(func.coalesce(func.max(t.c.id), 0))).scalar_one()
        stamp = sqlite_utc_text(now)
        ids: list[int] = list(range(start + 1, start + 1 + len(proposed)))
        rows = [(n, p.name, p.kind, p.status, p.owner, p.email, p.phone, p.address,
                 _tags_db(p.tags), p.external_id,
                 json.dumps(p.extra, ensure_ascii=False) if p.extra else None)
                for n, p in zip(ids, proposed, strict=True)]
        names = ["id", *cols]
        ctx.conn.exec_driver_sql(
            f"INSERT INTO {t.name} (tenant_id, created_at, updated_at, {', '.join(names)}) "
            f"VALUES ({tid}, '{stamp}', '{stamp}', {', '.join('?' * len(names))})", rows)
        # the audit rows from the rows just written, the image built by SQLite's
        # json_object (one statement, no JSON text per record in Python); the batch's
        # tags, the one field the table stores in another form, as one JSON array
        # walked in record order
        ctx.conn.exec_driver_sql(_SQLITE_AUDIT.format(a=svc.table("audit").name,
                                                      t=t.name, tid=tid, stamp=stamp),
                                 (user, iso, start, json.dumps(
                                     [p.tags for p in proposed], ensure_ascii=False)))
    else:
        res = ctx.conn.execute(
            t.insert().returning(t.c.id, sort_by_parameter_order=True),
            [{"tenant_id": tid, "created_at": now, "updated_at": now,
              **{f: getattr(p, f) for f in cols if f != "tags"}, "tags": _tags_db(p.tags)}
             for p in proposed])
        ids = [r[0] for r in res]
        # the image as the dict ``to_dict`` gives, built from the checked values
        ctx.audit_many([
            ("customer", n, "insert", None,
             {"id": n, "tenant_id": tid, "name": p.name, "kind": p.kind,
              "status": p.status, "owner": p.owner, "email": p.email, "phone": p.phone,
              "address": p.address, "tags": list(p.tags), "external_id": p.external_id,
              "extra": p.extra, "created_at": iso, "updated_at": iso}, n)
            for n, p in zip(ids, proposed, strict=True)], at=now)

    if wants_created(ctx):
        # the stored records, built once from the checked ones (positional: no
        # keyword parsing per record)
        announce_new(ctx, [Customer(n, tid, p.name, p.kind, p.status, p.owner, p.email,
                                    p.phone, p.address, p.tags, p.external_id, p.extra,
                                    now, now)
                           for n, p in zip(ids, proposed, strict=True)])
    return len(proposed)


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
