"""The receivables Python API: the aging report, open invoices, customers at risk.

Each function opens a read-only unit on ``crm`` (or joins the open one) and returns
JSON-ready values with ``Decimal`` amounts::

    from crmkit_receivables import api
    report = api.aging(crm, as_of=date(2026, 11, 22), by="customer")
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, func, select, type_coerce

from crmkit import ValidationError, fmt_money, sql
from crmkit.i18n import Domain

from . import queries
from .settings import bucket_labels

_ = Domain("crmkit_receivables").gettext

BY = ("customer", "owner")
ZERO = Decimal("0.00")
#: integer cents times this are the amount (``Decimal(c).scaleb(-2)``, twice as fast)
CENT = Decimal("0.01")


def cents(value: Any) -> Decimal:
    """Integer cents from SQL (int, or Decimal from PostgreSQL/MariaDB sums) as money."""
    return ZERO if not value else int(value) * CENT


def _settings(ctx: Any) -> Any:
    return ctx.settings("receivables")


@functools.lru_cache(maxsize=32)
def _row_maker(keys: tuple[str, ...], nk: int, as_int: bool) -> Callable[[Any], dict]:
    """A function turning one row of the aging statement into the report's row: the
    first ``nk`` values as they are, each amount (integer cents; with ``as_int`` the
    Decimal sums PostgreSQL and MariaDB give) as money, zero as the shared ``ZERO``.
    Generated once per set of columns as straight-line code, as attrs and namedtuple
    generate theirs (the keys are ``repr``-quoted): 100,000 rows in 0.19 s against
    0.30 s for a ``dict(zip(...))`` and a list of amounts per row."""
    def amount(i: int) -> str:
        x = f"int(r[{i}])" if as_int else f"r[{i}]"
        return f"({x} * CENT if r[{i}] else ZERO)"

    body = ", ".join(f"{k!r}: r[{i}]" if i < nk else f"{k!r}: {amount(i)}"
                     for i, k in enumerate(keys))
    ns: dict[str, Any] = {"CENT": CENT, "ZERO": ZERO}
    exec(f"def make(r):\n    return {{{body}}}\n", ns)  # noqa: S102 - our own text
    return ns["make"]  # type: ignore[no-any-return]


def aging_report(ctx: Any, on: dt.date, by: str = "customer") -> dict[str, Any]:
    """The aging report as of ``on`` inside an open unit (see :func:`aging`).

    The rows come back in integer cents and stay integers (the totals are integer sums)
    until each row's dict is built (:func:`_row_maker`), when every amount becomes
    ``Decimal`` once (cents times ``CENT``: twice as fast as ``scaleb``); zero amounts
    share one ``Decimal("0.00")``."""
    ctx.crm.plugins.require(ctx, "receivables")
    if by not in BY:
        raise ValidationError(_("unknown --by value '{by}'; valid: {valid}").format(
                                  by=by, valid=', '.join(BY)))
    s = _settings(ctx)
    labels = bucket_labels(tuple(s.aging_ranges))
    head = ["owner"] if by == "owner" else ["customer_id", "customer", "owner"]
    nk = len(head)
    cols = ["total", *labels, "credit"]
    keys = [*head, *cols]  # the statement's columns, in this order
    as_int = ctx.conn.dialect.name != "sqlite"  # PostgreSQL/MariaDB sums are Decimal
    make = _row_maker(tuple(keys), nk, as_int)
    sums = [0] * len(cols)
    rows: list[dict[str, Any]] = []
    for part in ctx.conn.execute(queries.aging_rows(ctx, on, s, by)).partitions(2000):
        # the report's totals: integer column sums, a partition at a time
        amounts = list(zip(*part, strict=True))[nk:]
        sums = [a + sum(map(int, c) if as_int else c)
                for a, c in zip(sums, amounts, strict=True)]
        rows += map(make, part)
    totals = dict(zip(cols, map(cents, sums), strict=True))
    return {"as_of": on.isoformat(), "basis": s.aging_basis, "buckets": labels,
            "rows": rows, "totals": totals}


def aging(crm: Any, as_of: dt.date | None = None, by: str = "customer") -> dict[str, Any]:
    """The aging report: ``{"as_of", "basis", "buckets", "rows", "totals"}``.

    Rows (customers, or owners with ``by="owner"``) whose total is not zero, largest
    total first; each has ``total``, one amount per bucket and ``credit`` (zero or
    negative), with ``total`` = buckets + credit."""
    with crm.unit(write=False) as ctx:
        return aging_report(ctx, as_of or ctx.today, by)


def _open_rows(ctx: Any, on: dt.date, customer_id: int | None, *, limit: int | None = None,
               offset: int = 0) -> Iterator[dict[str, Any]]:
    ctx.crm.plugins.require(ctx, "receivables")
    if customer_id is not None:
        ctx.crm.customers.require(ctx, customer_id, "view")
    s = _settings(ctx)
    labels = bucket_labels(tuple(s.aging_ranges))
    q = sql.page(queries.open_invoices(ctx, on, s, customer_id=customer_id), limit, offset)
    for r in sql.stream(ctx.conn, q):
        yield {"number": r.number, "installment": int(r.no), "installments": int(r.n),
               "customer_id": r.customer_id, "customer": r.customer,
               "amount": r.amount, "outstanding": r.outstanding, "due_on": _date(r.due),
               "days_overdue": max(int(r.days_due), 0), "bucket": labels[int(r.bucket)]}


def open_items_in(ctx: Any, on: dt.date, customer_id: int | None = None) -> list[dict]:
    """Open invoices as of ``on`` inside an open unit (see :func:`open_items`)."""
    return list(_open_rows(ctx, on, customer_id))


def open_items(crm: Any, as_of: dt.date | None = None,
               customer_id: int | None = None) -> list[dict[str, Any]]:
    """Installments of invoices with an outstanding amount as of ``as_of``, oldest due
    date first (an invoice without terms is one installment: ``installment`` 1 of
    ``installments`` 1). Amounts are base amounts."""
    with crm.unit(write=False) as ctx:
        return open_items_in(ctx, as_of or ctx.today, customer_id)


def stream_open_items(crm: Any, as_of: dt.date | None = None,
                      customer_id: int | None = None, *, limit: int | None = None,
                      offset: int = 0) -> Iterator[dict[str, Any]]:
    """:func:`open_items` as a generator (``limit``/``offset`` in SQL), read as it is
    consumed."""
    with crm.unit(write=False) as ctx:
        yield from _open_rows(ctx, as_of or ctx.today, customer_id, limit=limit,
                              offset=offset)


def count_open_items(crm: Any, as_of: dt.date | None = None,
                     customer_id: int | None = None) -> int:
    """How many rows :func:`open_items` gives."""
    with crm.unit(write=False) as ctx:
        if customer_id is not None:
            ctx.crm.customers.require(ctx, customer_id, "view")
        ctx.crm.plugins.require(ctx, "receivables")
        return sql.count(ctx.conn, queries.open_invoices(ctx, as_of or ctx.today,
                                                         _settings(ctx),
                                                         customer_id=customer_id))


def customers_at_risk(ctx: Any, on: dt.date) -> list[int]:
    """Ids of visible customers with an invoice more than 90 days overdue as of ``on``."""
    ctx.crm.plugins.require(ctx, "receivables")
    return [int(i) for i in ctx.conn.scalars(queries.at_risk(ctx, on))]


def customer_summary(ctx: Any, customer_id: int, on: dt.date) -> dict[str, Any]:
    """The 360° section's data for one customer (amounts as two-decimal strings)."""
    ctx.crm.plugins.require(ctx, "receivables")
    s = _settings(ctx)
    labels = bucket_labels(tuple(s.aging_ranges))
    one = queries.customer_totals(ctx, on, s, customer_id=customer_id).subquery("rcv_one")
    # the raw integer cents, as the aging report reads them (not the Money type a sum
    # of money columns carries, which would be read back as Decimal units)
    row = ctx.conn.execute(select(*[type_coerce(one.c[k], BigInteger).label(k)
                                    for k in one.c.keys()])).first()
    m = row._mapping if row is not None else {}
    owed = [int(m.get(f"b{i}") or 0) for i in range(len(labels))]
    late = ctx.conn.execute(queries.overdue_summary(ctx, on, customer_id)).first()
    return {
        "outstanding": fmt_money(cents(sum(owed))),
        "overdue": fmt_money(late.overdue or ZERO),
        "oldest_overdue_days": None if late.oldest is None else int(late.oldest),
        "credit": fmt_money(cents(m.get("credit"))),
        "buckets": {lab: fmt_money(cents(c)) for lab, c in zip(labels, owed, strict=True)},
    }


def today_part(ctx: Any, on: dt.date) -> dict[str, Any]:
    """``crmkit today``'s receivables part, for the customers the user may see:
    ``outstanding`` (every bucket), ``overdue`` (every bucket but ``not_due``) and the
    five customers that owe the most overdue (``top_overdue``). One aggregation over
    the aging's per-customer rows."""
    s = _settings(ctx)
    n = len(s.aging_ranges) + 2
    per = queries.customer_totals(ctx, on, s).subquery("rcv_today")
    raw = [type_coerce(per.c[f"b{i}"], BigInteger) for i in range(n)]
    overdue = sum(raw[1:], type_coerce(0, BigInteger))
    outstanding = raw[0] + overdue
    sums = ctx.conn.execute(select(func.sum(outstanding), func.sum(overdue))).one()
    c = ctx.crm.table("customers")
    top = ctx.conn.execute(
        select(per.c.customer_id, c.c.name, overdue.label("overdue"))
        .select_from(ctx.crm.customers.join(ctx, per, per.c.customer_id))
        .where(overdue > 0).order_by(overdue.desc(), per.c.customer_id).limit(5)).all()
    return {"outstanding": fmt_money(cents(sums[0])),
            "overdue": fmt_money(cents(sums[1])),
            "top_overdue": [{"customer_id": r.customer_id, "customer": r.name,
                             "overdue": fmt_money(cents(r.overdue))}
                            for r in top]}


def _date(v: Any) -> dt.date:
    return v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)[:10])
