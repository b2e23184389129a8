"""``crmkit webhooks``: add, list, remove endpoints; deliver; status."""

from __future__ import annotations

from typing import Any

import click

from crmkit.i18n import Domain
from crmkit.output import Group, Page, json_option, paging, pass_crm, print_json, progress, table

_ = Domain("crmkit_webhooks").gettext


@click.group(cls=Group)
def webhooks() -> None:
    """Signed HTTP callbacks for customer, activity, document and plugin events."""


@webhooks.command("add")
@click.argument("url")
@click.option("--event", "events", multiple=True, metavar="PATTERN",
              help="Event pattern such as customer.* (repeatable; default *).")
@click.option("--secret", help="Signing secret (default: generated and shown once).")
@json_option
@pass_crm
def add_cmd(crm: Any, url: str, events: tuple[str, ...], secret: str | None,
            as_json: bool) -> None:
    """Add an endpoint; prints its id (and the generated secret, once, on stderr)."""
    from .endpoints import Webhooks

    ep = Webhooks(crm).add(url, list(events), secret)
    generated = ep.pop("secret_generated")
    if not generated:
        ep["secret"] = "****"
    if as_json:
        print_json(ep)
        return
    click.echo(ep["id"])
    if generated:
        click.echo(_("signing secret (shown only now, store it): {secret}").format(
                       secret=ep['secret']), err=True)


@webhooks.command("list")
@paging
@json_option
@pass_crm
def list_cmd(crm: Any, as_json: bool, page: Page) -> None:
    """List the endpoints (secrets masked)."""
    from .endpoints import Webhooks

    rows, more = page.slice(Webhooks(crm).list())
    if as_json:
        print_json(rows)
        return
    table([(r["id"], r["url"], ", ".join(r["events"]), r["secret"], r["active"],
            r["created_at"]) for r in rows],
          [_("id"), _("url"), _("events"), _("secret"), _("active"), _("created")],
          title=_("Webhooks"), empty=_("no webhooks; add one with `crmkit webhooks add URL`"),
          more=more, offset=page.next_offset)


@webhooks.command("remove")
@click.argument("id_", metavar="ID", type=int)
@pass_crm
def remove_cmd(crm: Any, id_: int) -> None:
    """Remove an endpoint and its undelivered events."""
    from .endpoints import Webhooks

    Webhooks(crm).remove(id_)
    click.echo(_("removed webhook {id}").format(id=id_))


@webhooks.command("deliver")
@click.option("--once", is_flag=True,
              help="Deliver what is due now and exit (do not wait for retries).")
@click.option("--max-seconds", type=float, default=900.0, show_default=True,
              help="Without --once: stop waiting for retries after this long.")
@json_option
@pass_crm
def deliver_cmd(crm: Any, once: bool, max_seconds: float, as_json: bool) -> None:
    """POST pending events to the endpoints, retrying failures with backoff."""
    from .deliver import Deliverer

    with progress(_("delivering webhooks")) as bar:
        deliverer = Deliverer(crm, on_batch=lambda r: bar.update(completed=r.attempts))
        try:
            report = deliverer.run(once=once, max_seconds=max_seconds).as_dict()
        finally:
            deliverer.close()
    if as_json:
        print_json(report)
        return
    click.echo(_("{delivered} delivered, {failed} failed (will retry), {dead} dead, "
                 "{pending} pending").format(**report))


@webhooks.command("status")
@json_option
@pass_crm
def status_cmd(crm: Any, as_json: bool) -> None:
    """Deliveries per status per endpoint, and the dead ones with their last error."""
    from .endpoints import Webhooks

    st = Webhooks(crm).status()
    if as_json:
        print_json(st)
        return
    table([(e["id"], e["url"], e["pending"], e["delivered"], e["dead"])
           for e in st["endpoints"]],
          [_("id"), _("url"), _("pending"), _("delivered"), _("dead")],
          title=_("Webhook deliveries"), empty=_("no webhooks"))
    if st["dead"]:
        table([(x["endpoint_id"], x["event"], x["outbox_id"], x["attempts"], x["last_error"])
               for x in st["dead"]], [_("endpoint"), _("event"), _("outbox id"),
                                      _("attempts"), _("last error")],
              title=_("Dead deliveries"))
