"""``crmkit report``: one self-contained HTML file, sections from every enabled plugin
(``crm_report_sections``), the user's scope, hostile names as text, bad input."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest

import crmkit
import crmkit.i18n
import crmkit.report.render
from crmkit.report import Chart, ReportSection, build
from tests.plugins.report_sample import HOSTILE, PLUGINS, ExtraSection
from tests.plugins.report_sample import build as sample

NOV22 = dt.date(2026, 11, 22)


class Page(HTMLParser):
    """The elements, the text and the chart count of a page."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def count(self, tag: str, **attrs: str) -> int:
        return sum(1 for t, a in self.tags if t == tag and all(a.get(k) == v
                                                               for k, v in attrs.items()))


@pytest.fixture
def business(crm_factory):
    crm = crm_factory()
    return crm, sample(crm)


def test_the_report_has_a_section_per_enabled_plugin_and_loads_nothing(business, cli,
                                                                       tmp_path):
    crm, _cu = business
    out = tmp_path / "r.html"
    r = cli("report", "--out", str(out), "--as-of", "2026-11-22")
    assert r.exit_code == 0 and r.stdout.strip() == str(out)
    html = out.read_text(encoding="utf-8")
    page = Page(html)
    report = build(crm, NOV22)
    assert [s.plugin for s in report.sections] == ["core", *sorted(
        PLUGINS, key=[s.plugin for s in report.sections].index)]
    assert page.count("section") == len(report.sections) == 1 + len(PLUGINS)
    charts = sum(len(s.charts) for s in report.sections)
    assert page.count("figure") == page.count("svg") == charts >= 12
    # nothing that could load: no script, no link, no external src, a strict CSP
    assert page.count("script") == page.count("link") == page.count("img") == 0
    assert [a for _t, attrs in page.tags for k, a in attrs.items()
            if k in ("src", "href") and not (a or "").startswith("#")] == []
    assert "default-src 'none'" in html
    text = "".join(page.text)
    assert "上海大众" in text and "武侠" in text  # Chinese stays text, in SVG too
    assert "上海大众" in "".join(re.findall(r"<svg.*?</svg>", html, re.S))
    # ids inside the inline SVGs never collide
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))


def test_hostile_names_print_as_text(business, tmp_path):
    crm, _cu = business
    out = tmp_path / "r.html"
    crmkit.report.write(build(crm, NOV22), str(out))
    html = out.read_text(encoding="utf-8")
    page = Page(html)
    assert page.count("script") == page.count("img") == page.count("b") == 0
    text = "".join(page.text)
    for name in HOSTILE:
        shown = name.replace("{port}", "9")
        assert shown[:40] in text, shown  # the name as the user typed it, as text
    assert "{{ 7*7 }} & <b>粗</b>" in text  # no template ran on it, no markup made


def test_a_sales_users_report_covers_their_customers_only(business, tmp_path):
    crm, _cu = business
    li = crm.using(user="li")
    report = build(li, NOV22)
    core = report.sections[0]
    assert report.scoped and dict(core.figures)["customers"] == 2  # 上海大众, 广州图书
    html = crmkit.report.render.render(report)
    assert "上海大众" in html and "广州图书" in html
    assert "北京书店" not in html and "pwned" not in html
    admin = crmkit.report.render.render(build(crm, NOV22))
    assert "北京书店" in admin


def test_crm_report_sections_of_a_third_party_plugin(crm_factory, tmp_path):
    crm = crm_factory(plugins=[ExtraSection()], enable=("extra",))
    report = build(crm, NOV22)
    assert [s.plugin for s in report.sections] == ["core", "extra"]
    extra = report.sections[1]
    assert extra.charts[0].series == (("n", (1.0, 2.0)),)
    html = crmkit.report.render.render(report)
    assert "额外 Extra" in html and "第三方 chart" in html and "甲" in html
    # a disabled plugin adds nothing
    crm.plugins.disable("extra")
    assert [s.plugin for s in build(crm, NOV22).sections] == ["core"]


def test_chart_data_is_checked():
    with pytest.raises(ValueError, match="unknown chart kind 'pie'"):
        Chart("t", ["a"], {"n": [1]}, kind="pie")
    with pytest.raises(ValueError, match="series 'n' has 2 values for 1 labels"):
        Chart("t", ["a"], {"n": [1, 2]})
    assert ReportSection("p", "t").charts == ()


def test_bad_output_path_or_date_is_one_sentence_and_nothing_is_written(business, cli,
                                                                          tmp_path):
    missing = tmp_path / "no" / "r.html"
    r = cli("report", "--out", str(missing))
    assert r.exit_code == 1 and "cannot write" in r.stderr and "does not exist" in r.stderr
    assert not missing.parent.exists()
    r = cli("report", "--out", str(tmp_path))
    assert r.exit_code == 1 and "it is a folder" in r.stderr
    r = cli("report", "--as-of", "2026-13-01", "--out", str(tmp_path / "x.html"))
    assert r.exit_code == 1 and "invalid --as-of '2026-13-01'" in r.stderr
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("crm.db")] == []


def test_default_file_name_and_language(business, cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = cli("report", env={"CRMKIT_LANG": "zh_CN"})
    assert r.exit_code == 0 and r.stdout.strip() == "crmkit-report-2026-11-22.html"
    html = (tmp_path / "crmkit-report-2026-11-22.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html


def test_plugin_sections_agree_with_the_plugins_own_figures(business):
    crm, _cu = business
    from crmkit_receivables.api import today_part

    report = {s.plugin: s for s in build(crm, NOV22).sections}
    with crm.unit(write=False) as ctx:
        part = today_part(ctx, NOV22)
    rec = report["receivables"]
    assert dict(rec.figures)["outstanding"] == part["outstanding"]
    assert dict(rec.figures)["overdue"] == part["overdue"]
    top = rec.charts[1]
    assert list(top.labels) == [r["customer"] for r in part["top_overdue"]]
    assert [float(v) for v in top.series[0][1]] == [float(r["overdue"])
                                                    for r in part["top_overdue"]]
    # buckets add up to the outstanding amount
    assert sum(rec.charts[0].series[0][1]) == pytest.approx(float(part["outstanding"]))
    grading = report["grading"]
    per_segment, per_tier = grading.charts[0].series[0][1], grading.charts[1].series[0][1]
    assert sum(per_segment) == sum(per_tier) == dict(grading.figures)["graded customers"]


def test_a_name_with_dollar_signs_is_text_not_math():
    # the defect: matplotlib read "$\frac{1}{$" as mathtext and the report crashed
    html = crmkit.report.render.render(crmkit.report.Report(
        tenant="t", user="u", on=NOV22, scoped=False, currency="CNY", locale="en",
        sections=[ReportSection("p", "s", charts=[
            Chart("$x$", [r"$\frac{1}{$", "a$b$c"], {"n": [1, 2]})])]))
    text = "".join(Page(html).text)
    assert r"$\frac{1}{$" in text and "a$b$c" in text and "$x$" in text


def test_any_text_in_a_chart_or_table_comes_out_as_that_text():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from crmkit.report import Report, ReportTable

    names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1,
                    max_size=30).filter(lambda s: s.strip() == s)
    forbidden = ("script", "img", "iframe", "object", "embed", "link", "b", "i",
                 "foreignobject", "svg:script")

    @settings(max_examples=12, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(names, names)
    def check(a, b):
        html = crmkit.report.render.render(Report(
            tenant=a, user="u", on=NOV22, scoped=False, currency="CNY", locale="en",
            sections=[ReportSection("p", b, figures=[(a, b)],
                                    charts=[Chart(a, [a, b], {b: [1, 2]}, kind="hbar")],
                                    tables=[ReportTable(a, [b], [(a,)])])]))
        page = Page(html)
        assert [t for t, _attrs in page.tags if t in forbidden] == []
        assert page.count("svg") == 1 and page.count("section") == 1
        text = "".join(page.text)
        assert a in text and b in text

    check()


# --- sections side by side -------------------------------------------------------------


def test_sections_side_by_side_equal_the_sections_one_after_the_other(business, tmp_path):
    # each plugin's sections in a thread and a read unit of its own (and the insights
    # profit scans aside): the same report as computed in one unit, one after the other
    crm, _cu = business
    apart, serial = build(crm, NOV22, workers=4), build(crm, NOV22, workers=1)
    assert apart == serial and len(apart.sections) == 1 + len(PLUGINS)
    # make() draws each section's charts in its thread: the same charts, ids unique
    html = (tmp_path / "r.html")
    crmkit.report.make(crm, NOV22, str(html), workers=4)
    page = Page(html.read_text(encoding="utf-8"))
    ids = [a["id"] for _t, a in page.tags if a.get("id")]
    assert len(ids) == len(set(ids))
    assert page.count("svg") == sum(len(s.charts) for s in serial.sections)


def test_inside_an_open_unit_the_report_sees_its_changes(business):
    # the sections cannot be computed apart inside the caller's unit: they would not see
    # what it has written and not committed; there they run in that unit
    crm, _cu = business
    before = build(crm, NOV22).sections[0].figures[0]
    with crm.unit() as ctx:
        ctx.crm.customers.add(name="未提交 Uncommitted")
        inside = build(crm, NOV22, workers=4).sections[0].figures[0]
    assert inside[1] == before[1] + 1


class _Broken:
    PLUGIN = crmkit.PluginSpec(name="broken", version="0.1.0",
                               description="A report section that fails (tests).")
    __name__ = "tests.test_report._Broken"

    @crmkit.hookimpl
    def crm_report_sections(self, ctx, on):
        raise ZeroDivisionError("boom")


def test_a_failing_section_in_its_thread_names_its_plugin(crm_factory):
    crm = crm_factory(plugins=[ExtraSection(), _Broken()], enable=("extra", "broken"))
    for workers in (1, 4):
        with pytest.raises(crmkit.PluginError, match="broken"):
            build(crm, NOV22, workers=workers)


def test_sections_apart_speak_the_callers_language(business, monkeypatch):
    crm, _cu = business
    monkeypatch.setenv("CRMKIT_LANG", "zh_CN")
    with crmkit.i18n.use_locale("zh_CN"):
        apart, serial = build(crm, NOV22, workers=4), build(crm, NOV22, workers=1)
    assert [s.title for s in apart.sections] == [s.title for s in serial.sections]
    assert apart.sections[0].title != "Customers"  # translated, in every thread
