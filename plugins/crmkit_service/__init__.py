"""crmkit plugin ``service``: cases with SLA deadlines, the solution base, service
history in the 360° view and contract renewal reminders.

Commands hang under ``crmkit case``. Hooks implemented: ``crm_tables``, ``crm_cli``,
``crm_reminders``, ``crm_customer_sections``, ``crm_report_sections``, ``crm_demo``.
Python API: ``add``, ``reply``, ``resolve``, ``close``, ``reopen``, ``list_cases``,
``show``, ``search``, ``stats``. Permissions: the actions ``service.view``, ``service.work``,
``service.reopen`` and ``service.report`` of the core's role table, and the built-in
rule on the case's customer. See docs/plugins/service.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import crmkit

from .settings import ServiceSettings

PLUGIN = crmkit.PluginSpec(
    name="service", version="0.1.0",
    description="Customer service: cases with SLA deadlines, the solution base, service "
                "history in the 360° view and contract renewal reminders.",
    settings=ServiceSettings)

@crmkit.hookimpl
def crm_tables(metadata: Any, prefix: str) -> None:
    """Define ``service_cases`` and ``service_replies``. Since 0.2."""
    from .tables import define_tables

    define_tables(metadata, prefix)


@crmkit.hookimpl
def crm_cli(cli: Any) -> None:
    """Add the ``crmkit case`` command group. Since 0.2."""
    from .cli import case

    cli.add_command(case)


@crmkit.hookimpl
def crm_reminders(ctx: Any, on: dt.date) -> list[crmkit.Reminder]:
    """``case_response_overdue`` and ``case_resolution_overdue`` (to the case's owner,
    key per case and kind) and ``contract_expiring`` (to the customer's owner, key per
    contract) for date ``on`` in the tenant's zone. Read-only. Since 0.2."""
    from .reports import reminders

    return reminders(ctx, on)


@crmkit.hookimpl
def crm_customer_sections(ctx: Any, customer: crmkit.Customer, on: dt.date
                          ) -> crmkit.Section:
    """The 360° view's ``service`` panel as of ``on``: open cases, the last 10 cases
    with their solutions, and the products bought with first and last purchase dates.
    Read-only. Since 0.2."""
    from .reports import section

    return section(ctx, customer, on)


@crmkit.hookimpl
def crm_report_sections(ctx: Any, on: dt.date) -> Any:
    """``crmkit report``'s case SLA section as of ``on``: cases opened in the 30 days
    ending on ``on``, SLA met shares and median resolution hours, overall and by owner,
    in the user's scope (None when ``service.report`` is denied). Read-only. Since 0.2."""
    from .reports import report_section

    return report_section(ctx, on)


@crmkit.hookimpl
def crm_demo(crm: Any, customers: list[Any], rng: Any) -> None:
    """Add six cases to ``crmkit demo``: two closed with their solutions (one a return,
    退货), one resolved, two open past their deadlines and a new one. Returns nothing.
    Since 0.2."""
    from .demo import build

    build(crm, customers)


# --- Python API --------------------------------------------------------------------------


def add(crm: crmkit.Crm, customer_id: int, **kw: Any) -> Any:
    """Open a case; see :func:`crmkit_service.cases.add`."""
    from .cases import add as run

    return run(crm, customer_id, **kw)


def reply(crm: crmkit.Crm, case_id: int, **kw: Any) -> Any:
    """Reply to a case; see :func:`crmkit_service.cases.reply`."""
    from .cases import reply as run

    return run(crm, case_id, **kw)


def resolve(crm: crmkit.Crm, case_id: int, **kw: Any) -> Any:
    """Resolve a case; see :func:`crmkit_service.cases.resolve`."""
    from .cases import resolve as run

    return run(crm, case_id, **kw)


def close(crm: crmkit.Crm, case_id: int, **kw: Any) -> Any:
    """Close a case; see :func:`crmkit_service.cases.close`."""
    from .cases import close as run

    return run(crm, case_id, **kw)


def reopen(crm: crmkit.Crm, case_id: int) -> Any:
    """Reopen a case; see :func:`crmkit_service.cases.reopen`."""
    from .cases import reopen as run

    return run(crm, case_id)


def list_cases(crm: crmkit.Crm, **kw: Any) -> Any:
    """Cases and their count; see :func:`crmkit_service.cases.list_cases`."""
    from .cases import list_cases as run

    return run(crm, **kw)


def show(crm: crmkit.Crm, case_id: int) -> dict[str, Any]:
    """One case with its replies; see :func:`crmkit_service.cases.show`."""
    from .cases import show as run

    return run(crm, case_id)


def search(crm: crmkit.Crm, text: str, **kw: Any) -> Any:
    """The solution base; see :func:`crmkit_service.cases.find`."""
    from .cases import find as run

    return run(crm, text, **kw)


def stats(crm: crmkit.Crm, frm: dt.date | None = None, to: dt.date | None = None
          ) -> list[dict[str, Any]]:
    """Per-owner stats; see :func:`crmkit_service.reports.stats`."""
    from .reports import stats as run

    return run(crm, frm, to)


__all__ = ["PLUGIN", "ServiceSettings", "add", "close", "list_cases", "reopen",
           "reply", "resolve", "search", "show", "stats"]
