"""Reading rows from .csv, .xlsx and .json files, streamed, with their line numbers.

Each source gives ``header`` (the first row) and ``rows()``: ``(line, values)`` pairs,
where ``line`` is the file's line number of the row's first line (the header is line
1; a CSV cell with line breaks makes later rows start further down) or the sheet's
row number.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from crmkit import ValidationError
from crmkit.i18n import Domain

_ = Domain("crmkit_csv").gettext

_CHUNK = 1 << 20


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` when the whole file is valid UTF-8 (with or without BOM), else
    ``gb18030`` (what Chinese Excel writes). Reads the file once, in chunks."""
    dec = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as f:
        try:
            while chunk := f.read(_CHUNK):
                dec.decode(chunk)
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8-sig"


class Source:
    """Base: ``header``, ``rows()``, ``size`` and ``position()`` for a progress bar."""

    header: list[Any]

    def __init__(self, path: Path):
        self.path = path
        self.size = os.path.getsize(path)

    def rows(self) -> Iterator[tuple[int, list[Any]]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def position(self) -> int:
        return 0

    def close(self) -> None:
        pass


class CsvSource(Source):
    def __init__(self, path: Path, encoding: str):
        super().__init__(path)
        self.label = encoding
        if encoding in ("auto", ""):
            encoding = detect_encoding(path)
        elif encoding.replace("_", "-").lower() in ("utf-8", "utf8"):
            encoding = "utf-8-sig"
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValidationError(_("unknown encoding '{encoding}'; use auto, "
                                    "utf-8, gb18030 or another Python codec name").format(
                                      encoding=encoding)) from None
        self.encoding = encoding
        if self.label in ("auto", ""):
            self.label = "UTF-8" if encoding == "utf-8-sig" else encoding.upper()
        self._raw = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._text = io.TextIOWrapper(self._raw, encoding=encoding, newline="")
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        self._reader = csv.reader(self._text, delimiter=delimiter)
        try:
            self.header = next(self._reader, [])
        except UnicodeDecodeError as exc:
            raise self._decode_error(exc) from None
        except csv.Error as exc:
            raise ValidationError(_("{name} line 1: {exc}").format(
                                      name=path.name, exc=exc)) from None
        if self.header:
            self.header[0] = self.header[0].lstrip("\ufeff")

    def _decode_error(self, exc: UnicodeDecodeError) -> ValidationError:
        return ValidationError(f"{self.path.name} is not valid {self.label} "
                               f"({exc.reason}); pass --encoding with the file's encoding, "
                               f"e.g. --encoding gb18030")

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        reader = self._reader
        last = reader.line_num
        try:
            for values in reader:
                yield last + 1, values
                last = reader.line_num
        except UnicodeDecodeError as exc:
            raise self._decode_error(exc) from None
        except csv.Error as exc:
            raise ValidationError(_("{name} line {line}: {exc}").format(
                                      name=self.path.name, line=last + 1, exc=exc)) from None

    def position(self) -> int:
        return self._raw.tell()

    def close(self) -> None:
        self._text.close()


class XlsxSource(Source):
    """The first worksheet, in openpyxl's read-only (streaming) mode."""

    def __init__(self, path: Path):
        super().__init__(path)
        import openpyxl

        try:
            self._wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException
            raise ValidationError(_("cannot read {name} as an Excel workbook: {exc}").format(
                                      name=path.name, exc=exc)) from None
        ws = self._wb.worksheets[0]
        self._rows = ws.iter_rows(values_only=True)
        self.header = ["" if v is None else str(v) for v in next(self._rows, ())]
        while self.header and not self.header[-1]:
            self.header.pop()
        self._done = 0

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        n = len(self.header)
        for line, values in enumerate(self._rows, start=2):
            self._done = line
            yield line, list(values[:n])

    def position(self) -> int:
        return 0

    def close(self) -> None:
        self._wb.close()


class JsonSource(Source):
    """A JSON array of objects. Streamed when written one object per line (as
    ``export --format json`` does: line numbers are then the file's); otherwise read
    whole, and an object's "line" is its position + 1."""

    def __init__(self, path: Path):
        super().__init__(path)
        self._objects = self._stream()
        try:
            first = next(self._objects, None)
        except ValueError as exc:
            raise ValidationError(_("cannot read {name} as JSON: {exc}").format(
                                      name=path.name, exc=exc)) from None
        self._first = first
        self.header = list(first[1]) if first else []

    def _stream(self) -> Iterator[tuple[int, dict[str, Any]]]:
        yielded = False
        with open(self.path, encoding="utf-8-sig") as f:
            for n, text in enumerate(f, start=1):
                s = text.strip()
                if (n == 1 and s == "[") or not s or s == "]":
                    continue
                try:
                    obj = json.loads(s.rstrip(","), parse_float=Decimal)
                except ValueError:
                    obj = None
                if not isinstance(obj, dict):
                    if yielded:
                        raise ValueError(_("line {n} is not one JSON object").format(
                                             n=n))
                    break
                yielded = True
                yield n, obj
            else:
                return
        # Not one object per line: read the whole document.
        with open(self.path, encoding="utf-8-sig") as f:
            data = json.load(f, parse_float=Decimal)
        if not isinstance(data, list) or not all(isinstance(o, dict) for o in data):
            raise ValueError(_("expected an array of objects"))
        yield from ((i + 2, o) for i, o in enumerate(data))

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        if self._first is None:
            return
        try:
            line, obj = self._first
            yield line, [obj.get(h) for h in self.header]
            for line, obj in self._objects:
                yield line, [obj.get(h) for h in self.header]
        except ValueError as exc:
            raise ValidationError(_("cannot read {name} as JSON: {exc}").format(
                                      name=self.path.name, exc=exc)) from None


def open_source(path: str | Path, encoding: str = "auto") -> Source:
    """The right reader for the file's extension; ValidationError for any other."""
    p = Path(path)
    if not p.is_file():
        raise ValidationError(_("file '{path}' not found").format(path=path))
    ext = p.suffix.lower()
    if ext in (".csv", ".tsv", ".txt"):
        return CsvSource(p, encoding)
    if ext in (".xlsx", ".xlsm"):
        return XlsxSource(p)
    if ext in (".json", ".jsonl"):
        return JsonSource(p)
    raise ValidationError(_("unsupported file type '{value}'; use .csv, .xlsx or "
                            ".json").format(value=ext or p.name))


def rejected_path(path: str | Path) -> Path:
    """Where the rejected rows of ``x.csv`` (or ``x.xlsx``) go: ``x.rejected.csv``."""
    p = Path(path)
    return p.with_name(p.stem + ".rejected.csv")
