"""Draw a :class:`~crmkit.report.Report` as one self-contained HTML page.

Charts are matplotlib figures saved as SVG with ``svg.fonttype = none``: text stays
text, so Chinese labels are drawn by the browser's own fonts and found by search, and
nothing (no font, no image, no script) is loaded from anywhere. Each chart gets its own
``svg.hashsalt`` so the ids inside the inline SVGs never collide. The page is laid out
with Jinja2, autoescaped; the SVG is inserted as markup only after matplotlib escaped
every label in it.
"""

from __future__ import annotations

import io
import logging
import re
import threading
import warnings
from decimal import Decimal
from typing import Any

from ..i18n import _
from . import Chart, Report

#: Font families for chart text, tried by the browser in order (CJK first).
FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "Microsoft YaHei",
         "PingFang SC", "DejaVu Sans", "sans-serif"]
#: ids and the references to them inside one SVG: prefixed per chart so that the
#: inline SVGs of one page never share an id (matplotlib numbers them per figure).
_IDS = re.compile(r'(\bid="|url\(#|href="#)([^")]+)')
PALETTE = ["#3b6ea8", "#e07b39", "#5a9e6f", "#c44e52", "#8172b2", "#937860", "#da8bc3"]


def _figure() -> Any:
    """matplotlib's ``Figure`` (no pyplot: no backend, no global figure list)."""
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - the extra is missing
        from ..errors import CrmError

        raise CrmError(_("crmkit report needs matplotlib: pip install 'crmkit[report]'")
                       ) from None
    # layout with a missing CJK glyph only warns: the browser draws the text
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    from matplotlib.figure import Figure

    del matplotlib
    return Figure


#: matplotlib's rcParams (which ``rc_context`` sets for each chart) are one per process:
#: charts drawn from several threads (``crmkit.report.make``) take turns.
_MATPLOTLIB = threading.Lock()


def draw_section(section: Any, key: str) -> list[str]:
    """The SVG of each chart of ``section``, ids salted with ``key`` and the chart's
    place."""
    return [chart_svg(c, f"{key}-{ci}") for ci, c in enumerate(section.charts)]


def chart_svg(chart: Chart, key: str) -> str:
    """One chart as an ``<svg>`` element (no XML prolog), ids salted with ``key``."""
    figure = _figure()
    with _MATPLOTLIB:
        return _chart_svg(figure, chart, key)


def _chart_svg(figure: Any, chart: Chart, key: str) -> str:
    import matplotlib

    rc: Any = {"svg.fonttype": "none", "svg.hashsalt": key, "text.parse_math": False,
           "font.family": "sans-serif",
          "font.sans-serif": FONTS, "font.size": 9, "axes.spines.top": False,
          "axes.spines.right": False, "svg.image_inline": True}
    with matplotlib.rc_context(rc), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        n = max(len(chart.labels), 1)
        height = 2.8 if chart.kind != "hbar" else max(2.0, 0.32 * n + 0.9)
        fig = figure(figsize=(6.4, height), dpi=100)
        ax = fig.subplots()
        _draw(ax, chart)
        ax.set_title(chart.title, loc="left", fontsize=10)
        if chart.unit:
            (ax.set_xlabel if chart.kind == "hbar" else ax.set_ylabel)(chart.unit)
        if len(chart.series) > 1:
            ax.legend(frameon=False, fontsize=8)
        _margins(fig, chart)  # fixed margins: tight_layout would draw the figure twice
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return _IDS.sub(lambda m: f"{m.group(1)}{key}-{m.group(2)}", text[text.index("<svg"):])


def _margins(fig: Any, chart: Chart) -> None:
    """Room for the tick labels, from their length (East Asian characters count double)."""
    def width(text: str) -> int:
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)

    longest = max((width(x) for x in chart.labels), default=1)
    inches = fig.get_size_inches()
    if chart.kind == "hbar":
        left = min(0.5, (0.25 + 0.06 * longest) / inches[0])
        fig.subplots_adjust(left=left, right=0.97, top=0.88, bottom=0.22 if chart.unit else 0.14)
        return
    rotated = len(chart.labels) > 6
    bottom = min(0.5, (0.35 + (0.045 * longest if rotated else 0.1)) / inches[1])
    fig.subplots_adjust(left=0.12, right=0.97, top=0.88, bottom=bottom)


def _draw(ax: Any, chart: Chart) -> None:
    labels = list(chart.labels)
    xs = range(len(labels))
    k = len(chart.series) or 1
    if chart.kind == "line":
        for i, (name, values) in enumerate(chart.series):
            ax.plot(list(xs), list(values), marker="o", label=name,
                    color=PALETTE[i % len(PALETTE)])
        ax.set_xticks(list(xs), labels, rotation=45 if len(labels) > 6 else 0,
                      ha="right" if len(labels) > 6 else "center")
    elif chart.kind == "hbar":
        h = 0.8 / k
        for i, (name, values) in enumerate(chart.series):
            ax.barh([x + i * h for x in xs], list(values), height=h, label=name,
                    color=PALETTE[i % len(PALETTE)])
        ax.set_yticks([x + h * (k - 1) / 2 for x in xs], labels)
        ax.invert_yaxis()
    elif chart.kind == "stacked":
        bottom = [0.0] * len(labels)
        for i, (name, values) in enumerate(chart.series):
            ax.bar(list(xs), list(values), bottom=bottom, label=name,
                   color=PALETTE[i % len(PALETTE)])
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_xticks(list(xs), labels, rotation=45 if len(labels) > 6 else 0,
                      ha="right" if len(labels) > 6 else "center")
    else:
        w = 0.8 / k
        for i, (name, values) in enumerate(chart.series):
            ax.bar([x + i * w for x in xs], list(values), width=w, label=name,
                   color=PALETTE[i % len(PALETTE)])
        ax.set_xticks([x + w * (k - 1) / 2 for x in xs], labels,
                      rotation=45 if len(labels) > 6 else 0,
                      ha="right" if len(labels) > 6 else "center")
    if not labels:
        ax.text(0.5, 0.5, _("no data"), transform=ax.transAxes, ha="center", va="center")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "✓" if value else ""
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, float):
        return f"{value:,.4g}"
    return str(value)


def render(report: Report, drawn: list[list[str]] | None = None) -> str:
    """The HTML page of ``report``: a string of one self-contained document; ``drawn``:
    the SVG of each section's charts when they are drawn already."""
    from jinja2 import Environment, PackageLoader, select_autoescape
    from markupsafe import Markup

    env = Environment(loader=PackageLoader("crmkit.report", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["cell"] = _cell
    sections = []
    for si, sec in enumerate(report.sections):
        svgs = drawn[si] if drawn is not None else draw_section(sec, f"crmkit-{si}")
        charts = [{"title": c.title, "svg": Markup(svg)}
                  for c, svg in zip(sec.charts, svgs, strict=True)]
        sections.append({"id": f"s{si}-{sec.plugin}", "s": sec, "charts": charts})
    lang = report.locale.replace("_", "-")
    return env.get_template("report.html.j2").render(
        r=report, sections=sections, lang=lang, t={
            "title": _("Report of {tenant}").format(tenant=report.tenant),
            "asof": _("as of {day}").format(day=report.on.isoformat()),
            "who": (_("for {user}: their customers only") if report.scoped
                    else _("for {user}: all customers")).format(user=report.user),
            "currency": _("Amounts in {currency}").format(currency=report.currency),
            "contents": _("Contents"),
            "made": _("Made by crmkit; nothing in this file is loaded from the network."),
        })
