"""crmkit.output, the public output module: width, values for people, paging, JSON
streaming, writable files."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest

from crmkit import ValidationError
from crmkit.errors import did_you_mean
from crmkit.output import Page, cell, fit, stream_json, width, writable


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_width_is_columns_else_the_terminal_else_80(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert width(io.StringIO()) == 100
    monkeypatch.delenv("COLUMNS")
    assert width(io.StringIO()) == 80  # a pipe, a file: 80
    monkeypatch.setattr("shutil.get_terminal_size", lambda: __import__("os").terminal_size(
        (132, 40)))
    assert width(_Tty()) == 132


def test_cell_renders_every_value_for_people():
    assert [cell(v) for v in (None, True, False, Decimal("1234.5"), Decimal("-1465.50"),
                              dt.date(2026, 11, 22),
                              dt.datetime(2026, 11, 22, 9, 5, tzinfo=dt.UTC), [], ("a", "b"),
                              {"x": 1, "y": None}, 3)] == [
        "", "yes", "no", "1,234.50", "-1,465.50", "2026-11-22", "2026-11-22 09:05", "",
        "a, b", "x: 1", "3"]


def test_page_defaults_and_limits():
    assert Page.of(None, None, as_json=False) == Page(50, 0)  # a table: 50 rows
    assert Page.of(None, None, as_json=True) == Page(None, 0)  # JSON: every row
    assert Page.of(0, 5, as_json=True) == Page(0, 5)
    rows, more = Page(2, 1).slice(list("abcde"))
    assert (rows, more) == (["b", "c"], 2)
    assert Page(0, 0).slice(list("abc")) == ([], 3)
    for bad in (-1, 10**20, 1_000_000_001):
        with pytest.raises(ValidationError, match=r"^invalid --limit -?\d+; expected a "
                                                  "whole number from 0 to 1000000000$"):
            Page.of(bad, 0, as_json=False)


def test_stream_json_writes_a_valid_array(monkeypatch):
    for items in ([], [{"a": Decimal("1.5")}], [{"n": i} for i in range(1201)]):
        out = io.StringIO()
        monkeypatch.setattr("sys.stdout", out)
        assert stream_json(iter(items)) == len(items)
        parsed = json.loads(out.getvalue())
        assert len(parsed) == len(items)
    assert json.loads(json.dumps(parsed[:1])) == [{"n": 0}]


def test_fit_drops_optional_columns_empty_ones_first(monkeypatch):
    monkeypatch.setenv("COLUMNS", "30")
    rows = [[1, "Acme", "", "a@b.cn" * 3, "x"]]
    cols = ["id", "name", "phone", "email", "tags"]
    kept_rows, kept = fit(rows, cols, optional=(4, 3, 2))
    # phone (empty) goes first, then tags; id + name + email = 2 + 4 + 18 + 4 gaps = 28
    assert kept == ["id", "name", "email"] and kept_rows == [[1, "Acme", "a@b.cn" * 3]]


def test_writable_refuses_before_any_work(tmp_path):
    writable(tmp_path / "ok.csv")
    for path, reason in ((tmp_path / "no" / "x.csv", "does not exist"),
                         (tmp_path, "it is a folder")):
        with pytest.raises(ValidationError, match=f"cannot write .*: .*{reason}"):
            writable(path)


def test_did_you_mean_offers_the_closest_names_only():
    assert did_you_mean("custmer", ["customer", "user", "contact"]) == (
        " Did you mean 'customer'?")
    assert did_you_mean("xyz", ["customer"]) == ""
    assert did_you_mean("recievables", ["receivables", "sales"], inline=True) == (
        " (did you mean 'receivables'?)")
