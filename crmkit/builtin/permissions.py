"""Default permissions: the one role table of crmkit.

Every named action (``tenants.manage``, ``plugins.manage``, ``grading.run``, ...) has a
row in :data:`ACTIONS`: the roles that may take it, and whether it is an *operator*
action, one that reaches beyond the caller's tenant and so is for the admins of the
tenant ``default`` only. The record actions (``view``, ``create``, ``update``,
``archive``, ``delete``) follow the record rule: admins and managers act on everything in
their tenant, a ``sales`` user on the customers they own and those customers' items.

The built-in rule says True when the table allows it and None (no opinion) when it does
not, so that another plugin may grant an action (answer True) as well as deny it (answer
False: any False denies). Registered ``trylast`` so that other plugins' opinions come
first. docs/admin/permissions.md shows this table (``tests/test_authz.py`` checks that
the page and the table agree).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from attrs import frozen
from sqlalchemy import select, true

from ..hookspecs import hookimpl
from ..plugins import PluginSpec
from ..records import Customer

PLUGIN = PluginSpec(name="permissions", version="0.2.0",
                    description="The role table: who may take each action (built in).")

#: The tenant whose admins are the operators of the whole database.
OPERATOR_TENANT = "default"
#: The roles that act on every record of their tenant (the record rule).
UNSCOPED = ("admin", "manager")
#: The record actions, decided by the record rule rather than by :data:`ACTIONS`.
RECORD_ACTIONS = ("view", "create", "update", "archive", "delete")


@frozen
class Rule:
    """Who may take one action: ``roles``; ``operator``: only in tenant ``default``."""

    roles: tuple[str, ...]
    description: str
    operator: bool = False


ALL = ("admin", "manager", "sales")
MANAGERS = ("admin", "manager")
ADMIN = ("admin",)

#: action -> rule. Plugins' actions are named ``<plugin>.<verb>``; a helper adding an
#: action adds one row here and asks ``ctx.check("<name>", record, label)``.
ACTIONS: Mapping[str, Rule] = MappingProxyType({
    "tenants.manage": Rule(ADMIN, "list and add tenants", operator=True),
    "users.manage": Rule(ADMIN, "add users, change their role or e-mail, disable and "
                                "enable them"),
    "plugins.manage": Rule(ADMIN, "enable and disable plugins for the tenant"),
    "plugins.uninstall": Rule(ADMIN, "drop a plugin's tables and data for every tenant "
                                     "(`plugins uninstall --purge`, `--dry-run`)",
                              operator=True),
    "settings.manage": Rule(ADMIN, "change a plugin's settings (`plugins set`)"),
    "customers.reassign": Rule(MANAGERS, "hand one user's customers and open items to "
                                         "another (`customer reassign`)"),
    "customers.change_owner": Rule(MANAGERS, "change a customer's owner "
                                             "(`customer update --owner`)"),
    "audit.read": Rule(MANAGERS, "see the change feed's rows that concern no customer "
                                 "(users, plugins, settings) made by others"),
    "jobs.run": Rule(MANAGERS, "run a job for the tenant (`jobs run NAME`)"),
    "jobs.run_all": Rule(ADMIN, "run a job for every tenant (`jobs run --all-tenants`)",
                         operator=True),
    "grading.run": Rule(MANAGERS, "grade the tenant's customers (`grading run`)"),
    "webhooks.manage": Rule(ADMIN, "add and remove webhook endpoints"),
    "webhooks.read": Rule(MANAGERS, "list webhook endpoints and their delivery status"),
    "webhooks.deliver": Rule(ADMIN, "deliver the outbox to the endpoints "
                                    "(`webhooks deliver`)"),
    "sales.view_all": Rule(MANAGERS, "see and change every owner's opportunities, in "
                                     "lists and reports (without it: one's own only)"),
    "marketing.manage": Rule(MANAGERS, "add campaigns, record their costs"),
    "marketing.costs": Rule(MANAGERS, "see costs, budgets, cost per lead or customer, "
                                      "ROI"),
    "marketing.view": Rule(ALL, "list and show campaigns, the campaign report"),
    "marketing.lead": Rule(ALL, "record a lead for a customer (record: the customer)"),
    "marketing.target": Rule(ALL, "add customers to a campaign's audience"),
    "receivables.view": Rule(ALL, "the report's receivables section (in the user's scope)"),
    "grading.view": Rule(ALL, "the report's grading section (in the user's scope)"),
    "sales.report": Rule(ALL, "the report's sales section (in the user's scope)"),
    "report.view": Rule(ALL, "write the HTML report (`crmkit report`), in the user's scope"),
    "insights.read": Rule(ALL, "profit, expenses, trend, cohorts, cross-sell; the 360° "
                               "insights panel (in the user's scope)"),
    "insights.manage": Rule(MANAGERS, "keep the product catalogue (`product add`)"),
    "service.view": Rule(ALL, "list, show and search cases; the 360° service section"),
    "service.work": Rule(ALL, "add cases, reply, resolve and close them"),
    "service.reopen": Rule(ALL, "reopen a resolved or closed case"),
    "service.report": Rule(ALL, "case statistics (`case stats`, in the user's scope)"),
})  # read-only: a plugin changes answers through crm_permission, not this table


def allows(rule: Rule, role: str, tenant_slug: str) -> bool:
    """Whether the table lets ``role`` in tenant ``tenant_slug`` take ``rule``'s action."""
    return role in rule.roles and (not rule.operator or tenant_slug == OPERATOR_TENANT)


def _owner_of(ctx: Any, record: Any) -> str | None:
    if isinstance(record, Customer):
        return record.owner
    customer_id = getattr(record, "customer_id", None)
    if customer_id is not None:
        t = ctx.crm.table("customers")
        return ctx.conn.execute(select(t.c.owner).where(
            t.c.tenant_id == ctx.tenant.id, t.c.id == customer_id)).scalar()
    return getattr(record, "owner", None)


@hookimpl(trylast=True)
def crm_permission(ctx: Any, user: Any, action: str, record: Any) -> bool | None:
    """The role table for named actions (True, or None when the table does not allow
    it), then the record rule: admins and managers act on every record of their tenant,
    a ``sales`` user on the customers they own and their items. Since 0.1."""
    rule = ACTIONS.get(action)
    if rule is not None and not allows(rule, user.role, ctx.tenant.slug):
        return None
    if user.role in UNSCOPED:
        return True
    if record is None:
        # a listed action with no record, or a record action asked about nothing
        return True if rule is not None or action in RECORD_ACTIONS else None
    return _owner_of(ctx, record) == user.name


def record_rule(user: Any, customers: Any) -> Any:
    """The record rule of :func:`crm_permission` for a record action on customers, as
    a condition on the customers table: where it holds, the rule answers True for that
    customer (admins and managers: every row; anyone else: the customers they own).
    The scope of :func:`crm_customer_scope` too. A bulk path gets it through
    ``ctx.allowed_where(action, customers)``, which knows when it stands for every
    answer."""
    return true() if user.role in UNSCOPED else customers.c.owner == user.name


@hookimpl(trylast=True)
def crm_customer_scope(ctx: Any, user: Any, customers: Any) -> Any:
    """A user whose role is not an unscoped one sees the customers they own. Since 0.1."""
    return None if user.role in UNSCOPED else record_rule(user, customers)


def markdown_table() -> str:
    """:data:`ACTIONS` as the Markdown table of docs/admin/permissions.md."""
    lines = ["| action | admin | manager | sales | operator only | what it allows |",
             "|---|---|---|---|---|---|"]
    for name, rule in ACTIONS.items():
        marks = ["yes" if r in rule.roles else "-" for r in ALL]
        lines.append(f"| `{name}` | {' | '.join(marks)} | "
                     f"{'yes' if rule.operator else '-'} | {rule.description} |")
    return "\n".join(lines) + "\n"
