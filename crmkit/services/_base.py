"""Helpers shared by the services: field checks that give one clear sentence each."""

from __future__ import annotations

import builtins
import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import select

from .. import sql
from ..checks import ID_MAX, date_in_range, has_surrogate, quote
from ..checks import extra as check_extra
from ..errors import NotFound, ValidationError
from ..i18n import _
from ..money import parse_money

if TYPE_CHECKING:
    from ..app import Crm
    from ..context import Context

R = TypeVar("R")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+\Z")  # \Z: "$" allows a final "\n"
UTC = dt.UTC


class Service:
    def __init__(self, crm: Crm):
        self.crm = crm

    def table(self, name: str) -> Any:
        return self.crm.table(name)


class ListService(Service, Generic[R]):
    """A service whose records are listed page by page: ``_query(ctx, **filters)`` gives
    the SELECT (with its ORDER BY) of what this user may see, ``_record(ctx, row)`` the
    record of a row (None: hidden from this user)."""

    #: ``(ctx, **filters)`` -> the SELECT, with its ORDER BY; each service defines it
    _query: Callable[..., Any]

    def _record(self, ctx: Context, row: Any) -> R | None:
        raise NotImplementedError

    def list(self, *, limit: int | None = None, offset: int = 0,
             **filters: Any) -> builtins.list[R]:
        """The records this user may see, filtered (see the service's own doc), in the
        service's order; ``limit`` None gives them all, 0 none."""
        return list(self.stream(limit=limit, offset=offset, **filters))

    def stream(self, *, limit: int | None = None, offset: int = 0,
               **filters: Any) -> Iterator[R]:
        """:meth:`list` as a generator: rows are read from the database as they are
        consumed (a server-side cursor where the backend has one, see
        :func:`crmkit.sql.stream`)."""
        filters = _clean_filters(filters)
        with self.crm.unit(write=False) as ctx:
            q = sql.page(self._query(ctx, **filters), limit, offset)
            for row in sql.stream(ctx.conn, q):
                rec = self._record(ctx, row)
                if rec is not None:
                    yield rec

    def count(self, **filters: Any) -> int:
        """How many records :meth:`list` gives without a limit (counted in SQL)."""
        filters = _clean_filters(filters)
        with self.crm.unit(write=False) as ctx:
            return sql.count(ctx.conn, self._query(ctx, **filters))


def _clean_filters(filters: dict[str, Any]) -> dict[str, Any]:
    """A list filter's ``customer_id`` as a whole number, checked before the database
    sees it (a huge number, a dict, a surrogate are one ValidationError)."""
    if filters.get("customer_id") is not None:
        filters = dict(filters, customer_id=reference_id("customer", filters["customer_id"]))
    return filters


class FieldErrors(list):  # noqa: FURB189 - a list that also carries ``fields``
    """Error messages, with ``fields``: the record field each one is about (or None)."""

    def __init__(self, messages: Any = (), fields: Any = ()):
        super().__init__(messages)
        named = list(fields)[:len(self)]
        self.fields: list[str | None] = named + [None] * (len(self) - len(named))

    def add(self, messages: Any, field: str | None = None) -> None:
        for m in messages:
            self.append(m)
            self.fields.append(field)


class Checker:
    """Collects field errors; ``raise_if_any`` turns them into one ValidationError."""

    #: labels some checks use in messages, and the record field each one is
    _FIELD_OF_LABEL = {"issue date": "issued_on", "due date": "due_on", "time": "occurred_at",
                       "e-mail": "email"}

    def __init__(self, what: str):
        self.what = what
        self.errors: list[str] = []
        self._field_of: dict[int, str] = {}  # index in errors -> the field it is about

    def fail(self, field: str, message: str) -> None:
        """Record ``message`` as an error about record field ``field``."""
        self._field_of[len(self.errors)] = self._FIELD_OF_LABEL.get(field, field)
        self.errors.append(message)

    def text(self, field: str, value: Any, limit: int, *, required: bool = False) -> str | None:
        if (value.__class__ is str and value and len(value) <= limit and "\x00" not in value
                and (value.isascii() or not has_surrogate(value))
                and not (required and value.isspace())):
            return value  # the common case, a valid text: one pass of cheap tests
        if value is None or (isinstance(value, str) and value == "" and not required):
            if required:
                self.fail(field, _("{what} {field} is required").format(
                                     what=self.what, field=field))
            return None
        if not isinstance(value, str):
            self.fail(field, _("{what} {field} must be text, got {value}").format(
                what=self.what, field=field, value=quote(value)))
            return None
        if required and not value.strip():
            self.fail(field, _("{what} {field} must not be empty").format(
                                 what=self.what, field=field))
        if "\x00" in value:
            self.fail(field, _("{what} {field} contains a NUL character").format(
                                 what=self.what, field=field))
        if has_surrogate(value):
            self.fail(field, _("{what} {field} contains a lone surrogate (not valid "
                               "Unicode text)").format(what=self.what, field=field))
        if len(value) > limit:
            self.fail(field, _("{what} {field} is {n} characters long; the limit "
                               "is {limit}").format(
                                 what=self.what, field=field, n=len(value), limit=limit))
        return value

    def choice(self, field: str, value: Any, allowed: tuple[str, ...]) -> Any:
        if value not in allowed:
            self.fail(field, _("unknown {what} {field} '{value}'; valid: {valid}").format(
                what=self.what, field=field, value=quote(value), valid=", ".join(allowed)))
        return value

    def email(self, value: str | None) -> str | None:
        value = self.text("email", value, 200)
        if value and not EMAIL.match(value):
            self.fail("email", _("invalid e-mail address '{value}'").format(
                                   value=quote(value)))
        return value

    def money(self, field: str, value: Any, *, minimum: Any = 0) -> Any:
        try:
            d = parse_money(value, what=field)
        except ValidationError as exc:
            for m in exc.errors:
                self.fail(field, m)
            return None
        if minimum is not None and d < minimum:
            self.fail(field, _("{field} must not be negative, got {value}").format(
                                 field=field, value=value))
        return d

    def date(self, field: str, value: Any) -> dt.date | None:
        if value is None or isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        try:
            return date_in_range(dt.date.fromisoformat(str(value)), field)
        except ValidationError as exc:
            for m in exc.errors:
                self.fail(field, m)
        except ValueError:
            self.fail(field, _("invalid {field} '{value}'; expected YYYY-MM-DD").format(
                                 field=field, value=quote(value)))
        return None

    def extra(self, value: Any) -> dict[str, Any]:
        """``extra``: a JSON object of JSON values only (see :mod:`crmkit.checks`)."""
        try:
            return check_extra(value, f"{self.what} extra")
        except ValidationError as exc:
            for m in exc.errors:
                self.fail("extra", m)
            return {}

    def fields(self) -> list[str | None]:
        """The field of each error so far (None: not about one field)."""
        return [self._field_of.get(i) for i in range(len(self.errors))]

    def raise_if_any(self, extra: Any = None) -> None:
        errs = list(self.errors)
        for group in extra or ():
            if isinstance(group, str):
                errs.append(group)
            elif group:
                errs.extend(group)
        if errs:
            raise ValidationError(errs, [self._field_of.get(i) for i in range(len(errs))])


def parse_datetime(value: Any, field: str = "datetime",
                   zone: dt.tzinfo | None = None) -> dt.datetime:
    """ISO 8601; a value without offset is in ``zone`` (the tenant's; default UTC).
    Returns an aware instant in UTC."""
    if isinstance(value, dt.datetime):
        d = value
    elif isinstance(value, dt.date):
        d = dt.datetime.combine(value, dt.time(), zone or UTC)
    else:
        try:
            d = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise ValidationError(
                _("invalid {field} '{value}'; expected YYYY-MM-DDTHH:MM").format(
                    field=field, value=quote(value))) from None
    d = d if d.tzinfo else d.replace(tzinfo=zone or UTC)
    date_in_range(d, field)  # then the move to UTC stays in the calendar
    return d.astimezone(UTC)


def user_names(ctx: Context, *, active_only: bool = False) -> set[str]:
    """The names of the tenant's users (``active_only``: those not disabled)."""
    u = ctx.crm.table("users")
    q = select(u.c.name).where(u.c.tenant_id == ctx.tenant.id)
    if active_only:
        q = q.where(u.c.active.is_(True))
    return set(ctx.conn.scalars(q))


def check_owner(ctx: Context, checker: Checker, owner: str | None) -> None:
    if owner is None:
        return
    if not isinstance(owner, str) or has_surrogate(owner) or len(owner) > 200:
        checker.text("owner", owner, 200)  # says what is wrong; not a name to look up
        return
    u = ctx.crm.table("users")
    found = ctx.conn.execute(select(u.c.id, u.c.active).where(
        u.c.tenant_id == ctx.tenant.id, u.c.name == owner)).first()
    if found is None:
        checker.errors.append(_("unknown owner '{owner}'; add the user first "
                                "(`crmkit user add {owner}`)").format(owner=quote(owner)))
    elif not found.active:
        checker.errors.append(_("owner '{owner}' is a disabled user; choose another "
                                "owner").format(owner=quote(owner)))


def _whole_number(value: Any) -> int | None:
    """``value`` as an int when it is one (not a bool) or a string of ASCII digits, else
    None: the one id parser behind :func:`reference_id` and :func:`record_id`."""
    if isinstance(value, str):
        text = value.strip()
        return int(text) if text.isascii() and text.isdigit() else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def reference_id(what: str, value: Any) -> int:
    """An id given as a reference (``customer_id=...``): a whole number, else a
    ValidationError naming the value (never a TypeError from the database)."""
    number = _whole_number(value)
    if number is not None and 0 <= number <= ID_MAX:
        return number
    if not isinstance(value, int | str) or isinstance(value, bool):
        raise ValidationError(_("invalid {what} id {value}; expected a number").format(
            what=what, value=repr(value)[:80]))
    raise ValidationError(_("invalid {what} id '{value}'; expected a number").format(
        what=what, value=quote(str(value).strip())))


def customer_visible(ctx: Context, customer_id: int | None) -> bool:
    """Whether customer ``customer_id`` is in this tenant and this user may see it."""
    from ..records import Customer

    if customer_id is None:
        return False
    t = ctx.crm.table("customers")
    row = ctx.conn.execute(select(t).where(t.c.tenant_id == ctx.tenant.id,
                                           t.c.id == customer_id)).first()
    return row is not None and ctx.allowed("view", Customer.from_row(row))


def customer_label(ctx: Context, customer_id: int | None) -> str:
    """``customer 8`` when this user may see customer 8, else ``another customer``: for
    messages about a record that blocks a change (a duplicate, a foreign invoice), which
    must never name a record the caller may not see (issue 11.4)."""
    if customer_visible(ctx, customer_id):
        return _("customer {id}").format(id=customer_id)
    return _("another customer")


def record_id(value: Any, label: str) -> int:
    """A record id: a whole number (or its ASCII digits); one outside 1..2**63-1 is
    simply not found, the same on every backend."""
    number = _whole_number(value)
    if number is None:
        raise ValidationError(_("{label} id must be a whole number, got {value}").format(
            label=label, value=quote(value)))
    if not 1 <= number <= ID_MAX:
        raise NotFound(_("{label} {value} not found").format(
                           label=label, value=quote(number)))
    return number


def get_row(ctx: Context, table: str, id_: int, label: str) -> Any:
    id_ = record_id(id_, label)
    t = ctx.crm.table(table)
    row = ctx.conn.execute(select(t).where(t.c.tenant_id == ctx.tenant.id,
                                           t.c.id == id_)).first()
    if row is None:
        raise NotFound(_("{label} {id} not found").format(label=label, id=id_))
    return row


def inserted_id(result: Any) -> int:
    """The primary key an ``INSERT`` gave its row."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def flatten(results: Any) -> list[str]:
    out: list[str] = []
    for r in results or ():
        if isinstance(r, str):
            out.append(r)
        elif r:
            out.extend(r)
    return out


def audit_row(ctx: Context, table: str, row_id: int, after: Any,
              customer_id: int | None) -> dict[str, Any]:
    """An audit insert row for bulk paths (``ctx.audit`` writes one at a time)."""
    from ..context import _jsonable

    return {"tenant_id": ctx.tenant.id, "at": ctx.now(), "user": ctx.user.name,
            "table_name": table, "row_id": row_id, "customer_id": customer_id, "op": "insert",
            "before": None, "after": _jsonable(after)}
