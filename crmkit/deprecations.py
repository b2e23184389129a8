"""Hook evolution: renaming or removing a hook without breaking plugins for a release.

Every hookspec says in its docstring which version it appeared in ("Since 0.1.").
When a hook must change name, its old name stays usable for one release:

1. rename the spec in ``crmkit/hookspecs.py`` (the new name, "Since 0.N.");
2. add the old name to :data:`DEPRECATED` below::

       DEPRECATED = {
           "crm_reminders_due": Deprecation("crm_reminders_due", new="crm_reminders",
                                            since="0.2", removal="0.3"),
       }

The plugin host then declares the old name as a hookspec with pluggy's
``warn_on_impl``: a plugin that still implements it gets a
:class:`CrmkitDeprecationWarning` when it is registered (pytest shows it in the
plugin's own test run), ``crmkit plugins check`` lists it, and its implementation is
called as part of the new hook, so it keeps working until ``removal``.

Removing a hook outright (``new=None``) keeps the old spec in ``hookspecs.py`` for a
release with ``@hookspec(warn_on_impl=deprecation_warning("crm_x", None, "0.2",
"0.3"))`` so that implementations warn but still register.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pluggy
from attrs import frozen

from .hookspecs import hookimpl, hookspec


class CrmkitDeprecationWarning(DeprecationWarning):
    """A plugin uses a hook name (or argument) that will go away."""


@frozen
class Deprecation:
    """One hook name on its way out: ``new`` replaces it (None: removed)."""

    old: str
    new: str | None
    since: str
    removal: str
    note: str = ""

    def message(self) -> str:
        what = f"use '{self.new}' instead" if self.new else "it is no longer called"
        text = (f"hook '{self.old}' is deprecated since crmkit {self.since} and will be "
                f"removed in {self.removal}; {what}")
        return f"{text} ({self.note})" if self.note else text


# No hook has been renamed or removed yet (crmkit 0.1). Read-only at run time: tests
# and hosts pass their own mapping to install()/forward().
DEPRECATED: Mapping[str, Deprecation] = MappingProxyType({})


def deprecation_warning(old: str, new: str | None, since: str, removal: str,
                        note: str = "") -> CrmkitDeprecationWarning:
    """The warning to put in ``@hookspec(warn_on_impl=...)`` of a hook being removed."""
    return CrmkitDeprecationWarning(Deprecation(old, new, since, removal, note).message())


def _spec_namespace(pm: pluggy.PluginManager, deprecated: Mapping[str, Deprecation]) -> Any:
    """A class holding one hookspec per renamed hook: the new spec's signature, warn_on_impl."""
    attrs: dict[str, Any] = {}
    for old, dep in deprecated.items():
        if dep.new is None or getattr(pm.hook, old, None) is not None:
            continue
        new_hc = getattr(pm.hook, dep.new, None)
        if new_hc is None or new_hc.spec is None:
            continue
        new_fn = new_hc.spec.function
        opts = new_hc.spec.opts

        @functools.wraps(new_fn)
        def spec(*args: Any, **kwargs: Any) -> Any:  # pragma: no cover - never called
            return None

        spec.__name__ = old
        spec.__doc__ = f"Deprecated: {dep.message()}."
        spec.__signature__ = inspect.signature(new_fn)  # type: ignore[attr-defined]
        attrs[old] = hookspec(firstresult=bool(opts.get("firstresult")),
                              historic=bool(opts.get("historic")),
                              warn_on_impl=CrmkitDeprecationWarning(dep.message()))(spec)
    return type("DeprecatedHookspecs", (), attrs) if attrs else None


def install(pm: pluggy.PluginManager, deprecated: Mapping[str, Deprecation] | None = None
            ) -> None:
    """Declare the old names of renamed hooks (before plugins are registered)."""
    ns = _spec_namespace(pm, DEPRECATED if deprecated is None else deprecated)
    if ns is not None:
        pm.add_hookspecs(ns)


def forward(pm: pluggy.PluginManager, deprecated: Mapping[str, Deprecation] | None = None
            ) -> list[tuple[str, str, str]]:
    """Make implementations of old names part of the new hooks (after registration).

    Each implementation of an old name is registered (public pluggy API) as a small
    plugin of its own, named ``"<plugin>:<old>"``, implementing the new name with the
    same function and options. Returns (shim name, plugin, old name) triples.
    """
    done = []
    for old, dep in (DEPRECATED if deprecated is None else deprecated).items():
        old_hc = getattr(pm.hook, old, None)
        new_hc = getattr(pm.hook, dep.new, None) if dep.new else None
        if old_hc is None or new_hc is None or dep.new is None:
            continue
        present = {(i.plugin_name, i.function) for i in new_hc.get_hookimpls()}
        for impl in old_hc.get_hookimpls():
            if (impl.plugin_name, impl.function) in present:
                continue
            shim_name = f"{impl.plugin_name}:{old}"
            if pm.get_plugin(shim_name) is not None:
                continue
            pm.register(_shim(dep.new, impl.function, impl.opts), name=shim_name)
            done.append((shim_name, impl.plugin_name, old))
    return done


def _shim(new: str, fn: Any, opts: Mapping[str, Any]) -> Any:
    """An object implementing hook ``new`` by calling ``fn`` (its signature unwrapped
    by pluggy, so it receives the same arguments)."""

    @functools.wraps(fn)
    def forwarded(*args: Any) -> Any:
        return fn(*args)

    marker = {k: v for k, v in opts.items() if k in _IMPL_OPTS and v}
    ns = type("DeprecatedHookForward", (), {})()
    setattr(ns, new, hookimpl(**marker)(forwarded))
    return ns


_IMPL_OPTS = ("wrapper", "hookwrapper", "optionalhook", "tryfirst", "trylast")


def active(deprecated: Mapping[str, Deprecation] | None = None) -> Mapping[str, Deprecation]:
    """The deprecations in force."""
    return DEPRECATED if deprecated is None else deprecated
