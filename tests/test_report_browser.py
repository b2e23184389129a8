"""``crmkit report`` opened in a real headless Chromium (Debian's ``chromium``).

The test installs Chromium (and a CJK font) with apt-get when it is missing and the
run may (root, as on CI); otherwise it fails, saying how to install it - it is never
skipped. Chromium runs with every HTTP request sent to a recording proxy on
127.0.0.1, so a single request leaving the file (a hostile name rendered as an
``<img>``, a font, a script) would be seen; console messages are logged to stderr.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import struct
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

import crmkit
from crmkit.cli import cli as root
from crmkit.report import build
from tests.plugins.report_sample import build as sample
from tests.test_report import Page

NOV22 = dt.date(2026, 11, 22)
WIDTH, HEIGHT = 1280, 3200
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--enable-logging=stderr", "--v=0"]


def chromium() -> str:
    """Debian's chromium, installed with apt-get when missing (root only)."""
    path = shutil.which("chromium")
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True,
                       timeout=900)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium", "fonts-noto-cjk"],
                       env=env, capture_output=True, timeout=1800)
        path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian's chromium is not installed and cannot be installed here: "
                    "run `apt-get install chromium fonts-noto-cjk` (as root)")
    return path


class Recorder(BaseHTTPRequestHandler):
    """Answers every request 404 and records it (the proxy every request goes to)."""

    seen: list[str] = []

    def _any(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_HEAD = do_CONNECT = do_OPTIONS = _any  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def proxy():
    Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


#: Chromium's own calls home (network time, component updates, accounts) go through the
#: proxy too; the page names none of these hosts, so they are not the page's requests.
BROWSER_HOSTS = (".google.com", ".googleapis.com", ".gstatic.com", ".gvt1.com")


def page_requests() -> list[str]:
    """The requests the proxy saw, less Chromium's own."""
    def host(line: str) -> str:
        target = line.split(" ", 1)[1]
        return target.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]

    return [r for r in Recorder.seen if not host(r).endswith(BROWSER_HOSTS)]


def run_chromium(exe: str, port: int, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [exe, *FLAGS, f"--user-data-dir={profile}", f"--proxy-server=http://127.0.0.1:{port}",
         "--proxy-bypass-list=<-loopback>", *args],
        capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


def test_the_report_renders_in_headless_chromium(tmp_path, proxy):
    exe = chromium()
    db = f"sqlite:///{tmp_path / 'crm.db'}"
    runner = CliRunner()
    assert runner.invoke(root, ["--db", db, "init"]).exit_code == 0
    crm = crmkit.open(db, tenant="default", user="admin", today=NOV22)
    sample(crm, port=proxy)  # a hostile name would load http://127.0.0.1:PORT/pwned
    out = tmp_path / "report.html"
    r = runner.invoke(root, ["--db", db, "--today", "2026-11-22", "report", "--out", str(out)])
    assert r.exit_code == 0, r.output
    charts = sum(len(s.charts) for s in build(crm, NOV22).sections)

    dom = run_chromium(exe, proxy, tmp_path / "p1", "--dump-dom", out.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = Page(dom.stdout)
    # every chart is there and drew something
    figures = dom.stdout.split('<figure class="chart"')[1:]
    assert len(figures) == charts >= 12
    for fig in figures:
        body = fig.split("</figure>")[0]
        assert "<svg" in body and body.count("<path") + body.count("<use") >= 3, body[:300]
    # Chinese labels are text of the page (in the tables and inside the charts' SVG)
    text = "".join(page.text)
    for label in ("上海大众", "广州图书", "武侠", "广交会", "差旅"):
        assert label in text, label
    assert page.count("img") == page.count("script") == 0
    # nothing left the file, nothing complained
    console = [ln for ln in dom.stderr.splitlines() if ":CONSOLE" in ln]
    assert console == []
    assert page_requests() == []

    shot = tmp_path / "report.png"
    s = run_chromium(exe, proxy, tmp_path / "p2", f"--window-size={WIDTH},{HEIGHT}",
                     "--hide-scrollbars", f"--screenshot={shot}", out.as_uri())
    assert s.returncode == 0, s.stderr[-2000:]
    assert png_size(shot) == (WIDTH, HEIGHT)
    assert shot.stat().st_size > 80_000  # a blank page of this size is a few KB
    assert page_requests() == []
