"""Reminders: collected from the plugins, delivered once per key."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert, select

from ..context import Context
from ..records import Reminder
from ._base import Service


class ReminderService(Service):
    """``crm.reminders``: what needs attention on a day, and delivering it once."""

    def _collect(self, ctx: Context, on: dt.date) -> list[Reminder]:
        out: list[Reminder] = []
        for result in ctx.hooks.crm_reminders(ctx=ctx, on=on):
            out.extend(r for r in (result or ()) if isinstance(r, Reminder))
        if ctx.crm.customers.scoped(ctx):
            visible = set(ctx.conn.scalars(ctx.crm.customers.visible_ids(ctx)))
            out = [r for r in out if (r.customer_id in visible if r.customer_id is not None
                                      else r.owner == ctx.user.name)]
        out.sort(key=lambda r: (r.due_on or on, r.owner or "", r.customer_id or 0, r.key))
        return out

    def due(self, on: dt.date | None = None) -> list[Reminder]:
        """Every reminder for day ``on`` (default today) that this user may see."""
        with self.crm.unit(write=False) as ctx:
            return self._collect(ctx, on or ctx.today)

    def send(self, on: dt.date | None = None, echo: Any = None) -> tuple[list[Reminder], int]:
        """Deliver the reminders not delivered before; returns (delivered, already).

        Each key is claimed with an insert that ignores conflicts, in the transaction
        that calls the channels (``crm_deliver``): concurrent senders deliver each key
        exactly once, and a channel that fails leaves its reminders to the next send.
        """
        with self.crm.unit(echo=echo) as ctx:
            if echo is not None:
                # channels print after the commit, so what is printed as delivered was
                # recorded as delivered; after that, ctx.echo prints directly
                lines: list[str] = []
                ctx.echo = lines.append

                def flush() -> None:
                    for line in lines:
                        echo(line)
                    ctx.echo = echo

                ctx.on_commit(flush)
            reminders = self._collect(ctx, on or ctx.today)
            d = self.table("deliveries")
            now = ctx.now()
            new: list[Reminder] = []
            for r in reminders:
                stmt = _insert_ignore(ctx, d).values(
                    tenant_id=ctx.tenant.id, key=r.key, plugin=r.plugin, kind=r.kind,
                    owner=r.owner, delivered_at=now)
                if _inserted(ctx, stmt, d):
                    new.append(r)
            if new:
                ctx.hooks.crm_deliver(ctx=ctx, reminders=new)
            return new, len(reminders) - len(new)

    def delivered(self, key: str) -> bool:
        d = self.table("deliveries")
        with self.crm.unit(write=False) as ctx:
            return ctx.conn.execute(select(d.c.key).where(
                d.c.tenant_id == ctx.tenant.id, d.c.key == key)).first() is not None


def _inserted(ctx: Context, stmt: Any, table: Any) -> bool:
    """Did this insert-or-ignore insert its row? (PostgreSQL reports it by RETURNING.)"""
    if ctx.conn.dialect.name == "postgresql":
        return ctx.conn.execute(stmt.returning(table.c.key)).first() is not None
    return ctx.conn.execute(stmt).rowcount == 1


def _insert_ignore(ctx: Context, table: Any) -> Any:
    name = ctx.conn.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if name == "sqlite":
        return insert(table).prefix_with("OR IGNORE")
    return insert(table).prefix_with("IGNORE")
