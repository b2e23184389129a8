"""``crmkit.open``: one CRM instance with its own engine, plugins and caches."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Table, and_, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from . import storage
from .context import Context
from .errors import CrmError, DatabaseError, NotFound, PermissionDenied, UnitConflict
from .i18n import ENV, LOCALES, _, reset_locale, set_locale
from .jobs import JobService
from .plugins import PluginHost
from .records import Tenant, User
from .zones import Clock, reset_display_zone, set_display_zone, system_clock, zone_of

DEFAULT_URL = "sqlite:///crmkit.db"


class Crm:
    """The service API of one database, for one tenant and user at a time.

    Services: ``customers``, ``contacts``, ``activities``, ``documents``, ``plugins``,
    ``tenants``, ``users``, ``reminders``; ``changes(since)`` reads the change feed.
    ``using(tenant=..., user=..., today=...)`` gives a view on another tenant, user
    or day that shares this instance's engine and plugins.
    """

    def __init__(self, engine: Engine, host: PluginHost, prefix: str, *, tenant: str,
                 user: str, today: dt.date | None, url: str | None = None,
                 clock: Clock | None = None, _shared: dict[str, Any] | None = None):
        self.engine = engine
        self.host = host
        self.prefix = prefix
        self.url = storage.display_url(url or engine.url)  # shown in messages: no password
        self.tenant_slug = tenant
        self.user_name = user
        self._today = today
        if _shared is None:
            metadata = storage.build_metadata(prefix)
            for pname, fn in host.impls_by_plugin("crm_tables"):
                before = set(metadata.tables)
                try:
                    _call_impl(fn, metadata=metadata, prefix=prefix)
                except Exception as exc:  # noqa: BLE001 - one plugin never breaks open()
                    for name in set(metadata.tables) - before:  # what it half-defined
                        metadata.remove(metadata.tables[name])
                    host.mark_broken(pname, "crm_tables", exc)
                    continue
                host.installed[pname].tables = sorted(set(metadata.tables) - before)
            # the open unit of work lives in a ContextVar of this instance alone: each
            # thread and each asyncio task sees its own, and two crmkit.open() share none
            current: ContextVar[tuple[Context, tuple[int, int]] | None] = ContextVar(
                f"crmkit_unit_{next(_INSTANCES)}", default=None)
            _shared = {"metadata": metadata, "current": current, "enabled": {},
                       "clock": clock or system_clock}
        self._shared = _shared
        self.metadata = _shared["metadata"]
        self._tenant: Tenant | None = None
        self._user: User | None = None

        from .services import (
            ActivityService,
            ContactService,
            CustomerService,
            DocumentService,
            PluginService,
            ReminderService,
            TenantService,
            UserService,
        )

        self.customers = CustomerService(self)
        self.contacts = ContactService(self)
        self.activities = ActivityService(self)
        self.documents = DocumentService(self)
        self.plugins = PluginService(self)
        self.tenants = TenantService(self)
        self.users = UserService(self)
        self.reminders = ReminderService(self)
        self.jobs = JobService(self)

    # --- views -----------------------------------------------------------------------

    def using(self, *, tenant: str | None = None, user: str | None = None,
              today: dt.date | None = None) -> Crm:
        """The same instance seen as another tenant, user or day."""
        return Crm(self.engine, self.host, self.prefix, tenant=tenant or self.tenant_slug,
                   user=user or self.user_name, today=today or self._today, url=self.url,
                   _shared=self._shared)

    def now(self) -> dt.datetime:
        """The current instant (aware, UTC) from this instance's clock: the system's, or
        the one given to ``crmkit.open(clock=...)`` (tests)."""
        return self._shared["clock"]().astimezone(dt.UTC)

    def today_for(self, tenant: Tenant) -> dt.date:
        """Today for ``tenant``: the fixed day (``today=``, ``--today``), else the current
        date in the tenant's time zone."""
        return self._today or self.now().astimezone(zone_of(tenant)).date()

    @property
    def today(self) -> dt.date:
        """Today for this view's tenant (see :meth:`today_for`); UTC's date when the
        tenant cannot be read (no database yet)."""
        if self._today is not None:
            return self._today
        try:
            with self.unit(write=False) as ctx:
                return ctx.today
        except CrmError:
            return self.now().date()

    def table(self, name: str) -> Table:
        """A table by its name without the prefix (``customers``, ``grading_grades``)."""
        try:
            return self.metadata.tables[self.prefix + name]
        except KeyError:
            raise KeyError(f"no table '{self.prefix}{name}'") from None

    # --- schema ----------------------------------------------------------------------

    def init(self) -> None:
        """Create or upgrade the core tables, the tenant ``default`` and its ``admin``.

        Installed plugins' tables are not created here: a plugin's migration branch
        (or ``create_all`` for a plugin without migrations) is upgraded when the plugin
        is first enabled for any tenant, and by ``crmkit db upgrade``. Plugins already
        in use (enabled somewhere, or with their branch in the database) are brought to
        their head too. Idempotent."""
        from .migrations import upgrade_in_use

        upgrade_in_use(self)
        tenants = self.using(user="admin")
        if tenants.tenants.get("default", missing_ok=True) is None:
            tenants.tenants.add("default", name="Default")

    def create_tables(self, names: Iterable[str]) -> None:
        tables = [self.metadata.tables[n] for n in names]
        if tables:
            self.metadata.create_all(self.engine, tables=tables)

    # --- identity --------------------------------------------------------------------

    def _resolve(self, conn: Any) -> tuple[Tenant, User]:
        # the tenant row is read by every unit (one lookup by its unique slug): a zone,
        # locale or name changed by another process or view counts at once
        t = self.table("tenants")
        row = conn.execute(select(t).where(t.c.slug == self.tenant_slug)).first()
        if row is None:
            self._tenant = None
            slug = self.tenant_slug
            how = (_("`crmkit tenant add {slug}`") if self._shared.get("cli")
                   else _("crm.tenants.add({slug!r})")).format(slug=slug)
            raise NotFound(_("tenant '{slug}' not found; add it with {how}").format(
                slug=slug, how=how))
        self._tenant = Tenant.from_row(row)
        if self._user is None or self._user.tenant_id != self._tenant.id:
            u = self.table("users")
            row = conn.execute(select(u).where(u.c.tenant_id == self._tenant.id,
                                               u.c.name == self.user_name)).first()
            if row is None:
                raise NotFound(_("user '{user_name}' not found in tenant "
                                 "'{tenant_slug}'").format(
                                   user_name=self.user_name, tenant_slug=self.tenant_slug))
            user = User.from_row(row)
            if not user.active:
                raise PermissionDenied(_(
                    "user '{user}' is disabled in tenant '{tenant}' and cannot act; an "
                    "admin can enable it again with `crmkit user enable {user}`").format(
                        user=user.name, tenant=self.tenant_slug))
            self._user = user
        return self._tenant, self._user

    def enabled_plugins(self, conn: Any, tenant_id: int) -> frozenset[str]:
        cache = self._shared["enabled"]
        names = cache.get(tenant_id)
        if names is None:
            ps = self.table("plugin_state")
            rows = conn.execute(select(ps.c.plugin).where(ps.c.tenant_id == tenant_id,
                                                          ps.c.enabled.is_(True)))
            loaded = {n for n, p in self.host.installed.items() if p.loaded}
            names = frozenset(r.plugin for r in rows if r.plugin in loaded)
            names |= self.host.builtin_names()
            cache[tenant_id] = names
        return names

    def invalidate_plugins(self, tenant_id: int | None = None) -> None:
        """Forget cached enablement (after enable/disable, or another process's)."""
        if tenant_id is None:
            self._shared["enabled"].clear()
        else:
            self._shared["enabled"].pop(tenant_id, None)

    # --- transactions ----------------------------------------------------------------

    @property
    def current(self) -> Context | None:
        """The context of the unit of work open in this thread or asyncio task (of this
        instance), if any."""
        return _open_unit(self._shared["current"])

    @contextmanager
    def unit(self, *, write: bool = True, echo: Any = None) -> Iterator[Context]:
        """A unit of work: one transaction, committed at the end, rolled back on error.

        Nested calls for the same tenant and user (a hook calling
        ``ctx.crm.customers.update``) join the open unit. A nested call for another
        tenant or another user (``crm.using(tenant="acme")`` inside ``with crm.unit():``)
        is refused with :class:`UnitConflict`: it never joins a unit opened for someone
        else, and it gets no unit of its own either (that would not be atomic with the
        open one, and on SQLite it would wait for the open one's write lock). The open
        unit is kept in a :class:`contextvars.ContextVar` of this instance: threads and
        asyncio tasks each see their own, also a task or thread started inside an open
        unit with a copy of its context (it opens a unit of its own).
        """
        var = self._shared["current"]
        ctx = _open_unit(var)
        if ctx is not None:
            if ctx.tenant.slug != self.tenant_slug or ctx.user.name != self.user_name:
                raise UnitConflict(_(
                    "a unit of work for tenant '{tenant}' and user '{user}' is open; a "
                    "call for tenant '{other_tenant}' and user '{other_user}' cannot join "
                    "it: finish that unit first, or make the call in its own thread or "
                    "task").format(tenant=ctx.tenant.slug, user=ctx.user.name,
                                   other_tenant=self.tenant_slug[:80],
                                   other_user=self.user_name[:80]))
            yield ctx
            return
        try:
            conn = self.engine.connect()
        except (OperationalError, DBAPIError) as exc:
            raise DatabaseError(_("cannot reach database {db}: {exc}").format(
                db=self.url, exc=self._reason(exc))) from None
        try:
            conn = conn.execution_options(crmkit_write=write)
            with conn.begin():
                try:
                    tenant, user = self._resolve(conn)
                except (OperationalError, DBAPIError) as exc:
                    raise DatabaseError(_(
                        "database {db} is not initialised ({reason}); run `crmkit init`"
                    ).format(db=self.url, reason=self._reason(exc))) from None
                hooks = self.host.hooks(self.enabled_plugins(conn, tenant.id))
                ctx = Context(crm=self, tenant=tenant, user=user,
                              today=self.today_for(tenant), conn=conn, hooks=hooks, echo=echo)
                token = var.set((ctx, _owner()))
                locale = _tenant_locale(tenant)
                ltoken = set_locale(locale) if locale is not None else None
                ztoken = set_display_zone(ctx.zone)  # tables show the tenant's local time
                # the CLI keeps the tenant's language and zone for the tables it prints
                # after the unit (one command, one tenant)
                keep = bool(self._shared.get("cli"))
                try:
                    yield ctx
                finally:
                    if ltoken is not None and not keep:
                        _reset(lambda: reset_locale(ltoken), lambda: set_locale(None))
                    if not keep:
                        _reset(lambda: reset_display_zone(ztoken),
                               lambda: set_display_zone(None))
                    _reset(lambda: var.reset(token), lambda: var.set(None))
            committed = ctx.after_commit
        finally:
            conn.close()
        for fn in committed:
            fn()

    # --- change feed -----------------------------------------------------------------

    def changes(self, since: int = 0, limit: int | None = None,
                offset: int = 0) -> list[dict[str, Any]]:
        """Changes with cursor greater than ``since``, oldest first (``limit`` None: all
        of them, 0: none)."""
        return list(self.stream_changes(since, limit, offset))

    def _changes_query(self, ctx: Context, since: int) -> Any:
        from .checks import ID_MAX, whole

        since = whole(since, "since", low=-ID_MAX)  # before the database sees it
        a = self.table("audit")
        q = select(a).where(a.c.tenant_id == ctx.tenant.id, a.c.id > since).order_by(a.c.id)
        scoped, reads_all = self.customers.scoped(ctx), ctx.allowed("audit.read", None)
        if scoped or not reads_all:
            # a scoped user (sales) sees changes to the customers they may see; changes
            # that concern no customer (users, plugins, settings) need audit.read, else
            # only their own
            about = (a.c.customer_id.in_(self.customers.visible_ids(ctx)) if scoped
                     else a.c.customer_id.is_not(None))
            none = a.c.customer_id.is_(None)
            q = q.where(or_(about, none if reads_all else and_(none,
                                                               a.c.user == ctx.user.name)))
        # and of each record only what the user may see of it now (issue 11.12)
        return q.where(*self.customers.change_scope(ctx, a))

    def stream_changes(self, since: int = 0, limit: int | None = None,
                       offset: int = 0) -> Iterator[dict[str, Any]]:
        """:meth:`changes` as a generator, read from the database as it is consumed."""
        from . import sql

        with self.unit(write=False) as ctx:
            q = sql.page(self._changes_query(ctx, since), limit, offset)
            for r in sql.stream(ctx.conn, q):
                yield {"cursor": r.id, "at": r.at.isoformat(), "user": r.user,
                       "table": r.table_name, "id": r.row_id, "op": r.op,
                       "before": r.before, "after": r.after}

    def count_changes(self, since: int = 0) -> int:
        from . import sql

        with self.unit(write=False) as ctx:
            return sql.count(ctx.conn, self._changes_query(ctx, since))

    def close(self) -> None:
        self.engine.dispose()

    def _reason(self, exc: BaseException) -> str:
        """The first line of a database error, the password of this engine masked."""
        return storage.hide_secret(_reason(exc), self.engine.url)


_INSTANCES = itertools.count(1)  # names the ContextVar of each instance (debugging only)


def _owner() -> tuple[int, int]:
    """Who runs this code: the thread, and the asyncio task (0: none)."""
    asyncio = sys.modules.get("asyncio")  # not imported: no task can be running
    task = None
    if asyncio is not None:
        try:
            task = asyncio.current_task()
        except RuntimeError:  # no running event loop in this thread
            task = None
    return threading.get_ident(), id(task) if task is not None else 0


def _open_unit(var: ContextVar[tuple[Context, tuple[int, int]] | None]) -> Context | None:
    """The unit open in this thread or task: a value copied into another task or
    thread with the context (``asyncio.create_task``, ``asyncio.to_thread``) is not
    theirs, since its connection belongs to the one that opened it."""
    value = var.get()
    if value is None or value[1] != _owner():
        return None
    return value[0]


def _tenant_locale(tenant: Tenant) -> str | None:
    """The tenant's locale for the messages of a unit (None: leave the current one):
    only when the tenant record has one and ``CRMKIT_LANG`` does not choose."""
    locale = getattr(tenant, "locale", None)
    if not locale or os.environ.get(ENV) or locale not in LOCALES:
        return None
    return str(locale)


def _reset(undo: Any, fallback: Any) -> None:
    """Undo a ContextVar.set; a generator-held unit closed from another context (a
    stream consumed by a thread pool) cannot reset its token there, so it clears."""
    try:
        undo()
    except ValueError:
        fallback()


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def _call_impl(fn: Any, **kwargs: Any) -> Any:
    import inspect

    names = inspect.signature(fn).parameters
    return fn(**{k: v for k, v in kwargs.items() if k in names})


def open(url: str | None = None, *, engine: Engine | None = None, prefix: str = "crm_",
         tenant: str = "default", user: str = "admin", today: dt.date | None = None,
         plugins: Iterable[Any] = (), discover: bool = True,
         clock: Clock | None = None) -> Crm:
    """Open a CRM on ``url`` (default ``sqlite:///crmkit.db``) or on a host's ``engine``.

    ``plugins`` registers extra plugin modules (objects or dotted names) besides those
    found in the ``crmkit.plugins`` entry-point group (``discover=False`` skips those).
    ``clock`` (a callable giving the current aware instant) replaces the system clock
    for ``crm.now()`` and today (tests). Every call builds its own engine (unless given
    one), plugin manager and caches.
    """
    if engine is None:
        engine = storage.create_engine(url or DEFAULT_URL)
    host = PluginHost(plugins, discover=discover)
    return Crm(engine, host, prefix, tenant=tenant, user=user, today=today, url=url,
               clock=clock)
