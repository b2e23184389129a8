"""The bulk path of ``add_many``: batches below the ORM, hooks still fire per record.

On SQLite, ids are assigned from ``max(id)`` inside the write transaction (which holds
the database's write lock) and rows go through the driver's ``executemany``; elsewhere
through SQLAlchemy Core ``INSERT .. RETURNING`` in insertmanyvalues batches.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from ..checks import quote
from ..convert import _default
from ..errors import ValidationError
from ..i18n import _
from ..records import Customer
from .customers import FIELDS, _proposed, _tags_db

if TYPE_CHECKING:
    from ..context import Context
    from ..records import Customer
    from .customers import CustomerService


def insert_batch(svc: CustomerService, ctx: Context, batch: list[Any], owners: set[str],
                 offset: int) -> int:
    t = svc.table("customers")
    validate = ctx.hooks.crm_customer_validate
    created = ctx.hooks.crm_customer_created
    now = ctx.now()
    proposed: list[Customer] = []
    errors: list[str] = []
    exts: dict[str, int] = {}
    for i, rec in enumerate(batch, start=offset + 1):
        customer, changes, c = _proposed(ctx, rec, None, owners)
        errs = c.errors
        if not errs:
            errs = [e for e in (validate(ctx=ctx, customer=customer, changes=changes,
                                         before=None) or ()) for e in (e or ())]
        if customer.external_id:
            if customer.external_id in exts:
                errs = [*errs, _("external id '{ext}' repeats record {n}").format(
                    ext=quote(customer.external_id), n=exts[customer.external_id])]
            exts[customer.external_id] = i
        if errs:
            errors.extend(_("record {i}: {exc}").format(i=i, exc=e) for e in errs)
            if len(errors) >= 20:
                break
        if not ctx.allowed("create", customer):
            errors.append(_("record {i}: permission denied: user '{name}' may not "
                            "create customer '{customer}'").format(
                              i=i, name=ctx.user.name, customer=quote(customer.name)))
        proposed.append(customer)
    if exts and not errors:
        taken = ctx.conn.execute(select(t.c.external_id, t.c.id).where(
            t.c.tenant_id == ctx.tenant.id, t.c.external_id.in_(list(exts)))).all()
        errors += [f"record {exts[r.external_id]}: external id '{r.external_id}' is already "
                   f"used by customer {r.id}" for r in taken]
    if errors:
        raise ValidationError(errors)

    cols = list(FIELDS)
    if ctx.conn.dialect.name == "sqlite":
        start = ctx.conn.execute(select(func.coalesce(func.max(t.c.id), 0))).scalar_one()
        stamp = now.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        rows = []
        for n, p in enumerate(proposed, start=start + 1):
            rows.append((n, ctx.tenant.id, p.name, p.kind, p.status, p.owner, p.email,
                         p.phone, p.address, _tags_db(p.tags), p.external_id,
                         json.dumps(p.extra, ensure_ascii=False) if p.extra else None,
                         stamp, stamp))
        names = ["id", "tenant_id", *cols, "created_at", "updated_at"]
        sql = (f"INSERT INTO {t.name} ({', '.join(names)}) "
               f"VALUES ({', '.join('?' * len(names))})")
        ctx.conn.exec_driver_sql(sql, rows)
        ids: list[int] = list(range(start + 1, start + 1 + len(proposed)))
    else:
        params = [{"tenant_id": ctx.tenant.id, "created_at": now, "updated_at": now,
                   **{f: getattr(p, f) for f in cols if f != "tags"},
                   "tags": _tags_db(p.tags)} for p in proposed]
        res = ctx.conn.execute(t.insert().returning(t.c.id, sort_by_parameter_order=True),
                               params)
        ids = [r[0] for r in res]

    audit_rows = []
    user = ctx.user.name
    iso = now.isoformat()
    dumps = json.JSONEncoder(ensure_ascii=False, default=_default).encode
    tid = ctx.tenant.id
    for new_id, p in zip(ids, proposed, strict=True):
        customer = Customer(id=new_id, tenant_id=tid, name=p.name, kind=p.kind,
                            status=p.status, owner=p.owner, email=p.email, phone=p.phone,
                            address=p.address, tags=p.tags, external_id=p.external_id,
                            extra=p.extra, created_at=now, updated_at=now)
        created(ctx=ctx, customer=customer)
        # the audit image, as crmkit.to_dict(customer) would give it, built directly
        audit_rows.append((tid, user, new_id, new_id, dumps({
            "id": new_id, "tenant_id": tid, "name": p.name, "kind": p.kind,
            "status": p.status, "owner": p.owner, "email": p.email, "phone": p.phone,
            "address": p.address, "tags": list(p.tags), "external_id": p.external_id,
            "extra": p.extra, "created_at": iso, "updated_at": iso})))
    a = svc.table("audit")
    if ctx.conn.dialect.name == "sqlite":
        ctx.conn.exec_driver_sql(
            f"INSERT INTO {a.name} (tenant_id, at, user, table_name, row_id, customer_id, op, "
            f"before, after) VALUES (?, '{stamp}', ?, 'customer', ?, ?, 'insert', NULL, ?)",
            audit_rows)
    else:
        ctx.conn.execute(a.insert(), [
            {"tenant_id": tid, "at": now, "user": u, "table_name": "customer", "row_id": rid,
             "customer_id": cid, "op": "insert", "before": None, "after": json.loads(after)}
            for tid, u, rid, cid, after in audit_rows])
    return len(proposed)
