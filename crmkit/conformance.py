"""The conformance kit: the checks every plugin, first- or third-party, should pass.

``check_plugin(module_or_name)`` returns a list of problems (empty when the plugin
conforms); ``crmkit.testing.assert_conformant(plugin)`` fails a test with them. It
checks that:

* the ``PLUGIN`` declaration is complete (name, version, description; requirements
  installed; settings an attrs class);
* every hookimpl matches a known hookspec (crmkit's own or one a plugin adds with
  ``crm_addhooks``), with argument names the spec has; deprecated hook names are
  reported; ``crm_*`` functions without ``@crmkit.hookimpl`` are reported;
* the settings class is frozen, every field has a default, and its defaults
  round-trip through cattrs and JSON (``structure_settings``/``unstructure_settings``);
* its tables follow the prefix and ``tenant_id`` conventions, and can be created and
  dropped on a fresh SQLite database; a plugin with ``migrations/versions`` upgrades to
  head building exactly those tables, and downgrades to base;
* every CLI command it adds has help text;
* with ``tests=PATH``: every hook it implements has a test named after it (a test
  function whose name contains the hook's name, ``test_crm_reminders_...``), as
  datasette checks its own hooks.

``check_installed(host)`` runs the hook checks over every installed plugin (``crmkit
plugins check``), including plugins that failed to load.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import json
import re
import sys
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import attrs
import pluggy

from . import deprecations
from .plugins import ENTRY_POINT_GROUP, PluginHost, PluginSpec

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
VERSION_RE = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")


def resolve(plugin: Any) -> tuple[str, Any]:
    """(label, object) of a plugin given as an object, a module name or an entry point."""
    if not isinstance(plugin, str):
        return getattr(plugin, "__name__", type(plugin).__name__), plugin
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == plugin:
            return plugin, ep.load()
    module, _, attr = plugin.partition(":")
    obj = sys.modules.get(module) or importlib.import_module(module)
    return plugin, getattr(obj, attr) if attr else obj


def _impls(obj: Any, pm: pluggy.PluginManager) -> list[tuple[str, str, Any, dict[str, Any]]]:
    """(attribute, hook name, function, opts) of every hookimpl of ``obj``."""
    out = []
    for attr in sorted(dir(obj)):
        opts = pm.parse_hookimpl_opts(obj, attr)
        if opts is not None:
            out.append((attr, opts.get("specname") or attr, getattr(obj, attr), dict(opts)))
    return out


def hook_problems(obj: Any, pm: pluggy.PluginManager,
                  deprecated: Mapping[str, deprecations.Deprecation] | None = None) -> list[str]:
    """Unknown hooks, deprecated hooks, misspelled arguments, unmarked ``crm_*`` functions."""
    deprecated = deprecations.active(deprecated)
    known = sorted(n for n, hc in vars(pm.hook).items()
                   if isinstance(hc, pluggy.HookCaller) and hc.spec is not None
                   and n not in deprecated)
    problems: list[str] = []
    marked = set()
    for attr, name, fn, _opts in _impls(obj, pm):
        marked.add(attr)
        dep = deprecated.get(name)
        if dep is not None:
            problems.append(f"{dep.message()}")
            name = dep.new or name
        hc = getattr(pm.hook, name, None)
        spec = getattr(hc, "spec", None)
        if spec is None:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append(f"'{name}' is not a known hook{hint}")
            continue
        for arg in _argnames(fn):
            if arg not in spec.argnames:
                close = difflib.get_close_matches(arg, spec.argnames, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                problems.append(f"{name}: argument '{arg}' is not in the hookspec "
                                f"({', '.join(spec.argnames)}){hint}")
    for attr in sorted(dir(obj)):
        value = getattr(obj, attr, None)
        if (attr.startswith("crm_") and attr not in marked and callable(value)
                and getattr(value, "__module__", None) == getattr(obj, "__name__", None)):
            problems.append(f"function '{attr}' looks like a hook but is not marked "
                            "@crmkit.hookimpl")
    return problems


def _argnames(fn: Any) -> list[str]:
    """The arguments pluggy passes to an implementation: its positional parameters
    without a default (a bound method's ``self`` excluded), as pluggy reads them."""
    fn = inspect.unwrap(fn)
    sig = inspect.signature(fn)  # a bound method's signature has no self already
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = [p.name for p in sig.parameters.values()
             if p.kind in kinds and p.default is inspect.Parameter.empty]
    in_class = "." in getattr(fn, "__qualname__", "").rsplit("<locals>.", 1)[-1]
    if names and in_class and not inspect.ismethod(fn) and names[0] in ("self", "cls"):
        names = names[1:]  # a function taken from a class: pluggy skips self
    return names


def _call(fn: Any, **kwargs: Any) -> Any:
    from .app import _call_impl

    return _call_impl(fn, **kwargs)


def _declaration(spec: PluginSpec, host: PluginHost) -> list[str]:
    problems = []
    if not NAME_RE.match(spec.name or ""):
        problems.append(f"PLUGIN.name '{spec.name}' must be lowercase letters, digits and _")
    if not VERSION_RE.match(spec.version or ""):
        problems.append(f"PLUGIN.version '{spec.version}' is not a version like 0.1.0")
    if not (spec.description or "").strip():
        problems.append("PLUGIN.description is empty")
    for r in spec.requires:
        if r not in host.installed:
            problems.append(f"PLUGIN.requires '{r}', which is not installed")
    if spec.settings is not None and not attrs.has(spec.settings):
        problems.append("PLUGIN.settings is not an attrs class")
    return problems


def settings_problems(cls: type, name: str) -> list[str]:
    """The settings class is frozen, has defaults, and round-trips through cattrs/JSON."""
    from .convert import structure_settings, unstructure_settings
    from .errors import ValidationError

    if not attrs.has(cls):
        return [f"settings {cls!r} is not an attrs class"]
    problems = [f"setting '{f.name}' has no default" for f in attrs.fields(cls)
                if f.default is attrs.NOTHING]
    if problems:
        return problems
    try:
        obj = structure_settings({}, cls, name)
    except ValidationError as exc:
        return [f"settings defaults do not validate: {exc}"]
    first = attrs.fields(cls)[0].name if attrs.fields(cls) else None
    if first is not None:
        try:
            setattr(obj, first, getattr(obj, first))
            problems.append("settings class is not frozen (use @attrs.frozen)")
        except (attrs.exceptions.FrozenInstanceError, AttributeError):
            pass
    try:
        data = json.loads(json.dumps(unstructure_settings(obj)))
        again = structure_settings(data, cls, name)
    except (TypeError, ValueError, ValidationError) as exc:
        return [*problems, f"settings do not round-trip through JSON: {exc}"]
    if again != obj:
        problems.append(f"settings do not round-trip: {obj!r} became {again!r}")
    return problems


def table_problems(obj: Any, name: str, pm: pluggy.PluginManager) -> list[str]:
    """Tables named ``{prefix}{name}_*`` with a leading ``tenant_id``; create/drop on SQLite.

    Plugins that ship Alembic revisions are also migrated up and down by
    :func:`migration_problems`.
    """
    from sqlalchemy import create_engine, inspect

    from . import storage

    impls = [fn for _, hook, fn, _ in _impls(obj, pm) if hook == "crm_tables"]
    if not impls:
        return []
    problems: list[str] = []
    for prefix in ("crm_", "zz_"):
        md = storage.build_metadata(prefix)
        before = set(md.tables)
        try:
            for fn in impls:
                _call(fn, metadata=md, prefix=prefix)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return [f"crm_tables raised {type(exc).__name__}: {exc}"]
        new = sorted(set(md.tables) - before)
        if prefix != "crm_":  # a second prefix: only whether the prefix argument is used
            fixed = [t for t in new if not t.startswith(prefix)]
            if fixed and not any("should be named" in p for p in problems):
                problems.append(f"table(s) {', '.join(fixed)} ignore the prefix argument")
            continue
        for t in new:
            if not t.startswith(f"{prefix}{name}_"):
                problems.append(f"table '{t}' should be named '{prefix}{name}_...' "
                                "(use the prefix argument)")
            table = md.tables[t]
            if "tenant_id" not in table.c:
                problems.append(f"table '{t}' has no tenant_id column")
            for ix in table.indexes:
                cols = [c.name for c in ix.columns]
                if cols and cols[0] != "tenant_id":
                    problems.append(f"index '{ix.name}' of '{t}' does not lead with tenant_id")
        if not new:
            continue
        engine = create_engine("sqlite://")
        try:
            md.create_all(engine)
            md.drop_all(engine, tables=[md.tables[t] for t in new])
            left = set(inspect(engine).get_table_names()) & set(new)
            if left:
                problems.append(f"tables left after drop: {', '.join(sorted(left))}")
        except Exception as exc:  # noqa: BLE001
            problems.append(f"tables cannot be created and dropped on SQLite: {exc}")
        finally:
            engine.dispose()
    return problems


def migration_problems(obj: Any, name: str) -> list[str]:
    """For a plugin with ``migrations/versions``: on a fresh SQLite file its branch
    upgrades to head, builds exactly the tables ``crm_tables`` declares (alembic's
    compare), downgrades to base leaving none of them, and upgrades again."""
    import tempfile

    from sqlalchemy import inspect

    from . import migrations
    from .app import open as crm_open

    if migrations.plugin_versions_dir(obj) is None:
        return []
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as d:
        crm = crm_open(f"sqlite:///{d}/conformance.db", plugins=[obj], discover=False)
        try:
            if name not in crm.host.installed or not crm.host.installed[name].loaded:
                return [f"cannot be registered for the migration check: "
                        f"{crm.host.installed.get(name) and crm.host.installed[name].error}"]
            tables = crm.host.installed[name].tables
            crm.init()  # the core; the plugin's branch as `db upgrade` brings it:
            migrations.upgrade(crm)
            present = set(inspect(crm.engine).get_table_names())
            missing = sorted(set(tables) - present)
            if missing:
                problems.append(f"upgrade to head does not create {', '.join(missing)}")
            else:
                from alembic.autogenerate import compare_metadata
                from alembic.runtime.migration import MigrationContext

                with crm.engine.connect() as conn:
                    mc = MigrationContext.configure(conn, opts={"compare_type": True})
                    diff = [x for x in compare_metadata(mc, crm.metadata)
                            if _names(x) & set(tables)
                            and not (isinstance(x, tuple) and x[0] == "remove_table")]
                if diff:
                    problems.append(f"migrations differ from crm_tables: {diff[:3]}")
            migrations.downgrade(crm, f"{name}@base")
            left = sorted(set(tables) & set(inspect(crm.engine).get_table_names()))
            if left:
                problems.append(f"downgrade to base leaves {', '.join(left)}")
            migrations.upgrade(crm, f"{name}@head")
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            problems.append(f"migrations fail: {type(exc).__name__}: {exc}")
        finally:
            crm.close()
    return problems


def _names(diff: Any) -> set[str]:
    """Table names an alembic compare item is about."""
    if isinstance(diff, list | tuple):
        return set().union(*(_names(x) for x in diff)) if diff else set()
    if isinstance(diff, str):
        return {diff}
    table = getattr(diff, "table", None)
    if table is not None:
        return {table.name}
    name = getattr(diff, "name", None)
    return {name} if isinstance(name, str) else set()


def cli_problems(obj: Any, pm: pluggy.PluginManager) -> list[str]:
    """Every command the plugin adds has help text."""
    import click

    impls = [fn for _, hook, fn, _ in _impls(obj, pm) if hook == "crm_cli"]
    group = click.Group("crmkit")
    problems: list[str] = []
    for fn in impls:
        try:
            _call(fn, cli=group)
        except Exception as exc:  # noqa: BLE001
            return [f"crm_cli raised {type(exc).__name__}: {exc}"]

    def walk(cmd: click.Command, path: str) -> None:
        if not (cmd.help or cmd.short_help):
            problems.append(f"command 'crmkit {path}' has no help text")
        for sub_name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, f"{path} {sub_name}")

    for cmd_name, cmd in sorted(group.commands.items()):
        walk(cmd, cmd_name)
    return problems


def named_tests(tests: str | Path) -> set[str]:
    """Names of the test functions (``test*``, in classes too) of a test file, or of the
    ``test_*.py`` and ``*_test.py`` files under a folder."""
    import ast

    path = Path(tests)
    files = ([path] if path.is_file() else
             sorted({*path.rglob("test_*.py"), *path.rglob("*_test.py")}))
    out: set[str] = set()
    for f in files:
        tree = ast.parse(f.read_text(encoding="utf-8"), filename=str(f))
        out |= {n.name for n in ast.walk(tree)
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                and n.name.startswith("test")}
    return out


def hook_test_problems(obj: Any, pm: pluggy.PluginManager, tests: str | Path) -> list[str]:
    """Hooks the plugin implements that no test in ``tests`` names (datasette's check:
    a test function whose name contains the hook's name, ``test_crm_reminders_...``)."""
    from .i18n import _

    if not Path(tests).exists():
        return [_("no tests at {path}").format(path=tests)]
    names = named_tests(tests)
    if not names:
        return [_("no test functions in {path}").format(path=tests)]
    deprecated = deprecations.active(None)
    hooks = sorted({(deprecated[h].new or h) if h in deprecated else h
                    for _, h, _, _ in _impls(obj, pm)})
    return [_("hook '{hook}' has no test named after it in {path} (e.g. test_{hook}_...)"
              ).format(hook=h, path=tests) for h in hooks if not any(h in n for n in names)]


def check_plugin(plugin: Any, *, host: PluginHost | None = None,
                 tests: str | Path | None = None) -> list[str]:
    """Everything wrong with a plugin (a module, an object, a module or entry point name).

    An empty list means it conforms. Each problem is one sentence starting with the
    plugin's name. ``tests`` (a folder or file of the plugin's tests) adds the check
    that every hook it implements has a test named after it.
    """
    try:
        label, obj = resolve(plugin)
    except Exception as exc:  # noqa: BLE001
        return [f"{plugin}: cannot be imported: {type(exc).__name__}: {exc}"]
    spec = getattr(obj, "PLUGIN", None)
    if not isinstance(spec, PluginSpec):
        return [f"{label}: no PLUGIN = crmkit.PluginSpec(...) declaration"]
    host = host or PluginHost()
    pm = host.pm
    if all(p.obj is not obj for p in host.installed.values()):
        for _, hook, fn, _ in _impls(obj, pm):
            if hook == "crm_addhooks":
                try:
                    fn(pluginmanager=pm)
                except Exception as exc:  # noqa: BLE001
                    return [f"{spec.name}: crm_addhooks raised {exc}"]
    problems = _declaration(spec, host) + hook_problems(obj, pm)
    cls = spec.settings
    for _, hook, fn, _ in _impls(obj, pm):
        if hook == "crm_settings":
            cls = fn()
    if cls is not None:
        problems += settings_problems(cls, spec.name)
    problems += table_problems(obj, spec.name, pm)
    problems += migration_problems(obj, spec.name)
    problems += cli_problems(obj, pm)
    if tests is not None:
        problems += hook_test_problems(obj, pm, tests)
    return [f"{spec.name}: {p}" for p in problems]


def check_installed(host: PluginHost | None = None, *, names: Sequence[str] = (),
                    tests: str | Path | None = None) -> list[dict[str, Any]]:
    """Hook checks of every installed plugin (or of ``names``): ``[{"plugin", "source",
    "ok", "problems"}]``.

    A plugin that failed to load is re-imported from its source to say exactly what is
    wrong (an unknown hook, a misspelled argument), else its load error is shown. With
    ``tests``, every hook of the plugins checked (built-ins only when named) must have
    a test named after it there.
    """
    host = host or PluginHost()
    for n in names:
        host.get(n)  # an unknown name: ValidationError listing the installed ones
    out = []
    for name, p in sorted(host.installed.items(), key=lambda kv: (not kv[1].builtin, kv[0])):
        if names and name not in names:
            continue
        problems: list[str] = []
        obj = p.obj
        if obj is None and p.source:
            try:
                obj = resolve(p.source.split(" ", 1)[0])[1]
            except Exception:  # noqa: BLE001
                obj = None
        if obj is not None:
            problems = hook_problems(obj, host.pm)
            if tests is not None and (names or not p.builtin):
                problems += hook_test_problems(obj, host.pm, tests)
        if p.error and not problems:
            problems = [p.error.splitlines()[0]]
        out.append({"plugin": name, "source": p.source, "loaded": p.loaded,
                    "ok": not problems, "problems": problems})
    return out


__all__ = ["check_installed", "check_plugin", "cli_problems", "hook_problems",
           "hook_test_problems", "migration_problems", "resolve", "settings_problems",
           "table_problems", "named_tests"]
