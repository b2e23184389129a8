"""crmkit plugin ``receivables``: who owes us what, and whom to chase today.

Outstanding balances per invoice with first-in-first-out allocation of unapplied
payments, aging buckets, dunning reminders delivered once per level, a 360° section,
and the ``crm_customers_at_risk`` hook for other plugins. See
``docs/plugins/receivables.md``.
"""

import crmkit

from .hooks import (
    crm_addhooks,
    crm_cli,
    crm_customer_sections,
    crm_customers_at_risk,
    crm_demo,
    crm_reminders,
    crm_report_sections,
    crm_today,
)
from .settings import ReceivablesSettings

PLUGIN = crmkit.PluginSpec(
    name="receivables", version="0.1.0",
    description="Outstanding invoices, aging buckets and dunning reminders.",
    settings=ReceivablesSettings)

__all__ = ["PLUGIN", "ReceivablesSettings", "crm_addhooks", "crm_cli",
           "crm_customer_sections", "crm_customers_at_risk", "crm_demo", "crm_reminders",
           "crm_report_sections", "crm_today"]
