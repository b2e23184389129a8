"""The ``crmkit`` command line.

``crmkit [--db URL] [--prefix P] [--tenant SLUG] [--user NAME] [--today DATE] [--debug]
COMMAND``. Domain errors print one sentence on stderr and exit 1; usage errors exit 2;
no traceback reaches the user unless ``--debug`` asks for it. Plugins add commands
through ``crm_cli``; they are loaded only when the command line needs them. Only
``init`` and ``demo`` create a database.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import sys
import types
from typing import Any

import click

from ..errors import CrmError, ValidationError
from ..i18n import _
from ..output import Group, parse_date

CORE_COMMANDS = {
    "init": ("crmkit.cli.admin", "init_cmd"),
    "demo": ("crmkit.cli.demo", "demo_cmd"),
    "today": ("crmkit.cli.today", "today_cmd"),
    "tenant": ("crmkit.cli.admin", "tenant"),
    "user": ("crmkit.cli.users", "user"),
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
    "report": ("crmkit.cli.report", "report_cmd"),
}
DEFAULT_DB = "sqlite:///crmkit.db"
log = logging.getLogger("crmkit.cli")
PREFIX = re.compile(r"^([A-Za-z_][A-Za-z0-9_]{0,39})?$")


def sqlite_path(url: str) -> str | None:
    """The file a SQLite URL names (None: not SQLite, in memory, or a URI)."""
    from sqlalchemy.engine import make_url

    try:
        u = make_url(url)
    except Exception:  # noqa: BLE001 - a bad URL is reported when the engine is made
        return None
    if not u.drivername.startswith("sqlite") or u.query.get("uri"):
        return None
    db = u.database or ""
    return None if db in ("", ":memory:") or db.startswith("file:") else db


class State:
    """What the global options chose; opens the Crm on first use."""

    def __init__(self, db: str | None, tenant: str, user: str, today: dt.date | None,
                 prefix: str = "crm_", debug: bool = False):
        self.db = db or DEFAULT_DB
        self.tenant = tenant
        self.user = user
        self.today = today
        self.prefix = prefix
        self.debug = debug
        self._host: Any = None
        self._crm: Any = None
        self.commands: dict[str, click.Command] | None = None
        self.locale_token: Any = None
        self.today_text: str | None = None
        self._shown: set[str] = set()

    def check(self) -> None:
        """Refuse a bad ``--prefix``, ``--today`` or ``CRMKIT_LANG`` (a domain error,
        exit 1)."""
        from ..i18n import env_locale

        env_locale()
        if not PREFIX.match(self.prefix):
            raise ValidationError(_("invalid --prefix '{prefix}'; expected letters, digits "
                                    "and '_', starting with a letter or '_' (e.g. crm_)"
                                    ).format(prefix=self.prefix[:80]))
        if self.today_text is not None and self.today is None:
            self.today = parse_date(self.today_text, "--today")

    @property
    def host(self) -> Any:
        if self._host is None:
            from ..plugins import PluginHost

            self._host = PluginHost()
        return self._host

    def missing(self) -> str | None:
        """The SQLite file the database URL names when it does not exist."""
        path = sqlite_path(self.db)
        return path if path is not None and not os.path.exists(path) else None

    def crm(self, create: bool = False) -> Any:
        """The Crm; a missing SQLite file is an error unless ``create`` (init, demo)."""
        if self._crm is None:
            from .. import storage
            from ..app import Crm

            self.check()
            path = self.missing()
            if path is not None and not create:
                raise CrmError(_("database {path} does not exist; create it with "
                                 "`crmkit init` (or `crmkit demo` for a sample business)"
                                 ).format(path=path[:200]))
            try:
                engine = storage.create_engine(self.db)
            except Exception as exc:  # bad URL, missing driver
                raise CrmError(_("cannot reach database {db}: {exc}").format(
                    db=storage.display_url(self.db),
                    exc=storage.hide_secret(str(exc), self.db))) from None
            self._crm = Crm(engine, self.host, self.prefix, tenant=self.tenant,
                            user=self.user, today=self.today, url=self.db)
            self._crm._shared["cli"] = True  # messages name commands, not Python calls
            self._use_tenant_locale()
            self.show_causes()
            from .health import warn_unloaded_plugins

            warn_unloaded_plugins(self._crm)
        return self._crm

    def show_causes(self) -> None:
        """With ``--debug``, the traceback of each plugin that broke (on import, on
        registration, or in an extension hook), once."""
        if not self.debug or self._host is None:
            return
        for name, p in sorted(self._host.installed.items()):
            if p.cause is not None and name not in self._shown:
                self._shown.add(name)
                click.echo(_("Plugin '{name}' is broken: {error}").format(
                    name=name, error=p.error), err=True)
                _traceback(p.cause)


    def _use_tenant_locale(self) -> None:
        """The whole command speaks the tenant's language (table headers are built
        after the units that read the rows), unless ``CRMKIT_LANG`` chooses."""
        from ..i18n import env_locale, set_locale

        if env_locale() is not None:
            return
        try:
            tenant = self._crm.tenants.get(self.tenant)
        except Exception:  # noqa: BLE001 - not initialised yet, unknown tenant: said later
            return
        locale = getattr(tenant, "locale", None)
        if locale:
            self.locale_token = set_locale(locale)

    def reset_locale(self) -> None:
        from ..i18n import reset_locale

        token, self.locale_token = self.locale_token, None
        if token is not None:
            reset_locale(token)


def get_crm(create: bool = False) -> Any:
    """The ``Crm`` of the running command (for plugins' click commands). Only ``init``
    and ``demo`` pass ``create=True``."""
    state = click.get_current_context().find_object(State)
    if state is None:
        raise RuntimeError("get_crm() works inside a crmkit command only")
    return state.crm(create)


class CrmkitGroup(Group):
    """The root group: core commands imported lazily, plugin commands from
    ``crm_cli``, and every error turned into one line with exit code 1."""

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
                    for name in set(group.commands) - before:  # what it half-added
                        del group.commands[name]
                    host.mark_broken(pname, "crm_cli", exc)  # listed, and logged
                    continue
                for name in sorted(set(group.commands) - before):
                    _guard(group.commands[name], pname)
                    host.installed[pname].commands.append(name)
            state.commands = dict(group.commands)
            state.show_causes()
        return state.commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(CORE_COMMANDS) | set(self._plugins(ctx)))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        from .helptext import localized

        if name in CORE_COMMANDS:
            import importlib

            if name == "plugins":  # `plugins list` shows the plugins that broke in crm_cli
                self._plugins(ctx)

            mod, attr = CORE_COMMANDS[name]
            cmd: click.Command = getattr(importlib.import_module(mod), attr)
            return localized(cmd)
        found = self._plugins(ctx).get(name)
        return None if found is None else localized(found)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from .helptext import localized

        shown = localized(self)
        if shown is self:
            super().format_help(ctx, formatter)
        else:
            shown.format_help(ctx, formatter)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return self._invoke(ctx)
        finally:
            if isinstance(ctx.obj, State):
                ctx.obj.reset_locale()

    def _invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:  # `crmkit ... | head`: the reader has all it wants
            _silence_stdout()
            ctx.exit(0)
        except Exception as exc:
            state = ctx.obj if isinstance(ctx.obj, State) else None
            log.debug("command failed", exc_info=exc)
            if state is not None and state.debug:
                _traceback(exc)
            click.echo(_("Error: {message}").format(message=_message(exc, state)), err=True)
            ctx.exit(1)


def _traceback(exc: BaseException) -> None:
    """Print ``exc``'s traceback on stderr (``--debug``)."""
    import traceback

    traceback.print_exception(exc, file=sys.stderr)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (tests)
        pass


def _message(exc: Exception, state: State | None) -> str:
    """One sentence for any error: crmkit's own, the database's, a file's, or else."""
    if isinstance(exc, CrmError):
        return str(exc)
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError):
        from ..storage import display_url, hide_secret

        orig = getattr(exc, "orig", exc)
        reason = str(orig).strip().splitlines()[0] if str(orig).strip() else str(exc)
        if state is None:
            return f"database error on ?: {reason}"
        return (f"database error on {display_url(state.db)}: "
                f"{hide_secret(reason, state.db)}")
    if isinstance(exc, OSError) and exc.filename is not None:
        return _("cannot use {path}: {reason}").format(
            path=str(exc.filename)[:200], reason=exc.strerror or type(exc).__name__)
    return _("unexpected {kind}: {detail} (run with --debug for the traceback)").format(
        kind=type(exc).__name__, detail=str(exc).strip().splitlines()[0][:200]
        if str(exc).strip() else "-")


def _guard(cmd: click.Command, plugin: str) -> None:
    """Make a plugin's commands refuse, with the fix, when its plugin is not enabled.

    Only the commands that run are guarded (the leaves of a group): ``--help`` is
    answered before any of them runs, so it never needs a database."""
    if getattr(cmd, "crmkit_plugin", None):
        return
    cmd.crmkit_plugin = plugin  # type: ignore[attr-defined]
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            _guard(sub, plugin)
        return
    original = cmd.invoke

    def invoke(self: click.Command, ctx: click.Context) -> Any:
        crm = get_crm()
        with crm.unit(write=False) as uctx:
            crm.plugins.require(uctx, plugin)
        return original(ctx)

    cmd.invoke = types.MethodType(invoke, cmd)  # type: ignore[method-assign]


@click.group(cls=CrmkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="CRMKIT_DB", metavar="URL",
              help="Database URL [env CRMKIT_DB; default sqlite:///crmkit.db].")
@click.option("--prefix", envvar="CRMKIT_PREFIX", default="crm_", show_default=True,
              metavar="P", help="Table name prefix [env CRMKIT_PREFIX].")
@click.option("--tenant", envvar="CRMKIT_TENANT", default="default", show_default=True,
              metavar="SLUG", help="Tenant (business) to work in [env CRMKIT_TENANT].")
@click.option("--user", envvar="CRMKIT_USER", default="admin", show_default=True,
              metavar="NAME", help="Acting user [env CRMKIT_USER].")
@click.option("--today", envvar="CRMKIT_TODAY", metavar="DATE",
              help="Date taken as today by every command [env CRMKIT_TODAY].")
@click.option("--debug", envvar="CRMKIT_DEBUG", is_flag=True,
              help="Show the traceback of an error [env CRMKIT_DEBUG=1].")
@click.version_option(package_name="crmkit")
@click.pass_context
def cli(ctx: click.Context, **_options: Any) -> None:
    """crmkit: customers, contacts, activities and documents, with plugins.

    Start with `crmkit init` (or `crmkit demo` for a sample business), then
    `crmkit today` for the day's figures and `crmkit plugins list` to see what can be
    switched on.
    """
    _state(ctx).check()


def _state(ctx: click.Context) -> State:
    """The State of the root context, built from the global options on first use
    (plugin commands are resolved before the root callback runs, so nothing here
    raises: the root callback checks the values)."""
    if not isinstance(ctx.obj, State):
        p = ctx.params
        prefix = p.get("prefix")
        ctx.obj = State(p.get("db"), p.get("tenant") or "default", p.get("user") or "admin",
                        None, prefix="crm_" if prefix is None else prefix,
                        debug=bool(p.get("debug")))
        ctx.obj.today_text = p.get("today")
    return ctx.obj


def main() -> None:
    cli.main(prog_name="crmkit", windows_expand_args=False)


if __name__ == "__main__":  # pragma: no cover
    main()

__all__ = ["cli", "get_crm", "main", "State"]
