"""Output for every command, core and plugins (public API for plugin authors):
``--json``, rich tables, dates, ``pass_crm``.

Plugins import it as ``from crmkit.output import json_option, pass_crm, print_json, table``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import click

from .convert import dumps
from .errors import ValidationError


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--json``: print only JSON on stdout."""
    return click.option("--json", "as_json", is_flag=True,
                        help="Print JSON only (for scripts).")(fn)


def print_json(obj: Any) -> None:
    click.echo(dumps(obj, indent=2))


def table(rows: Iterable[Sequence[Any]], columns: Sequence[str], title: str | None = None,
          empty: str = "nothing to show") -> None:
    """A table for humans (rich); ``empty`` when there are no rows."""
    rows = list(rows)
    if not rows:
        click.echo(empty)
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title, show_lines=False, header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    Console(width=max(120, click.get_terminal_size()[0] if hasattr(click, "get_terminal_size")
                      else 120)).print(t)


def parse_date(value: str | None, option: str) -> dt.date | None:
    """An ISO date from an option; a bad one is a domain error naming the value."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"invalid {option} '{value}'; expected YYYY-MM-DD") from None


def money(v: Any) -> str:
    return "" if v is None else f"{v:.2f}"


def pass_crm(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Give the command the opened ``Crm`` as its first argument."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .cli import get_crm

        return fn(get_crm(), *args, **kwargs)

    return wrapper
