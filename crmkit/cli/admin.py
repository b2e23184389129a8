"""init, tenant, changes, audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from ..i18n import _
from ..output import (
    Group,
    Page,
    json_option,
    paging,
    pass_crm,
    print_json,
    stream_json,
    table,
    when,
)


@click.command("init")
def init_cmd() -> None:
    """Create or upgrade the schema; tenant "default" with user "admin". Idempotent."""
    from . import get_crm

    crm = get_crm(create=True)
    crm.init()
    click.echo(_("crmkit database ready: {url}").format(url=crm.url))


@click.group(cls=Group)
def tenant() -> None:
    """Businesses sharing this database."""


@tenant.command("add")
@click.argument("slug")
@click.option("--name", help="Display name (default: the slug).")
@click.option("--currency", default="CNY", show_default=True,
              help="Base currency, an ISO 4217 code (CNY, USD, EUR).")
@click.option("--timezone", default="UTC", show_default=True, metavar="ZONE",
              help="IANA time zone, e.g. Asia/Shanghai: today and times are local there.")
@click.option("--locale", default="en", show_default=True, metavar="en|zh_CN",
              help="Language of messages, tables and reminders.")
@json_option
@pass_crm
def tenant_add(crm: Any, slug: str, name: str | None, currency: str, timezone: str,
               locale: str, as_json: bool) -> None:
    """Add a tenant (and its user "admin")."""
    t = crm.tenants.add(slug, name=name, currency=currency, timezone=timezone,
                        locale=locale)
    print_json(t) if as_json else click.echo(t.id)


@tenant.command("update")
@click.argument("slug")
@click.option("--name", help="Display name.")
@click.option("--timezone", metavar="ZONE", help="IANA time zone, e.g. Asia/Shanghai.")
@click.option("--locale", metavar="en|zh_CN", help="Language of human output.")
@json_option
@pass_crm
def tenant_update(crm: Any, slug: str, name: str | None, timezone: str | None,
                  locale: str | None, as_json: bool) -> None:
    """Change a tenant's name, time zone or language."""
    t = crm.tenants.update(slug, name=name, timezone=timezone, locale=locale)
    print_json(t) if as_json else click.echo(
        _("tenant {slug}: {timezone}, {locale}").format(slug=t.slug, timezone=t.timezone,
                                                        locale=t.locale))


@tenant.command("list")
@paging
@json_option
@pass_crm
def tenant_list(crm: Any, as_json: bool, page: Page) -> None:
    """List tenants."""
    ts, more = page.slice(crm.tenants.list())
    if as_json:
        return print_json(ts)
    table([(t.id, t.slug, t.name, t.currency, t.timezone, t.locale) for t in ts],
          [_("id"), _("slug"), _("name"), _("currency"), _("time zone"), _("locale")],
          more=more, offset=page.next_offset)


def _feed_rows(rows: list[dict[str, Any]], with_fields: bool) -> list[list[Any]]:
    out = []
    for r in rows:
        # the feed's instants are UTC; people read them in the tenant's time
        row = [r["cursor"], when(dt.datetime.fromisoformat(r["at"])), r["user"], r["table"],
               r["id"], r["op"]]
        if with_fields:
            row.append(", ".join(sorted(_changed(r))))
        out.append(row)
    return out


def _feed_columns(with_fields: bool) -> list[str]:
    cols = [_("cursor"), _("at"), _("user"), _("table"), _("id"), _("op")]
    return [*cols, _("fields")] if with_fields else cols


@click.command("changes")
@click.option("--since", default=0, show_default=True, type=int, metavar="N",
              help="Only changes with a cursor greater than N.")
@paging
@json_option
@pass_crm
def changes(crm: Any, since: int, as_json: bool, page: Page) -> None:
    """The change feed: every insert and update, oldest first."""
    if as_json:
        stream_json(crm.stream_changes(since, page.limit, page.offset))
        return
    rows = crm.changes(since=since, limit=page.limit, offset=page.offset)
    table(_feed_rows(rows, False), _feed_columns(False), empty=_("no changes"),
          more=page.more(crm.count_changes(since), len(rows)), offset=page.next_offset)


@click.command("audit")
@click.argument("customer_id", type=int)
@paging
@json_option
@pass_crm
def audit(crm: Any, customer_id: int, as_json: bool, page: Page) -> None:
    """Every change to a customer and its items, with who and when."""
    if as_json:
        stream_json(crm.customers.stream_history(customer_id, limit=page.limit,
                                                 offset=page.offset))
        return
    rows = crm.customers.history(customer_id, limit=page.limit, offset=page.offset)
    table(_feed_rows(rows, True), _feed_columns(True), empty=_("no changes"),
          more=page.more(crm.customers.count_history(customer_id), len(rows)),
          offset=page.next_offset)


def _changed(r: dict[str, Any]) -> set[str]:
    before, after = r["before"] or {}, r["after"] or {}
    return {k for k in set(before) | set(after) if before.get(k) != after.get(k)} - {
        "updated_at"}
