"""The webhooks plugin's Python API: endpoints (add, list, remove) and status."""

from __future__ import annotations

import re
import secrets
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy import exists, func, select

import crmkit
from crmkit.i18n import Domain

_ = Domain("crmkit_webhooks").gettext

_ = crmkit.i18n.Domain("crmkit_webhooks").gettext

PATTERN = re.compile(r"^[A-Za-z0-9_.*?\[\]!-]{1,100}$")


def mask(secret: str | None) -> str:
    """``****`` plus the last four characters of a long secret; just ``****`` else."""
    if not secret:
        return ""
    return "****" + secret[-4:] if len(secret) >= 16 else "****"


def require_enabled(ctx: Any) -> None:
    ctx.crm.plugins.require(ctx, "webhooks")


def _public(row: Any, secret: str | None = None) -> dict[str, Any]:
    """An endpoint as shown to people: the secret masked unless given in clear."""
    return {"id": row.id, "url": row.url, "events": list(row.events or []),
            "secret": secret if secret is not None else mask(row.secret),
            "active": bool(row.active), "created_at": row.created_at}


def _not_fanned_out(ctx: Any, endpoint: Any) -> int:
    """Events emitted for an active endpoint that no deliverer has fanned out yet: they
    are pending too (the next ``deliver`` sends them). Counted per event name in SQL,
    matched against the endpoint's patterns on those few names."""
    if not endpoint.active:
        return 0
    o, f = ctx.crm.table("outbox"), ctx.crm.table("webhooks_fanout")
    seen = exists().where(f.c.tenant_id == o.c.tenant_id, f.c.outbox_id == o.c.id)
    rows = ctx.conn.execute(select(o.c.event, func.count()).where(
        o.c.tenant_id == ctx.tenant.id, o.c.id > endpoint.since_outbox_id, ~seen)
        .group_by(o.c.event)).all()
    return sum(n for event, n in rows
               if any(fnmatchcase(event, p) for p in endpoint.events or ()))


class Webhooks:
    """``Webhooks(crm)``: manage the tenant's webhook endpoints and read delivery status."""

    def __init__(self, crm: Any):
        self.crm = crm

    def _t(self, name: str) -> Any:
        return self.crm.table(f"webhooks_{name}")

    def add(self, url: str, events: list[str] | tuple[str, ...] = (),
            secret: str | None = None) -> dict[str, Any]:
        """Add an endpoint for ``events`` (fnmatch patterns, default ``["*"]``).

        Returns the endpoint with its secret in clear: the only time it is shown. An
        endpoint receives the events emitted after it was added.
        """
        url = (url or "").strip()
        patterns = list(dict.fromkeys(events or ["*"]))
        errors = []
        if not re.match(r"^https?://[^\s/]+", url):
            errors.append(_("invalid webhook URL '{url}'; expected http://... or "
                            "https://...").format(url=url))
        elif len(url) > 2000:
            errors.append(_("webhook URL is {n} characters long; the limit is 2000").format(
                              n=len(url)))
        errors += [f"invalid event pattern '{p}'; use letters, digits, '.', '_', '-' and "
                   f"the wildcards '*' and '?'" for p in patterns if not PATTERN.match(p)]
        if secret is not None and not 8 <= len(secret) <= 200:
            errors.append(_("webhook secret must be 8 to 200 characters long, got "
                            "{n}").format(n=len(secret)))
        if errors:
            raise crmkit.ValidationError(errors)
        generated = secret is None
        secret = secret if secret is not None else "whsec_" + secrets.token_hex(24)
        t = self._t("endpoints")
        with self.crm.unit() as ctx:
            require_enabled(ctx)
            ctx.check("webhooks.manage", None, _("webhooks"))
            o = self.crm.table("outbox")
            since = ctx.conn.execute(select(func.coalesce(func.max(o.c.id), 0)).where(
                o.c.tenant_id == ctx.tenant.id)).scalar_one()
            now = ctx.now()
            new_id = ctx.conn.execute(t.insert().values(
                tenant_id=ctx.tenant.id, url=url, events=patterns, secret=secret,
                active=True, since_outbox_id=since, created_at=now)).inserted_primary_key[0]
            row = ctx.conn.execute(select(t).where(t.c.id == new_id)).one()
            ctx.audit("webhook", new_id, "insert", None, _public(row))
            out = _public(row, secret)
            out["secret_generated"] = generated
            return out

    def list(self) -> list[dict[str, Any]]:
        """Every endpoint of the tenant, secrets masked."""
        t = self._t("endpoints")
        with self.crm.unit(write=False) as ctx:
            require_enabled(ctx)
            ctx.check("webhooks.read", None, _("webhooks"))
            rows = ctx.conn.execute(select(t).where(t.c.tenant_id == ctx.tenant.id)
                                    .order_by(t.c.id))
            return [_public(r) for r in rows]

    def remove(self, id_: int) -> None:
        """Delete an endpoint and its deliveries (pending ones are not sent)."""
        t, d = self._t("endpoints"), self._t("deliveries")
        with self.crm.unit() as ctx:
            require_enabled(ctx)
            ctx.check("webhooks.manage", None, _("webhook {id}").format(id=id_))
            row = ctx.conn.execute(select(t).where(t.c.tenant_id == ctx.tenant.id,
                                                   t.c.id == id_)).first()
            if row is None:
                raise crmkit.NotFound(_("webhook {id} not found").format(id=id_))
            ctx.conn.execute(d.delete().where(d.c.tenant_id == ctx.tenant.id,
                                              d.c.endpoint_id == id_))
            ctx.conn.execute(t.delete().where(t.c.id == id_))
            ctx.audit("webhook", id_, "delete", _public(row), None)

    def status(self, dead_limit: int = 100) -> dict[str, Any]:
        """Counts per status per endpoint, and the dead deliveries with their last error."""
        t, d = self._t("endpoints"), self._t("deliveries")
        with self.crm.unit(write=False) as ctx:
            require_enabled(ctx)
            ctx.check("webhooks.read", None, _("webhook status"))
            counts = ctx.conn.execute(
                select(d.c.endpoint_id, d.c.status, func.count().label("n"))
                .where(d.c.tenant_id == ctx.tenant.id)
                .group_by(d.c.endpoint_id, d.c.status)).all()
            by: dict[int, dict[str, int]] = {}
            for r in counts:
                by.setdefault(r.endpoint_id, {})[r.status] = r.n
            endpoints = [
                {"id": r.id, "url": r.url,
                 "pending": by.get(r.id, {}).get("pending", 0) + _not_fanned_out(ctx, r),
                 "delivered": by.get(r.id, {}).get("delivered", 0),
                 "dead": by.get(r.id, {}).get("dead", 0)}
                for r in ctx.conn.execute(select(t.c.id, t.c.url, t.c.events, t.c.active,
                                                 t.c.since_outbox_id).where(
                    t.c.tenant_id == ctx.tenant.id).order_by(t.c.id))]
            dead = [
                {"delivery": r.uid, "endpoint_id": r.endpoint_id, "event": r.event,
                 "outbox_id": r.outbox_id, "customer_id": r.customer_id,
                 "attempts": r.attempts, "last_error": r.last_error}
                for r in ctx.conn.execute(
                    select(d).where(d.c.tenant_id == ctx.tenant.id, d.c.status == "dead")
                    .order_by(d.c.outbox_id, d.c.endpoint_id).limit(dead_limit))]
            return {"endpoints": endpoints, "dead": dead}
