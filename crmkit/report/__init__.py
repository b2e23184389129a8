"""``crmkit report``: one self-contained HTML file of headline figures and charts.

The report is made of sections. The core gives the first (customers by status); every
enabled plugin adds its own through the hook ``crm_report_sections(ctx, on)``,
returning :class:`ReportSection` records made of plain data - figures, charts
(:class:`Chart`) and tables (:class:`ReportTable`). Nothing here draws: the charts are
drawn by :mod:`crmkit.report.render` (matplotlib, the ``crmkit[report]`` extra, imported
only when a report is written) as inline SVG, and laid out with Jinja2 (autoescaped:
a customer named ``<script>`` prints as text).

    from crmkit.report import build, write
    report = build(crm, on)          # a Report: sections in the user's scope
    path = write(report, "r.html")   # the HTML file
"""

from __future__ import annotations

import datetime as dt
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


def build(crm: Any, on: dt.date | None = None) -> Report:
    """The report's data as of ``on`` (default today), in the user's scope: the core
    section, then each enabled plugin's (``crm_report_sections``)."""
    with crm.unit(write=False) as ctx:
        ctx.check(VIEW, None, _("the report"))
        on = on or ctx.today
        sections = [core_section(ctx, on)]
        for answer in ctx.hooks.crm_report_sections(ctx=ctx, on=on):
            sections.extend(_flatten(answer))
        return Report(tenant=ctx.tenant.name, user=ctx.user.name, on=on,
                      scoped=ctx.crm.customers.scoped(ctx), currency=ctx.tenant.currency,
                      locale=current_locale(), sections=sections)


def write(report: Report, path: str) -> str:
    """Render ``report`` to ``path`` (written whole, or not at all) and return it."""
    import os
    import tempfile

    from .render import render

    html = render(report)
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
           "build", "core_section", "write"]
