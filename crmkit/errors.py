"""crmkit's errors. Each carries enough context to be shown as one sentence."""

from __future__ import annotations

from collections.abc import Iterable


class CrmError(Exception):
    """Base of every error crmkit raises on purpose (a domain error: exit code 1)."""


class ValidationError(CrmError):
    """Input that crmkit or a plugin refused; nothing was written.

    ``errors`` holds every message collected (core checks and all plugins' validate hooks).
    ``fields`` is parallel to it: the record field each message is about (``"email"``,
    ``"due_on"``), or None when it is about no single field or nobody said. An importer
    maps a message to its column with it, whatever language the message is in.
    """

    def __init__(self, errors: str | list[str],
                 fields: Iterable[str | None] | None = None):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        named = list(fields or ())[:len(self.errors)]
        self.fields: list[str | None] = named + [None] * (len(self.errors) - len(named))
        super().__init__("; ".join(self.errors))


class NotFound(CrmError):
    """A record that does not exist in the current tenant (``customer 42 not found``)."""


class PermissionDenied(CrmError):
    """The current user may not do this (a ``crm_permission`` hook said False)."""


class PluginError(CrmError):
    """A plugin raised inside a hook; the change it was part of was rolled back."""

    def __init__(self, plugin: str, hook: str, error: BaseException):
        self.plugin = plugin
        self.hook = hook
        self.error = error
        super().__init__(
            f"plugin '{plugin}' failed in {hook}: {type(error).__name__}: {error}"
        )


class PluginNotEnabled(CrmError):
    """A plugin's API was used for a tenant that has not enabled the plugin.

    ``plugin`` and ``tenant`` name them; the message says how to enable it. Plugins
    raise it through ``crm.plugins.require(ctx, name)`` at the top of their public
    API functions. Since 0.2.
    """

    def __init__(self, plugin: str, tenant: str, message: str):
        self.plugin = plugin
        self.tenant = tenant
        super().__init__(message)


class UnitConflict(CrmError):
    """A call for one tenant or user was made inside a unit of work open for another.

    ``crm.unit()`` never joins a unit opened for another tenant or user (that would
    write into the wrong tenant, or act with the wrong user's rights); finish the open
    unit first, or make the call in its own thread or asyncio task. Since 0.3.
    """


class DatabaseError(CrmError):
    """The database cannot be reached or is not initialised."""


def close_matches(value: str, choices: Iterable[str]) -> list[str]:
    """The (at most three) ``choices`` closest to a mistyped ``value`` (difflib)."""
    import difflib

    def ratio(c: str) -> float:
        return difflib.SequenceMatcher(None, value, c).ratio()

    close = difflib.get_close_matches(value, sorted(set(choices)), n=3, cutoff=0.6)
    best = max((ratio(c) for c in close), default=0.0)
    return [c for c in close if ratio(c) >= best - 0.1]  # the best, and near ties


def did_you_mean(value: str, choices: Iterable[str], *, inline: bool = False) -> str:
    """`` Did you mean 'x'?`` for the closest of ``choices``, else ``""``: appended to a
    message about an unknown name (a command, a plugin). ``inline``: the lower-case
    `` (did you mean 'x'?)`` for the middle of a sentence."""
    from .i18n import _

    close = close_matches(value, choices)
    if not close:
        return ""
    names = _(" or ").join(f"'{c}'" for c in close)
    if inline:
        return " " + _("(did you mean {names}?)").format(names=names)
    return " " + _("Did you mean {names}?").format(names=names)
