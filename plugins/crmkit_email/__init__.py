"""crmkit plugin 'email': reminders by e-mail over SMTP.

A reminder channel (``crm_deliver``): ``reminders --send`` mails each owner one message
listing their new reminders, and, with ``dun_customers`` on, mails each customer with
overdue invoices one dunning message addressed to its contacts. Templates are Jinja2,
in Chinese and English. See docs/plugins/email.md.
"""

from __future__ import annotations

import re
from typing import Any

from attrs import field, frozen

import crmkit
from crmkit.i18n import N_, Domain

_ = Domain("crmkit_email").gettext

LANGUAGES = ("zh", "en")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+\Z|^[^@\s]+@localhost\Z")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check(name: str, ok: Any, message: str) -> Any:
    def check(_inst: Any, _attr: Any, value: Any) -> None:
        if not ok(value):
            raise ValueError(_("setting {name} {message}, got {value!r}").format(
                                 name=name, message=_(message), value=value))
    return check


@frozen
class EmailSettings:
    """Settings of the email plugin (``crmkit plugins set email KEY VALUE``).

    The SMTP password is never stored: ``password_env`` names the environment variable
    that holds it. An owner's digest goes to ``owner_emails[owner]`` when set, else to the
    user's own e-mail (``crmkit user add NAME --email``), else to ``fallback_email``.
    """

    host: str = "localhost"
    port: int = field(default=25, validator=_check("port", lambda v: 0 < v < 65536,
                                                   N_("must be between 1 and 65535")))
    starttls: bool = False
    username: str | None = None
    password_env: str | None = field(default=None, validator=_check(
        "password_env", lambda v: v is None or bool(_ENV_NAME.match(v)),
        N_("must be the NAME of an environment variable (letters, digits, _)")))
    sender: str = field(default="crmkit@localhost", validator=_check(
        "sender", lambda v: bool(_EMAIL.match(v)), N_("must be an e-mail address")))
    language: str = field(default="zh", validator=_check(
        "language", lambda v: v in LANGUAGES, N_("must be one of zh, en")))
    dun_customers: bool = False
    dun_plugin: str = "receivables"
    dun_kinds: list[str] = field(factory=lambda: ["overdue"])
    owner_emails: dict[str, str] = field(factory=dict, validator=_check(
        "owner_emails", lambda v: all(_EMAIL.match(a) for a in v.values()),
        N_("must map user names to e-mail addresses")))
    fallback_email: str | None = field(default=None, validator=_check(
        "fallback_email", lambda v: v is None or bool(_EMAIL.match(v)),
        N_("must be an e-mail address")))
    timeout_seconds: float = field(default=30.0, converter=float, validator=_check(
        "timeout_seconds", lambda v: v > 0, N_("must be greater than 0")))


PLUGIN = crmkit.PluginSpec(
    name="email", version="0.1.0",
    description="Reminders by e-mail (SMTP): a daily digest per owner, optional dunning "
                "letters to customers; Chinese and English templates.",
    settings=EmailSettings,
)


@crmkit.hookimpl
def crm_deliver(ctx: Any, reminders: list[Any]) -> None:
    """Mail the newly delivered reminders: one digest per owner and, with
    ``dun_customers``, one dunning message per customer with overdue invoices.

    Called by ``reminders --send`` inside its transaction, with the reminders not
    delivered before. Raising (SMTP down, password variable missing) rolls the
    recording back, so the reminders are offered again next time. Returns nothing.
    Since 0.1.
    """
    from .mailer import deliver

    deliver(ctx, reminders)


# Jobs: once delivery runs after commit (mails queued in the transaction, sent from the
# queue), declare ``email.deliver`` here, like webhooks.deliver:
#
#     @crmkit.hookimpl
#     def crm_jobs() -> list[Any]:
#         from crmkit.jobs import Job
#         return [Job("email.deliver", <send what is queued, return a one-line summary>,
#                     <description, translated>)]


__all__ = ["PLUGIN", "EmailSettings"]
