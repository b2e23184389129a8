"""The records crmkit stores and passes to hooks: immutable attrs classes.

Build them from database rows with the named constructors (``Customer.from_row``);
turn them into JSON-ready dicts with :func:`crmkit.to_dict`.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from attrs import field, frozen

from .money import Rate

UTC = dt.UTC

CUSTOMER_KINDS = ("company", "person")
CUSTOMER_STATUSES = ("prospect", "active", "lost", "archived")
ROLES = ("admin", "manager", "sales")
ACTIVITY_KINDS = ("call", "visit", "email", "meeting", "note", "task")
DOCUMENT_KINDS = ("quote", "contract", "order", "invoice", "payment", "credit_note", "expense")
#: Document kinds that are a sale to the customer ("value documents": what makes a
#: prospect active, what a purchase is in reports).
VALUE_KINDS = ("contract", "order", "invoice")
DOCUMENT_STATUSES = ("draft", "open", "sent", "accepted", "rejected", "paid", "closed", "void")


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _tags(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        return tuple(t for t in value.split(",") if t)
    return tuple(value)


def _lines(value: Any) -> tuple[Line, ...]:
    return tuple(value)


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if value else {}


def _pairs(value: Any) -> tuple[tuple[str, Any], ...] | None:
    return None if value is None else tuple((str(k), v) for k, v in value)


@frozen
class Tenant:
    id: int
    slug: str
    name: str
    currency: str = "CNY"
    timezone: str = "UTC"  # an IANA zone name (since 0.2)
    locale: str = "en"  # en or zh_CN (since 0.2)

    @classmethod
    def from_row(cls, row: Any) -> Tenant:
        return cls(id=row.id, slug=row.slug, name=row.name, currency=row.currency,
                   timezone=row.timezone, locale=row.locale)


@frozen
class User:
    id: int
    tenant_id: int
    name: str
    role: str = "sales"
    email: str | None = None
    active: bool = True  # a disabled user cannot act (since 0.2)

    @classmethod
    def from_row(cls, row: Any) -> User:
        return cls(id=row.id, tenant_id=row.tenant_id, name=row.name, role=row.role,
                   email=row.email, active=bool(row.active))


@frozen
class Customer:
    id: int | None
    tenant_id: int
    name: str
    kind: str = "company"
    status: str = "prospect"
    owner: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    tags: tuple[str, ...] = field(default=(), converter=_tags)
    external_id: str | None = None
    extra: dict[str, Any] = field(factory=dict, converter=_dict, hash=False)
    created_at: dt.datetime | None = field(default=None, converter=_aware)
    updated_at: dt.datetime | None = field(default=None, converter=_aware)

    @classmethod
    def from_row(cls, row: Any) -> Customer:
        return cls(
            id=row.id, tenant_id=row.tenant_id, name=row.name, kind=row.kind,
            status=row.status, owner=row.owner, email=row.email, phone=row.phone,
            address=row.address, tags=row.tags, external_id=row.external_id,
            extra=row.extra, created_at=row.created_at, updated_at=row.updated_at,
        )


@frozen
class Contact:
    id: int | None
    customer_id: int
    name: str
    title: str | None = None
    email: str | None = None
    phone: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> Contact:
        return cls(id=row.id, customer_id=row.customer_id, name=row.name, title=row.title,
                   email=row.email, phone=row.phone)


@frozen
class Activity:
    id: int | None
    tenant_id: int
    customer_id: int
    kind: str
    subject: str
    body: str | None = None
    owner: str | None = None
    occurred_at: dt.datetime | None = field(default=None, converter=_aware)
    due_on: dt.date | None = None
    done_at: dt.datetime | None = field(default=None, converter=_aware)
    extra: dict[str, Any] = field(factory=dict, converter=_dict, hash=False)

    @classmethod
    def from_row(cls, row: Any) -> Activity:
        return cls(
            id=row.id, tenant_id=row.tenant_id, customer_id=row.customer_id, kind=row.kind,
            subject=row.subject, body=row.body, owner=row.owner, occurred_at=row.occurred_at,
            due_on=row.due_on, done_at=row.done_at, extra=row.extra,
        )


@frozen
class Line:
    """One line of a document: ``quantity`` of ``product`` at ``unit_price``; its total is
    rounded half up to the cent. ``unit_cost`` (optional, in the document's currency) is
    what one unit cost the business: the insights plugin's profit reads it."""

    product: str
    quantity: Decimal
    unit_price: Decimal
    unit_cost: Decimal | None = None

    @property
    def total(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(Decimal("0.01"), ROUND_HALF_UP)


@frozen
class Term:
    """One installment of an invoice's payment terms: ``amount`` (in the document's
    currency) due on ``due_on``; ``no`` counts from 1 in due order."""

    no: int
    due_on: dt.date
    amount: Decimal


def _terms(value: Any) -> tuple[Term, ...]:
    return tuple(value or ())


def _rate(value: Any) -> Rate:
    return value if isinstance(value, Rate) else Rate(value)


@frozen
class Document:
    id: int | None
    tenant_id: int
    customer_id: int
    kind: str
    number: str
    status: str = "open"
    amount: Decimal = Decimal("0.00")
    currency: str = "CNY"
    issued_on: dt.date | None = None
    due_on: dt.date | None = None
    applies_to: str | None = None
    lines: tuple[Line, ...] = field(default=(), converter=_lines)
    attachment: str | None = None
    extra: dict[str, Any] = field(factory=dict, converter=_dict, hash=False)
    #: base-currency units for one unit of ``currency`` (1 in the base currency)
    rate: Rate = field(default=Rate(1), converter=_rate)
    #: ``amount`` x ``rate``, rounded half up to the cent: what every report adds
    base_amount: Decimal | None = None
    terms: tuple[Term, ...] = field(default=(), converter=_terms)

    @classmethod
    def from_row(cls, row: Any, lines: tuple[Line, ...] = (),
                 terms: tuple[Term, ...] = ()) -> Document:
        return cls(
            id=row.id, tenant_id=row.tenant_id, customer_id=row.customer_id, kind=row.kind,
            number=row.number, status=row.status, amount=row.amount, currency=row.currency,
            issued_on=row.issued_on, due_on=row.due_on, applies_to=row.applies_to,
            lines=lines, attachment=row.attachment, extra=row.extra, rate=row.rate,
            base_amount=row.base_amount, terms=terms,
        )


@frozen
class Reminder:
    """Something that needs someone's attention on a given day.

    ``key`` is stable: the same situation gives the same key, so delivery is idempotent.
    """

    key: str
    plugin: str
    kind: str
    subject: str
    customer_id: int | None = None
    customer: str | None = None
    owner: str | None = None
    due_on: dt.date | None = None
    amount: Decimal | None = None
    level: int | None = None
    document: str | None = None
    days_overdue: int | None = None


@frozen
class Section:
    """One panel of a customer's 360° view, returned by ``crm_customer_sections``.

    ``data`` is JSON-ready (amounts as two-decimal strings); ``title`` is for humans.
    ``summary`` (optional, since 0.2) is what ``customer show`` prints instead of
    ``data``: ``(label, value)`` pairs, labels translated; a value is a scalar, a dict
    (a one-row table) or a list of dicts (a table). Without it, ``data`` is printed
    with its keys as labels.
    """

    plugin: str
    title: str
    data: Any
    summary: tuple[tuple[str, Any], ...] | None = field(default=None, converter=_pairs,
                                                        eq=False)


@frozen
class Change:
    """One row of the change feed (the audit log)."""

    cursor: int
    at: dt.datetime
    user: str | None
    table: str
    id: int | None
    op: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
