"""crmkit plugin 'webhooks': signed HTTP callbacks for every outbox event.

Lifecycle changes (customers, activities, documents) are written to the core outbox in
the transaction of the change; ``crmkit webhooks deliver`` fans the outbox out to the
endpoints whose patterns match and POSTs each event, signed with HMAC-SHA256, retrying
with exponential backoff. See docs/plugins/webhooks.md.
"""

from __future__ import annotations

from typing import Any

from attrs import frozen

import crmkit
import crmkit.i18n
from crmkit.settings import check_lease, integer, number

from .tables import define_tables

_ = crmkit.i18n.Domain("crmkit_webhooks").gettext


@frozen
class WebhookSettings:
    """Settings of the webhooks plugin (``crmkit plugins set webhooks KEY VALUE``)."""

    timeout_seconds: float = number(5.0, low=0, high=3600, low_inclusive=False)
    base_delay_seconds: float = number(2.0, low=0, high=86_400, low_inclusive=False)
    max_delay_seconds: float = number(3600.0, low=0, high=30 * 86_400, low_inclusive=False)
    max_attempts: int = integer(8, low=1, high=100)
    lease_seconds: float = number(60.0, low=0, high=86_400, low_inclusive=False)
    batch_size: int = integer(200, low=1, high=5000)
    concurrency: int = integer(4, low=1, high=32)

    def __attrs_post_init__(self) -> None:
        check_lease(self)  # a lease shorter than a send: two senders, one message


PLUGIN = crmkit.PluginSpec(
    name="webhooks", version="0.1.0",
    description="Signed HTTP callbacks (webhooks) for customer, activity, document and "
                "plugin events, with retries.",
    settings=WebhookSettings,
)


def _emit(ctx: Any, event: str, record: Any, customer_id: int | None,
          changes: dict | None = None) -> None:
    payload = crmkit.to_dict(record)
    if changes is not None:
        payload["changes"] = {k: crmkit.to_dict(v) if hasattr(v, "__attrs_attrs__") else v
                              for k, v in changes.items()}
    ctx.emit(event, payload, customer_id=customer_id)


@crmkit.hookimpl
def crm_tables(metadata: Any, prefix: str) -> None:
    """Define ``webhooks_endpoints``, ``webhooks_deliveries`` and ``webhooks_fanout``.

    Called once per ``crmkit.open``; the core creates the tables when the plugin is
    enabled. Returns nothing. Since 0.1.
    """
    define_tables(metadata, prefix)


@crmkit.hookimpl
def crm_customers_created(ctx: Any, customers: list) -> None:
    """Emit ``customer.created`` (payload: the customer) for each new customer in the
    insert's transaction: the batch form, so that ``add_many`` and imports write a
    batch's events in one statement (``ctx.emit_many``). Returns nothing. Since 0.3
    (``crm_customer_created`` before)."""
    ctx.emit_many(("customer.created", crmkit.to_dict(c), c.id) for c in customers)


@crmkit.hookimpl
def crm_customer_updated(ctx: Any, customer: Any, before: Any, changes: dict) -> None:
    """Emit ``customer.updated`` (payload: the customer plus ``changes``) in the update's
    transaction. Returns nothing. Since 0.1."""
    _emit(ctx, "customer.updated", customer, customer.id, changes)


@crmkit.hookimpl
def crm_customer_archived(ctx: Any, customer: Any) -> None:
    """Emit ``customer.archived`` (payload: the customer) in the archive's transaction.
    Returns nothing. Since 0.1."""
    _emit(ctx, "customer.archived", customer, customer.id)


@crmkit.hookimpl
def crm_activity_logged(ctx: Any, activity: Any) -> None:
    """Emit ``activity.logged`` (payload: the activity) in the insert's transaction.
    Returns nothing. Since 0.1."""
    _emit(ctx, "activity.logged", activity, activity.customer_id)


@crmkit.hookimpl
def crm_activity_updated(ctx: Any, activity: Any, before: Any, changes: dict) -> None:
    """Emit ``activity.updated`` (payload: the activity plus ``changes``) in the update's
    transaction. Returns nothing. Since 0.1."""
    _emit(ctx, "activity.updated", activity, activity.customer_id, changes)


@crmkit.hookimpl
def crm_document_created(ctx: Any, document: Any) -> None:
    """Emit ``document.created`` (payload: the document with its lines) in the insert's
    transaction. Returns nothing. Since 0.1."""
    _emit(ctx, "document.created", document, document.customer_id)


@crmkit.hookimpl
def crm_document_updated(ctx: Any, document: Any, before: Any, changes: dict) -> None:
    """Emit ``document.updated`` (payload: the document plus ``changes``) in the update's
    transaction. Returns nothing. Since 0.1."""
    _emit(ctx, "document.updated", document, document.customer_id, changes)


@crmkit.hookimpl
def crm_cli(cli: Any) -> None:
    """Add the ``crmkit webhooks`` command group. Returns nothing. Since 0.1."""
    from .cli import webhooks

    cli.add_command(webhooks)


@crmkit.hookimpl
def crm_jobs() -> list[Any]:
    """``webhooks.deliver``: POST what is due now, once (``crmkit jobs run
    webhooks.deliver``); failures wait for the next run. Returns the job. Since 0.2."""
    from crmkit.jobs import Job

    return [Job("webhooks.deliver", _deliver_job,
                _("POST the pending webhook events that are due, once; failed ones are "
                  "retried by later runs."))]


def _deliver_job(crm: Any) -> str:
    from .deliver import Deliverer

    deliverer = Deliverer(crm)
    try:
        r = deliverer.run(once=True)
    finally:
        deliverer.close()
    return _("{delivered} delivered, {failed} failed (will retry), {dead} dead, {pending} "
             "pending").format(delivered=r.delivered, failed=r.failed, dead=r.dead,
                               pending=r.pending)


def __getattr__(name: str) -> Any:
    # the Python API without importing it (and httpx) at plugin load time
    if name in ("Webhooks", "Deliverer", "DeliveryReport"):
        from . import deliver, endpoints

        return getattr(endpoints, name, None) or getattr(deliver, name)
    raise AttributeError(name)


__all__ = ["PLUGIN", "WebhookSettings"]
