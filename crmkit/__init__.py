"""crmkit: an extensible CRM toolkit.

The public API, in one place::

    import crmkit
    crm = crmkit.open("sqlite:///crmkit.db", tenant="default", user="admin")
    c = crm.customers.add(name="上海大众", owner="li")
"""

import logging as _logging

from .app import Crm, open
from .context import Context
from .convert import dumps, to_dict
from .errors import (
    CrmError,
    DatabaseError,
    NotFound,
    PermissionDenied,
    PluginError,
    PluginNotEnabled,
    UnitConflict,
    ValidationError,
)
from .hookspecs import hookimpl, hookspec
from .money import fmt_money, parse_money
from .plugins import PluginSpec
from .records import (
    ACTIVITY_KINDS,
    CUSTOMER_KINDS,
    CUSTOMER_STATUSES,
    DOCUMENT_KINDS,
    DOCUMENT_STATUSES,
    ROLES,
    VALUE_KINDS,
    Activity,
    Change,
    Contact,
    Customer,
    Document,
    Line,
    Reminder,
    Section,
    Tenant,
    Term,
    User,
)
from .storage import SCHEMA_VERSION, LongText, Money, Quantity, Str, UTCDateTime

__version__ = "0.1.0"

# A library's loggers stay silent until the host configures logging (no "last resort"
# output on a user's terminal); the CLI shows causes itself with --debug.
_logging.getLogger("crmkit").addHandler(_logging.NullHandler())

__all__ = [
    "ACTIVITY_KINDS", "CUSTOMER_KINDS", "CUSTOMER_STATUSES", "DOCUMENT_KINDS",
    "DOCUMENT_STATUSES", "ROLES", "SCHEMA_VERSION", "VALUE_KINDS",
    "Activity", "Change", "Contact", "Context", "Crm", "CrmError", "Customer",
    "DatabaseError", "Document", "Line", "LongText", "Money", "NotFound",
    "PermissionDenied", "PluginError", "PluginNotEnabled", "PluginSpec", "Quantity",
    "Reminder", "Section", "Str", "Tenant", "Term", "UnitConflict", "User", "UTCDateTime",
    "ValidationError",
    "dumps", "fmt_money", "hookimpl", "hookspec", "open", "parse_money", "to_dict",
]
