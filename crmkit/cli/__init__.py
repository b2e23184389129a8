"""The ``crmkit`` command line.

``crmkit [--db URL] [--tenant SLUG] [--user NAME] [--today DATE] COMMAND``. Domain
errors print one sentence on stderr and exit 1; usage errors exit 2. Plugins add
commands through ``crm_cli``; they are loaded only when the command line needs them.
"""

from __future__ import annotations

import datetime as dt
import types
from typing import Any

import click

from ..errors import CrmError
from ..output import parse_date

CORE_COMMANDS = {
    "init": ("crmkit.cli.admin", "init_cmd"),
    "demo": ("crmkit.cli.demo", "demo_cmd"),
    "tenant": ("crmkit.cli.admin", "tenant"),
    "user": ("crmkit.cli.admin", "user"),
    "plugins": ("crmkit.cli.db", "plugins"),  # db.py adds `plugins uninstall`
    "db": ("crmkit.cli.db", "db"),
    "hooks": ("crmkit.cli.plugins", "hooks_cmd"),
    "customer": ("crmkit.cli.customers", "customer"),
    "contact": ("crmkit.cli.customers", "contact"),
    "activity": ("crmkit.cli.activities", "activity"),
    "doc": ("crmkit.cli.documents", "doc"),
    "reminders": ("crmkit.cli.activities", "reminders"),
    "changes": ("crmkit.cli.admin", "changes"),
    "audit": ("crmkit.cli.admin", "audit"),
    "jobs": ("crmkit.cli.jobs", "jobs"),
}


class State:
    """What the global options chose; opens the Crm on first use."""

    def __init__(self, db: str | None, tenant: str, user: str, today: dt.date | None):
        self.db = db or "sqlite:///crmkit.db"
        self.tenant = tenant
        self.user = user
        self.today = today
        self._host: Any = None
        self._crm: Any = None
        self.commands: dict[str, click.Command] | None = None

    @property
    def host(self) -> Any:
        if self._host is None:
            from ..plugins import PluginHost

            self._host = PluginHost()
        return self._host

    def crm(self) -> Any:
        if self._crm is None:
            from .. import storage
            from ..app import Crm

            try:
                engine = storage.create_engine(self.db)
            except Exception as exc:  # bad URL, missing driver
                raise CrmError(f"cannot reach database {self.db}: {exc}") from None
            self._crm = Crm(engine, self.host, "crm_", tenant=self.tenant, user=self.user,
                            today=self.today, url=self.db)
            self._crm._shared["cli"] = True  # messages name commands, not Python calls
            from .health import warn_unloaded_plugins

            warn_unloaded_plugins(self._crm)
        return self._crm


def get_crm() -> Any:
    """The ``Crm`` of the running command (for plugins' click commands)."""
    state = click.get_current_context().find_object(State)
    if state is None:
        raise RuntimeError("get_crm() works inside a crmkit command only")
    return state.crm()


class CrmkitGroup(click.Group):
    """The root group: core commands imported lazily, plugin commands from
    ``crm_cli``, and crmkit errors turned into one-line messages with exit code 1."""

    def _plugins(self, ctx: click.Context) -> dict[str, click.Command]:
        state = _state(ctx.find_root())
        if state.commands is None:
            host = state.host
            group = click.Group()
            for pname, fn in host.impls_by_plugin("crm_cli"):
                before = set(group.commands)
                try:
                    fn(cli=group)
                except Exception as exc:  # a broken plugin must not break the CLI
                    host.installed[pname].error = f"crm_cli failed: {exc}"
                    continue
                for name in sorted(set(group.commands) - before):
                    _guard(group.commands[name], pname)
                    host.installed[pname].commands.append(name)
            state.commands = dict(group.commands)
        return state.commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(CORE_COMMANDS) | set(self._plugins(ctx)))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in CORE_COMMANDS:
            import importlib

            mod, attr = CORE_COMMANDS[name]
            return getattr(importlib.import_module(mod), attr)
        return self._plugins(ctx).get(name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CrmError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)
        except Exception as exc:
            from sqlalchemy.exc import DBAPIError

            if isinstance(exc, DBAPIError):
                state = ctx.find_object(State)
                orig = getattr(exc, "orig", exc)
                click.echo(f"Error: database error on {state.db if state else '?'}: "
                           f"{str(orig).strip().splitlines()[0] if str(orig) else exc}",
                           err=True)
                ctx.exit(1)
            raise


def _guard(cmd: click.Command, plugin: str) -> None:
    """Make a plugin's command refuse, with the fix, when its plugin is not enabled."""
    if getattr(cmd, "crmkit_plugin", None):
        return
    original = cmd.invoke

    def invoke(self: click.Command, ctx: click.Context) -> Any:
        crm = get_crm()
        with crm.unit(write=False) as uctx:
            crm.plugins.require(uctx, plugin)
        return original(ctx)

    cmd.invoke = types.MethodType(invoke, cmd)  # type: ignore[method-assign]
    cmd.crmkit_plugin = plugin  # type: ignore[attr-defined]


@click.group(cls=CrmkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="CRMKIT_DB", metavar="URL",
              help="Database URL [env CRMKIT_DB; default sqlite:///crmkit.db].")
@click.option("--tenant", envvar="CRMKIT_TENANT", default="default", show_default=True,
              metavar="SLUG", help="Tenant (business) to work in [env CRMKIT_TENANT].")
@click.option("--user", envvar="CRMKIT_USER", default="admin", show_default=True,
              metavar="NAME", help="Acting user [env CRMKIT_USER].")
@click.option("--today", envvar="CRMKIT_TODAY", metavar="DATE",
              help="Date taken as today by every command [env CRMKIT_TODAY].")
@click.version_option(package_name="crmkit")
@click.pass_context
def cli(ctx: click.Context, db: str | None, tenant: str, user: str, today: str | None) -> None:
    """crmkit: customers, contacts, activities and documents, with plugins.

    Start with `crmkit init` (or `crmkit demo` for a sample business), then
    `crmkit plugins list` to see what can be switched on.
    """
    try:
        _state(ctx)
    except CrmError as exc:
        click.echo(f"Error: {exc}", err=True)
        ctx.exit(1)


def _state(ctx: click.Context) -> State:
    """The State of the root context, built from the global options on first use
    (plugin commands are resolved before the root callback runs)."""
    if not isinstance(ctx.obj, State):
        p = ctx.params
        ctx.obj = State(p.get("db"), p.get("tenant") or "default", p.get("user") or "admin",
                        None)
        ctx.obj.today = parse_date(p.get("today"), "--today")
    return ctx.obj


def main() -> None:
    cli.main(prog_name="crmkit", windows_expand_args=False)


if __name__ == "__main__":  # pragma: no cover
    main()

__all__ = ["cli", "get_crm", "main", "State"]
