"""The operation context handed to every hook."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from attrs import define, field
from sqlalchemy import String, and_, func, insert, literal, select

from . import sql
from .convert import _default
from .errors import PermissionDenied
from .i18n import _
from .money import fmt_money
from .storage import sqlite_utc_text
from .zones import zone_of

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from sqlalchemy.engine import Connection

    from .app import Crm
    from .plugins import TenantHooks
    from .records import Tenant, User

UTC = dt.UTC


@define(slots=True)
class Context:
    """One operation: who, for which tenant, on which day, in which transaction.

    ``crm`` is the service API (calls through it join this transaction), ``conn`` the
    open SQLAlchemy connection, ``hooks`` the tenant's enabled plugins' hooks.
    """

    crm: Crm
    tenant: Tenant
    user: User
    today: dt.date
    conn: Connection
    hooks: TenantHooks
    echo: Any = None  # set by the CLI: where the terminal channel prints
    #: called, in order, after this unit of work committed (never after a rollback)
    after_commit: list[Any] = field(factory=list)

    def on_commit(self, fn: Any) -> None:
        """Call ``fn()`` once this transaction has committed, outside it (not at all if
        it rolls back): the place for work outside the database, such as sending the
        e-mails a hook queued. ``fn`` opens its own units of work if it needs any; an
        error it raises reaches the caller, whose change is already committed."""
        self.after_commit.append(fn)

    @property
    def zone(self) -> ZoneInfo:
        """The tenant's time zone (``zoneinfo.ZoneInfo``; UTC unless the tenant set one)."""
        return zone_of(self.tenant)

    def now(self) -> dt.datetime:
        """The current instant (UTC) from the instance's clock, moved onto ``today`` (in
        the tenant's zone) when today was overridden."""
        real = self.crm.now()
        local = real.astimezone(self.zone)
        if local.date() == self.today:
            return real
        return dt.datetime.combine(self.today, local.time(), self.zone).astimezone(UTC)

    def emit(self, event: str, payload: dict[str, Any], customer_id: int | None = None) -> None:
        """Write an outbox row in this transaction: sent after commit, lost on rollback."""
        # parameters, not .values(): one cached statement for every call
        self.conn.execute(self.crm.table("outbox").insert(), {
            "tenant_id": self.tenant.id, "event": event, "customer_id": customer_id,
            "payload": _payload(payload), "created_at": self.now()})

    def emit_many(self, events: Any) -> None:
        """``emit`` for many events in one executemany: ``(event, payload, customer_id)``
        tuples. For bulk work (a grading run), where one insert per event is too slow.
        On SQLite the rows go through the driver, each payload encoded to JSON once."""
        now = self.now()
        tid = self.tenant.id
        o = self.crm.table("outbox")
        if self.conn.dialect.name == "sqlite":
            rows = [(event, customer_id, _encode(payload)) for event, payload, customer_id
                    in events]
            if rows:
                self.conn.exec_driver_sql(
                    f"INSERT INTO {o.name} (tenant_id, event, customer_id, payload, "
                    f"created_at) VALUES ({int(tid)}, ?, ?, ?, '{sqlite_utc_text(now)}')",
                    rows)
            return
        dicts = [{"tenant_id": tid, "event": event, "customer_id": customer_id,
                  "payload": _payload(payload), "created_at": now}
                 for event, payload, customer_id in events]
        if dicts:
            self.conn.execute(o.insert(), dicts)

    def audit_many(self, entries: Any, *, at: dt.datetime | None = None) -> None:
        """``audit`` for many rows in one executemany: ``(table, row_id, op, before, after,
        customer_id)`` tuples; ``at`` the instant they carry (default now). On SQLite the
        rows go through the driver, each image encoded to JSON once."""
        now = at or self.now()
        tid, user = self.tenant.id, self.user.name
        a = self.crm.table("audit")
        if self.conn.dialect.name == "sqlite":
            rows = [(user, table, row_id, customer_id, op, _encode(before), _encode(after))
                    for table, row_id, op, before, after, customer_id in entries]
            if rows:
                self.conn.exec_driver_sql(
                    f'INSERT INTO {a.name} (tenant_id, at, user, table_name, row_id, '
                    f'customer_id, op, "before", "after") VALUES ({int(tid)}, '
                    f"'{sqlite_utc_text(now)}', ?, ?, ?, ?, ?, ?, ?)", rows)
            return
        dicts = [{"tenant_id": tid, "at": now, "user": user, "table_name": table,
                  "row_id": row_id, "customer_id": customer_id, "op": op,
                  "before": _jsonable(before), "after": _jsonable(after)}
                 for table, row_id, op, before, after, customer_id in entries]
        if dicts:
            self.conn.execute(a.insert(), dicts)

    def audit_select(self, stmt: Any, *, at: dt.datetime | None = None,
                     emit: str | None = None) -> None:
        """``audit_many`` for the rows of a SELECT, in one ``INSERT ... SELECT``: ``stmt``
        gives ``(table, row_id, op, before, after, customer_id)`` columns in that order,
        the JSON images built by the database (``crmkit.sql.json_object``; ``before`` a
        JSON value or ``crmkit.sql.json_null()``), its ``ORDER BY`` the order of the
        rows. For bulk work where encoding each image in Python costs more than the
        change (a grading run's 100,000 first grades); ``at`` the instant the rows carry
        (default now). Returns nothing: the driver's row count of an ``INSERT ... SELECT``
        is -1 on PostgreSQL (psycopg); count the SELECT's rows when you need the
        number.

        With ``emit``, one ``emit`` outbox event per audit row written, in the rows'
        order, payload ``{"customer_id", "customer", "before", "after"}``: the row's
        customer, its name (null when there is none) and the row's own images, not built
        a second time (on SQLite their JSON text is spliced into the payload: 0.14 s
        against 0.22 s for 100,000 events built again). For a bulk path whose events
        carry what it audits (a grading run's ``grade.changed``). The rows are found
        again as this tenant's audit rows past the last id before the insert with this
        instant and user: hold what keeps other writers of the same rows out (a grading
        run holds the tenant's grading lock)."""
        a = self.crm.table("audit")
        at = at or self.now()
        since = 0
        if emit is not None:
            since = int(self.conn.execute(select(func.coalesce(func.max(a.c.id), 0)))
                        .scalar_one())
        cols = list(stmt.selected_columns)
        self.conn.execute(insert(a).from_select(
            ["tenant_id", "at", "user", "table_name", "row_id", "op", "before", "after",
             "customer_id"],
            stmt.with_only_columns(literal(self.tenant.id), literal(at, a.c.at.type),
                                   literal(self.user.name, a.c.user.type), *cols)))
        if emit is not None:
            self._emit_audited(emit, since, at)

    def emit_select(self, stmt: Any) -> None:
        """``emit_many`` for the rows of a SELECT, in one ``INSERT ... SELECT``: ``stmt``
        gives ``(event, payload, customer_id)`` columns, the payload a JSON object built
        by the database; its ``ORDER BY`` the order of the events (see
        :meth:`audit_select`)."""
        o = self.crm.table("outbox")
        cols = list(stmt.selected_columns)
        self.conn.execute(insert(o).from_select(
            ["tenant_id", "created_at", "event", "payload", "customer_id"],
            stmt.with_only_columns(literal(self.tenant.id),
                                   literal(self.now(), o.c.created_at.type), *cols)))

    def _emit_audited(self, event: str, since: int, at: dt.datetime) -> None:
        """The events of :meth:`audit_select`'s ``emit``: one per audit row of this
        tenant past the id ``since`` written at ``at`` by this unit's user."""
        a, c, tid = self.crm.table("audit"), self.crm.table("customers"), self.tenant.id
        if self.conn.dialect.name == "sqlite":
            null = sql.json_null()
            payload = func.printf('{"customer_id":%s,"customer":%s,"before":%s,"after":%s}',
                                  func.coalesce(a.c.customer_id, null),
                                  func.json_quote(c.c.name), func.coalesce(a.c.before, null),
                                  func.coalesce(a.c.after, null), type_=String())
        else:
            payload = sql.json_object(("customer_id", a.c.customer_id), ("customer", c.c.name),
                                      ("before", sql.json_text(a.c.before)),
                                      ("after", sql.json_text(a.c.after)))
        self.emit_select(
            select(literal(event, String()), payload, a.c.customer_id)
            .select_from(a.outerjoin(c, and_(c.c.tenant_id == tid,
                                             c.c.id == a.c.customer_id)))
            # the rows just written: the id range on SQLite (sql.not_indexed)
            .where(sql.not_indexed(a.c.tenant_id) == tid, a.c.id > since,
                   a.c.at == literal(at, a.c.at.type),
                   a.c.user == literal(self.user.name, a.c.user.type))
            .order_by(a.c.id))

    def settings(self, plugin: str) -> Any:
        """The plugin's settings object for this tenant (defaults merged with overrides)."""
        return self.crm.plugins.settings(plugin)

    def allowed(self, action: str, record: Any) -> bool:
        """Ask ``crm_permission``: any False denies, and someone must say True."""
        answers = self.hooks.crm_permission(ctx=self, user=self.user, action=action,
                                            record=record)
        return bool(answers) and all(a is not False for a in answers) and True in answers

    @property
    def builtin_permissions_only(self) -> bool:
        """Whether the built-in ``permissions`` plugin is the only one answering
        ``crm_permission`` (no enabled plugin has an opinion of its own): its rules then
        are every answer, and a bulk path may apply them directly."""
        return self.hooks.crm_permission.plugins == ["permissions"]

    def asker(self, action: str) -> Callable[[Any], bool]:
        """``allowed(action, record)`` as a function of the record, for a bulk path that
        asks about each of many records: the same answer for each. When the built-in
        ``permissions`` plugin is the only one answering (no plugin has an opinion of
        its own), its rule is called directly, without a hook dispatch per record."""
        if not self.builtin_permissions_only:
            return lambda record: self.allowed(action, record)
        from .builtin.permissions import crm_permission as rule

        user = self.user
        return lambda record: rule(ctx=self, user=user, action=action,
                                   record=record) is True

    def allowed_where(self, action: str, customers: Any) -> Any | None:
        """``allowed(action, customer)`` for every row of the customers table
        ``customers`` as one SQL condition, for a bulk path that asks about thousands of
        customers in one statement: the built-in record rule
        (:func:`crmkit.builtin.permissions.record_rule`) when that plugin alone answers
        and ``action`` is a record action (``view``, ``update``, ...); None otherwise,
        when each record must be asked about."""
        from .builtin.permissions import RECORD_ACTIONS, record_rule

        if not self.builtin_permissions_only or action not in RECORD_ACTIONS:
            return None
        return record_rule(self.user, customers)

    def check(self, action: str, record: Any, label: str) -> None:
        if not self.allowed(action, record):
            raise PermissionDenied(
                _("permission denied: user '{name}' may not {action} {label}").format(
                    name=self.user.name, action=action, label=label)
            )

    def audit(self, table: str, row_id: int | None, op: str, before: Any, after: Any,
              customer_id: int | None = None) -> None:
        """Write one audit row (the change feed) in this transaction."""
        self.conn.execute(self.crm.table("audit").insert(), {
            "tenant_id": self.tenant.id, "at": self.now(), "user": self.user.name,
            "table_name": table, "row_id": row_id, "customer_id": customer_id, "op": op,
            "before": _jsonable(before), "after": _jsonable(after)})


#: A value as the JSON text the audit and outbox columns hold: what the JSON column
#: stores for ``_jsonable(value)`` (``None`` as ``null``), read back the same, encoded in
#: one pass by the C encoder (non-ASCII kept as itself).
_encode = json.JSONEncoder(ensure_ascii=False, default=_default).encode


def _jsonable(value: Any) -> Any:
    """``value`` as the JSON value the audit and outbox columns store: what a round trip
    through ``json.dumps(to_dict(value), default=_default)`` gives. Trees of plain values
    (str-keyed dicts, lists, str, int, float, bool, None, Decimal, date) are converted
    directly, several times faster than the round trip that anything else still takes
    (bulk paths write thousands of these)."""
    if value is None:
        return None
    try:
        return _plain(value)
    except _NotPlain:
        pass
    from .convert import to_dict

    return json.loads(json.dumps(to_dict(value), default=_default, ensure_ascii=False))


def _payload(payload: Any) -> Any:
    """An outbox payload as the JSON value stored: ``json.dumps`` with crmkit's
    encodings and back, directly for plain values (see :func:`_jsonable`)."""
    try:
        return _plain(payload)
    except _NotPlain:
        return json.loads(json.dumps(payload, default=_default, ensure_ascii=False))


class _NotPlain(Exception):
    pass


def _plain(v: Any) -> Any:
    t = type(v)
    if t is str or t is int or t is bool or v is None:
        return v
    if t is dict:
        out = {}
        for k, x in v.items():
            if type(k) is not str:
                raise _NotPlain
            out[k] = _plain(x)
        return out
    if t is list or t is tuple:
        return [_plain(x) for x in v]
    if t is Decimal:
        return fmt_money(v)
    if t is dt.date or t is dt.datetime:
        return v.isoformat()
    if t is float and math.isfinite(v):
        return v
    raise _NotPlain
