"""Opportunities: add, move through the stages, list, hand over.

Every write runs in one ``crm.unit()``: permission checks, the row, a stage-change row,
an audit row (table ``opportunity``), an outbox event and a ``note`` activity on the
customer's timeline (through ``crm.activities`` so that hooks and audit fire).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from attrs import frozen
from sqlalchemy import and_, func, or_, select

import crmkit
from crmkit import NotFound, ValidationError, parse_money, to_dict
from crmkit.checks import ID_MAX
from crmkit.i18n import Domain

from .settings import SalesSettings
from .tables import TITLE_MAX

_ = Domain("crmkit_sales").gettext

CENT = Decimal("0.01")


@frozen
class Opportunity:
    """A possible sale to a customer, moving through the pipeline's stages."""

    id: int | None
    tenant_id: int
    customer_id: int
    title: str
    amount: Decimal
    stage: str
    expected_close: dt.date
    owner: str | None = None
    next_step: dt.date | None = None
    created_on: dt.date | None = None
    closed_on: dt.date | None = None
    lost_reason: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> Opportunity:
        return cls(id=row.id, tenant_id=row.tenant_id, customer_id=row.customer_id,
                   title=row.title, amount=row.amount, stage=row.stage,
                   expected_close=row.expected_close, owner=row.owner,
                   next_step=row.next_step, created_on=row.created_on,
                   closed_on=row.closed_on, lost_reason=row.lost_reason)


def settings(ctx: crmkit.Context) -> SalesSettings:
    """The tenant's sales settings."""
    return ctx.settings("sales")


def weighted(amount: Decimal, probability: int) -> Decimal:
    """``amount × probability / 100`` rounded to cents (half up)."""
    from decimal import ROUND_HALF_UP

    return (amount * probability / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def customer_scope(ctx: crmkit.Context, customer_id_col: Any) -> list[Any]:
    """Conditions limiting ``customer_id_col`` to customers the user may see (none for
    users without a limit, so that reports of admins stay a plain scan)."""
    cust = ctx.crm.table("customers")
    limits = [c for c in ctx.hooks.crm_customer_scope(ctx=ctx, user=ctx.user, customers=cust)
              if c is not None]
    return [customer_id_col.in_(ctx.crm.customers.visible_ids(ctx))] if limits else []


def sees_all(ctx: crmkit.Context) -> bool:
    """Whether the user may see every owner's opportunities (permission
    ``sales.view_all``; without it, only their own)."""
    return ctx.allowed("sales.view_all", None)


def opp_scope(ctx: crmkit.Context, o: Any) -> Any:
    """What the user may see of the opportunities table: their tenant, visible customers,
    and without ``sales.view_all`` only the opportunities they own."""
    conds = [o.c.tenant_id == ctx.tenant.id, *customer_scope(ctx, o.c.customer_id)]
    if not sees_all(ctx):
        conds.append(o.c.owner == ctx.user.name)
    return and_(*conds)


def _visible_ids(ctx: crmkit.Context) -> Any:
    o = ctx.crm.table("sales_opportunities")
    return select(o.c.id).where(opp_scope(ctx, o))


def _own_only(ctx: crmkit.Context) -> bool:
    """Whether :func:`opp_scope` limits the user to their own opportunities (the same
    test), so that notes and feed rows follow exactly the opportunities' rule."""
    return not sees_all(ctx)


def note_scope(ctx: crmkit.Context, user: Any, activities: Any) -> Any:
    """``crm_activity_scope``: a note about an opportunity is seen by whoever may see the
    opportunity (None: no limit for users who see every opportunity)."""
    if not _own_only(ctx):
        return None
    opp_id = activities.c.extra[("sales", "opportunity_id")].as_integer()
    return or_(opp_id.is_(None), opp_id.in_(_visible_ids(ctx)))


def change_scope(ctx: crmkit.Context, user: Any, audit: Any) -> Any:
    """``crm_change_scope``: the ``opportunity`` rows of the change feed of the
    opportunities the user may see."""
    if not _own_only(ctx):
        return None
    return or_(audit.c.table_name != "opportunity", audit.c.row_id.in_(_visible_ids(ctx)))


def _unknown_stage(stage: str, s: SalesSettings) -> ValidationError:
    return ValidationError(f"unknown stage '{stage}'; valid: {', '.join(s.names)}")


def _date(errors: list[str], what: str, value: Any) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        errors.append(_("invalid {what} '{value}'; expected YYYY-MM-DD").format(
                          what=what, value=value))
        return None


def _load(ctx: crmkit.Context, opp_id: int) -> Opportunity:
    if not 1 <= int(opp_id) <= ID_MAX:  # beyond 64 bits: not found on every backend
        raise NotFound(_("opportunity {opp_id} not found").format(
                           opp_id=str(opp_id)[:80]))
    o = ctx.crm.table("sales_opportunities")
    row = ctx.conn.execute(select(o).where(o.c.tenant_id == ctx.tenant.id,
                                           o.c.id == int(opp_id))).first()
    if row is None:
        raise NotFound(_("opportunity {opp_id} not found").format(opp_id=opp_id))
    return Opportunity.from_row(row)


def _owner_exists(ctx: crmkit.Context, owner: str) -> bool:
    u = ctx.crm.table("users")
    return ctx.conn.execute(select(u.c.id).where(u.c.tenant_id == ctx.tenant.id,
                                                 u.c.name == owner)).first() is not None


def _at(ctx: crmkit.Context, on: dt.date) -> dt.datetime:
    """The current time of day on ``on``, in the tenant's zone (an aware instant)."""
    local = ctx.now().astimezone(getattr(ctx, "zone", dt.UTC))
    return dt.datetime.combine(on, local.timetz())


def _record_change(ctx: crmkit.Context, opp_id: int, from_stage: str | None, to_stage: str,
                   on: dt.date, reason: str | None = None) -> None:
    ch = ctx.crm.table("sales_stage_changes")
    ctx.conn.execute(ch.insert().values(
        tenant_id=ctx.tenant.id, opportunity_id=opp_id, from_stage=from_stage,
        to_stage=to_stage, changed_on=on, changed_by=ctx.user.name, reason=reason))


def get(crm: crmkit.Crm, opp_id: int) -> Opportunity:
    """One opportunity the user may see."""
    with crm.unit(write=False) as ctx:
        ctx.crm.plugins.require(ctx, "sales")
        opp = _load(ctx, opp_id)
        ctx.check("view", opp, f"opportunity {opp_id}")
        return opp


def add(crm: crmkit.Crm, customer_id: int, *, title: str, amount: Any, close: Any,
        stage: str | None = None, owner: str | None = None,
        next_step: Any = None) -> Opportunity:
    """Open an opportunity (first open stage and the customer's owner by default)."""
    with crm.unit() as ctx:
        ctx.crm.plugins.require(ctx, "sales")
        s = settings(ctx)
        customer = ctx.crm.customers.require(ctx, customer_id, "update")
        errors: list[str] = []
        title = (title or "").strip()
        if not title:
            errors.append(_("opportunity title must not be empty"))
        elif len(title) > TITLE_MAX:
            errors.append(_("opportunity title is {n} characters long; the limit "
                            "is {TITLE_MAX}").format(n=len(title), TITLE_MAX=TITLE_MAX))
        amt: Decimal | None = None
        try:
            amt = parse_money(amount, what="amount")
            if amt < 0:
                errors.append(_("amount must not be negative, got {amount}").format(
                                  amount=amount))
        except ValidationError as exc:
            errors.extend(exc.errors)
        close_d = _date(errors, "expected close date", close)
        next_d = _date(errors, "next step date", next_step)
        stage = stage or s.open_stages[0]
        if stage not in s.names:
            raise _unknown_stage(stage, s)
        if stage not in s.open_stages:
            errors.append(_("a new opportunity starts in an open stage ({valid}), "
                            "not '{stage}'; add it, then `crmkit sales move`").format(
                              valid=', '.join(s.open_stages), stage=stage))
        created_on = ctx.today
        if close_d is not None and close_d < created_on:
            errors.append(_("expected close date {close_d} is before the creation "
                            "date {created_on}").format(
                              close_d=close_d, created_on=created_on))
        if close_d is None and not any("expected close" in e for e in errors):
            errors.append(_("expected close date is required"))
        owner = owner if owner is not None else (customer.owner or ctx.user.name)
        if not _owner_exists(ctx, owner):
            errors.append(_("unknown owner '{owner}'; add the user first (`crmkit "
                            "user add {owner}`)").format(owner=owner))
        if errors:
            raise ValidationError(errors)
        opp = Opportunity(id=None, tenant_id=ctx.tenant.id, customer_id=customer.id,
                          title=title, amount=amt, stage=stage,  # type: ignore[arg-type]
                          expected_close=close_d, owner=owner,  # type: ignore[arg-type]
                          next_step=next_d, created_on=created_on)
        ctx.check("create", opp, f"opportunity '{title}'")
        o = ctx.crm.table("sales_opportunities")
        now = ctx.now()
        new_id = ctx.conn.execute(o.insert().values(
            tenant_id=ctx.tenant.id, customer_id=customer.id, title=title, amount=amt,
            stage=stage, expected_close=close_d, owner=owner, next_step=next_d,
            created_on=created_on, created_at=now, updated_at=now)).inserted_primary_key[0]
        _record_change(ctx, new_id, None, stage, created_on)
        opp = _load(ctx, new_id)
        ctx.audit("opportunity", new_id, "insert", None, opp, customer_id=customer.id)
        ctx.emit("opportunity.created", to_dict(opp), customer_id=customer.id)
        ctx.crm.activities.add(
            customer.id, kind="note",
            subject=_("Opportunity #{new_id} '{title}' opened: {stage}, {amt:.2f}, "
                      "expected close {close_d}").format(
                new_id=new_id, title=title, stage=stage, amt=amt, close_d=close_d),
            extra={"sales": {"opportunity_id": new_id, "event": "created"}})
        return opp


def move(crm: crmkit.Crm, opp_id: int, stage: str, *, on: dt.date | None = None,
         reason: str | None = None, contract_number: str | None = None,
         next_step: Any = None) -> Opportunity:
    """Move an opportunity to ``stage`` on date ``on`` (default today).

    Moving to the won or lost stage closes it. Winning can add a ``contract`` document
    (``contract_number``) and makes a ``prospect`` customer ``active``."""
    with crm.unit() as ctx:
        ctx.crm.plugins.require(ctx, "sales")
        s = settings(ctx)
        before = _load(ctx, opp_id)
        ctx.check("update", before, f"opportunity {opp_id}")
        if stage not in s.names:
            raise _unknown_stage(stage, s)
        if before.closed_on is not None:
            raise ValidationError(_("opportunity {opp_id} is closed ({stage} on "
                                    "{closed_on}); a closed opportunity cannot move").format(
                opp_id=opp_id, stage=before.stage, closed_on=before.closed_on))
        if stage == before.stage:
            raise ValidationError(_("opportunity {opp_id} is already in stage "
                                    "'{stage}'").format(opp_id=opp_id, stage=stage))
        on = on or ctx.today
        ch = ctx.crm.table("sales_stage_changes")
        last = ctx.conn.execute(select(func.max(ch.c.changed_on)).where(
            ch.c.tenant_id == ctx.tenant.id, ch.c.opportunity_id == before.id)).scalar()
        last = last or before.created_on
        if isinstance(last, str):  # pragma: no cover - SQLite without type info
            last = dt.date.fromisoformat(last)
        errors: list[str] = []
        if on < last:
            errors.append(_("move date {on} is before the opportunity's last "
                            "change on {last}").format(on=on, last=last))
        if contract_number and stage != s.won:
            errors.append(_("--contract-number is only for a move to '{won}', not "
                            "'{stage}'").format(won=s.won, stage=stage))
        if reason is not None and len(reason) > TITLE_MAX:
            errors.append(_("reason is {n} characters long; the limit is "
                            "{TITLE_MAX}").format(n=len(reason), TITLE_MAX=TITLE_MAX))
        next_d = _date(errors, "next step date", next_step)
        if errors:
            raise ValidationError(errors)
        values: dict[str, Any] = {"stage": stage, "updated_at": ctx.now()}
        if stage in (s.won, s.lost):
            values["closed_on"] = on
        if stage == s.lost:
            values["lost_reason"] = reason
        if next_d is not None:
            values["next_step"] = next_d
        o = ctx.crm.table("sales_opportunities")
        ctx.conn.execute(o.update().where(o.c.tenant_id == ctx.tenant.id,
                                          o.c.id == before.id).values(**values))
        _record_change(ctx, before.id, before.stage, stage, on, reason)  # type: ignore[arg-type]
        after = _load(ctx, before.id)  # type: ignore[arg-type]
        ctx.audit("opportunity", before.id, "update", before, after,
                  customer_id=before.customer_id)
        ctx.emit("opportunity.moved", {**to_dict(after), "from_stage": before.stage,
                                       "on": on.isoformat()}, customer_id=before.customer_id)
        ctx.crm.activities.add(
            before.customer_id, kind="note", occurred_at=_at(ctx, on),
            subject=_("Opportunity #{id} '{title}' moved from {before} to {stage}").format(
                id=before.id, title=before.title, before=before.stage, stage=stage)
            + (f": {reason}" if reason else ""),
            extra={"sales": {"opportunity_id": before.id, "event": "moved",
                             "from": before.stage, "to": stage}})
        if stage == s.won:
            if contract_number:
                ctx.crm.documents.add(before.customer_id, kind="contract",
                                      number=contract_number, amount=after.amount,
                                      issued_on=on,
                                      extra={"sales": {"opportunity_id": before.id}})
            customer = ctx.crm.customers.require(ctx, before.customer_id, "update")
            if customer.status == "prospect":
                ctx.crm.customers.change(ctx, customer, {"status": "active"})
        return after


def list_opportunities(crm: crmkit.Crm, *, owner: str | None = None,
                       stage: str | None = None, open_only: bool = False
                       ) -> list[dict[str, Any]]:
    """Opportunities the user may see, by expected close then id, as JSON-ready dicts
    with the stage's ``probability`` and the ``weighted`` amount."""
    with crm.unit(write=False) as ctx:
        ctx.crm.plugins.require(ctx, "sales")
        s = settings(ctx)
        if stage is not None and stage not in s.names:
            raise _unknown_stage(stage, s)
        o = ctx.crm.table("sales_opportunities")
        c = ctx.crm.table("customers")
        q = (select(o, c.c.name.label("customer"))
             .select_from(o.join(c, c.c.id == o.c.customer_id)).where(opp_scope(ctx, o)))
        if owner:
            q = q.where(o.c.owner == owner)
        if stage:
            q = q.where(o.c.stage == stage)
        if open_only:
            q = q.where(o.c.closed_on.is_(None))
        out = []
        for row in ctx.conn.execute(q.order_by(o.c.expected_close, o.c.id)):
            opp = Opportunity.from_row(row)
            p = s.probability.get(opp.stage, 0)
            out.append({**to_dict(opp), "customer": row.customer, "probability": p,
                        "weighted": weighted(opp.amount, p)})
        return out


def reassign(ctx: crmkit.Context, from_user: str, to_user: str) -> int:
    """Hand ``from_user``'s open opportunities to ``to_user`` (audited); the count."""
    o = ctx.crm.table("sales_opportunities")
    rows = ctx.conn.execute(select(o).where(
        o.c.tenant_id == ctx.tenant.id, o.c.owner == from_user,
        o.c.closed_on.is_(None)).order_by(o.c.id)).all()
    for row in rows:
        before = Opportunity.from_row(row)
        ctx.conn.execute(o.update().where(o.c.id == before.id).values(
            owner=to_user, updated_at=ctx.now()))
        ctx.audit("opportunity", before.id, "update", before,
                  _load(ctx, before.id), customer_id=before.customer_id)  # type: ignore
    return len(rows)
