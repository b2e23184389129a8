"""Campaigns: add, costs, leads, targets, list and show.

Every write runs in one ``crm.unit()``: the permission check (``marketing.<verb>``),
the rows, an audit row per row (tables ``campaign``, ``campaign_cost``,
``campaign_lead``, ``campaign_target`` in the change feed) and, for leads and targets,
an outbox event (``campaign.lead``, ``campaign.target``) so that webhooks can feed a
marketing tool. Bad input raises before anything is written.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from attrs import frozen
from sqlalchemy import and_, exists, func, select

import crmkit
from crmkit import NotFound, ValidationError, parse_money, to_dict
from crmkit.i18n import Domain

from .tables import CHANNELS, NAME_MAX, NOTE_MAX

_ = Domain("crmkit_marketing").gettext

#: Customer statuses (the core's fixed set) a target may filter on.
STATUSES = ("prospect", "active", "lost", "archived")
#: The plugin's actions; who may take them is in the role table of crmkit's built-in
#: ``permissions`` plugin (docs/admin/permissions.md).
MANAGE, COSTS = "marketing.manage", "marketing.costs"
VIEW, LEAD, TARGET = "marketing.view", "marketing.lead", "marketing.target"
CHUNK = 1000


@frozen
class Campaign:
    """A marketing campaign: a trade fair, a WeChat push, a mailing, a win-back."""

    id: int
    tenant_id: int
    name: str
    channel: str
    start_on: dt.date | None
    end_on: dt.date | None
    budget: Decimal | None
    created_on: dt.date
    created_by: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> Campaign:
        return cls(id=row.id, tenant_id=row.tenant_id, name=row.name, channel=row.channel,
                   start_on=row.start_on, end_on=row.end_on, budget=row.budget,
                   created_on=row.created_on, created_by=row.created_by)

    @property
    def earliest(self) -> dt.date:
        """The first day a lead may be dated: the day the campaign was added, or its
        start when that is earlier (a campaign entered after the fact)."""
        if self.start_on is not None and self.start_on < self.created_on:
            return self.start_on
        return self.created_on


@frozen
class Cost:
    id: int
    tenant_id: int
    campaign_id: int
    amount: Decimal
    spent_on: dt.date
    note: str | None = None


@frozen
class Lead:
    id: int
    tenant_id: int
    campaign_id: int
    customer_id: int
    lead_on: dt.date


def _q(value: Any, limit: int = 80) -> str:
    """At most ``limit`` characters of a user's value, for a message."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _id(value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValidationError(_("invalid {what} id '{value}'; expected a whole number")
                              .format(what=what, value=_q(value))) from None


def _date(errors: list[str], option: str, value: Any) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        errors.append(_("invalid {option} '{value}'; expected YYYY-MM-DD")
                      .format(option=option, value=_q(value)))
        return None


def _money(errors: list[str], what: str, value: Any) -> Decimal | None:
    try:
        amount = parse_money(value, what=what)
    except ValidationError as exc:
        errors.extend(exc.errors)
        return None
    if amount < 0:
        errors.append(_("{what} must not be negative, got {value}")
                      .format(what=what, value=_q(value)))
        return None
    return amount


def check_channel(channel: Any) -> str:
    if channel not in CHANNELS:
        raise ValidationError(_("unknown channel '{channel}'; valid: {valid}")
                              .format(channel=_q(channel), valid=", ".join(CHANNELS)))
    return channel


def enabled(ctx: crmkit.Context, plugin: str) -> bool:
    """Whether ``plugin`` is enabled for the tenant."""
    names: Any = ctx.crm.plugins.enabled()
    return plugin in names


def can_see_costs(ctx: crmkit.Context) -> bool:
    """Whether this user sees costs and budgets (admins and managers by default)."""
    return ctx.allowed(COSTS, None)


def load(ctx: crmkit.Context, campaign_id: Any) -> Campaign:
    """A campaign of this tenant, or NotFound."""
    cid = _id(campaign_id, "campaign")
    t = ctx.crm.table("marketing_campaigns")
    row = ctx.conn.execute(select(t).where(t.c.tenant_id == ctx.tenant.id,
                                           t.c.id == cid)).first()
    if row is None:
        raise NotFound(_("campaign {id} not found").format(id=cid))
    return Campaign.from_row(row)


def by_name(ctx: crmkit.Context, name: str) -> Campaign | None:
    t = ctx.crm.table("marketing_campaigns")
    row = ctx.conn.execute(select(t).where(t.c.tenant_id == ctx.tenant.id,
                                           t.c.name == name)).first()
    return None if row is None else Campaign.from_row(row)


def visible_customer(ctx: crmkit.Context, customer_id: Any) -> crmkit.Customer:
    """A customer this user may see, or NotFound: a customer of another tenant or
    (for a ``sales`` user) of another owner gets the same message as one that does
    not exist."""
    cid = _id(customer_id, "customer")
    t = ctx.crm.table("customers")
    row = ctx.conn.execute(select(t).where(ctx.crm.customers.visible(ctx),
                                           t.c.id == cid)).first()
    customer = None if row is None else crmkit.Customer.from_row(row)
    if customer is None or not ctx.allowed("view", customer):
        raise NotFound(_("customer {id} not found").format(id=cid))
    return customer


def campaign_dict(ctx: crmkit.Context, c: Campaign) -> dict[str, Any]:
    d = to_dict(c)
    if not can_see_costs(ctx):
        d["budget"] = None
    return d


# --- writes ----------------------------------------------------------------------------


def add(crm: crmkit.Crm, name: str, *, channel: str, start: Any = None, end: Any = None,
        budget: Any = None) -> Campaign:
    """Add a campaign (admins and managers: ``marketing.manage``)."""
    with crm.unit() as ctx:
        errors: list[str] = []
        name = (name or "").strip()
        if not name:
            errors.append(_("campaign name must not be empty"))
        elif len(name) > NAME_MAX or "\x00" in name:
            errors.append(_("campaign name must be at most {n} characters without NUL, "
                            "got {length}").format(n=NAME_MAX, length=len(name)))
        if channel not in CHANNELS:
            errors.append(_("unknown channel '{channel}'; valid: {valid}")
                          .format(channel=_q(channel), valid=", ".join(CHANNELS)))
        start_d = _date(errors, "--start", start)
        end_d = _date(errors, "--end", end)
        if start_d and end_d and end_d < start_d:
            errors.append(_("--end {end} is before --start {start}")
                          .format(end=end_d, start=start_d))
        amount = None if budget is None else _money(errors, "budget", budget)
        if errors:
            raise ValidationError(errors)
        ctx.check(MANAGE, None, _("campaign '{name}'").format(name=_q(name)))
        other = by_name(ctx, name)
        if other is not None:
            raise ValidationError(_("a campaign named '{name}' already exists (campaign "
                                    "{id})").format(name=_q(name), id=other.id))
        t = ctx.crm.table("marketing_campaigns")
        new_id = _insert(ctx, t, tenant_id=ctx.tenant.id, name=name, channel=channel,
                         start_on=start_d, end_on=end_d, budget=amount, created_on=ctx.today,
                         created_by=ctx.user.name, created_at=ctx.now())
        campaign = load(ctx, new_id)
        ctx.audit("campaign", new_id, "insert", None, campaign)
        return campaign


def add_cost(crm: crmkit.Crm, campaign_id: Any, amount: Any, *, on: Any = None,
             note: str | None = None) -> Cost:
    """Record money spent on a campaign (admins and managers: ``marketing.manage``)."""
    with crm.unit() as ctx:
        campaign = load(ctx, campaign_id)
        errors: list[str] = []
        value = _money(errors, "cost", amount)
        spent_on = _date(errors, "--on", on) or ctx.today
        if note is not None and (len(note) > NOTE_MAX or "\x00" in note):
            errors.append(_("note must be at most {n} characters without NUL, got "
                            "{length}").format(n=NOTE_MAX, length=len(note)))
        if errors:
            raise ValidationError(errors)
        ctx.check(MANAGE, campaign, _("campaign {id}").format(id=campaign.id))
        t = ctx.crm.table("marketing_costs")
        new_id = _insert(ctx, t, tenant_id=ctx.tenant.id, campaign_id=campaign.id,
                         amount=value, spent_on=spent_on, note=note or None,
                         created_by=ctx.user.name, created_at=ctx.now())
        cost = Cost(id=new_id, tenant_id=ctx.tenant.id, campaign_id=campaign.id,
                    amount=value, spent_on=spent_on, note=note or None)  # type: ignore[arg-type]
        ctx.audit("campaign_cost", new_id, "insert", None, cost)
        return cost


def add_lead(crm: crmkit.Crm, campaign_id: Any, customer_id: Any, *, on: Any = None
             ) -> Lead:
    """Record that a customer came from (responded to) a campaign on ``on`` (default
    today). The same campaign, customer and day again returns the lead already there."""
    with crm.unit() as ctx:
        campaign = load(ctx, campaign_id)
        customer = visible_customer(ctx, customer_id)
        errors: list[str] = []
        day = _date(errors, "--on", on) or ctx.today
        if errors:
            raise ValidationError(errors)
        return record_lead(ctx, campaign, customer, day)


def record_lead(ctx: crmkit.Context, campaign: Campaign, customer: crmkit.Customer,
                day: dt.date) -> Lead:
    """``add_lead`` inside an open unit (the import hook uses it too)."""
    ctx.check(LEAD, customer, _("customer {id}").format(id=customer.id))
    if day < campaign.earliest:
        raise ValidationError(
            _("lead date {day} is before campaign {id} existed (from {first}); a lead "
              "is dated on or after the campaign's start or creation date")
            .format(day=day, id=campaign.id, first=campaign.earliest))
    t = ctx.crm.table("marketing_leads")
    row = ctx.conn.execute(select(t).where(
        t.c.tenant_id == ctx.tenant.id, t.c.campaign_id == campaign.id,
        t.c.customer_id == customer.id, t.c.lead_on == day)).first()
    if row is not None:
        return _lead(row)
    cid = int(customer.id)  # type: ignore[arg-type]  # a stored customer has an id
    new_id = _insert(ctx, t, tenant_id=ctx.tenant.id, campaign_id=campaign.id,
                     customer_id=cid, lead_on=day, created_by=ctx.user.name,
                     created_at=ctx.now())
    lead = Lead(id=new_id, tenant_id=ctx.tenant.id, campaign_id=campaign.id,
                customer_id=cid, lead_on=day)
    ctx.audit("campaign_lead", new_id, "insert", None, lead, customer_id=cid)
    ctx.emit("campaign.lead", {**_event(campaign, cid, customer.name, customer.email),
                               "lead_id": new_id, "lead_on": day}, customer_id=cid)
    return lead


def _lead(row: Any) -> Lead:
    return Lead(id=row.id, tenant_id=row.tenant_id, campaign_id=row.campaign_id,
                customer_id=row.customer_id, lead_on=row.lead_on)


def _event(campaign: Campaign, customer_id: int, name: str, email: str | None
           ) -> dict[str, Any]:
    return {"campaign_id": campaign.id, "campaign": campaign.name,
            "channel": campaign.channel, "customer_id": customer_id, "customer": name,
            "email": email}


def _insert(ctx: crmkit.Context, table: Any, **values: Any) -> int:
    """Insert one row; its new id."""
    key = ctx.conn.execute(table.insert().values(**values)).inserted_primary_key
    assert key is not None
    return int(key[0])


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def target(crm: crmkit.Crm, campaign_id: Any, *, segment: str | None = None,
           tier: str | None = None, status: str | None = None,
           tags: tuple[str, ...] | list[str] = (), customers: Any = (),
           on: Any = None) -> dict[str, Any]:
    """Add every visible customer matching all the filters to the campaign's audience
    as of ``on`` (default today); archived customers only with ``status="archived"``.
    Segment and tier (as of ``on``) need the grading plugin. Returns ``{"campaign_id",
    "target_on", "added", "already_targeted"}``."""
    with crm.unit() as ctx:
        campaign = load(ctx, campaign_id)
        errors: list[str] = []
        day = _date(errors, "--on", on) or ctx.today
        if status is not None and status not in STATUSES:
            errors.append(_("unknown status '{status}'; valid: {valid}")
                          .format(status=_q(status), valid=", ".join(STATUSES)))
        tags = [t.strip() for t in tags]
        if any(not t or "," in t for t in tags):
            errors.append(_("invalid --tag; a tag is a non-empty text without commas"))
        if errors:
            raise ValidationError(errors)
        needs = [opt for opt, v in (("--segment", segment), ("--tier", tier)) if v]
        if needs and not enabled(ctx, "grading"):
            raise ValidationError(
                _("{option} needs the grading plugin, which is not enabled for tenant "
                  "'{tenant}'; enable it with `crmkit plugins enable grading`")
                .format(option=needs[0], tenant=ctx.tenant.slug))
        ids = sorted({_id(i, "customer") for i in customers})
        ctx.check(TARGET, None, _("campaign {id}").format(id=campaign.id))
        c = ctx.crm.table("customers")
        conds = [ctx.crm.customers.visible(ctx)]
        conds.append(c.c.status == status if status else c.c.status != "archived")
        conds += [c.c.tags.like(f"%,{_escape(t)},%", escape="\\") for t in tags]
        if ids:
            found = set(ctx.conn.scalars(select(c.c.id).where(
                ctx.crm.customers.visible(ctx), c.c.id.in_(ids))))
            missing = [i for i in ids if i not in found]
            if missing:
                raise NotFound(_("customer {id} not found").format(id=missing[0]))
            conds.append(c.c.id.in_(ids))
        graded: set[int] | None = None
        if needs:
            import crmkit_grading

            graded = {g["customer_id"] for g in crmkit_grading.grades(
                ctx.crm, day, segment=segment, tier=tier)}
        tt = ctx.crm.table("marketing_targets")
        already = exists().where(tt.c.tenant_id == ctx.tenant.id,
                                 tt.c.campaign_id == campaign.id, tt.c.customer_id == c.c.id)
        rows = ctx.conn.execute(
            select(c.c.id, c.c.name, c.c.email, already.label("old"))
            .where(*conds).order_by(c.c.id)).all()
        if graded is not None:
            rows = [r for r in rows if r.id in graded]
        new = [r for r in rows if not r.old]
        _insert_targets(ctx, campaign, new, day)
        return {"campaign_id": campaign.id, "target_on": day, "added": len(new),
                "already_targeted": len(rows) - len(new)}


def _insert_targets(ctx: crmkit.Context, campaign: Campaign, rows: list[Any],
                    day: dt.date) -> None:
    """Insert the targets in batches, each with its audit row and outbox event."""
    tt = ctx.crm.table("marketing_targets")
    now = ctx.now()
    for i in range(0, len(rows), CHUNK):
        chunk = rows[i:i + CHUNK]
        ctx.conn.execute(tt.insert(), [
            {"tenant_id": ctx.tenant.id, "campaign_id": campaign.id, "customer_id": r.id,
             "target_on": day, "created_by": ctx.user.name, "created_at": now}
            for r in chunk])
        ids = dict(ctx.conn.execute(select(tt.c.customer_id, tt.c.id).where(
            tt.c.tenant_id == ctx.tenant.id, tt.c.campaign_id == campaign.id,
            tt.c.customer_id.in_([r.id for r in chunk]))).all())
        ctx.audit_many([
            ("campaign_target", ids[r.id], "insert", None,
             {"id": ids[r.id], "campaign_id": campaign.id, "customer_id": r.id,
              "target_on": day}, r.id) for r in chunk])
        ctx.emit_many([
            ("campaign.target", {**_event(campaign, r.id, r.name, r.email),
                                 "target_id": ids[r.id], "target_on": day}, r.id)
            for r in chunk])


# --- reads -----------------------------------------------------------------------------


def list_campaigns(crm: crmkit.Crm, *, limit: int | None = None, offset: int = 0
                   ) -> tuple[list[dict[str, Any]], int]:
    """Campaigns by id (a page of them) and how many there are in all."""
    with crm.unit(write=False) as ctx:
        ctx.check(VIEW, None, _("campaigns"))
        t = ctx.crm.table("marketing_campaigns")
        total = ctx.conn.execute(select(func.count()).select_from(t).where(
            t.c.tenant_id == ctx.tenant.id)).scalar_one()
        q = select(t).where(t.c.tenant_id == ctx.tenant.id).order_by(t.c.id)
        if offset:
            q = q.offset(offset)
        if limit is not None:
            q = q.limit(limit)
        rows = [campaign_dict(ctx, Campaign.from_row(r)) for r in ctx.conn.execute(q)]
        return rows, int(total)


def show(crm: crmkit.Crm, campaign_id: Any) -> dict[str, Any]:
    """A campaign with its costs (null for users who may not see costs) and how many
    leads and targets it has among the customers this user may see."""
    with crm.unit(write=False) as ctx:
        campaign = load(ctx, campaign_id)
        ctx.check(VIEW, None, _("campaign {id}").format(id=campaign.id))
        out = campaign_dict(ctx, campaign)
        out["costs"] = out["cost"] = None
        if can_see_costs(ctx):
            k = ctx.crm.table("marketing_costs")
            costs = [Cost(id=r.id, tenant_id=r.tenant_id, campaign_id=r.campaign_id,
                          amount=r.amount, spent_on=r.spent_on, note=r.note)
                     for r in ctx.conn.execute(select(k).where(
                         k.c.tenant_id == ctx.tenant.id, k.c.campaign_id == campaign.id)
                         .order_by(k.c.spent_on, k.c.id))]
            out["costs"] = to_dict(costs)
            out["cost"] = sum((x.amount for x in costs), Decimal("0.00"))
        seen = ctx.crm.customers.visible_ids(ctx)
        for key, name in (("leads", "marketing_leads"), ("targets", "marketing_targets")):
            t = ctx.crm.table(name)
            out[key] = int(ctx.conn.execute(
                select(func.count(func.distinct(t.c.customer_id))).where(
                    t.c.tenant_id == ctx.tenant.id, t.c.campaign_id == campaign.id,
                    t.c.customer_id.in_(seen))).scalar_one())
        return out


def section(ctx: crmkit.Context, customer: crmkit.Customer, on: dt.date) -> crmkit.Section:
    """The 360° panel: the customer's source campaign (its earliest lead up to ``on``,
    ties to the lowest campaign id) with the lead date, every lead, and the campaigns
    that targeted it."""
    cp = ctx.crm.table("marketing_campaigns")
    ld = ctx.crm.table("marketing_leads")
    tt = ctx.crm.table("marketing_targets")
    tid = ctx.tenant.id

    def rows(t: Any, col: Any) -> list[dict[str, Any]]:
        q = (select(cp.c.id, cp.c.name, cp.c.channel, col)
             .select_from(t.join(cp, and_(cp.c.tenant_id == tid, cp.c.id == t.c.campaign_id)))
             .where(t.c.tenant_id == tid, t.c.customer_id == customer.id, col <= on)
             .order_by(col, cp.c.id))
        return [{"campaign_id": r[0], "name": r[1], "channel": r[2], col.name: r[3]}
                for r in ctx.conn.execute(q)]

    leads = rows(ld, ld.c.lead_on)
    targeted = rows(tt, tt.c.target_on)
    data = {"source": dict(leads[0]) if leads else None, "leads": leads,
            "targeted_by": targeted}

    def table(items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
        return [{_("id"): r["campaign_id"], _("name"): r["name"],
                 _("channel"): r["channel"], _("date"): r[key]} for r in items]

    summary = [(_("Source campaign"), leads[0]["name"] if leads else "-"),
               (_("Leads"), table(leads, "lead_on")),
               (_("Targeted by"), table(targeted, "target_on"))]
    return crmkit.Section(plugin="marketing", title=_("Marketing"), data=data,
                          summary=summary)


# --- import ----------------------------------------------------------------------------

#: Headers of the customers file read as the campaign a customer came from.
CAMPAIGN_HEADERS = ("campaign", "campaignname", "marketingcampaign", "市场活动", "营销活动",
                    "推广活动", "来源活动", "活动名称")


def import_row(ctx: crmkit.Context, kind: str, record: Any,
               values: dict[str, str]) -> dict[str, str] | None:
    """A customers row's ``campaign`` cell: a lead for that campaign (by exact name) on
    the import date; an unknown name rejects the row."""
    name = values.get("campaign")
    if kind != "customers" or not name:
        return None
    campaign = by_name(ctx, name)
    if campaign is None:
        return {"campaign": _("unknown campaign '{name}'; add it first with `crmkit "
                              "campaign add`").format(name=_q(name))}
    try:
        record_lead(ctx, campaign, record, ctx.today)
    except crmkit.CrmError as exc:
        return {"campaign": str(exc)}
    return None
