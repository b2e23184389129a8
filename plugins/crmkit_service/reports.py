"""``case stats``, the reminders and the 360° section: SQL aggregation.

Stats are one grouped statement (counts and sums with ``CASE``) plus one window
statement for the medians (:func:`crmkit.sql.median`, portable across SQLite,
PostgreSQL and MariaDB). Only the per-owner rows reach Python.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, case, exists, func, null, or_, select

import crmkit
from crmkit import ValidationError
from crmkit.i18n import Domain
from crmkit.sql import median

from . import zones
from .cases import REPORT, VIEW, Case, case_select, q

_ = Domain("crmkit_service").gettext

STATS_FIELDS = ("owner", "opened", "resolved", "open", "median_resolution_hours",
                "response_met", "resolution_met", "avg_rating")


def _round(value: Decimal, places: str) -> float:
    return float(value.quantize(Decimal(places), rounding=ROUND_HALF_UP))


def _share(num: Any, den: Any) -> float | None:
    return None if not den else _round(Decimal(int(num)) / Decimal(int(den)), "0.0001")


def _scope(ctx: crmkit.Context, col: Any) -> list[Any]:
    """``col`` limited to the customers this user may see (nothing for unscoped users,
    so an admin's statement stays a plain scan)."""
    return [col.in_(ctx.crm.customers.visible_ids(ctx))] if ctx.crm.customers.scoped(ctx) \
        else []


def conditions(c: Any, end: dt.datetime) -> dict[str, Any]:
    """As of ``end`` (the instant the day D ends): what counts as resolved, closed,
    responded, and which deadlines are counted and met."""
    resolved = and_(c.c.resolved_at.is_not(None), c.c.resolved_at < end)
    closed = and_(c.c.closed_at.is_not(None), c.c.closed_at < end)
    responded = and_(c.c.first_response_at.is_not(None), c.c.first_response_at < end)
    return {
        "resolved": resolved, "closed": closed, "responded": responded,
        "open": and_(c.c.opened_at < end, ~resolved, ~closed),
        "response_counted": or_(c.c.response_due < end, responded),
        "response_met": and_(responded, c.c.first_response_at <= c.c.response_due),
        "resolution_counted": or_(c.c.resolution_due < end, resolved),
        "resolution_met": and_(resolved, c.c.resolved_at <= c.c.resolution_due),
        "rated": and_(closed, c.c.rating.is_not(None)),
    }


def stats(crm: crmkit.Crm, frm: dt.date | None = None, to: dt.date | None = None
          ) -> list[dict[str, Any]]:
    """Per owner of the cases opened from ``frm`` to ``to`` (the tenant's days,
    inclusive; default the month of ``to`` up to today), as of the end of ``to``: see
    docs/plugins/service.md. Owners by name, a case without owner last."""
    with crm.unit(write=False) as ctx:
        ctx.crm.plugins.require(ctx, "service")
        ctx.check(REPORT, None, _("case stats"))
        to = to or ctx.today
        frm = frm or to.replace(day=1)
        if frm > to:
            raise ValidationError(_("--from {frm} is after --to {to}").format(frm=frm, to=to))
        return figures(ctx, frm, to)


def figures(ctx: crmkit.Context, frm: dt.date, to: dt.date, *, by_owner: bool = True
            ) -> list[dict[str, Any]]:
    """The stats rows inside an open unit: per owner, or (``by_owner=False``) one row
    for all the cases with ``owner`` None (none when no case was opened)."""
    start, end = zones.day_start(ctx, frm), zones.day_end(ctx, to)
    c = ctx.crm.table("service_cases")
    where = [c.c.tenant_id == ctx.tenant.id, c.c.opened_at >= start, c.c.opened_at < end,
             *_scope(ctx, c.c.customer_id)]
    k = conditions(c, end)

    def n(cond: Any) -> Any:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    owner = c.c.owner if by_owner else null()
    agg = (select(owner.label("owner"), func.count().label("opened"),
                  n(k["resolved"]).label("resolved"), n(k["open"]).label("open"),
                  n(k["response_counted"]).label("resp_n"),
                  n(k["response_met"]).label("resp_met"),
                  n(k["resolution_counted"]).label("res_n"),
                  n(k["resolution_met"]).label("res_met"),
                  n(k["rated"]).label("rated"),
                  func.coalesce(func.sum(case((k["rated"], c.c.rating), else_=0)), 0)
                  .label("rating_sum"))
           .where(*where))
    if by_owner:
        agg = agg.group_by(c.c.owner)
    rows = {r.owner: r for r in ctx.conn.execute(agg) if r.opened}
    medians = median_seconds(ctx, c, [*where, k["resolved"]], by_owner=by_owner)
    out = []
    for key in sorted(rows, key=lambda o: (o is None, o or "")):
        r = rows[key]
        med = medians.get(key)
        out.append({
            "owner": key, "opened": int(r.opened), "resolved": int(r.resolved),
            "open": int(r.open),
            "median_resolution_hours": None if med is None else _round(med / 3600, "0.1"),
            "response_met": _share(r.resp_met, r.resp_n),
            "resolution_met": _share(r.res_met, r.res_n),
            "avg_rating": None if not r.rated
            else _round(Decimal(int(r.rating_sum)) / int(r.rated), "0.01"),
        })
    return out


def median_seconds(ctx: crmkit.Context, c: Any, where: list[Any], *, by_owner: bool = True
                   ) -> dict[Any, Decimal]:
    """Per owner (or for all, under the key None), the median ``resolution_seconds`` of
    the cases matching ``where`` (an even count: the mean of the two middle values),
    computed by the database with :func:`crmkit.sql.median`."""
    return median(ctx.conn, c.c.resolution_seconds, where,
                  group=c.c.owner if by_owner else None, tie=c.c.id)


def report_section(ctx: crmkit.Context, on: dt.date) -> Any:
    """``crmkit report``'s case SLA section: the 30 days ending on ``on``, in the user's
    scope; None when ``service.report`` is denied."""
    if not ctx.allowed(REPORT, None):
        return None
    from crmkit.report import Chart, ReportSection, ReportTable

    frm = on - dt.timedelta(days=29)
    rows = figures(ctx, frm, on)
    total = figures(ctx, frm, on, by_owner=False)
    t: dict[str, Any] = total[0] if total else {
        "opened": 0, "open": 0, "response_met": None, "resolution_met": None,
        "median_resolution_hours": None}

    def pct(v: float | None) -> str:
        return "" if v is None else f"{v:.1%}"

    names = [r["owner"] or _("(nobody)") for r in rows]
    return ReportSection(
        plugin="service", title=_("Service: case SLA"),
        note=_("Cases opened from {frm} to {to}").format(frm=frm, to=on),
        figures=[(_("opened"), t["opened"]), (_("open"), t["open"]),
                 (_("response met"), pct(t["response_met"])),
                 (_("resolution met"), pct(t["resolution_met"])),
                 (_("median resolution hours"),
                  "" if t["median_resolution_hours"] is None
                  else t["median_resolution_hours"])],
        charts=[Chart(_("SLA met by owner"), names,
                      [(_("response met"), [(r["response_met"] or 0) * 100 for r in rows]),
                       (_("resolution met"),
                        [(r["resolution_met"] or 0) * 100 for r in rows])],
                      kind="hbar", unit="%")] if rows else [],
        tables=[ReportTable(_("Cases by owner"),
                            [_("owner"), _("opened"), _("resolved"), _("open"),
                             _("median h"), _("response met"), _("resolution met"),
                             _("rating")],
                            [(n_, r["opened"], r["resolved"], r["open"],
                              "" if r["median_resolution_hours"] is None
                              else r["median_resolution_hours"],
                              pct(r["response_met"]), pct(r["resolution_met"]),
                              "" if r["avg_rating"] is None else r["avg_rating"])
                             for n_, r in zip(names, rows, strict=True)])])


# --- reminders -------------------------------------------------------------------------


def reminders(ctx: crmkit.Context, on: dt.date) -> list[crmkit.Reminder]:
    """``case_response_overdue``, ``case_resolution_overdue`` and ``contract_expiring``
    for date ``on`` (see docs/plugins/service.md)."""
    c = ctx.crm.table("service_cases")
    end = zones.day_end(ctx, on)
    k = conditions(c, end)
    out: list[crmkit.Reminder] = []
    due = or_(and_(~k["responded"], c.c.response_due < end), c.c.resolution_due < end)
    stmt = (case_select(ctx).where(c.c.opened_at < end, ~k["resolved"], ~k["closed"], due)
            .order_by(c.c.id))
    for row in ctx.conn.execute(stmt):
        case_ = Case.from_row(row)
        if case_.first_response_at is None or case_.first_response_at >= end:
            if case_.response_due < end:
                out.append(_case_reminder(ctx, case_, "case_response_overdue",
                                          case_.response_due, on))
        if case_.resolution_due < end:
            out.append(_case_reminder(ctx, case_, "case_resolution_overdue",
                                      case_.resolution_due, on))
    return out + contract_reminders(ctx, on)


def _case_reminder(ctx: crmkit.Context, case_: Case, kind: str, deadline: dt.datetime,
                   on: dt.date) -> crmkit.Reminder:
    day = zones.local_date(ctx, deadline)
    local = deadline.astimezone(zones.tenant_zone(ctx)).strftime("%Y-%m-%d %H:%M")
    if kind == "case_response_overdue":
        subject = _("Case #{id} '{subject}' of {customer} has no response; it was due "
                    "{due}").format(id=case_.id, subject=q(case_.subject),
                                    customer=case_.customer, due=local)
    else:
        subject = _("Case #{id} '{subject}' of {customer} is not resolved; it was due "
                    "{due}").format(id=case_.id, subject=q(case_.subject),
                                    customer=case_.customer, due=local)
    return crmkit.Reminder(key=f"service:{kind}:{case_.id}", plugin="service", kind=kind,
                           subject=subject, customer_id=case_.customer_id,
                           customer=case_.customer, owner=case_.owner, due_on=day,
                           days_overdue=(on - day).days)


def contract_reminders(ctx: crmkit.Context, on: dt.date) -> list[crmkit.Reminder]:
    """``contract_expiring`` on every day from ``due_on - renewal_days`` to ``due_on``
    unless the customer has a later-issued contract (not void, issued after this one
    and on or before ``on``). Key per contract: delivered once."""
    days = ctx.settings("service").renewal_days
    d = ctx.crm.table("documents")
    later = d.alias("later")
    cu = ctx.crm.table("customers")
    tid = ctx.tenant.id
    renewed = exists().where(later.c.tenant_id == tid, later.c.customer_id == d.c.customer_id,
                             later.c.kind == "contract", later.c.status != "void",
                             later.c.issued_on > d.c.issued_on, later.c.issued_on <= on)
    stmt = (select(d.c.id, d.c.number, d.c.customer_id, d.c.amount, d.c.due_on,
                   cu.c.name, cu.c.owner)
            .select_from(d.join(cu, cu.c.id == d.c.customer_id))
            .where(d.c.tenant_id == tid, ctx.crm.customers.visible(ctx),
                   d.c.kind == "contract", d.c.status != "void", d.c.due_on >= on,
                   d.c.due_on <= on + dt.timedelta(days=days), d.c.issued_on <= on,
                   ~renewed)
            .order_by(d.c.due_on, d.c.id))
    return [crmkit.Reminder(
        key=f"service:contract_expiring:{r.id}", plugin="service", kind="contract_expiring",
        subject=_("Contract {number} of {customer} ends on {end} ({n} days left); offer "
                  "the renewal").format(number=r.number, customer=r.name, end=r.due_on,
                                        n=(r.due_on - on).days),
        customer_id=r.customer_id, customer=r.name, owner=r.owner, due_on=r.due_on,
        amount=r.amount, document=r.number) for r in ctx.conn.execute(stmt)]


# --- the 360° section ------------------------------------------------------------------


def section(ctx: crmkit.Context, customer: crmkit.Customer, on: dt.date) -> crmkit.Section:
    """``{"open", "cases", "products"}`` as of ``on``: how many of the customer's cases
    are open, the last 10 (newest first) with their solutions, and the products on the
    customer's order and invoice lines (not void) with first and last purchase dates."""
    if not ctx.allowed(VIEW, customer):
        return crmkit.Section(plugin="service", title=_("Service"),
                              data={"open": 0, "cases": [], "products": []})
    c = ctx.crm.table("service_cases")
    end = zones.day_end(ctx, on)
    k = conditions(c, end)
    mine = [c.c.tenant_id == ctx.tenant.id, c.c.customer_id == customer.id]
    n_open = ctx.conn.execute(select(func.count()).select_from(c)
                              .where(*mine, k["open"])).scalar_one()
    last = [Case.from_row(r).as_json() for r in ctx.conn.execute(
        case_select(ctx).where(*mine, c.c.opened_at < end)
        .order_by(c.c.opened_at.desc(), c.c.id.desc()).limit(10))]
    products = bought(ctx, int(customer.id), on)  # type: ignore[arg-type]  # stored: has an id
    summary = [
        (_("Open cases"), int(n_open)),
        (_("Last cases"), [{_("id"): x["id"], _("opened"): dt.datetime.fromisoformat(
            x["opened_at"]).astimezone(zones.tenant_zone(ctx)).strftime("%Y-%m-%d %H:%M"),
                            _("status"): x["status"], _("priority"): x["priority"],
                            _("subject"): x["subject"], _("solution"): x["solution"]}
                           for x in last]),
        (_("Products bought"), [{_("product"): p["product"], _("first"): p["first_bought"],
                                 _("last"): p["last_bought"], _("quantity"): p["quantity"]}
                                for p in products]),
    ]
    return crmkit.Section(plugin="service", title=_("Service"),
                          data={"open": int(n_open), "cases": last, "products": products},
                          summary=summary)


def bought(ctx: crmkit.Context, customer_id: int, on: dt.date) -> list[dict[str, Any]]:
    """Per product on the customer's order and invoice lines (not void) issued on or
    before ``on``: first and last purchase date and the quantity (orders and invoices
    added, as ``sales products`` does). By first purchase, then product."""
    from sqlalchemy import BigInteger, type_coerce

    ln = ctx.crm.table("document_lines")
    d = ctx.crm.table("documents")
    stmt = (select(ln.c.product, func.min(d.c.issued_on).label("first"),
                   func.max(d.c.issued_on).label("last"),
                   func.sum(type_coerce(ln.c.quantity, BigInteger)).label("qty"))
            .select_from(ln.join(d, d.c.id == ln.c.document_id))
            .where(ln.c.tenant_id == ctx.tenant.id, d.c.tenant_id == ctx.tenant.id,
                   d.c.customer_id == customer_id, d.c.kind.in_(("order", "invoice")),
                   d.c.status != "void", d.c.issued_on <= on)
            .group_by(ln.c.product))
    out = []
    for r in ctx.conn.execute(stmt):
        qty = Decimal(int(r.qty)) / 1000
        out.append({"product": r.product, "first_bought": r.first, "last_bought": r.last,
                    "quantity": str(qty.quantize(Decimal(1)) if qty == qty.to_integral_value()
                                    else qty.normalize())})
    return sorted(out, key=lambda p: (p["first_bought"], p["product"]))


