"""The core's periodic job (``reminders.send``) and who may run jobs.

Registered like any other plugin and always enabled. ``jobs.run`` (run a job for the
tenant) is for admins and managers; ``jobs.run_all`` (run it for every tenant) is an
operator action, for an admin of the tenant ``default``. Any other plugin's False
still denies.
"""

from __future__ import annotations

from typing import Any

from ..hookspecs import hookimpl
from ..i18n import _
from ..jobs import Job
from ..plugins import PluginSpec

PLUGIN = PluginSpec(name="jobs", version="0.2.0",
                    description="The core's periodic jobs (reminders.send) and who may "
                                "run jobs (built in).")

OPERATOR_TENANT = "default"


def send_reminders(crm: Any) -> str:
    """Deliver the tenant's reminders not delivered before (``reminders --send``)."""
    delivered, already = crm.reminders.send()
    return _("{delivered} delivered, {already} already delivered").format(
        delivered=len(delivered), already=already)


@hookimpl
def crm_jobs() -> list[Job]:
    return [Job("reminders.send", send_reminders,
                _("Deliver the reminders of the day through every enabled channel, each "
                  "reminder once."))]


@hookimpl
def crm_permission(ctx: Any, user: Any, action: str, record: Any) -> bool | None:
    if action == "jobs.run":
        return None if user.role in ("admin", "manager") else False
    if action == "jobs.run_all":
        operator = user.role == "admin" and ctx.tenant.slug == OPERATOR_TENANT
        return None if operator else False
    return None
