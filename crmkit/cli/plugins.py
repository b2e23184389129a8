"""plugins and hooks commands."""

from __future__ import annotations

import json
from typing import Any

import click

from ..i18n import _
from ..output import Group, fields, json_option, pass_crm, print_json, table


@click.group(cls=Group)
def plugins() -> None:
    """Switch plugins on and off for this tenant, and set their settings."""


@plugins.command("list")
@json_option
@click.pass_context
def plugins_list(ctx: click.Context, as_json: bool) -> None:
    """Installed plugins, whether they are enabled here, and load errors.

    Without a database (a folder where `crmkit init` has not run) it lists what is
    installed, with "enabled" unknown, and creates nothing."""
    from ..errors import DatabaseError
    from ..services.plugins import describe
    from . import _state

    state = _state(ctx.find_root())
    rows, why = None, _("{path} does not exist").format(path=state.missing())
    if state.missing() is None:
        try:
            rows = state.crm().plugins.list()
        except DatabaseError as exc:  # not initialised: what is installed all the same
            why = str(exc)
    if rows is None:
        rows = describe(state.host)
        click.echo(_("no database ({why}): installed plugins, enabled unknown").format(
            why=why), err=True)
    if as_json:
        return print_json(rows)
    from .helptext import translated

    enabled = {True: _("yes"), False: _("no"), None: _("unknown")}
    objs = {name: p.obj for name, p in state.host.installed.items()}
    table([(r["name"], r["version"], enabled[r["enabled"]],
            _("built-in") if r["builtin"] else ", ".join(r["requires"]),
            r["error"] or translated(objs.get(r["name"]), r["description"])) for r in rows],
          [_("plugin"), _("version"), _("enabled"), _("requires"),
           _("description / error")])


@plugins.command("info")
@click.argument("name")
@json_option
@click.pass_context
def plugins_info(ctx: click.Context, name: str, as_json: bool) -> None:
    """Version, requirements, hooks, settings (secrets masked) and commands."""
    from . import get_crm

    root = ctx.find_root()
    root.command._plugins(root)  # type: ignore[attr-defined]
    info = get_crm().plugins.info(name)
    if as_json:
        return print_json(info)
    pairs: list[tuple[str, Any]] = [
        (_("Version"), info["version"]), (_("Enabled"), bool(info["enabled"])),
        (_("Source"), info["source"]), (_("Error"), info["error"])]
    pairs += [(_(key.capitalize()), ", ".join(info[key]) or "-")
              for key in ("requires", "hooks", "tables", "commands")]
    fields(pairs, title=f"{info['name']} - {info['description']}")
    if info["settings"]:
        table([(k, json.dumps(v, ensure_ascii=False)) for k, v in info["settings"].items()],
              [_("setting"), _("value")], title=_("Settings"))


@plugins.command("enable")
@click.argument("names", nargs=-1, required=True)
@pass_crm
def plugins_enable(crm: Any, names: tuple[str, ...]) -> None:
    """Enable plugins (and what they require) for this tenant."""
    new = crm.plugins.enable(*names)
    click.echo(_("enabled: {names}").format(names=", ".join(new)) if new
               else _("already enabled"))


@plugins.command("disable")
@click.argument("names", nargs=-1, required=True)
@pass_crm
def plugins_disable(crm: Any, names: tuple[str, ...]) -> None:
    """Disable plugins for this tenant (their data is kept)."""
    done = crm.plugins.disable(*names)
    click.echo(_("disabled: {names}").format(names=", ".join(done)) if done
               else _("not enabled"))


@plugins.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("key")
@click.argument("value")
@pass_crm
def plugins_set(crm: Any, name: str, key: str, value: str) -> None:
    """Set a plugin setting; VALUE is JSON when it parses (30, [15,45], true)."""
    from ..services.plugins import parse_value

    crm.plugins.set(name, key, parse_value(value))
    shown = crm.plugins.info(name)["settings"].get(key)
    click.echo(f"{name}.{key} = {json.dumps(shown, ensure_ascii=False)}")


@click.command("hooks")
@json_option
@pass_crm
def hooks_cmd(crm: Any, as_json: bool) -> None:
    """Every hook and which enabled plugins implement it, in call order."""
    with crm.unit(write=False) as ctx:
        enabled = ctx.hooks.plugins or frozenset()
    rows = []
    for name in sorted(crm.host.pm.hook.__dict__):
        if not name.startswith("crm_"):
            continue
        impls = [p for p, _ in crm.host.impls_by_plugin(name) if p in enabled]
        rows.append({"hook": name, "plugins": impls})
    if as_json:
        return print_json(rows)
    table([(r["hook"], ", ".join(r["plugins"]) or "-") for r in rows],
          [_("hook"), _("plugins")])


__all__ = ["plugins", "hooks_cmd"]


@plugins.command("new")
@click.argument("name")
@click.option("--dir", "directory", metavar="DIR",
              help="Where to write the distribution [default: ./crmkit-NAME].")
def plugins_new(name: str, directory: str | None) -> None:
    """Write a new plugin as its own distribution (pyproject, package, first migration,
    tests, README). NAME like acme-loyalty gives the distribution crmkit-acme-loyalty,
    the package crmkit_acme_loyalty and the plugin acme_loyalty.

    Then: pip install -e DIR, and python -m pytest DIR.
    """
    from ..i18n import _
    from ..scaffold import names, write

    n = names(name)
    root, written = write(name, directory)
    for path in written:
        click.echo(_("created {path}").format(path=path))
    click.echo("\n" + _("Next: pip install -e {root} && crmkit plugins enable {plugin}\n"
                        "      CRMKIT_TEST_DATABASES=sqlite python -m pytest {root} -q"
                        ).format(root=root, plugin=n.plugin))


@plugins.command("check")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--tests", "tests", metavar="PATH", type=click.Path(exists=True),
              help="Also check that every hook of the plugins checked has a test named "
                   "after it (test_crm_reminders_...) in this folder or file.")
@json_option
@click.pass_context
def plugins_check(ctx: click.Context, names: tuple[str, ...], tests: str | None,
                  as_json: bool) -> None:
    """Check installed plugins' hooks (all, or NAME...): unknown or deprecated hook
    names, misspelled arguments, and with --tests hooks without a test. Exits 1 when a
    plugin has a problem."""
    from ..conformance import check_installed
    from ..i18n import _
    from . import _state

    rows = check_installed(_state(ctx.find_root()).host, names=names, tests=tests)
    if as_json:
        print_json(rows)
    else:
        table([(r["plugin"], _("ok") if r["ok"] else _("PROBLEM"),
                "\n".join(r["problems"]) or "-") for r in rows],
              [_("plugin"), _("status"), _("problems")])
    bad = [r["plugin"] for r in rows if not r["ok"]]
    if bad:
        if not as_json:
            click.echo(_("Error: {n} plugin(s) with problems: {names}").format(
                n=len(bad), names=", ".join(bad)), err=True)
        ctx.exit(1)
