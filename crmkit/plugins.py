"""Plugin discovery, registration order, and per-tenant hook callers.

One :class:`PluginHost` (one ``pluggy.PluginManager``) per ``crmkit.open``: nothing is
shared between instances. Plugins come from the ``crmkit.plugins`` entry-point group,
from ``crmkit.open(plugins=[...])``, and the built-ins in ``crmkit.builtin``.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Any, cast

import pluggy
from attrs import define, field, frozen

from . import deprecations, hookspecs
from .errors import CrmError, PluginError, ValidationError, did_you_mean

ENTRY_POINT_GROUP = "crmkit.plugins"
log = logging.getLogger("crmkit.plugins")


@frozen
class PluginSpec:
    """A plugin's declaration: the module-level ``PLUGIN`` of every plugin.

    ``requires`` names plugins that must be enabled with it (they are called before
    it in every hook); ``settings`` is a frozen attrs class with defaults, or None.
    """

    name: str
    version: str = "0.1.0"
    description: str = ""
    requires: tuple[str, ...] = field(default=(), converter=tuple)
    settings: type | None = None


@define
class InstalledPlugin:
    """What the host knows of one plugin, loaded or not."""

    name: str
    spec: PluginSpec | None = None
    obj: Any = None
    error: str | None = None
    builtin: bool = False
    source: str = ""
    tables: list[str] = field(factory=list)
    commands: list[str] = field(factory=list)
    cause: BaseException | None = None  # the exception behind ``error`` (for --debug)

    @property
    def loaded(self) -> bool:
        return self.error is None and self.obj is not None


class HookCaller:
    """Calls one hook's implementations of a fixed set of plugins.

    Built once per set of enabled plugins and kept: the hook of a plugin manager that
    holds just that set (see :class:`TenantHooks`), so a call costs what a pluggy hook
    call costs plus one ``try`` (pluggy's ``subset_hook_caller`` filters the
    implementations on every call: 1.57x a bare call, measured). A hook no plugin of the
    set declares falls back to ``subset_hook_caller`` of the full manager. A non-crmkit
    exception raised inside becomes a :class:`PluginError` naming the plugin whose
    implementation raised.
    """

    __slots__ = ("name", "_call", "_order", "_codes")

    def __init__(self, pm: pluggy.PluginManager, name: str, plugins: frozenset[str] | None,
                 owner: dict[str, str] | None = None, subset: pluggy.PluginManager | None = None,
                 caller: Any = None):
        owner = owner or {}
        if caller is None:
            hc = getattr(pm.hook, name)
            caller = getattr(subset.hook, name, None) if subset is not None else None
            if plugins is None:
                caller = hc
            elif caller is None:
                outside = [obj for pname, obj in pm.list_name_plugin()
                           if owner.get(pname, pname) not in plugins]
                caller = pm.subset_hook_caller(name, outside)
        impls = caller.get_hookimpls()
        self.name = name
        self._call = caller
        self._order = [owner.get(i.plugin_name, i.plugin_name) for i in reversed(impls)]
        self._codes = {getattr(inspect.unwrap(i.function), "__code__", None):
                       owner.get(i.plugin_name, i.plugin_name) for i in impls}

    def __call__(self, **kwargs: Any) -> Any:
        try:
            return self._call(**kwargs)
        except CrmError:
            raise
        except Exception as exc:
            raise PluginError(self.culprit(exc), self.name, exc) from exc

    @property
    def plugins(self) -> list[str]:
        """Plugin names in call order."""
        return list(self._order)

    def each(self) -> list[tuple[str, Any]] | None:
        """The implementations one by one, in call order: ``(plugin, call)`` pairs where
        ``call(**kwargs)`` runs that plugin's implementation alone (a non-crmkit error
        becomes a :class:`PluginError` naming it, as for the whole call). For a caller
        that runs them apart, as ``crmkit report`` runs each plugin's sections in its
        own thread. None when a wrapper implementation is involved (it must see the
        whole call)."""
        impls = list(reversed(self._call.get_hookimpls()))
        if any(i.hookwrapper or i.wrapper for i in impls):
            return None
        owner = dict(zip(impls, self._order, strict=True))

        def one(impl: Any) -> Any:
            def call(**kwargs: Any) -> Any:
                try:
                    return impl.function(*[kwargs[a] for a in impl.argnames])
                except CrmError:
                    raise
                except Exception as exc:
                    raise PluginError(owner[impl], self.name, exc) from exc
            return call

        return [(owner[i], one(i)) for i in impls]

    def culprit(self, exc: BaseException) -> str:
        tb = exc.__traceback__
        while tb is not None:
            name = self._codes.get(tb.tb_frame.f_code)
            if name is not None:
                return name
            tb = tb.tb_next
        return "?"


class TenantHooks:
    """``hooks.<name>(**kwargs)`` for one set of enabled plugins (cached callers)."""

    def __init__(self, pm: pluggy.PluginManager, plugins: frozenset[str] | None,
                 owner: dict[str, str] | None = None):
        self._pm = pm
        self._owner = owner
        self.plugins = plugins
        self._subset: pluggy.PluginManager | None = None
        self._per_record: dict[tuple[str, str], HookCaller] = {}

    def _subset_manager(self) -> pluggy.PluginManager:
        """A plugin manager holding only this set's plugins (and the shims of their
        deprecated hook names), registered in the full manager's order so that the call
        order is the same; built on first use."""
        if self._subset is None:
            sub = pluggy.PluginManager("crmkit")
            sub.add_hookspecs(hookspecs)
            deprecations.install(sub)
            sub.hook.crm_addhooks.call_historic(kwargs={"pluginmanager": sub})
            owner = self._owner or {}
            for pname, obj in self._pm.list_name_plugin():
                if owner.get(pname, pname) in (self.plugins or ()):
                    sub.register(obj, name=pname)
            self._subset = sub
        return self._subset

    def per_record(self, name: str, batch: str) -> HookCaller:
        """Hook ``name`` for this set's plugins that do not implement ``batch``, its batch
        form (``crm_customer_created`` / ``crm_customers_created``): a plugin that
        implements both is called once per record, in the batch form. Built on first use
        and kept; the caller of ``name`` itself when no plugin of the set has the batch
        form."""
        key = (name, batch)
        caller = self._per_record.get(key)
        if caller is None:
            batchers = set(getattr(self, batch).plugins)
            caller = getattr(self, name)
            if batchers & set(caller.plugins):
                pm = self._subset_manager() if self.plugins is not None else self._pm
                owner = self._owner or {}
                drop = [obj for pname, obj in pm.list_name_plugin()
                        if owner.get(pname, pname) in batchers]
                caller = HookCaller(pm, name, None, owner,
                                    caller=pm.subset_hook_caller(name, drop))
            self._per_record[key] = caller
        return caller

    def __getattr__(self, name: str) -> HookCaller:
        if not name.startswith("crm_"):
            raise AttributeError(name)
        subset = self._subset_manager() if self.plugins is not None else None
        caller = HookCaller(self._pm, name, self.plugins, self._owner, subset)
        setattr(self, name, caller)
        return caller


def _raised_in(exc: BaseException, obj: Any, hook: str) -> bool:
    """Whether ``exc`` was raised inside ``obj``'s implementation of ``hook``."""
    fn = getattr(obj, hook, None)
    code = getattr(inspect.unwrap(fn), "__code__", None) if fn is not None else None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is code:
            return True
        tb = tb.tb_next
    return False


_DISCOVERED: list[tuple[Any, tuple[Any, ...]]] = []


def discovered() -> tuple[Any, ...]:
    """The ``crmkit.plugins`` entry points, sorted by name: the installed distributions
    are scanned once per process (a few ms each time otherwise) and again only when
    ``sys.path`` changes. What is kept is metadata (names and module paths); each
    :class:`PluginHost` still loads and registers its own plugins."""
    key = (entry_points, tuple(sys.path))
    if _DISCOVERED and _DISCOVERED[0][0] == key:
        return _DISCOVERED[0][1]
    found = tuple(sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name))
    _DISCOVERED[:] = [(key, found)]
    return found


def _load_builtins() -> list[tuple[str, Any]]:
    from .builtin import BUILTINS

    return [(name, importlib.import_module(mod)) for name, mod in BUILTINS]


class PluginHost:
    """The plugin manager of one crmkit instance."""

    def __init__(self, plugins: Iterable[Any] = (), *, discover: bool = True):
        self.pm = pluggy.PluginManager("crmkit")
        self.pm.add_hookspecs(hookspecs)
        deprecations.install(self.pm)  # old names of renamed hooks warn on implementation
        self.installed: dict[str, InstalledPlugin] = {}
        self._hooks: dict[frozenset[str] | None, TenantHooks] = {}
        self.pm.hook.crm_addhooks.call_historic(kwargs={"pluginmanager": self.pm})

        for name, mod in _load_builtins():
            spec = getattr(mod, "PLUGIN", None) or PluginSpec(name=name)
            self.installed[name] = InstalledPlugin(name, spec, mod, builtin=True,
                                                   source="crmkit (built-in)")
        if discover:
            for ep in discovered():
                self._add(ep.name, lambda ep=ep: ep.load(), f"{ep.value}")
        for obj in plugins:
            if isinstance(obj, str):
                self._add(obj.rsplit(".", 1)[-1], lambda o=obj: importlib.import_module(o), obj)
            else:
                self._add(None, lambda o=obj: o, getattr(obj, "__name__", repr(obj)))
        self._register_all()
        # implementations of old names join the new hooks, as plugins of their own
        # (named "<plugin>:<old hook>") that belong to the plugin that wrote them
        self.owner: dict[str, str] = {}
        for shim, plugin, _old in deprecations.forward(self.pm):
            self.owner[shim] = plugin
        self._settings: dict[str, Any] = {}
        for pname, fn in self.impls_by_plugin("crm_settings"):
            try:
                self._settings[pname] = fn()
            except Exception as exc:  # noqa: BLE001 - listed as broken, never fatal
                self.mark_broken(pname, "crm_settings", exc)

    def mark_broken(self, name: str, hook: str, exc: BaseException) -> None:
        """List plugin ``name`` as broken by ``exc`` raised in extension hook ``hook``
        (``crm_tables``, ``crm_cli``, ``crm_settings``, ``crm_demo``) and stop calling
        it: it is unregistered, so no tenant's hooks reach it, and ``plugins list``
        shows the error. The exception is kept (``cause``) and logged."""
        p = self.installed[name]
        if p.error is None:
            p.error = f"{hook} failed: {type(exc).__name__}: {exc}"
            p.cause = exc
        log.warning("plugin %s failed in %s", name, hook, exc_info=exc)
        for shim, owner in self.owner.items():
            if owner == name and self.pm.get_plugin(shim) is not None:
                self.pm.unregister(name=shim)
        if self.pm.get_plugin(name) is not None:
            self.pm.unregister(name=name)
        self._hooks.clear()  # callers built before hold its implementations

    def _add(self, name: str | None, load: Any, source: str) -> None:
        try:
            obj = load()
            spec = getattr(obj, "PLUGIN", None)
            if not isinstance(spec, PluginSpec):
                raise TypeError("it has no PLUGIN = crmkit.PluginSpec(...) declaration")
            name = spec.name
            if name in self.installed and self.installed[name].loaded:
                raise ValueError(f"a plugin named '{name}' is already installed")
            self.installed[name] = InstalledPlugin(name, spec, obj, source=source)
        except Exception as exc:  # a broken plugin is listed, never fatal
            name = name or source
            self.installed[name] = InstalledPlugin(
                name, error=f"{type(exc).__name__}: {exc}", source=source, cause=exc
            )
            log.warning("plugin %s failed to load", name, exc_info=exc)

    def _register_all(self) -> None:
        # pluggy calls the last registered first: register dependents before their
        # requirements so that requirements are called first.
        order = self.call_order()
        for name in reversed(order):
            p = self.installed[name]
            try:
                self.pm.register(p.obj, name=name)  # runs its crm_addhooks (historic)
            except Exception as exc:
                hook = "crm_addhooks" if _raised_in(exc, p.obj, "crm_addhooks") else None
                p.error = (f"{hook} failed: " if hook else "") + f"{type(exc).__name__}: {exc}"
                p.cause = exc
                p.obj = None
                log.warning("plugin %s failed to register", name, exc_info=exc)
                if self.pm.get_plugin(name) is not None:  # pluggy left it half-registered
                    self.pm.unregister(name=name)

    def call_order(self) -> list[str]:
        """Loaded plugins with each plugin's requirements before it (then by name)."""
        loaded = {n: p for n, p in self.installed.items() if p.loaded}
        order: list[str] = []
        seen: set[str] = set()

        def visit(n: str, path: tuple[str, ...]) -> None:
            if n in seen or n not in loaded:
                return
            if n in path:
                return
            for r in sorted(loaded[n].spec.requires):  # type: ignore[union-attr]
                visit(r, (*path, n))
            seen.add(n)
            order.append(n)

        builtins = sorted(n for n, p in loaded.items() if p.builtin)
        for n in builtins + sorted(n for n in loaded if n not in builtins):
            visit(n, ())
        return order

    # --- lookups ---------------------------------------------------------------------

    def get(self, name: str) -> InstalledPlugin:
        p = self.installed.get(name)
        if p is None:
            names = sorted(n for n, q in self.installed.items() if not q.builtin)
            from .i18n import _

            raise ValidationError(_("unknown plugin '{name}'{hint}; installed: {names}").format(
                name=name[:80], hint=did_you_mean(name, names, inline=True),
                names=", ".join(names) or _("none")))
        return p

    def hooks(self, enabled: frozenset[str] | None) -> TenantHooks:
        """Cached hook callers for a set of enabled plugin names (None: all)."""
        h = self._hooks.get(enabled)
        if h is None:
            h = self._hooks[enabled] = TenantHooks(self.pm, enabled, self.owner)
        return h

    @property
    def all(self) -> TenantHooks:
        return self.hooks(None)

    def builtin_names(self) -> frozenset[str]:
        return frozenset(n for n, p in self.installed.items() if p.builtin and p.loaded)

    def settings_class(self, name: str) -> type | None:
        p = self.get(name)
        if not p.loaded:
            return None
        if name in self._settings:  # asked of crm_settings once, when the host was made
            return cast("type | None", self._settings[name])
        return p.spec.settings if p.spec else None

    def impls_by_plugin(self, hook_name: str) -> list[tuple[str, Any]]:
        """(plugin name, function) of one hook in call order (an implementation of a
        deprecated name forwarded to it is named after its plugin)."""
        hc = getattr(self.pm.hook, hook_name)
        owner = getattr(self, "owner", {})
        return [(owner.get(i.plugin_name, i.plugin_name), i.function)
                for i in reversed(hc.get_hookimpls())]

    def implemented_hooks(self, name: str) -> list[str]:
        p = self.get(name)
        if not p.loaded:
            return []
        return sorted(h.name for h in self.pm.get_hookcallers(p.obj) or [])

