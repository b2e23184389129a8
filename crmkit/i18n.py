"""Translations: every human string of crmkit and its plugins goes through here.

The core's strings::

    from crmkit.i18n import _
    raise ValidationError(_("customer {id} not found").format(id=42))

A plugin's strings live in the plugin's own catalog (a gettext *domain* named after
its package, in ``<package>/locale/<LOCALE>/LC_MESSAGES/<package>.mo``), so a
third-party plugin ships its translations with its wheel::

    from crmkit.i18n import Domain
    _ = Domain("crmkit_sales").gettext

Which language: ``CRMKIT_LANG`` when set (one shell), else the locale of the
operation's tenant (set by ``Crm.unit()`` and the CLI), else ``en``. The choice lives
in a :class:`contextvars.ContextVar`, so threads and asyncio tasks of a host
application never see each other's. Call ``_`` when the message is built, not at
import time (click help texts are the exception: they are read in the language of
``CRMKIT_LANG``, since ``--help`` never opens a database).

Messages use ``str.format`` placeholders with names (``{id}``), never ``%`` or
positional ``{}``, so a translation may reorder them.
"""

from __future__ import annotations

import gettext as _gettext
import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from pathlib import Path
from typing import Any

from .errors import ValidationError

LOCALES = ("en", "zh_CN")
DEFAULT_LOCALE = "en"
ENV = "CRMKIT_LANG"

_current: ContextVar[str | None] = ContextVar("crmkit_locale", default=None)


def check_locale(value: str, what: str = "locale") -> str:
    """``value`` if it is a supported locale, else a ValidationError naming it."""
    if value not in LOCALES:
        # not translated: the language itself is what is wrong
        raise ValidationError(
            f"unknown {what} '{_clip(value)}'; valid: {', '.join(LOCALES)}")
    return value


def env_locale() -> str | None:
    """The locale ``CRMKIT_LANG`` asks for (``zh_CN.UTF-8`` reads as ``zh_CN``), or None.

    An unknown value is a ValidationError naming it."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return None
    return check_locale(raw.split(".", 1)[0].replace("-", "_"), ENV)


def current_locale() -> str:
    """The locale of the running operation: ``CRMKIT_LANG``, else the tenant's, else en."""
    try:
        env = env_locale()
    except ValidationError:
        env = None  # reported once by the CLI; never let a message fail to build
    return env or _current.get() or DEFAULT_LOCALE


def set_locale(locale: str | None) -> Token[str | None]:
    """Choose the locale for the current context (``None``: back to the default).
    Returns the token for :func:`reset_locale`."""
    if locale is not None:
        check_locale(locale)
    return _current.set(locale)


def reset_locale(token: Token[str | None]) -> None:
    _current.reset(token)


@contextmanager
def use_locale(locale: str | None) -> Iterator[None]:
    """``with use_locale("zh_CN"):`` - messages built inside are in that language."""
    token = set_locale(locale)
    try:
        yield
    finally:
        _current.reset(token)


class Domain:
    """One gettext catalog: the core's (``crmkit``) or a plugin's (its package name).

    ``localedir`` defaults to the ``locale`` folder inside the package of that name.
    Catalogs are read once per process and never change, so sharing them between
    ``crmkit.open()`` instances shares no state.
    """

    def __init__(self, name: str, localedir: str | Path | None = None):
        self.name = name
        self._localedir = Path(localedir) if localedir is not None else None
        self._catalogs: dict[str, _gettext.NullTranslations] = {}

    @property
    def localedir(self) -> Path | None:
        if self._localedir is None:
            spec = importlib.util.find_spec(self.name.split(".")[0])
            if spec is None or not spec.submodule_search_locations:
                return None
            self._localedir = Path(list(spec.submodule_search_locations)[0]) / "locale"
        return self._localedir

    def catalog(self, locale: str) -> _gettext.NullTranslations:
        cat = self._catalogs.get(locale)
        if cat is None:
            localedir = self.localedir
            cat = (_gettext.translation(self.name, str(localedir), languages=[locale],
                                        fallback=True)
                   if localedir is not None else _gettext.NullTranslations())
            self._catalogs[locale] = cat
        return cat

    def gettext(self, message: str) -> str:
        """``message`` in the current locale (itself when there is no translation)."""
        locale = current_locale()
        if locale == DEFAULT_LOCALE:
            return message
        return self.catalog(locale).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The singular or plural form for ``n``, in the current locale."""
        locale = current_locale()
        if locale == DEFAULT_LOCALE:
            return singular if n == 1 else plural
        return self.catalog(locale).ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        """``message`` disambiguated by ``context`` (a one-word column header, say)."""
        locale = current_locale()
        if locale == DEFAULT_LOCALE:
            return message
        return self.catalog(locale).pgettext(context, message)


CORE = Domain("crmkit")
_ = CORE.gettext
ngettext = CORE.ngettext
pgettext = CORE.pgettext


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now (translate it with
    ``_(message)`` where it is shown)."""
    return message


def _clip(value: Any, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["CORE", "Domain", "LOCALES", "N_", "_", "check_locale", "current_locale",
           "env_locale", "ngettext", "pgettext", "reset_locale", "set_locale",
           "use_locale"]
