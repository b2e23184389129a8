"""Output for every command, core and plugins (public API for plugin authors).

Tables for people, JSON for scripts::

    from crmkit.output import json_option, paging, pass_crm, stream_json, table

The rules every command follows (``docs/admin/index.md``, "Reading the output"):

* tables fit the terminal: ``COLUMNS`` when set, else the terminal's width, else 80
  when stdout is not a terminal; numbers and amounts are right-aligned, text wraps
  only between words and is shortened with "…" rather than broken;
* every value is printed as text, never as rich markup: a customer named
  ``[red]PAID[/red]`` prints exactly that;
* nothing prints ``None`` or ``[]``: :func:`cell` renders every value for humans;
* lists take ``--limit`` and ``--offset`` (:func:`paging`): 50 rows in a table with a
  last line saying how many more there are, every row with ``--json``, streamed
  (:func:`stream_json`);
* long work shows a progress bar on stderr when it is a terminal (:func:`progress`).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import click
from attrs import frozen

from .convert import _default
from .convert import dumps as _dumps
from .errors import ValidationError, did_you_mean
from .i18n import N_, _

#: Rows a table shows when ``--limit`` is not given (``--json`` shows all).
TABLE_LIMIT = 50
#: Cells a column of text may shrink to (wrapping between words) before optional
#: columns of a table are dropped to make room.
TEXT_CAP = 20
#: The largest ``--limit`` / ``--offset`` accepted.
MAX_ROWS = 1_000_000_000
_MONEY = re.compile(r"^-?\d{1,3}(,\d{3})*\.\d\d$|^-?\d+\.\d\d$")
_NUMBER = re.compile(r"^-?\d{1,3}(,\d{3})*(\.\d+)?%?$|^-?\d+(\.\d+)?%?$")

__all__ = [
    "MAX_ROWS", "TABLE_LIMIT", "Bar", "Group", "Page", "amount", "cell", "did_you_mean", "echo",
    "fields", "fit", "json_option", "money", "natural_width", "paging", "parse_date",
    "pass_crm", "print_json", "progress", "render", "section", "stream_json", "table", "when",
    "width", "writable",
]


# --- values ---------------------------------------------------------------------------


def width(stream: Any = None) -> int:
    """Columns to fit: ``COLUMNS`` when set, else the terminal's, else 80 (not a tty)."""
    cols = os.environ.get("COLUMNS", "").strip()
    if cols.isdigit() and int(cols) > 0:
        return max(int(cols), 20)
    stream = stream if stream is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return max(shutil.get_terminal_size().columns, 20)
    return 80


def money(v: Any) -> str:
    """An amount with two decimals and no grouping (``1234.50``), as in JSON and CSV."""
    return "" if v is None else f"{Decimal(v):.2f}"


def amount(v: Any) -> str:
    """An amount for people: grouped thousands, two decimals (``1,234.50``)."""
    return "" if v is None else f"{Decimal(v):,.2f}"


def when(v: dt.datetime | None) -> str:
    """An instant for people, in the tenant's time zone: ``YYYY-MM-DD HH:MM``."""
    from .zones import local

    return "" if v is None else local(v).strftime("%Y-%m-%d %H:%M")


def cell(v: Any) -> str:
    """Any value as people read it: ``""`` for None, yes/no, grouped amounts, ISO
    dates, lists joined by commas, dicts as ``key: value`` pairs."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return _("yes") if v else _("no")
    if isinstance(v, Decimal):
        return amount(v)
    if isinstance(v, dt.datetime):
        return when(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list | tuple | set | frozenset):
        return ", ".join(cell(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}: {cell(x)}" for k, x in v.items() if x not in (None, "", []))
    return str(v)


def _is_number(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int | float | Decimal):
        return True
    return isinstance(v, str) and bool(_NUMBER.match(v))


def _humanize(key: Any) -> str:
    text = str(key).replace("_", " ")
    return _(text[:1].upper() + text[1:])


def _money_text(v: Any) -> Any:
    """A two-decimal string from JSON-ready data (``"4470.00"``) as Decimal."""
    return Decimal(v) if isinstance(v, str) and _MONEY.match(v) and "," not in v else v


# --- rendering ------------------------------------------------------------------------


def _console(stream: Any, tty: bool) -> Any:
    from rich.console import Console

    return Console(file=stream, width=width(stream), force_terminal=tty,
                   color_system="auto" if tty else None, highlight=False, markup=False,
                   emoji=False, soft_wrap=False)


def render(*renderables: Any, stream: Any = None) -> None:
    """Print rich renderables at the output's width (plain text, lines right-stripped,
    when stdout is not a terminal). Build them from :class:`rich.text.Text`, never from
    markup strings."""
    out = stream if stream is not None else sys.stdout
    tty = bool(getattr(out, "isatty", lambda: False)())
    if tty:
        console = _console(out, True)
        for r in renderables:
            console.print(r)
        return
    import io

    buf = io.StringIO()
    console = _console(buf, False)
    for r in renderables:
        console.print(r)
    out.write("".join(line.rstrip() + "\n" for line in buf.getvalue().splitlines()))
    out.flush()


def _text(v: Any) -> Any:
    from rich.text import Text

    return v if isinstance(v, Text) else Text(cell(v))


def _table(rows: Sequence[Sequence[Any]], columns: Sequence[str], title: str | None) -> Any:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True,
              header_style="bold")
    for i, name in enumerate(columns):
        values = [r[i] for r in rows if i < len(r) and r[i] not in (None, "")]
        numeric = bool(values) and all(_is_number(v) for v in values)
        atomic = numeric or all(isinstance(v, dt.date | int) for v in values)
        t.add_column(Text(str(name)), justify="right" if numeric else "left",
                     no_wrap=atomic, overflow="ellipsis")
    numeric_cols = {i for i, c in enumerate(t.columns) if c.justify == "right"}
    for r in rows:
        t.add_row(*[_text(_money_text(v) if i in numeric_cols else v)
                    for i, v in enumerate(r)])
    if not title:
        return t
    from rich.console import Group as Lines

    # above the table, not inside it: a narrow table would wrap its own title
    return Lines(Text(title, style="bold"), t)


def table(rows: Iterable[Sequence[Any]], columns: Sequence[str], title: str | None = None,
          empty: str | None = None, *, more: int = 0, offset: int | None = None,
          optional: Sequence[int] = ()) -> None:
    """A table for people: one header per column, numbers right-aligned, values as text
    (:func:`cell`), fitted to :func:`width`. ``empty`` is printed when there are no rows;
    ``more`` rows not shown give a last line saying so (``offset``: where they start).

    ``optional`` are indexes of columns that may go, in that order, while the table is
    wider than the screen (an empty optional column goes first); the others are
    shortened with "…" when they must."""
    data = [list(r) for r in rows]
    if not data:
        click.echo(empty if empty is not None else _("nothing to show"))
    else:
        data, kept = fit(data, columns, optional)
        render(_table(data, kept, title))
    if more > 0:
        click.echo(_more_line(more, offset))


def natural_width(rows: Sequence[Sequence[Any]], columns: Sequence[str],
                  text_cap: int | None = None) -> int:
    """The cells a table needs to show every value on one line (two between columns);
    ``text_cap``: columns of text (which may wrap) count at most that many."""
    from rich.cells import cell_len

    total = 2 * (len(columns) - 1)
    for i, h in enumerate(columns):
        values = [_money_text(r[i]) for r in rows if i < len(r)]
        w = max([cell_len(str(h))] + [cell_len(cell(v)) for v in values])
        text = any(not _is_number(v) and not isinstance(v, dt.date | int) and v not in (None, "")
                   for v in values)
        total += min(w, max(text_cap, cell_len(str(h)))) if text and text_cap else w
    return total


def fit(rows: list[list[Any]], columns: Sequence[str], optional: Sequence[int] = ()
        ) -> tuple[list[list[Any]], list[str]]:
    """Drop ``optional`` columns (empty ones first, then in order) while the table is
    wider than :func:`width`. Returns the rows and headers kept."""
    keep = list(range(len(columns)))
    empty = [i for i in optional if all(i >= len(r) or r[i] in (None, "") for r in rows)]
    for i in [*empty, *(i for i in optional if i not in empty)]:
        if natural_width([[r[k] for k in keep] for r in rows], [columns[k] for k in keep],
                         text_cap=TEXT_CAP) <= width():
            break
        keep.remove(i)
    return [[r[k] for k in keep] for r in rows], [columns[k] for k in keep]


def _more_line(more: int, offset: int | None) -> str:
    if offset is None:
        return _("… {n} more").format(n=more)
    return _("… {n} more (see them with --offset {offset})").format(n=more, offset=offset)


def echo(text: str) -> None:
    """A paragraph of text (never markup), wrapped between words at :func:`width`."""
    from rich.text import Text

    render(Text(text))


def fields(pairs: Iterable[tuple[str, Any]], title: str | None = None) -> None:
    """Label/value lines, aligned: the top of a record or a section."""
    render(*_fields(list(pairs), title))


def _fields(pairs: list[tuple[str, Any]], title: str | None,
            humanize: bool = False) -> list[Any]:
    """Scalars in a two-column grid; a dict as a one-row table; a list of dicts as a
    table (``humanize``: its keys are JSON keys, shown as labels); an empty list as
    "none". None values are left out."""
    from rich.table import Table
    from rich.text import Text

    out: list[Any] = [Text(title, style="bold")] if title else []
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="ellipsis")
    scalars = 0

    def flush() -> None:
        nonlocal grid, scalars
        if scalars:
            out.append(grid)
            grid = Table.grid(padding=(0, 2))
            grid.add_column(no_wrap=True)
            grid.add_column(overflow="ellipsis")
            scalars = 0

    for label, value in pairs:
        if value is None:
            continue
        if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
            flush()
            keys = list(dict.fromkeys(k for x in value for k in x))
            out.append(_table([[_money_text(x.get(k)) for k in keys] for x in value],
                              [_humanize(k) if humanize else str(k) for k in keys],
                              label or None))
        elif isinstance(value, dict) and value:
            flush()
            out.append(_table([[_money_text(v) for v in value.values()]],
                              [str(k) for k in value], label or None))
        else:
            shown = _("none") if value in ([], {}, ()) else cell(_money_text(value))
            grid.add_row(Text(label), Text(shown))
            scalars += 1
    flush()
    return out


def section(sec: Any) -> None:
    """Print one panel of the 360° view: the plugin's ``summary`` pairs when it gives
    them, else its ``data`` rendered generically (keys as labels)."""
    summary = getattr(sec, "summary", None)
    if summary:
        return render(*_fields(list(summary), sec.title))
    if isinstance(sec.data, dict):
        pairs = [(_humanize(k), v) for k, v in sec.data.items()]
    else:
        pairs = [("", sec.data)]
    render(*_fields(pairs, sec.title, humanize=True))


# --- JSON ------------------------------------------------------------------------------


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--json``: print only JSON on stdout."""
    return click.option("--json", "as_json", is_flag=True,
                        help="Print JSON only (for scripts).")(fn)


def print_json(obj: Any) -> None:
    """One JSON document (a record, a dict, a list) on stdout."""
    click.echo(dumps(obj, indent=2))


@functools.cache
def _encoder() -> json.JSONEncoder:
    """The JSON encoder of :func:`crmkit.dumps` (crmkit's encodings, UTF-8 text), made
    once: ``json.dumps`` with a ``default`` builds a new one on every call."""
    return json.JSONEncoder(ensure_ascii=False, default=_default)


def dumps(obj: Any, **kw: Any) -> str:
    """:func:`crmkit.dumps`; a plain dict (a row of ``--json``) through one encoder made
    once."""
    if type(obj) is dict and not kw:
        return _encoder().encode(obj)
    return _dumps(obj, **kw)


def stream_json(items: Iterable[Any], *, chunk: int = 500) -> int:
    """A JSON array written as ``items`` are read (one object per line), never built
    in memory first; returns the number written. Records and dicts alike."""
    out = sys.stdout
    n = 0
    buf: list[str] = ["["]
    for item in items:
        buf.append(("\n" if n == 0 else ",\n") + dumps(item))
        n += 1
        if len(buf) >= chunk:
            out.write("".join(buf))
            buf.clear()
    buf.append("\n]\n" if n else "]\n")
    out.write("".join(buf))
    out.flush()
    return n


# --- options --------------------------------------------------------------------------


@frozen
class Page:
    """What ``--limit`` / ``--offset`` asked for: ``limit`` None means every row."""

    limit: int | None
    offset: int = 0

    @classmethod
    def of(cls, limit: int | None, offset: int | None, as_json: bool) -> Page:
        for name, value in (("--limit", limit), ("--offset", offset)):
            if value is not None and not 0 <= value <= MAX_ROWS:
                raise ValidationError(
                    _("invalid {option} {value}; expected a whole number from 0 to "
                      "{max}").format(option=name, value=str(value)[:40], max=MAX_ROWS))
        if limit is None and not as_json:
            limit = TABLE_LIMIT
        return cls(limit, offset or 0)

    def more(self, total: int, shown: int) -> int:
        """Rows after this page, of ``total``."""
        return max(total - self.offset - shown, 0)

    def slice(self, rows: Sequence[Any]) -> tuple[list[Any], int]:
        """This page of an in-memory list, and how many rows follow it."""
        end = None if self.limit is None else self.offset + self.limit
        page = list(rows[self.offset:end])
        return page, self.more(len(rows), len(page))

    @property
    def next_offset(self) -> int:
        return self.offset + (self.limit or 0)


def paging(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--limit N`` and ``--offset N`` for a list command (put it above ``json_option``):
    the command receives ``page`` (a :class:`Page`). A negative or absurd value is a
    domain error (exit 1) before the database is opened."""

    @functools.wraps(fn)
    def wrapper(*args: Any, limit: int | None, offset: int | None, **kwargs: Any) -> Any:
        page = Page.of(limit, offset, bool(kwargs.get("as_json")))
        return fn(*args, page=page, **kwargs)

    wrapper = click.option(
        "--offset", type=int, metavar="N", help="Skip the first N rows.")(wrapper)
    return click.option(
        "--limit", type=int, metavar="N",
        # a literal, translated when --help shows it; 50 is TABLE_LIMIT (a test checks)
        help=N_("At most N rows (0: none) [default: 50 in a table, every row with "
                "--json]."))(wrapper)


def parse_date(value: str | None, option: str) -> dt.date | None:
    """An ISO date from an option; a bad one is a domain error naming the value."""
    if value is None:
        return None
    from .checks import date_in_range

    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(_("invalid {option} '{value}'; expected YYYY-MM-DD").format(
            option=option, value=value[:80])) from None
    return date_in_range(day, option)


def writable(path: str | os.PathLike[str]) -> None:
    """Refuse, before any work, a file that cannot be written: a missing folder, a
    folder, no permission (a domain error naming the file, exit 1)."""
    p = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(p))
    reason = None
    if os.path.isdir(p):
        reason = _("it is a folder")
    elif not os.path.isdir(folder):
        reason = _("the folder {folder} does not exist").format(folder=folder[:120])
    elif not os.access(folder, os.W_OK) or (os.path.exists(p) and not os.access(p, os.W_OK)):
        reason = _("permission denied")
    if reason is not None:
        raise ValidationError(_("cannot write {path}: {reason}").format(path=p[:120],
                                                                      reason=reason))


def pass_crm(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Give the command the opened ``Crm`` as its first argument."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .cli import get_crm

        return fn(get_crm(), *args, **kwargs)

    return wrapper


class Group(click.Group):
    """A click group that suggests the closest command for a mistyped one
    (``crmkit custmer`` -> "Did you mean 'customer'?")."""

    def resolve_command(self, ctx: click.Context, args: list[str]
                        ) -> tuple[str | None, click.Command | None, list[str]]:
        name = click.utils.make_str(args[0])
        if (not ctx.resilient_parsing and not name.startswith("-")
                and self.get_command(ctx, name) is None):
            ctx.fail(_("No such command '{name}'.").format(name=name[:80])
                     + did_you_mean(name, self.list_commands(ctx)))
        return super().resolve_command(ctx, args)


# --- progress -------------------------------------------------------------------------


class Bar:
    """A progress bar's handle (silent: every method does nothing). ``bar(done, total)``
    suits callbacks that report both."""

    def advance(self, n: int = 1) -> None:
        """``n`` more units done."""

    def update(self, completed: int | None = None, total: int | None = None,
               label: str | None = None) -> None:
        """Set how much is done, the total, or the label."""

    def __call__(self, done: int, total: int | None = None) -> None:
        self.update(completed=done, total=total)


class _RichBar(Bar):
    def __init__(self, progress: Any, task: Any):
        self._p, self._task = progress, task

    def advance(self, n: int = 1) -> None:
        self._p.advance(self._task, n)

    def update(self, completed: int | None = None, total: int | None = None,
               label: str | None = None) -> None:
        kw: dict[str, Any] = {}
        if completed is not None:
            kw["completed"] = completed
        if total is not None:
            kw["total"] = total
        if label is not None:
            kw["description"] = label
        self._p.update(self._task, **kw)


@contextmanager
def progress(label: str, total: int | None = None, *, stream: Any = None) -> Iterator[Bar]:
    """A rich progress bar on stderr for work that may take more than a moment::

        with progress(_("grading"), total=n) as bar:
            for chunk in chunks:
                ...
                bar.advance(len(chunk))

    Silent when stderr is not a terminal (scripts, pipes, tests): the bar does
    nothing. ``total`` None shows a spinner with the count. The label is text, never
    markup. Removed from the screen when the work ends."""
    err = stream if stream is not None else sys.stderr
    if not getattr(err, "isatty", lambda: False)():
        yield Bar()
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = [SpinnerColumn(), TextColumn("{task.description}", markup=False),
               BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=_console(err, True), transient=True) as p:
        yield _RichBar(p, p.add_task(label, total=total))
