"""Tenants and users."""

from __future__ import annotations

import builtins
import re
from typing import Any

from attrs import evolve
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from ..convert import to_dict
from ..errors import NotFound, ValidationError
from ..i18n import _, check_locale
from ..money import parse_currency
from ..records import ROLES, Tenant, User
from ..zones import parse_zone
from ._base import Checker, Service, inserted_id

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class TenantService(Service):
    """``crm.tenants``: the businesses sharing one database."""

    def _authorize(self, label: str) -> None:
        """Ask ``crm_permission`` for ``tenants.manage`` (an operator action: admins of
        the tenant ``default``). A user who cannot be resolved is refused (NotFound);
        only the very first tenant of an empty database is added without asking."""
        with self.crm.engine.connect() as conn:
            t = self.table("tenants")
            empty = conn.execute(select(func.count()).select_from(t)).scalar_one() == 0
        if empty:
            return  # bootstrapping: `init` adds the tenant "default"
        with self.crm.unit(write=False) as ctx:
            ctx.check("tenants.manage", None, label)

    def add(self, slug: str, *, name: str | None = None, currency: str = "CNY",
            timezone: str = "UTC", locale: str = "en") -> Tenant:
        """Add a tenant and its ``admin`` user. ``currency`` is its base currency (ISO
        4217), ``timezone`` an IANA zone, ``locale`` ``en`` or ``zh_CN``."""
        self._authorize(_("tenant '{slug}'").format(slug=str(slug)[:80]))
        c = Checker("tenant")
        if not isinstance(slug, str) or not SLUG.match(slug):
            c.errors.append(_("invalid tenant slug '{slug}': lower-case letters, "
                              "digits, '-' and '_', at most 64").format(slug=slug))
        c.text("name", name, 200)
        for check, value in ((parse_currency, currency), (parse_zone, timezone),
                             (check_locale, locale)):
            try:
                check(value)
            except ValidationError as exc:
                c.errors.extend(exc.errors)
        c.raise_if_any()
        t, u, a = self.table("tenants"), self.table("users"), self.table("audit")
        with self.crm.engine.connect() as conn, conn.begin():
            if conn.execute(select(t.c.id).where(t.c.slug == slug)).first():
                raise ValidationError(_("tenant '{slug}' already exists").format(
                                          slug=slug))
            now = self.crm.now()
            tid = inserted_id(conn.execute(t.insert().values(
                slug=slug, name=name or slug, currency=currency, timezone=timezone,
                locale=locale, created_at=now)))
            uid = inserted_id(conn.execute(u.insert().values(
                tenant_id=tid, name="admin", role="admin", created_at=now)))
            tenant = Tenant(id=tid, slug=slug, name=name or slug, currency=currency,
                            timezone=timezone, locale=locale)
            conn.execute(a.insert(), [
                {"tenant_id": tid, "at": now, "user": self.crm.user_name,
                 "table_name": "tenant", "row_id": tid, "op": "insert", "before": None,
                 "after": to_dict(tenant)},
                {"tenant_id": tid, "at": now, "user": self.crm.user_name,
                 "table_name": "user", "row_id": uid, "op": "insert", "before": None,
                 "after": {"id": uid, "tenant_id": tid, "name": "admin", "role": "admin"}}])
            return tenant

    def update(self, slug: str, *, name: str | None = None, timezone: str | None = None,
               locale: str | None = None) -> Tenant:
        """Change a tenant's display name, time zone (IANA) or locale (``en``,
        ``zh_CN``); audited in the tenant's change feed. Permission ``tenants.manage``,
        asked before any value is looked at."""
        self._authorize(_("tenant '{slug}'").format(slug=str(slug)[:80]))
        c = Checker("tenant")
        c.text("name", name, 200)
        fields: dict[str, Any] = {}
        if name is not None:
            fields["name"] = name
        for key, check, value in (("timezone", parse_zone, timezone),
                                  ("locale", check_locale, locale)):
            if value is None:
                continue
            try:
                check(value)
                fields[key] = value
            except ValidationError as exc:
                c.errors.extend(exc.errors)
        c.raise_if_any()
        t, a = self.table("tenants"), self.table("audit")
        with self.crm.engine.connect() as conn, conn.begin():
            row = conn.execute(select(t).where(t.c.slug == slug)).first()
            if row is None:
                raise NotFound(_("tenant '{slug}' not found").format(slug=str(slug)[:80]))
            before = Tenant.from_row(row)
            after = evolve(before, **fields)
            if after == before:
                return before
            conn.execute(t.update().where(t.c.id == before.id).values(**fields))
            conn.execute(a.insert(), {
                "tenant_id": before.id, "at": self.crm.now(), "user": self.crm.user_name,
                "table_name": "tenant", "row_id": before.id, "op": "update",
                "before": to_dict(before), "after": to_dict(after)})
        self.crm._tenant = None  # this view reads the tenant again
        return after

    def get(self, slug: str, *, missing_ok: bool = False) -> Tenant | None:
        t = self.table("tenants")
        try:
            with self.crm.engine.connect() as conn:
                row = conn.execute(select(t).where(t.c.slug == slug)).first()
        except DBAPIError:
            row = None
        if row is None:
            if missing_ok:
                return None
            raise NotFound(_("tenant '{slug}' not found").format(slug=slug))
        return Tenant.from_row(row)

    def list(self) -> list[Tenant]:
        """Every tenant of the database: permission ``tenants.manage``."""
        self._authorize(_("the tenants"))
        return self._all()

    def _all(self) -> builtins.list[Tenant]:
        """Every tenant, unchecked: for callers that asked a permission of their own
        (``jobs.run_all``)."""
        t = self.table("tenants")
        with self.crm.engine.connect() as conn:
            return [Tenant.from_row(r) for r in conn.execute(select(t).order_by(t.c.id))]


class UserService(Service):
    """``crm.users``: the people of the current tenant (admin, manager, sales)."""

    def add(self, name: str, *, role: str = "sales", email: str | None = None) -> User:
        with self.crm.unit() as ctx:
            ctx.check("users.manage", None, _("user '{user}'").format(
                user=str(name)[:80]))
            c = Checker("user")
            name = (name or "").strip()
            c.text("name", name, 100, required=True)
            c.choice("role", role, ROLES)
            email = c.email(email or None)
            c.raise_if_any()
            u = self.table("users")
            if ctx.conn.execute(select(u.c.id).where(u.c.tenant_id == ctx.tenant.id,
                                                     u.c.name == name)).first():
                raise ValidationError(_("user '{name}' already exists").format(
                                          name=name))
            uid = inserted_id(ctx.conn.execute(u.insert().values(
                tenant_id=ctx.tenant.id, name=name, role=role, email=email,
                created_at=ctx.now())))
            user = User(id=uid, tenant_id=ctx.tenant.id, name=name, role=role, email=email)
            ctx.audit("user", uid, "insert", None, user)
            return user

    def list(self) -> list[User]:
        u = self.table("users")
        with self.crm.unit(write=False) as ctx:
            return [User.from_row(r) for r in ctx.conn.execute(
                select(u).where(u.c.tenant_id == ctx.tenant.id).order_by(u.c.id))]

    def get(self, name: str) -> User:
        u = self.table("users")
        with self.crm.unit(write=False) as ctx:
            row = ctx.conn.execute(select(u).where(u.c.tenant_id == ctx.tenant.id,
                                                   u.c.name == name)).first()
            if row is None:
                raise NotFound(_("user '{name}' not found").format(name=name))
            return User.from_row(row)

    def update(self, name: str, *, role: str | None = None,
               email: str | None = None) -> User:
        """Change a user's role or e-mail address (``email=""`` clears it). Refuses to
        leave the tenant without an active admin. Permission ``users.manage``."""
        with self.crm.unit() as ctx:
            before = self._load(ctx, name)
            ctx.check("users.manage", before, f"user '{before.name}'")
            c = Checker("user")
            fields: dict[str, Any] = {}
            if role is not None:
                c.choice("role", role, ROLES)
                fields["role"] = role
            if email is not None:
                fields["email"] = c.email(email.strip() or None)
            c.raise_if_any()
            if before.role == "admin" and fields.get("role", "admin") != "admin":
                self._keep_an_admin(ctx, before)
            return self._write(ctx, before, fields)

    def disable(self, name: str) -> User:
        """Disable a user: they cannot act any more (their records keep their name).
        Permission ``users.manage``."""
        with self.crm.unit() as ctx:
            return self.set_active(ctx, name, False)

    def enable(self, name: str) -> User:
        """Let a disabled user act again. Permission ``users.manage``."""
        with self.crm.unit() as ctx:
            return self.set_active(ctx, name, True)

    def set_active(self, ctx: Any, name: str, active: bool) -> User:
        """Disable or enable a user inside the caller's unit (``customer reassign
        --disable`` disables the leaving salesperson in its own transaction)."""
        before = self._load(ctx, name)
        ctx.check("users.manage", before, f"user '{before.name}'")
        if not active and before.name == ctx.user.name:
            raise ValidationError(_("you cannot disable yourself ('{user}'); ask another "
                                    "admin").format(user=before.name))
        if not active and before.role == "admin":
            self._keep_an_admin(ctx, before)
        return self._write(ctx, before, {"active": active})

    def _load(self, ctx: Any, name: str) -> User:
        u = self.table("users")
        row = ctx.conn.execute(select(u).where(u.c.tenant_id == ctx.tenant.id,
                                               u.c.name == name)).first()
        if row is None:
            raise NotFound(_("user '{user}' not found").format(user=str(name)[:80]))
        return User.from_row(row)

    def _keep_an_admin(self, ctx: Any, leaving: User) -> None:
        u = self.table("users")
        others = ctx.conn.execute(select(func.count()).where(
            u.c.tenant_id == ctx.tenant.id, u.c.role == "admin", u.c.active.is_(True),
            u.c.id != leaving.id)).scalar_one()
        if not others:
            raise ValidationError(_("'{user}' is the tenant's last active admin; make "
                                    "another user admin first").format(user=leaving.name))

    def _write(self, ctx: Any, before: User, fields: dict[str, Any]) -> User:
        changes = {k: v for k, v in fields.items() if getattr(before, k) != v}
        if not changes:
            return before
        u = self.table("users")
        ctx.conn.execute(u.update().where(u.c.id == before.id).values(**changes))
        after = evolve(before, **changes)
        ctx.audit("user", before.id, "update", before, after)
        return after
