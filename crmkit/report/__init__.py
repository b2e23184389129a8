"""``crmkit report``: one self-contained HTML file of headline figures and charts.

The report is made of sections. The core gives the first (customers by status); every
enabled plugin adds its own through the hook ``crm_report_sections(ctx, on)``,
returning :class:`ReportSection` records made of plain data - figures, charts
(:class:`Chart`) and tables (:class:`ReportTable`). Nothing here draws: the charts are
drawn by :mod:`crmkit.report.render` (matplotlib, the ``crmkit[report]`` extra, imported
only when a report is written) as inline SVG, and laid out with Jinja2 (autoescaped:
a customer named ``<script>`` prints as text).

    from crmkit.report import build, make, write
    report = build(crm, on)          # a Report: sections in the user's scope
    path = write(report, "r.html")   # the HTML file
    path = make(crm, on, "r.html")   # both, each section's charts drawn as it is ready
"""

from __future__ import annotations

import datetime as dt
import os
from contextvars import ContextVar
from typing import Any

from attrs import field, frozen
from sqlalchemy import func, select

from ..i18n import _, current_locale

#: The permission every report asks first (default: everyone, in their scope).
VIEW = "report.view"
CHART_KINDS = ("bar", "hbar", "line", "stacked")


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value or ())


def _series(value: Any) -> tuple[tuple[str, tuple[float, ...]], ...]:
    if isinstance(value, dict):
        value = value.items()
    return tuple((str(name), tuple(float(v or 0) for v in values)) for name, values in value)


@frozen
class Chart:
    """One chart, as data: ``kind`` (``bar``, ``hbar``, ``line`` or ``stacked``), the
    category ``labels`` (x axis; y for ``hbar``) and one or more named ``series`` of
    numbers (a dict or ``(name, values)`` pairs), each as long as ``labels``. ``unit``
    is printed on the value axis (a currency code, ``%``)."""

    title: str
    labels: tuple[str, ...] = field(converter=lambda v: tuple(str(x) for x in v or ()))
    series: tuple[tuple[str, tuple[float, ...]], ...] = field(converter=_series)
    kind: str = "bar"
    unit: str = ""

    def __attrs_post_init__(self) -> None:
        if self.kind not in CHART_KINDS:
            raise ValueError(_("unknown chart kind '{kind}'; valid: {valid}").format(
                                 kind=str(self.kind)[:80], valid=', '.join(CHART_KINDS)))
        for name, values in self.series:
            if len(values) != len(self.labels):
                raise ValueError(_("series '{name}' has {n} values for {n2} labels").format(
                                     name=name[:80], n=len(values), n2=len(self.labels)))


@frozen
class ReportTable:
    """A small table: ``columns`` (headers) and ``rows`` (tuples of printable values)."""

    title: str
    columns: tuple[str, ...] = field(converter=_tuple)
    rows: tuple[tuple[Any, ...], ...] = field(converter=lambda v: tuple(tuple(r) for r in v))


@frozen
class ReportSection:
    """One section of ``crmkit report``, from ``crm_report_sections``.

    ``figures`` are ``(label, value)`` headline pairs; ``charts`` and ``tables`` follow
    them; ``note`` is one line under the title (e.g. what the figures count)."""

    plugin: str
    title: str
    figures: tuple[tuple[str, Any], ...] = field(default=(), converter=_tuple)
    charts: tuple[Chart, ...] = field(default=(), converter=_tuple)
    tables: tuple[ReportTable, ...] = field(default=(), converter=_tuple)
    note: str | None = None


@frozen
class Report:
    """What ``crmkit report`` writes: who, as of when, and the sections."""

    tenant: str
    user: str
    on: dt.date
    scoped: bool
    currency: str
    locale: str
    sections: tuple[ReportSection, ...] = field(converter=_tuple)


def _flatten(answer: Any) -> list[ReportSection]:
    if answer is None:
        return []
    if isinstance(answer, ReportSection):
        return [answer]
    out: list[ReportSection] = []
    for a in answer:
        out.extend(_flatten(a))
    return out


def core_section(ctx: Any, on: dt.date) -> ReportSection:
    """Customers by status and the documents of the last 12 months, in scope."""
    t = ctx.crm.table("customers")
    counts = dict(ctx.conn.execute(select(t.c.status, func.count()).where(
        ctx.crm.customers.visible(ctx)).group_by(t.c.status)).all())
    statuses = ("prospect", "active", "lost", "archived")
    labels = {"prospect": _("prospect"), "active": _("active"), "lost": _("lost"),
              "archived": _("archived")}
    total = sum(int(v) for v in counts.values())
    return ReportSection(
        plugin="core", title=_("Customers"),
        figures=[(_("customers"), total)] + [(labels[s], int(counts.get(s, 0)))
                                              for s in statuses],
        charts=[Chart(_("Customers by status"), [labels[s] for s in statuses],
                      [(_("customers"), [int(counts.get(s, 0)) for s in statuses])])])


def build(crm: Any, on: dt.date | None = None, *, workers: int | None = None) -> Report:
    """The report's data as of ``on`` (default today), in the user's scope: the core
    section, then each enabled plugin's (``crm_report_sections``), in plugin order.

    The plugins' sections are computed side by side, each in its own thread and its own
    read-only unit of work (same tenant, user and scope; the language of the caller):
    SQLite and the database drivers let a query run while Python works on another
    thread, so on a machine of ``workers`` cores (default: all of them, at most 4) the
    report takes about as long as its slowest section instead of their sum. Each
    section reads its own snapshot, taken within moments of the others. Inside an open
    unit of work, on an in-memory SQLite database, with one worker or with a hook
    wrapper, the sections are computed one after the other in one unit."""
    return _collect(crm, on, workers, None)[0]


def make(crm: Any, on: dt.date | None, path: str, *, workers: int | None = None) -> str:
    """:func:`build` and :func:`write` in one: each section's charts are drawn in its
    thread as soon as its data is there, while the other sections' queries still run
    (what ``crmkit report`` does). Returns the path."""
    from .render import draw_section

    report, drawn = _collect(crm, on, workers, draw_section)
    return write(report, path, drawn=drawn)


def _collect(crm: Any, on: dt.date | None, workers: int | None, draw: Any
             ) -> tuple[Report, list[list[str]] | None]:
    nested = crm.current is not None
    with crm.unit(write=False) as ctx:
        ctx.check(VIEW, None, _("the report"))
        on = on or ctx.today
        head = {"tenant": ctx.tenant.name, "user": ctx.user.name, "on": on,
                "scoped": ctx.crm.customers.scoped(ctx), "currency": ctx.tenant.currency,
                "locale": current_locale()}
        n = workers if workers is not None else min(4, os.cpu_count() or 1)
        caller = ctx.hooks.crm_report_sections
        parts = caller.each() if n > 1 and not nested and _apart(ctx) else None
        if parts is None or len(parts) < 2:
            sections = [core_section(ctx, on)]
            for answer in caller(ctx=ctx, on=on):
                sections.extend(_flatten(answer))
            return Report(sections=sections, **head), None
    done = _side_by_side(crm, on, parts, n, draw)
    report = Report(sections=[sec for sec, _svgs in done], **head)
    return report, ([svgs for _sec, svgs in done] if draw is not None else None)


#: True inside a task of :func:`_side_by_side` (in that task's copied context only):
#: the report computes its sections apart, so a section may split its own work too.
_APART: ContextVar[bool] = ContextVar("crmkit_report_apart", default=False)


def aside(ctx: Any, fn: Any) -> Any:
    """For a section with two heavy halves: start ``fn(c)`` (reads only) in a read unit
    of its own on another thread when the report computes its sections apart, else run
    it now in ``ctx``. Returns a callable that gives ``fn``'s result (waiting for it).
    The unit is for the same tenant and user as ``ctx``, so the same scope applies."""
    if not _APART.get():
        result = fn(ctx)
        return lambda: result
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    def run() -> Any:
        with ctx.crm.unit(write=False) as c:
            return fn(c)

    ex = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crmkit-report-aside")
    future = ex.submit(contextvars.copy_context().run, run)
    ex.shutdown(wait=False)
    return future.result


def _apart(ctx: Any) -> bool:
    """Whether sections may be computed in units of their own: not on an in-memory
    SQLite database (each connection would get an empty one of its own). (Nor inside a
    unit the caller opened, which they would not see: ``build`` checks that.)"""
    url = ctx.conn.engine.url
    return not (ctx.conn.dialect.name == "sqlite" and url.database in (None, "", ":memory:"))


def _side_by_side(crm: Any, on: dt.date, parts: list[tuple[str, Any]], workers: int,
                  draw: Any) -> list[tuple[ReportSection, list[str]]]:
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    def finish(task: int, sections: list[ReportSection]
               ) -> list[tuple[ReportSection, list[str]]]:
        # chart ids are salted with the task and the section's place in its answer,
        # unique on the page whatever order the tasks end in
        return [(sec, draw(sec, f"crmkit-{task}-{k}") if draw is not None else [])
                for k, sec in enumerate(sections)]

    def run(task: int, call: Any) -> list[tuple[ReportSection, list[str]]]:
        _APART.set(True)
        with crm.unit(write=False) as c:
            sections = _flatten(call(ctx=c, on=on))
        return finish(task, sections)

    def core() -> list[tuple[ReportSection, list[str]]]:
        with crm.unit(write=False) as c:
            sections = [core_section(c, on)]
        return finish(0, sections)

    # each task runs in a copy of this context: the caller's language, no open unit
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crmkit-report") as ex:
        futures = [ex.submit(contextvars.copy_context().run, core)]
        futures += [ex.submit(contextvars.copy_context().run, run, i, call)
                    for i, (_plugin, call) in enumerate(parts, start=1)]
        out: list[tuple[ReportSection, list[str]]] = []
        for f in futures:  # in plugin order; the first error is raised
            out.extend(f.result())
    return out


def write(report: Report, path: str, *, drawn: list[list[str]] | None = None) -> str:
    """Render ``report`` to ``path`` (written whole, or not at all) and return it;
    ``drawn``: each section's charts drawn already (as :func:`make` does)."""
    import tempfile

    from .render import render

    html = render(report, drawn)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".crmkit-report-", suffix=".html", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # as open() would have made it, not mkstemp's 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


__all__ = ["CHART_KINDS", "VIEW", "Chart", "Report", "ReportSection", "ReportTable",
           "aside", "build", "core_section", "make", "write"]
