"""Customers: add, update, archive, upsert, bulk add, reassign, the 360° view."""

from __future__ import annotations

import builtins
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sqlalchemy import Text, and_, func, or_, select, type_coerce

from .. import sql
from ..checks import has_surrogate, quote
from ..context import Context, _payload
from ..convert import to_dict
from ..errors import NotFound, PermissionDenied, ValidationError
from ..i18n import _
from ..records import CUSTOMER_KINDS, CUSTOMER_STATUSES, Customer, Section
from ..storage import NAME_MAX, SHORT_MAX
from ._base import (
    Checker,
    FieldErrors,
    ListService,
    check_owner,
    customer_label,
    customer_visible,
    get_row,
    inserted_id,
    user_names,
)
from .customer_hooks import announce_new, validate_new

FIELDS = ("name", "kind", "status", "owner", "email", "phone", "address", "tags",
          "external_id", "extra")


def _norm_tags(checker: Checker, tags: Any) -> tuple[str, ...]:
    if tags is None or (tags.__class__ in (list, tuple) and not tags):
        return ()
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    if not isinstance(tags, (list, tuple, set, frozenset)):  # a tuple: faster than a union
        checker.errors.append(_("tags must be a list of texts, got {value}").format(
                                  value=quote(tags)))
        return ()
    out: list[str] = []
    for t in tags:
        if not isinstance(t, str):
            checker.errors.append(_("invalid tag {value}: a tag is text").format(
                                      value=quote(t)))
            continue
        t = t.strip()
        if not t:
            continue
        if "," in t or "\x00" in t or len(t) > 64 or has_surrogate(t):
            checker.errors.append(_("invalid tag '{value}': no commas, at most 64 "
                                    "characters").format(value=quote(t)))
        elif t not in out:
            out.append(t)
    return tuple(out)


_FIELDSET = frozenset(FIELDS)
_TEXTS = _FIELDSET - {"tags", "extra"}


def _proposed(ctx: Context, fields: Mapping[str, Any], before: Customer | None,
              owners: set[str] | None = None) -> tuple[Customer, dict[str, Any], Checker]:
    """The customer as it would be after applying ``fields`` to ``before``, the changed
    fields, and the core's errors (``owners``: known user names, to avoid a query).

    Called once per record by the bulk path too, so it does each thing once: one pass
    over the fields, one text test per field set, the record built once."""
    c = Checker("customer")
    changes: dict[str, Any] = {}
    for k, v in fields.items():
        if v.__class__ is str and k in _TEXTS:  # the common case first: a text field
            changes[k] = v.strip() if k == "name" else (v.strip() or None)
        elif k not in _FIELDSET:
            c.errors.append(_("unknown customer field '{k}'; valid: {valid}").format(
                                k=k, valid=', '.join(FIELDS)))
        elif k == "tags":
            changes[k] = _norm_tags(c, v)
        elif k == "extra":
            changes[k] = c.extra(v)
        elif isinstance(v, str):
            changes[k] = v.strip() if k == "name" else (v.strip() or None)
        else:
            changes[k] = v
    new: dict[str, Any]
    if before is None:
        new = {"name": None, "kind": "company", "status": "prospect",
               "owner": ctx.user.name, "email": None, "phone": None, "address": None,
               "tags": (), "external_id": None, "extra": {}}
    else:
        new = {f: getattr(before, f) for f in FIELDS}
    new.update(changes)
    name, kind, status, owner, email, phone, address, tags, ext, extra = new.values()
    c.text("name", name, NAME_MAX, required=True)
    if kind not in CUSTOMER_KINDS:
        c.choice("kind", kind, CUSTOMER_KINDS)
    if status not in CUSTOMER_STATUSES:
        c.choice("status", status, CUSTOMER_STATUSES)
    if email is not None:
        c.email(email)
    if phone is not None:
        c.text("phone", phone, 64)
    if address is not None:
        c.text("address", address, 2000)
    if ext is not None:
        c.text("external_id", ext, SHORT_MAX)
    if owner is not None and ("owner" in changes or before is None):
        if owners is None:
            check_owner(ctx, c, owner)
        elif owner not in owners:
            c.errors.append(_("unknown owner '{owner}'; add the user first "
                              "(`crmkit user add {owner}`)").format(owner=owner))
    if before is None:
        customer = Customer(None, ctx.tenant.id, name, kind, status, owner, email, phone,
                            address, tags, ext, extra)
    else:
        changes = {k: v for k, v in changes.items() if getattr(before, k) != v}
        customer = Customer(before.id, ctx.tenant.id, name, kind, status, owner, email,
                            phone, address, tags, ext, extra, before.created_at,
                            before.updated_at)
    return customer, changes, c


def _tags_db(tags: tuple[str, ...]) -> str | None:
    return "," + ",".join(tags) + "," if tags else None


def _row(customer: Customer) -> dict[str, Any]:
    return {f: getattr(customer, f) for f in FIELDS if f not in ("tags",)} | {
        "tags": _tags_db(customer.tags)}


class CustomerService(ListService[Customer]):
    """``crm.customers``: every write is validate hook -> write -> lifecycle hook ->
    audit row, in one transaction.

    ``list``/``stream``/``count`` give the customers this user may see, by id, filtered
    by ``owner``, ``tag``, ``status``, ``search`` (part of the name, e-mail, phone or
    external id) and ``kind``."""

    # --- reads -----------------------------------------------------------------------

    def _scope(self, ctx: Context) -> list[Any]:
        t = self.table("customers")
        return [c for c in ctx.hooks.crm_customer_scope(ctx=ctx, user=ctx.user, customers=t)
                if c is not None]

    def scoped(self, ctx: Context) -> bool:
        """Whether this user sees only some of the tenant's customers (a ``sales`` user)."""
        return bool(self._scope(ctx))

    def visible(self, ctx: Context) -> Any:
        """A SQL condition on the customers table: the rows this user may see.

        Plugins use it in their reports (``.where(crm.customers.visible(ctx))``)."""
        t = self.table("customers")
        return and_(t.c.tenant_id == ctx.tenant.id, *self._scope(ctx))

    def change_scope(self, ctx: Context, audit: Any) -> builtins.list[Any]:
        """Conditions on the audit table hiding the changes of records this user may not
        see (activities hidden by ``crm_activity_scope``, plugins' records by
        ``crm_change_scope``): for the change feed and a customer's history."""
        return [*ctx.crm.activities.change_scope(ctx, audit), *[
            c for c in ctx.hooks.crm_change_scope(ctx=ctx, user=ctx.user, audit=audit)
            if c is not None]]

    def join(self, ctx: Context, src: Any, customer_id: Any) -> Any:
        """``src`` joined to the tenant's customers table on ``customer_id`` (a column of
        ``src``), the tenant named in the join: on a database many tenants share, the
        planner then reads this tenant's customers only (joined on the id alone,
        PostgreSQL hash-joined a small tenant's totals to every tenant's customers:
        1.71x the tenant alone, ``bench/bench_tenants.py``). The scope is not applied:
        add ``visible(ctx)`` where the rows must be the user's."""
        t = self.table("customers")
        return src.join(t, and_(t.c.tenant_id == ctx.tenant.id, t.c.id == customer_id))

    def visible_ids(self, ctx: Context) -> Any:
        """A subquery of the ids of the customers this user may see."""
        t = self.table("customers")
        return select(t.c.id).where(self.visible(ctx))

    def _load(self, ctx: Context, id_: int) -> Customer:
        return Customer.from_row(get_row(ctx, "customers", id_, "customer"))

    def get(self, id_: int) -> Customer:
        """One customer; NotFound if it is not in this tenant, PermissionDenied if the
        user may not see it."""
        with self.crm.unit(write=False) as ctx:
            c = self._load(ctx, id_)
            ctx.check("view", c, f"customer {id_}")
            return c

    def _query(self, ctx: Context, *, owner: str | None = None, tag: str | None = None,
               status: str | None = None, search: str | None = None,
               kind: str | None = None) -> Any:
        t = self.table("customers")
        q = select(t).where(self.visible(ctx))
        f = Checker("filter")
        for label, value in (("owner", owner), ("tag", tag), ("search", search),
                             ("kind", kind)):
            f.text(label, value, 2000)  # text only, before the database sees it
        f.raise_if_any()
        if status is not None:
            c = Checker("customer")
            c.choice("status", status, CUSTOMER_STATUSES)
            c.raise_if_any()
            q = q.where(t.c.status == status)
        if owner:
            q = q.where(t.c.owner == owner)
        if kind:
            q = q.where(t.c.kind == kind)
        if tag:
            q = q.where(t.c.tags.like(f"%,{_escape(tag)},%", escape="\\"))
        if search:
            pat = f"%{_escape(search.lower())}%"
            q = q.where(or_(func.lower(t.c.name).like(pat, escape="\\"),
                            func.lower(t.c.email).like(pat, escape="\\"),
                            t.c.phone.like(pat, escape="\\"),
                            t.c.external_id.like(pat, escape="\\")))
        return q.order_by(t.c.id)

    def _record(self, ctx: Context, row: Any) -> Customer | None:
        c = Customer.from_row(row)
        return c if ctx.allowed("view", c) else None

    def stream_dicts(self, *, limit: int | None = None, offset: int = 0,
                     **filters: Any) -> Iterator[dict[str, Any]]:
        """:meth:`stream` as JSON-ready dicts (what ``crmkit.to_dict`` gives for each
        customer), built straight from the rows: ``customer list --json`` on a large
        tenant. Each row still asks ``crm_permission`` unless the built-in
        ``permissions`` plugin is the only one answering, whose rule for viewing a
        customer is the scope already applied in SQL.

        On SQLite the two instants and ``extra`` are read as the stored text (no
        datetime parsed and re-printed per row): ``_sqlite_instant`` gives the same
        ISO text ``datetime.isoformat`` would."""
        with self.crm.unit(write=False) as ctx:
            ask = not ctx.builtin_permissions_only
            q = self._query(ctx, **filters)
            raw = ctx.conn.dialect.name == "sqlite" and not ask
            if raw:
                q = q.with_only_columns(*_raw_columns(self.table("customers")))
            q = sql.page(q, limit, offset)
            keys: tuple[str, ...] = ()
            for row in sql.stream(ctx.conn, q):
                if raw:
                    keys = keys or tuple(row._fields)
                    d = dict(zip(keys, row, strict=True))
                    d["tags"] = [t for t in (d["tags"] or "").split(",") if t]
                    extra = d["extra"]
                    d["extra"] = {} if extra is None or extra == "null" else dict(
                        json.loads(extra))
                    d["created_at"] = _sqlite_instant(d["created_at"])
                    d["updated_at"] = _sqlite_instant(d["updated_at"])
                    yield d
                    continue
                if ask and not ctx.allowed("view", Customer.from_row(row)):
                    continue
                keys = keys or tuple(row._fields)
                yield _json_row(dict(zip(keys, row, strict=True)))

    def names(self, ids: Iterable[int]) -> dict[int, str]:
        """``{id: name}`` of the given customers this user may see (for tables that
        name the customer of each row)."""
        wanted = sorted({int(i) for i in ids if i is not None})
        t = self.table("customers")
        out: dict[int, str] = {}
        with self.crm.unit(write=False) as ctx:
            for chunk in sql.id_chunks(ctx.conn, wanted):
                out.update(ctx.conn.execute(select(t.c.id, t.c.name).where(
                    self.visible(ctx), sql.in_ids(ctx.conn, t.c.id, chunk))).all())
        return out

    def find(self, *, external_id: str) -> Customer | None:
        t = self.table("customers")
        with self.crm.unit(write=False) as ctx:
            row = ctx.conn.execute(select(t).where(t.c.tenant_id == ctx.tenant.id,
                                                   t.c.external_id == external_id)).first()
            if row is None:
                return None
            c = Customer.from_row(row)
            ctx.check("view", c, _("the customer with external id '{ext}'").format(
                ext=external_id[:80]))
            return c

    # --- writes ----------------------------------------------------------------------

    def check(self, **fields: Any) -> builtins.list[str]:
        """The errors adding this customer would give (core and plugins); writes nothing.
        The list's ``fields`` names the field of each message (None: no single one)."""
        with self.crm.unit(write=False) as ctx:
            customer, changes, c = _proposed(ctx, fields, None)
            try:
                ctx.check("create", customer, f"customer '{str(customer.name)[:80]}'")
            except PermissionDenied as exc:
                return [str(exc)]
            errs = FieldErrors(c.errors, c.fields())
            taken = self._external_id_taken(ctx, customer.external_id, None)
            errs.add(taken, "external_id")
            if not c.errors:
                errs.add(validate_new(ctx, [customer], [changes])[0])
            return errs

    def _external_id_taken(self, ctx: Context, ext: str | None,
                           own_id: int | None) -> builtins.list[str]:
        if not ext or not isinstance(ext, str) or "\x00" in ext or len(ext) > SHORT_MAX:
            return []  # an invalid value has its own error; the database never sees it
        t = self.table("customers")
        row = ctx.conn.execute(select(t.c.id).where(t.c.tenant_id == ctx.tenant.id,
                                                    t.c.external_id == ext)).first()
        if row is not None and row.id != own_id:
            # name the holder only to a user who may see it (issue 11.4)
            return [_("external id '{ext}' is already used by {holder}").format(
                ext=ext[:80], holder=customer_label(ctx, row.id))]
        return []

    def add(self, **fields: Any) -> Customer:
        """Add a customer (status ``prospect`` and owner = current user by default)."""
        with self.crm.unit() as ctx:
            customer, changes, c = _proposed(ctx, fields, None)
            # permission first: a refused caller learns nothing from validation
            ctx.check("create", customer, f"customer '{str(customer.name)[:80]}'")
            c.errors += self._external_id_taken(ctx, customer.external_id, None)
            c.raise_if_any()
            c.raise_if_any(validate_new(ctx, [customer], [changes])[0])
            now = ctx.now()
            t = self.table("customers")
            new_id = inserted_id(ctx.conn.execute(t.insert().values(
                tenant_id=ctx.tenant.id, created_at=now, updated_at=now, **_row(customer)
            )))
            customer = Customer.from_row(get_row(ctx, "customers", new_id, "customer"))
            ctx.audit("customer", new_id, "insert", None, customer, customer_id=new_id)
            announce_new(ctx, [customer])
            return customer

    def update(self, id_: int, **fields: Any) -> Customer:
        """Change fields of a customer; a no-op change writes nothing and fires nothing."""
        with self.crm.unit() as ctx:
            before = self._load(ctx, id_)
            ctx.check("update", before, f"customer {id_}")
            _check_owner_change(ctx, before, fields)
            return self._update(ctx, before, fields)

    def _update(self, ctx: Context, before: Customer, fields: Mapping[str, Any]
                ) -> Customer:
        customer, changes, c = _proposed(ctx, fields, before)
        if "external_id" in changes:
            c.errors += self._external_id_taken(ctx, customer.external_id, before.id)
        c.raise_if_any()
        if not changes:
            return before
        c.raise_if_any(ctx.hooks.crm_customer_validate(
            ctx=ctx, customer=customer, changes=changes, before=before))
        t = self.table("customers")
        values = {k: (_tags_db(v) if k == "tags" else v) for k, v in changes.items()}
        ctx.conn.execute(t.update().where(t.c.id == before.id).values(
            updated_at=ctx.now(), **values))
        customer = self._load(ctx, before.id)  # type: ignore[arg-type]
        # archiving ends in crm_customer_archived whichever path set the status
        # (``archive`` or ``update(status="archived")``, issue 20.13); other fields
        # changed with it are announced as an update first
        archived = changes.get("status") == "archived"
        rest = {k: v for k, v in changes.items() if k != "status"} if archived else changes
        # audited before the hooks: what a hook changes is audited after this change
        ctx.audit("customer", before.id, "update", before, customer, customer_id=before.id)
        if rest:
            ctx.hooks.crm_customer_updated(ctx=ctx, customer=customer, before=before,
                                           changes=rest)
        if archived:
            ctx.hooks.crm_customer_archived(ctx=ctx, customer=customer)
        return customer

    def change(self, ctx: Context, customer: Customer, fields: Mapping[str, Any]) -> Customer:
        """Update ``customer`` inside the caller's open unit of work, for plugins acting
        on the system's behalf (grading marking a customer lost, sales activating a
        prospect): validate hooks, the update, ``crm_customer_updated`` and the audit row
        all join ``ctx``'s transaction. The caller decides whether ``ctx.user`` may."""
        return self._update(ctx, customer, fields)

    def update_many(self, changes: Iterable[tuple[int, Mapping[str, Any]]], *,
                    batch_size: int = 5000) -> int:
        """Change many customers in one transaction: ``changes`` is ``(id, fields)``
        pairs, each customer at most once. For each record, as ``update`` does: the
        ``update`` permission (and ``customers.change_owner`` for a new owner), the core
        checks and ``crm_customer_validate``, then ``crm_customer_updated`` (or
        ``crm_customer_archived``) and one audit row per changed customer; the writes go
        in batches (one executemany each). All or nothing: a refused, missing or invalid
        record raises (PermissionDenied, NotFound, ValidationError naming the customer)
        and nothing is written. Returns how many customers changed."""
        from .bulk_update import update_many

        with self.crm.unit() as ctx:
            return update_many(self, ctx, changes, batch_size)

    def change_many(self, ctx: Context, changes: Iterable[tuple[int, Mapping[str, Any]]],
                    *, batch_size: int = 5000) -> int:
        """:meth:`update_many` inside the caller's open unit of work (a plugin changing
        many customers as part of its own change: ``grading run`` marking customers
        lost). The permission is still asked for each record, as the user ``ctx.user``."""
        from .bulk_update import update_many

        return update_many(self, ctx, changes, batch_size)

    def archive(self, id_: int) -> Customer:
        """Set status ``archived`` (fires ``crm_customer_archived``)."""
        with self.crm.unit() as ctx:
            before = self._load(ctx, id_)
            ctx.check("archive", before, f"customer {id_}")
            if before.status == "archived":
                return before
            return self._update(ctx, before, {"status": "archived"})

    def upsert(self, external_id: str, **fields: Any) -> tuple[Customer, bool]:
        """Insert or update by ``external_id`` (ERP sync). Returns (customer, created)."""
        if not external_id:
            raise ValidationError(_("upsert needs an external id"))
        with self.crm.unit() as ctx:
            t = self.table("customers")
            row = ctx.conn.execute(select(t).where(t.c.tenant_id == ctx.tenant.id,
                                                   t.c.external_id == external_id)).first()
            if row is None:
                return self.add(external_id=external_id, **fields), True
            before = Customer.from_row(row)
            ctx.check("update", before, _("the customer with external id '{ext}'").format(
                ext=external_id[:80]))
            _check_owner_change(ctx, before, fields)
            return self._update(ctx, before, fields), False

    def add_many(self, records: Iterable[Mapping[str, Any]], *, batch_size: int = 5000) -> int:
        """Insert many customers in batches of ``batch_size``, firing the validate and
        created hooks for each record (the batch forms, ``crm_customers_validate`` and
        ``crm_customers_created``, once per batch for the plugins that implement them),
        asking ``crm_permission`` about each and writing an audit row for each.

        All or nothing: any invalid record raises ValidationError (naming its position)
        and nothing is written. Returns the number added.
        """
        from ..batching import each_batch
        from .bulk import insert_batch

        with self.crm.unit() as ctx:
            owners = user_names(ctx, active_only=True)
            return each_batch(records, batch_size, lambda batch, done: insert_batch(
                self, ctx, batch, owners, done))

    def reassign(self, from_user: str, to_user: str, *, disable: bool = False,
                 progress: Any = None) -> dict[str, int]:
        """Hand every customer and open task of ``from_user`` over to ``to_user``;
        ``disable``: then disable ``from_user``, in the same transaction.
        ``progress(done, total)`` is called as customers move."""
        with self.crm.unit() as ctx:
            ctx.check("customers.reassign", None, _("customers of '{user}'").format(
                user=str(from_user)[:80]))
            names = user_names(ctx)
            for n in (from_user, to_user):
                if n not in names:
                    raise ValidationError(_("unknown user '{n}'").format(n=n))
            if from_user == to_user:
                raise ValidationError(_("--from and --to name the same user"))
            if to_user not in user_names(ctx, active_only=True):
                raise ValidationError(_("user '{user}' is disabled; hand the customers to "
                                        "an active user").format(user=to_user))
            t = self.table("customers")
            rows = ctx.conn.execute(select(t).where(t.c.tenant_id == ctx.tenant.id,
                                                    t.c.owner == from_user).order_by(t.c.id)
                                    ).all()
            n_customers = 0
            for row in rows:
                before = Customer.from_row(row)
                ctx.check("update", before, f"customer {before.id}")
                self._update(ctx, before, {"owner": to_user})
                n_customers += 1
                if progress is not None and n_customers % 100 == 0:
                    progress(n_customers, len(rows))
            n_tasks = ctx.crm.activities._reassign_open(ctx, from_user, to_user)
            ctx.hooks.crm_reassign(ctx=ctx, from_user=from_user, to_user=to_user)
            if disable:
                ctx.crm.users.set_active(ctx, from_user, False)
            if progress is not None:
                progress(n_customers, len(rows))
            return {"customers": n_customers, "tasks": n_tasks}

    # --- 360° view -------------------------------------------------------------------

    def view(self, id_: int, on: dt.date | None = None) -> dict[str, Any]:
        """The 360° view: customer, contacts, activities, documents, plugin sections."""
        with self.crm.unit(write=False) as ctx:
            c = self._load(ctx, id_)
            ctx.check("view", c, f"customer {id_}")
            sections = {sec.plugin: _payload(sec.data)
                        for sec in self._sections(ctx, c, on or ctx.today)}
            return {
                "customer": to_dict(c),
                "contacts": [to_dict(x) for x in ctx.crm.contacts.list(customer_id=c.id)],
                "activities": [to_dict(x) for x in
                               ctx.crm.activities.list(customer_id=c.id)],
                "documents": [to_dict(x) for x in ctx.crm.documents.list(customer_id=c.id)],
                "sections": sections,
            }

    def sections(self, id_: int, on: dt.date | None = None) -> builtins.list[Section]:
        """The plugins' sections (with titles, for humans)."""
        with self.crm.unit(write=False) as ctx:
            c = self._load(ctx, id_)
            ctx.check("view", c, f"customer {id_}")
            return self._sections(ctx, c, on or ctx.today)

    def _sections(self, ctx: Context, customer: Customer, on: dt.date) -> builtins.list[Section]:
        """The sections plugins return (a Section, a list of them, or None each)."""
        out: list[Section] = []
        for result in ctx.hooks.crm_customer_sections(ctx=ctx, customer=customer, on=on):
            for s in result if isinstance(result, list | tuple) else [result]:
                if isinstance(s, Section):
                    out.append(s)
        return out

    def history(self, id_: int, *, limit: int | None = None,
                offset: int = 0) -> builtins.list[dict[str, Any]]:
        """Every audited change to a customer and its items, oldest first."""
        return list(self.stream_history(id_, limit=limit, offset=offset))

    def _history_query(self, ctx: Context, id_: int) -> Any:
        a = self.table("audit")
        c = self._load(ctx, id_)
        ctx.check("view", c, f"customer {id_}")
        return select(a).where(a.c.tenant_id == ctx.tenant.id, a.c.customer_id == c.id,
                               *self.change_scope(ctx, a)).order_by(a.c.id)

    def stream_history(self, id_: int, *, limit: int | None = None,
                       offset: int = 0) -> Iterator[dict[str, Any]]:
        """:meth:`history` as a generator, read as it is consumed."""
        with self.crm.unit(write=False) as ctx:
            q = sql.page(self._history_query(ctx, id_), limit, offset)
            for r in sql.stream(ctx.conn, q):
                yield {"cursor": r.id, "at": r.at.isoformat(), "user": r.user,
                       "table": r.table_name, "id": r.row_id, "op": r.op,
                       "before": r.before, "after": r.after}

    def count_history(self, id_: int) -> int:
        with self.crm.unit(write=False) as ctx:
            return sql.count(ctx.conn, self._history_query(ctx, id_))

    def lookup(self, ref: int | str) -> Customer:
        """A customer by id, else by exact external id, else by exact name when one
        customer this user may see has it (``customer show`` takes all three)."""
        text = str(ref).strip()
        if text.isdigit() and len(text) < 19:
            try:
                return self.get(int(text))
            except NotFound:
                pass
        t = self.table("customers")
        with self.crm.unit(write=False) as ctx:
            for col in (t.c.external_id, t.c.name):
                rows = ctx.conn.execute(select(t).where(self.visible(ctx), col == text)
                                        .order_by(t.c.id).limit(6)).all()
                if len(rows) == 1:
                    c = Customer.from_row(rows[0])
                    ctx.check("view", c, f"customer {c.id}")
                    return c
                if rows:
                    ids = ", ".join(str(r.id) for r in rows[:5])
                    raise ValidationError(_(
                        "{n} customers are named '{name}' (ids {ids}); give the id"
                    ).format(n=len(rows) if len(rows) < 6 else _("more than 5"),
                             name=text[:80], ids=ids))
        if text.isdigit():
            raise NotFound(_("customer {text} not found").format(text=text[:20]))
        raise NotFound(_("no customer with the external id or name '{ref}'").format(
            ref=text[:80]))

    def sees(self, ctx: Context, id_: int | None) -> bool:
        """Whether customer ``id_`` is in ``ctx``'s tenant and its user may see it: for
        messages that name a record only to those who may see it."""
        return customer_visible(ctx, id_)

    def require(self, ctx: Context, id_: int, action: str = "view",
                label: str | None = None) -> Customer:
        """Load a customer in ``ctx`` and check ``action``: for plugins' services.

        ``label`` names what the caller asked for in the refusal ("activity 5"), when
        that was not the customer: a refusal never names a record the caller may not see
        (the customer behind someone else's activity)."""
        c = self._load(ctx, id_)
        ctx.check(action, c, label or f"customer {id_}")
        return c


def _json_row(d: dict[str, Any]) -> dict[str, Any]:
    """A customers row (as a dict) the way ``to_dict(Customer.from_row(row))`` gives it,
    without the record (``test_stream_dicts_equal_the_records``)."""
    d["tags"] = [t for t in (d["tags"] or "").split(",") if t]
    d["extra"] = dict(d["extra"] or {})
    for k in ("created_at", "updated_at"):
        if d[k] is not None:
            d[k] = d[k].isoformat()
    return d


def _raw_columns(t: Any) -> list[Any]:
    """The customers table's columns, the instants and ``extra`` as their stored text
    (SQLite: no per-row conversion by SQLAlchemy)."""
    return [type_coerce(c, Text).label(c.name) if c.name in ("created_at", "updated_at",
                                                             "extra") else c
            for c in t.columns]


def _sqlite_instant(s: str | None) -> str | None:
    """A UTC instant as SQLite stores it (``2026-12-01 13:20:30.123456``) in the ISO
    form ``datetime.isoformat`` gives the aware value (``2026-12-01T13:20:30.123456+00:00``;
    no fraction when it is zero)."""
    if s is None:
        return None
    if len(s) == 26 and s[10] == " " and s[19] == ".":
        frac = s[19:]
        return s[:10] + "T" + s[11:19] + ("" if frac == ".000000" else frac) + "+00:00"
    return dt.datetime.fromisoformat(s).replace(tzinfo=dt.UTC).isoformat()


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _check_owner_change(ctx: Context, before: Customer, fields: Mapping[str, Any]) -> None:
    """Changing a customer's owner is a manager's action (``customers.change_owner``),
    beyond the ``update`` the caller may do."""
    owner = fields.get("owner", before.owner)
    if isinstance(owner, str):
        owner = owner.strip() or None  # as _proposed reads it
    if owner != before.owner:
        ctx.check("customers.change_owner", before, _("customer {id}").format(id=before.id))
