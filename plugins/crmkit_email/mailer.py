"""Build the e-mails from the templates and send them over SMTP."""

from __future__ import annotations

import os
import smtplib
import ssl
from collections import defaultdict
from decimal import Decimal
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any

import crmkit
from crmkit.i18n import Domain, env_locale

_ = Domain("crmkit_email").gettext


def _env() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("crmkit_email", "templates"),
                             autoescape=False, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["money"] = lambda v: "" if v is None else f"{v:,.2f}"
    return env


def render(env: Any, name: str, language: str, **context: Any) -> tuple[str, str]:
    """Render ``<name>.<language>.txt``: the first line is the subject, the rest (after
    one blank line) the body."""
    text = env.get_template(f"{name}.{language}.txt").render(**context)
    subject, _, body = text.partition("\n")
    return subject.strip(), body.lstrip("\n")


def _message(settings: Any, to: list[str], subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=settings.sender.rsplit("@", 1)[-1])
    msg.set_content(body)
    return msg


def compose(ctx: Any, reminders: list[Any], settings: Any) -> list[EmailMessage]:
    """The messages for these reminders (nothing is sent)."""
    env = _env()
    lang = {"zh_CN": "zh", "en": "en"}.get(env_locale() or "", settings.language)  # CRMKIT_LANG
    common = {"tenant": ctx.tenant, "today": ctx.today}
    messages: list[EmailMessage] = []

    from sqlalchemy import select

    u = ctx.crm.table("users")
    user_emails = dict(ctx.conn.execute(select(u.c.name, u.c.email).where(
        u.c.tenant_id == ctx.tenant.id, u.c.email.is_not(None))).all())
    by_owner: dict[str, list[Any]] = defaultdict(list)
    for r in reminders:
        address = (settings.owner_emails.get(r.owner or "") or user_emails.get(r.owner or "")
                   or settings.fallback_email)
        if address:
            by_owner[address].append(r)
    for address, items in sorted(by_owner.items()):
        owners = sorted({r.owner or "" for r in items})
        subject, body = render(env, "owner_digest", lang, reminders=items,
                               owner=", ".join(o for o in owners if o), **common)
        messages.append(_message(settings, [address], subject, body))

    if settings.dun_customers:
        by_customer: dict[int, list[Any]] = defaultdict(list)
        for r in reminders:
            if (r.plugin == settings.dun_plugin and r.kind in settings.dun_kinds
                    and r.customer_id is not None):
                by_customer[r.customer_id].append(r)
        for customer_id, items in sorted(by_customer.items()):
            customer = ctx.crm.customers.get(customer_id)
            contacts = ctx.crm.contacts.list(customer_id=customer_id)
            to = list(dict.fromkeys(
                formataddr((c.name, c.email)) for c in contacts if c.email))
            if not to and customer.email:
                to = [formataddr((customer.name, customer.email))]
            if not to:
                continue
            amounts = [r.amount for r in items if r.amount is not None]
            total = sum(amounts, Decimal("0.00")) if amounts else None
            subject, body = render(env, "dunning", lang, customer=customer, reminders=items,
                                   total=total, currency=ctx.tenant.currency, **common)
            msg = _message(settings, to, subject, body)
            msg.crmkit_kind = "dunning"  # type: ignore[attr-defined]
            messages.append(msg)
    return messages


def password(settings: Any) -> str | None:
    """The SMTP password from ``password_env`` (None without ``username``); a missing
    variable is a ValidationError naming it."""
    if not settings.username:
        return None
    if not settings.password_env:
        raise crmkit.ValidationError(
            _("email setting username is set but password_env is not; set it with "
              "`crmkit plugins set email password_env NAME_OF_VARIABLE`"))
    value = os.environ.get(settings.password_env)
    if value is None:
        raise crmkit.ValidationError(
            _("environment variable '{password_env}' (email setting password_env) "
              "is not set; it must hold the SMTP password").format(
                password_env=settings.password_env))
    return value


def connect(settings: Any) -> smtplib.SMTP:
    """One SMTP connection (STARTTLS and login when configured); the caller quits it."""
    secret = password(settings)
    smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
    try:
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.username:
            smtp.login(settings.username, secret or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def deliver(ctx: Any, reminders: list[Any]) -> None:
    """Queue the messages for these reminders in the caller's transaction; after it
    commits, send them (outside any transaction) and say on ``ctx.echo`` what went."""
    from .queue import Sender, enqueue

    settings = ctx.settings("email")
    password(settings)  # a configuration error refuses the whole send, nothing recorded
    messages = compose(ctx, reminders, settings)
    if not messages:
        return
    enqueue(ctx, messages)
    crm = ctx.crm

    def send_now() -> None:
        report = Sender(crm).run()
        if ctx.echo is not None:
            ctx.echo(report.summary())

    ctx.on_commit(send_now)
