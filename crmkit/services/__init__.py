"""The service API: one class per noun, reached as ``crm.<noun>``."""

from .activities import ActivityService
from .admin import TenantService, UserService
from .contacts import ContactService
from .customers import CustomerService
from .documents import DocumentService
from .plugins import PluginService
from .reminders import ReminderService

__all__ = ["ActivityService", "ContactService", "CustomerService", "DocumentService",
           "PluginService", "ReminderService", "TenantService", "UserService"]
