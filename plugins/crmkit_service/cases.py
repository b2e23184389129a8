"""Cases: open, reply, resolve, close, reopen, list, show, search.

Every change runs in one ``crm.unit()``: the permission check (``service.<verb>``, and
the built-in rule on the case's customer), the row, an audit row (table ``case``, or
``case_reply``), an outbox event (``case.opened``, ``case.replied``, ``case.resolved``,
``case.closed``, ``case.reopened``) and, for a reply, an activity on the customer's
timeline (through ``crm.activities``, so that its hooks and audit fire too). Bad input
raises before anything is written.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from attrs import frozen
from sqlalchemy import and_, or_, select

import crmkit
from crmkit import NotFound, ValidationError, to_dict
from crmkit.i18n import Domain

from . import fulltext, zones
from .settings import PRIORITIES
from .tables import CHANNELS, PRODUCT_MAX, STATUSES, SUBJECT_MAX

_ = Domain("crmkit_service").gettext

#: The plugin's actions (rows of the core's role table).
VIEW, WORK, REOPEN, REPORT = "service.view", "service.work", "service.reopen", "service.report"
#: The activity kind a reply is logged as, by the case's channel.
REPLY_KIND = {"phone": "call", "email": "email", "visit": "visit"}
FIELDS = ("id", "customer_id", "customer", "subject", "body", "priority", "channel",
          "product", "owner", "status", "opened_at", "first_response_at", "resolved_at",
          "closed_at", "solution", "rating", "response_due", "resolution_due")


@frozen
class Case:
    """A customer's service request, from opening to closing."""

    id: int
    tenant_id: int
    customer_id: int
    customer: str
    subject: str
    body: str | None
    priority: str
    channel: str
    product: str | None
    owner: str | None
    status: str
    opened_at: dt.datetime
    first_response_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    solution: str | None
    rating: int | None
    response_due: dt.datetime
    resolution_due: dt.datetime

    @classmethod
    def from_row(cls, row: Any) -> Case:
        m = row._mapping
        return cls(**{k: m[k] for k in ("tenant_id", *FIELDS)})

    def as_json(self) -> dict[str, Any]:
        d = to_dict(self)
        del d["tenant_id"]
        return d


def q(value: Any, limit: int = 80) -> str:
    """At most ``limit`` characters of a user's value, for a message."""
    s = str(value)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def case_id(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValidationError(_("invalid case id '{value}'; expected a whole number")
                              .format(value=q(value))) from None


def case_select(ctx: crmkit.Context) -> Any:
    """Cases joined to their customer's name, limited to the tenant and the customers
    this user may see."""
    c = ctx.crm.table("service_cases")
    cu = ctx.crm.table("customers")
    return (select(c, cu.c.name.label("customer"))
            .select_from(c.join(cu, cu.c.id == c.c.customer_id))
            .where(c.c.tenant_id == ctx.tenant.id, ctx.crm.customers.visible(ctx)))


def load(ctx: crmkit.Context, value: Any) -> Case:
    """A case of a customer this user may see, or NotFound (the same message for a case
    that does not exist and one the user may not see)."""
    cid = case_id(value)
    c = ctx.crm.table("service_cases")
    row = ctx.conn.execute(case_select(ctx).where(c.c.id == cid)).first()
    case = None if row is None else Case.from_row(row)
    if case is None or not ctx.allowed(VIEW, case):
        raise NotFound(_("case {id} not found").format(id=cid))
    return case


def visible_customer(ctx: crmkit.Context, value: Any) -> crmkit.Customer:
    """A customer this user may see, or NotFound: one of another tenant or (for a
    ``sales`` user) of another owner gets the same message as one that does not exist."""
    try:
        cid = int(str(value).strip())
    except ValueError:
        raise ValidationError(_("invalid customer id '{value}'; expected a whole number")
                              .format(value=q(value))) from None
    cu = ctx.crm.table("customers")
    row = ctx.conn.execute(select(cu).where(ctx.crm.customers.visible(ctx),
                                            cu.c.id == cid)).first()
    customer = None if row is None else crmkit.Customer.from_row(row)
    if customer is None or not ctx.allowed("view", customer):
        raise NotFound(_("customer {id} not found").format(id=cid))
    return customer


def _text(errors: list[str], what: str, value: Any, limit: int | None,
          required: bool = True) -> str | None:
    s = (value or "").strip() if isinstance(value, str | type(None)) else str(value)
    if not s:
        if required:
            errors.append(_("{what} must not be empty").format(what=what))
        return None
    if "\x00" in s or (limit is not None and len(s) > limit):
        errors.append(_("{what} must be at most {n} characters without NUL, got {length}")
                      .format(what=what, n=limit or "∞", length=len(s)))
        return None
    return s


def _owner(ctx: crmkit.Context, errors: list[str], owner: str) -> None:
    u = ctx.crm.table("users")
    if ctx.conn.execute(select(u.c.id).where(u.c.tenant_id == ctx.tenant.id,
                                             u.c.name == owner)).first() is None:
        errors.append(_("unknown user '{owner}'").format(owner=q(owner)))


def _not_before(errors: list[str], at: dt.datetime | None, case: Case) -> None:
    if at is not None and at < case.opened_at:
        errors.append(_("--at {at} is before case {id} was opened ({opened})")
                      .format(at=at.isoformat(), id=case.id,
                              opened=case.opened_at.isoformat()))


def _update(ctx: crmkit.Context, case: Case, event: str, **values: Any) -> Case:
    """Write ``values`` to the case, audit and announce the change; the new case."""
    c = ctx.crm.table("service_cases")
    # only from the status this change was checked against: of two concurrent resolves
    # (or a close racing a reopen) the second finds nothing to update and is refused
    done = ctx.conn.execute(c.update().where(
        c.c.tenant_id == ctx.tenant.id, c.c.id == case.id, c.c.status == case.status)
        .values(**values)).rowcount
    if done != 1:
        raise ValidationError(_("case {id} was changed by someone else meanwhile; look at "
                                "it again").format(id=case.id))
    after = load(ctx, case.id)
    ctx.audit("case", case.id, "update", case, after, customer_id=case.customer_id)
    ctx.emit(event, after.as_json(), customer_id=case.customer_id)
    return after


# --- writes ----------------------------------------------------------------------------


def add(crm: crmkit.Crm, customer_id: Any, *, subject: str, body: str | None = None,
        priority: str | None = None, channel: str | None = None, product: str | None = None,
        owner: str | None = None, at: Any = None) -> Case:
    """Open a case for a customer (priority ``normal``, channel ``phone``, owned by the
    customer's owner unless given; opened now unless ``at``)."""
    with crm.unit() as ctx:
        ctx.crm.plugins.require(ctx, "service")
        errors: list[str] = []
        subj = _text(errors, _("case subject"), subject, SUBJECT_MAX)
        text_body = _text(errors, _("case body"), body, None, required=False)
        prod = _text(errors, _("product"), product, PRODUCT_MAX, required=False)
        priority = priority or "normal"
        channel = channel or "phone"
        if priority not in PRIORITIES:
            errors.append(_("unknown priority '{p}'; valid: {valid}")
                          .format(p=q(priority), valid=", ".join(PRIORITIES)))
        if channel not in CHANNELS:
            errors.append(_("unknown channel '{c}'; valid: {valid}")
                          .format(c=q(channel), valid=", ".join(CHANNELS)))
        try:
            opened = zones.parse_at(ctx, at) or ctx.now()
        except ValidationError as exc:
            errors.extend(exc.errors)
            opened = ctx.now()
        if owner is not None:
            _owner(ctx, errors, owner)
        if errors:
            raise ValidationError(errors)
        customer = visible_customer(ctx, customer_id)
        ctx.check(WORK, customer, _("customer {id}").format(id=customer.id))
        hours = ctx.settings("service").sla_hours[priority]
        c = ctx.crm.table("service_cases")
        key = ctx.conn.execute(c.insert().values(
            tenant_id=ctx.tenant.id, customer_id=customer.id, subject=subj, body=text_body,
            priority=priority, channel=channel, product=prod,
            owner=owner if owner is not None else customer.owner, status="open",
            opened_at=opened, response_due=zones.add_hours(ctx, opened, hours[0]),
            resolution_due=zones.add_hours(ctx, opened, hours[1]), reopened=0,
            created_by=ctx.user.name)).inserted_primary_key
        assert key is not None
        case = load(ctx, int(key[0]))
        ctx.audit("case", case.id, "insert", None, case, customer_id=case.customer_id)
        ctx.emit("case.opened", case.as_json(), customer_id=case.customer_id)
        return case


def reply(crm: crmkit.Crm, value: Any, *, body: str, at: Any = None) -> Case:
    """Answer the customer: a reply row, an activity on the timeline, and the case's
    ``first_response_at`` if it had none."""
    with crm.unit() as ctx:
        ctx.crm.plugins.require(ctx, "service")
        case = load(ctx, value)
        errors: list[str] = []
        text_body = _text(errors, _("reply"), body, None)
        when = zones.parse_at(ctx, at) or ctx.now()
        _not_before(errors, when, case)
        if case.status == "closed":
            errors.append(_("case {id} is closed; reopen it first").format(id=case.id))
        if errors:
            raise ValidationError(errors)
        ctx.check(WORK, case, _("case {id}").format(id=case.id))
        activity = ctx.crm.activities.add(
            case.customer_id, kind=REPLY_KIND.get(case.channel, "note"),
            subject=q(_("Case #{id}: {subject}").format(id=case.id, subject=case.subject),
                      SUBJECT_MAX),
            body=text_body, occurred_at=when, extra={"service": {"case_id": case.id}})
        r = ctx.crm.table("service_replies")
        key = ctx.conn.execute(r.insert().values(
            tenant_id=ctx.tenant.id, case_id=case.id, body=text_body, at=when,
            by=ctx.user.name, activity_id=activity.id)).inserted_primary_key
        assert key is not None
        ctx.audit("case_reply", int(key[0]), "insert", None,
                  {"id": int(key[0]), "case_id": case.id, "body": text_body, "at": when,
                   "by": ctx.user.name}, customer_id=case.customer_id)
        first = case.first_response_at
        if first is None or when < first:
            return _update(ctx, case, "case.replied", first_response_at=when)
        ctx.emit("case.replied", case.as_json(), customer_id=case.customer_id)
        return case


def resolve(crm: crmkit.Crm, value: Any, *, solution: str, at: Any = None) -> Case:
    """Record the solution: the case becomes ``resolved`` and joins the solution base."""
    with crm.unit() as ctx:
        ctx.crm.plugins.require(ctx, "service")
        case = load(ctx, value)
        errors: list[str] = []
        text_sol = _text(errors, _("solution"), solution, None)
        when = zones.parse_at(ctx, at) or ctx.now()
        _not_before(errors, when, case)
        if case.status != "open":
            errors.append(_("case {id} is already {status}; reopen it first")
                          .format(id=case.id, status=case.status))
        if errors:
            raise ValidationError(errors)
        ctx.check(WORK, case, _("case {id}").format(id=case.id))
        assert text_sol is not None and when is not None
        found = fulltext.searchable(case.subject, text_sol)
        fulltext.index(ctx, case.id, found)
        return _update(ctx, case, "case.resolved", status="resolved", resolved_at=when,
                       solution=text_sol, search_text=found,
                       resolution_seconds=int((when - case.opened_at).total_seconds()))


def close(crm: crmkit.Crm, value: Any, *, rating: Any = None, at: Any = None) -> Case:
    """Close a case (resolved or not), with the customer's rating 1-5 if given."""
    with crm.unit() as ctx:
        ctx.crm.plugins.require(ctx, "service")
        case = load(ctx, value)
        errors: list[str] = []
        score = None
        if rating is not None:
            try:
                score = int(str(rating).strip())
            except ValueError:
                score = None
            if score is None or not 1 <= score <= 5 or isinstance(rating, bool):
                errors.append(_("rating must be a whole number from 1 to 5, got '{r}'")
                              .format(r=q(rating)))
        when = zones.parse_at(ctx, at) or ctx.now()
        _not_before(errors, when, case)
        if case.status == "closed":
            errors.append(_("case {id} is already closed").format(id=case.id))
        elif case.resolved_at is not None and when < case.resolved_at:
            errors.append(_("--at {at} is before case {id} was resolved ({r})")
                          .format(at=when.isoformat(), id=case.id,
                                  r=case.resolved_at.isoformat()))
        if errors:
            raise ValidationError(errors)
        ctx.check(WORK, case, _("case {id}").format(id=case.id))
        values: dict[str, Any] = {"status": "closed", "closed_at": when, "rating": score}
        if case.status == "open":  # closed without a solution: searchable by its subject
            found = fulltext.searchable(case.subject, None)
            fulltext.index(ctx, case.id, found)
            values["search_text"] = found
        return _update(ctx, case, "case.closed", **values)


def reopen(crm: crmkit.Crm, value: Any) -> Case:
    """Open a resolved or closed case again: its resolution (solution, resolved and
    closed times, rating) is cleared, its deadlines stay."""
    with crm.unit() as ctx:
        ctx.crm.plugins.require(ctx, "service")
        case = load(ctx, value)
        ctx.check(REOPEN, case, _("case {id}").format(id=case.id))
        if case.status == "open":
            raise ValidationError(_("case {id} is already open").format(id=case.id))
        c = ctx.crm.table("service_cases")
        row = ctx.conn.execute(select(c.c.search_text, c.c.reopened).where(
            c.c.tenant_id == ctx.tenant.id, c.c.id == case.id)).one()
        fulltext.unindex(ctx, case.id, row.search_text)
        return _update(ctx, case, "case.reopened", status="open", resolved_at=None,
                       closed_at=None, solution=None, rating=None, search_text=None,
                       resolution_seconds=None, reopened=int(row.reopened or 0) + 1)


# --- reads -----------------------------------------------------------------------------


def list_cases(crm: crmkit.Crm, *, status: str | None = None, owner: str | None = None,
               customer: Any = None, overdue: bool = False, limit: int | None = None,
               offset: int = 0) -> tuple[list[Case], int]:
    """Cases newest first (by ``opened_at``) and how many match in all. ``overdue``:
    open cases past their response (no reply yet) or resolution deadline now."""
    with crm.unit(write=False) as ctx:
        ctx.crm.plugins.require(ctx, "service")
        ctx.check(VIEW, None, _("cases"))
        if status is not None and status not in STATUSES:
            raise ValidationError(_("unknown status '{s}'; valid: {valid}")
                                  .format(s=q(status), valid=", ".join(STATUSES)))
        c = ctx.crm.table("service_cases")
        stmt = case_select(ctx)
        if status:
            stmt = stmt.where(c.c.status == status)
        if owner:
            stmt = stmt.where(c.c.owner == owner)
        if customer is not None:
            cust = visible_customer(ctx, customer)
            stmt = stmt.where(c.c.customer_id == cust.id)
        if overdue:
            now = ctx.now()
            stmt = stmt.where(c.c.status == "open", or_(
                and_(c.c.first_response_at.is_(None), c.c.response_due < now),
                c.c.resolution_due < now))
        from crmkit.sql import count, page

        total = count(ctx.conn, stmt)
        stmt = page(stmt.order_by(c.c.opened_at.desc(), c.c.id.desc()), limit, offset)
        return [Case.from_row(r) for r in ctx.conn.execute(stmt)], total


def show(crm: crmkit.Crm, value: Any) -> dict[str, Any]:
    """One case with its replies, oldest first."""
    with crm.unit(write=False) as ctx:
        ctx.crm.plugins.require(ctx, "service")
        case = load(ctx, value)
        r = ctx.crm.table("service_replies")
        out = case.as_json()
        out["replies"] = [{"id": x.id, "body": x.body, "at": x.at.isoformat(), "by": x.by,
                           "activity_id": x.activity_id}
                          for x in ctx.conn.execute(select(r).where(
                              r.c.tenant_id == ctx.tenant.id, r.c.case_id == case.id)
                              .order_by(r.c.at, r.c.id))]
        return out


def find(crm: crmkit.Crm, text_: str, *, limit: int | None = None, offset: int = 0
         ) -> tuple[list[Case], int]:
    """Resolved and closed cases whose subject or solution contains ``text_``
    (case-insensitive, any script), newest first, and how many there are in all."""
    with crm.unit(write=False) as ctx:
        ctx.crm.plugins.require(ctx, "service")
        ctx.check(VIEW, None, _("cases"))
        term = (text_ or "").strip().lower()
        if not term:
            raise ValidationError(_("search text must not be empty"))
        c = ctx.crm.table("service_cases")
        stmt = case_select(ctx).where(c.c.status.in_(("resolved", "closed")),
                                      c.c.search_text.like(fulltext.like_pattern(term),
                                                           escape="\\"))
        ids = fulltext.candidates(ctx, term)
        if ids is not None:
            stmt = stmt.where(c.c.id.in_(ids))
        from crmkit.sql import count, page

        total = count(ctx.conn, stmt)
        stmt = page(stmt.order_by(c.c.opened_at.desc(), c.c.id.desc()), limit, offset)
        return [Case.from_row(r) for r in ctx.conn.execute(stmt)], total
