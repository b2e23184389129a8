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
from crmkit.settings import boolean, check_lease, integer, number, text

_ = Domain("crmkit_email").gettext
LANGUAGES = ("zh", "en")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+\Z|^[^@\s]+@localhost\Z")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check(name: str, ok: Any, message: str) -> Any:
    def check(_inst: Any, _attr: Any, value: Any) -> None:
        if not ok(value):
            raise ValueError(_("setting {name} {message}, got {value}").format(
                name=name, message=_(message), value=repr(value)[:80]))
    return check


@frozen
class EmailSettings:
    """Settings of the email plugin (``crmkit plugins set email KEY VALUE``).

    The SMTP password is never stored: ``password_env`` names the environment variable
    that holds it. An owner's digest goes to ``owner_emails[owner]`` when set, else to the
    user's own e-mail (``crmkit user add NAME --email``), else to ``fallback_email``.
    """

    host: str = text("localhost", max_length=255)
    port: int = integer(25, low=1, high=65535)
    starttls: bool = boolean(False)
    username: str | None = None
    password_env: str | None = field(default=None, validator=_check(
        "password_env", lambda v: v is None or bool(_ENV_NAME.match(v)),
        N_("must be the NAME of an environment variable (letters, digits, _)")))
    sender: str = field(default="crmkit@localhost", validator=_check(
        "sender", lambda v: bool(_EMAIL.match(v)), N_("must be an e-mail address")))
    language: str = text("zh", choices=LANGUAGES)
    dun_customers: bool = boolean(False)
    dun_plugin: str = "receivables"
    dun_kinds: list[str] = field(factory=lambda: ["overdue"])
    owner_emails: dict[str, str] = field(factory=dict, validator=_check(
        "owner_emails", lambda v: all(_EMAIL.match(a) for a in v.values()),
        N_("must map user names to e-mail addresses")))
    fallback_email: str | None = field(default=None, validator=_check(
        "fallback_email", lambda v: v is None or bool(_EMAIL.match(v)),
        N_("must be an e-mail address")))
    timeout_seconds: float = number(30.0, low=0, high=600, low_inclusive=False)
    #: a queued message is sent at most this many times before it is given up ("dead")
    max_attempts: int = integer(8, low=1, high=100)
    #: how long a sender holds the messages it claimed (longer than a send can take)
    lease_seconds: float = number(300.0, low=1, high=86_400)

    def __attrs_post_init__(self) -> None:
        check_lease(self)  # a lease shorter than a send: two senders, one message


PLUGIN = crmkit.PluginSpec(
    name="email", version="0.1.0",
    description="Reminders by e-mail (SMTP): a daily digest per owner, optional dunning "
                "letters to customers; Chinese and English templates.",
    settings=EmailSettings,
)


@crmkit.hookimpl
def crm_tables(metadata: Any, prefix: str) -> None:
    """Define ``email_queue`` (the messages waiting to be sent). Returns nothing.
    Since 0.3."""
    from .tables import define_tables

    define_tables(metadata, prefix)


@crmkit.hookimpl
def crm_deliver(ctx: Any, reminders: list[Any]) -> None:
    """Queue the mails for the newly delivered reminders: one digest per owner and, with
    ``dun_customers``, one dunning message per customer with overdue invoices.

    Called by ``reminders --send`` inside its transaction, with the reminders not
    delivered before. Nothing is sent here: the messages are written to ``email_queue``
    in that transaction and sent over SMTP after it commits (and, when the server is
    down or slow, by later ``crmkit jobs run email.deliver`` runs), so a slow SMTP
    server never holds the database. A configuration error (the password variable is
    missing) raises and rolls the recording back. Returns nothing. Since 0.1.
    """
    from .mailer import deliver

    deliver(ctx, reminders)


@crmkit.hookimpl
def crm_jobs() -> list[Any]:
    """``email.deliver``: send the queued mails that are due, once (``crmkit jobs run
    email.deliver``); failed ones are retried by later runs. Returns the job. Since 0.3."""
    from crmkit.jobs import Job

    return [Job("email.deliver", _deliver_job,
                _("Send the queued e-mails (reminder digests, dunning letters) that are "
                  "due, once; failed ones are retried by later runs."))]


def _deliver_job(crm: Any) -> str:
    from .queue import Sender

    r = Sender(crm).run()
    return _("{sent} sent, {failed} failed (will retry), {dead} dead, {pending} "
             "pending").format(**r.as_dict())


__all__ = ["PLUGIN", "EmailSettings"]
