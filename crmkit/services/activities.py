"""Activities: calls, visits, e-mails, meetings, notes and tasks on a customer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from itertools import islice
from typing import Any

from attrs import evolve
from sqlalchemy import and_, or_, select

from ..context import Context
from ..errors import PermissionDenied, ValidationError
from ..i18n import _
from ..records import ACTIVITY_KINDS, Activity
from ..storage import SUBJECT_MAX, TEXT_MAX
from ._base import (
    Checker,
    ListService,
    audit_row,
    check_owner,
    flatten,
    get_row,
    inserted_id,
    parse_datetime,
    reference_id,
    user_names,
)

#: the fields ``update`` may change
FIELDS = ("customer_id", "kind", "subject", "body", "owner", "occurred_at", "due_on",
          "done_at", "extra")


class ActivityService(ListService[Activity]):
    """``crm.activities``: the customer's timeline and the salespeople's tasks.

    ``list``/``stream``/``count`` filter by ``customer_id``, ``owner``, ``kind``,
    ``open_only`` (tasks not done) and ``due_until`` (due on or before that day,
    earliest due first); newest first otherwise."""

    def _scope(self, ctx: Context) -> list[Any]:
        t = self.table("activities")
        return [c for c in ctx.hooks.crm_activity_scope(ctx=ctx, user=ctx.user,
                                                        activities=t) if c is not None]

    def visible(self, ctx: Context) -> Any:
        """A SQL condition on the activities table: the entries this user may see (their
        customers' activities, less what plugins hide with ``crm_activity_scope``)."""
        t = self.table("activities")
        return and_(t.c.tenant_id == ctx.tenant.id,
                    t.c.customer_id.in_(ctx.crm.customers.visible_ids(ctx)),
                    *self._scope(ctx))

    def change_scope(self, ctx: Context, audit: Any) -> list[Any]:
        """Conditions on the audit table hiding the changes of activities this user may
        not see (none when plugins hide no activity)."""
        conds = self._scope(ctx)
        if not conds:
            return []
        t = self.table("activities")
        return [or_(audit.c.table_name != "activity", audit.c.row_id.in_(
            select(t.c.id).where(t.c.tenant_id == ctx.tenant.id, *conds)))]

    def _load(self, ctx: Context, id_: int, action: str) -> Activity:
        """One activity, with ``action`` checked on its customer; an entry a plugin hides
        from this user is refused like a customer they may not see."""
        act = Activity.from_row(get_row(ctx, "activities", id_, "activity"))
        ctx.crm.customers.require(ctx, act.customer_id, action, f"activity {act.id}")
        conds = self._scope(ctx)
        if conds:
            t = self.table("activities")
            if ctx.conn.execute(select(t.c.id).where(t.c.id == act.id, *conds)).first() \
                    is None:
                raise PermissionDenied(_("permission denied: user '{name}' may not "
                                         "{action} activity {id}").format(
                                           name=ctx.user.name, action=action, id=act.id))
        return act

    def _proposed(self, ctx: Context, fields: dict[str, Any], before: Activity | None,
                  owners: set[str] | None = None) -> tuple[Activity, dict[str, Any], Checker]:
        c = Checker("activity")
        base: dict[str, Any] = ({k: getattr(before, k) for k in (
            "customer_id", "kind", "subject", "body", "owner", "occurred_at", "due_on",
            "done_at", "extra")} if before else {"owner": ctx.user.name, "extra": {}})
        new = base | fields
        c.choice("kind", new.get("kind"), ACTIVITY_KINDS)
        c.text("subject", new.get("subject"), SUBJECT_MAX, required=True)
        c.text("body", new.get("body"), TEXT_MAX)
        new["extra"] = c.extra(new.get("extra"))
        new["due_on"] = c.date("due date", new.get("due_on"))
        if "owner" in fields or before is None:
            if owners is None:
                check_owner(ctx, c, new.get("owner"))
            elif new.get("owner") is not None and new["owner"] not in owners:
                c.errors.append(_("unknown owner '{owner}'").format(owner=new['owner']))
        if new.get("occurred_at") is None:
            new["occurred_at"] = ctx.now()
        else:
            new["occurred_at"] = parse_datetime(new["occurred_at"], "time", ctx.zone)
        changes = {k: v for k, v in new.items() if before is None or getattr(before, k) != v}
        act = Activity(id=before.id if before else None, tenant_id=ctx.tenant.id, **new)
        return act, changes, c

    def add(self, customer_id: int, *, kind: str, subject: str, body: str | None = None,
            owner: str | None = None, occurred_at: Any = None, due_on: Any = None,
            extra: dict[str, Any] | None = None) -> Activity:
        """Log an activity (``at`` defaults to now; ``owner`` to the current user)."""
        with self.crm.unit() as ctx:
            customer = ctx.crm.customers.require(ctx, customer_id, "update")
            fields = {"customer_id": customer.id, "kind": kind, "subject": subject,
                      "body": body, "occurred_at": occurred_at, "due_on": due_on,
                      "extra": extra or {}}
            if owner is not None:
                fields["owner"] = owner
            act, changes, c = self._proposed(ctx, fields, None)
            c.raise_if_any()
            c.raise_if_any(ctx.hooks.crm_activity_validate(ctx=ctx, activity=act,
                                                           changes=changes, before=None))
            t = self.table("activities")
            values = {k: getattr(act, k) for k in ("customer_id", "kind", "subject", "body",
                                                   "owner", "occurred_at", "due_on",
                                                   "done_at", "extra")}
            new_id = inserted_id(ctx.conn.execute(
                t.insert().values(tenant_id=ctx.tenant.id, **values)))
            act = Activity.from_row(get_row(ctx, "activities", new_id, "activity"))
            ctx.hooks.crm_activity_logged(ctx=ctx, activity=act)
            ctx.audit("activity", new_id, "insert", None, act, customer_id=act.customer_id)
            return act

    def add_many(self, records: Iterable[Mapping[str, Any]], *,
                 batch_size: int = 5000) -> int:
        """Log many activities in batches (SQLAlchemy Core), firing validate and logged
        hooks for each. All or nothing; returns the number logged."""
        t = self.table("activities")
        cols = ("customer_id", "kind", "subject", "body", "owner", "occurred_at", "due_on",
                "done_at", "extra")
        total = 0
        with self.crm.unit() as ctx:
            owners = user_names(ctx, active_only=True)
            visible = set(ctx.conn.scalars(ctx.crm.customers.visible_ids(ctx)))
            it = iter(records)
            while batch := list(islice(it, batch_size)):
                acts, errors = [], []
                for i, rec in enumerate(batch, start=total + 1):
                    rec = dict(rec)
                    if rec.get("customer_id") not in visible:
                        errors.append(_("record {i}: customer {id} not found").format(
                                          i=i, id=rec.get("customer_id")))
                        continue
                    act, changes, c = self._proposed(ctx, rec, None, owners)
                    errs = c.errors or flatten(ctx.hooks.crm_activity_validate(
                        ctx=ctx, activity=act, changes=changes, before=None))
                    errors.extend(_("record {i}: {exc}").format(i=i, exc=e) for e in errs)
                    acts.append(act)
                if errors:
                    raise ValidationError(errors[:50])
                res = ctx.conn.execute(
                    t.insert().returning(t.c.id, sort_by_parameter_order=True),
                    [{"tenant_id": ctx.tenant.id, **{k: getattr(a, k) for k in cols}}
                     for a in acts])
                audit = []
                for new_id, a in zip([r[0] for r in res], acts, strict=True):
                    a = evolve(a, id=new_id)
                    ctx.hooks.crm_activity_logged(ctx=ctx, activity=a)
                    audit.append(audit_row(ctx, "activity", new_id, a, a.customer_id))
                ctx.conn.execute(self.table("audit").insert(), audit)
                total += len(acts)
        return total

    def get(self, id_: int) -> Activity:
        with self.crm.unit(write=False) as ctx:
            return self._load(ctx, id_, "view")

    def update(self, id_: int, **fields: Any) -> Activity:
        """Change fields of an activity. Moving it to another customer (``customer_id``)
        is checked as strictly as adding it there: the customer must be in this tenant
        and the user must be allowed to change it."""
        with self.crm.unit() as ctx:
            before = self._load(ctx, id_, "update")
            bad = [k for k in fields if k not in FIELDS]
            if bad:
                raise ValidationError(_("unknown activity field '{field}'; valid: {valid}"
                                        ).format(field=str(bad[0])[:80],
                                                 valid=", ".join(FIELDS)))
            if "customer_id" in fields:
                fields = dict(fields, customer_id=ctx.crm.customers.require(
                    ctx, reference_id("customer", fields["customer_id"]), "update").id)
            return self._update(ctx, before, fields)

    def _update(self, ctx: Context, before: Activity, fields: dict[str, Any]) -> Activity:
        act, changes, c = self._proposed(ctx, fields, before)
        c.raise_if_any()
        if not changes:
            return before
        c.raise_if_any(ctx.hooks.crm_activity_validate(ctx=ctx, activity=act,
                                                       changes=changes, before=before))
        t = self.table("activities")
        ctx.conn.execute(t.update().where(t.c.id == before.id).values(**changes))
        act = Activity.from_row(get_row(ctx, "activities", int(before.id or 0), "activity"))
        ctx.hooks.crm_activity_updated(ctx=ctx, activity=act, before=before, changes=changes)
        ctx.audit("activity", before.id, "update", before, act, customer_id=act.customer_id)
        return act

    def done(self, id_: int, at: dt.datetime | None = None) -> Activity:
        """Mark a task (or any activity) done now."""
        with self.crm.unit() as ctx:
            before = self._load(ctx, id_, "update")
            if before.done_at is not None:
                return before
            return self._update(ctx, before, {"done_at": at or ctx.now()})

    def _query(self, ctx: Context, *, customer_id: int | None = None,
               owner: str | None = None, kind: str | None = None, open_only: bool = False,
               due_until: dt.date | None = None) -> Any:
        t = self.table("activities")
        if kind is not None:
            c = Checker("activity")
            c.choice("kind", kind, ACTIVITY_KINDS)
            c.raise_if_any()
        f = Checker("filter")
        f.text("owner", owner, 200)  # text only, before the database sees it
        f.raise_if_any()
        if customer_id is not None:
            customer_id = reference_id("customer", customer_id)
        q = select(t).where(self.visible(ctx))
        if customer_id is not None:
            q = q.where(t.c.customer_id == customer_id)
        if owner:
            q = q.where(t.c.owner == owner)
        if kind:
            q = q.where(t.c.kind == kind)
        if open_only:
            q = q.where(t.c.kind == "task", t.c.done_at.is_(None))
        if due_until is not None:
            q = q.where(t.c.due_on <= due_until).order_by(t.c.due_on, t.c.id)
        return q.order_by(t.c.occurred_at.desc(), t.c.id.desc())

    def _record(self, ctx: Context, row: Any) -> Activity:
        return Activity.from_row(row)

    def _reassign_open(self, ctx: Context, from_user: str, to_user: str) -> int:
        t = self.table("activities")
        rows = ctx.conn.execute(select(t).where(
            t.c.tenant_id == ctx.tenant.id, t.c.owner == from_user, t.c.kind == "task",
            t.c.done_at.is_(None)).order_by(t.c.id)).all()
        for row in rows:
            self._update(ctx, Activity.from_row(row), {"owner": to_user})
        return len(rows)
