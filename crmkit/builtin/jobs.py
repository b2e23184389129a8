"""The core's periodic job (``reminders.send``).

Registered like any other plugin and always enabled. Who may run jobs (``jobs.run``,
and the operator action ``jobs.run_all``) is in the role table of the built-in
``permissions`` plugin.
"""

from __future__ import annotations

from typing import Any

from ..hookspecs import hookimpl
from ..i18n import _
from ..jobs import Job
from ..plugins import PluginSpec

PLUGIN = PluginSpec(name="jobs", version="0.2.0",
                    description="The core's periodic jobs (reminders.send) (built in).")


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
