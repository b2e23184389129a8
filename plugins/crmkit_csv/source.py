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

from .fields import unneutralise, xlsx_unescape

_ = Domain("crmkit_csv").gettext

_CHUNK = 1 << 20


#: The largest cell crmkit reads, in characters (the csv module's own field limit):
#: a bigger one is refused without being held whole.
CELL_MAX = 131_072
#: Delimiters a CSV header is sniffed for (when --delimiter is not given).
DELIMITERS = (",", ";", "\t", "|")
_SAMPLE = 256 * 1024
# What a file that is not UTF-8 is taken as, when its bytes read the same in each
# candidate or one of these is among the candidates (most to least preferred).
_PREFERRED = ("utf_16", "utf_16_le", "utf_16_be", "gb18030", "cp1252", "big5")


def _is_utf8(path: Path) -> bool:
    dec = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as f:
        try:
            while chunk := f.read(_CHUNK):
                dec.decode(chunk)
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` when the whole file is valid UTF-8 (with or without BOM); else what
    charset-normalizer finds in the first 256 KB, when the candidates that read
    equally well agree (or one of them is GB18030, what Chinese Excel writes). A file
    whose candidates read as different text is refused, naming ``--encoding``."""
    if _is_utf8(path):
        return "utf-8-sig"
    from charset_normalizer import from_bytes

    with open(path, "rb") as f:
        sample = f.read(_SAMPLE)
    matches = list(from_bytes(sample))
    if matches:
        best = min(m.chaos for m in matches)
        close = [m for m in matches if m.chaos <= best + 0.02]
        texts = {str(m) for m in close}
        names = [codecs.lookup(e).name.replace("-", "_")
                 for m in close for e in (m.encoding, *m.could_be_from_charset)]
        for want in _PREFERRED:
            if want in names and (len(texts) == 1 or want in ("gb18030", "utf_16")):
                return want
        if len(texts) == 1:
            return close[0].encoding
        shown = ", ".join(dict.fromkeys(m.encoding for m in close[:4]))
    else:
        shown = "none fits"
    raise ValidationError(_("cannot tell the encoding of {name} (it is not UTF-8; "
                            "candidates: {shown}); pass --encoding with the file's "
                            "encoding, e.g. --encoding cp1252 or --encoding gb18030").format(
                              name=path.name, shown=shown))


def sniff_delimiter(header_line: str, default: str) -> str:
    """The delimiter a header line uses most, outside quotes; ``default`` when it holds
    none of them (a one-column file)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else default


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
    def __init__(self, path: Path, encoding: str, delimiter: str | None = None):
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
        default = "\t" if path.suffix.lower() == ".tsv" else ","
        if delimiter in (None, "", "auto"):
            delimiter = sniff_delimiter(self._first_line(encoding), default)
        elif delimiter in ("\\t", "tab", "TAB"):
            delimiter = "\t"
        if len(delimiter) != 1 or delimiter in ('"', "\r", "\n"):
            raise ValidationError(_("invalid --delimiter '{delimiter}'; give one "
                                    "character, e.g. ',' ';' or tab").format(
                                      delimiter=delimiter[:10]))
        self.delimiter = delimiter
        self._raw = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._text = io.TextIOWrapper(self._raw, encoding=encoding, newline="")
        self._reader = _Unquoting(csv.reader(self._text, delimiter=delimiter))
        try:
            self.header = next(self._reader, [])
        except UnicodeDecodeError as exc:
            raise self._decode_error(exc) from None
        except csv.Error as exc:
            raise ValidationError(_("{name} line 1: {exc}").format(
                                      name=path.name, exc=exc)) from None
        if self.header:
            self.header[0] = self.header[0].lstrip("\ufeff")

    def _first_line(self, encoding: str) -> str:
        with open(self.path, encoding=encoding, errors="replace", newline="") as f:
            return f.readline(64 * 1024)

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


class _Unquoting:
    """A csv reader whose cells lose the ``'`` that export put before a formula
    character (``'=1+1`` -> ``=1+1``)."""

    def __init__(self, reader: Any):
        self._reader = reader

    @property
    def line_num(self) -> int:
        return self._reader.line_num

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> list[str]:
        row = next(self._reader)
        return [unneutralise(v) if v[:1] == "'" else v for v in row]


class XlsxSource(Source):
    """The first worksheet, in openpyxl's read-only (streaming) mode."""

    def __init__(self, path: Path):
        super().__init__(path)
        import openpyxl

        check_xlsx(path)
        try:
            self._wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
            ws = self._wb.worksheets[0]
            # read to the sheet's real end, not to what its <dimension> tag claims
            ws.reset_dimensions()
            self._rows = ws.iter_rows(values_only=True)
            self.header = ["" if v is None else xlsx_unescape(str(v))
                           for v in next(self._rows, ())]
        except Exception as exc:  # zipfile.BadZipFile, KeyError, ParseError, ...
            raise ValidationError(_("cannot read {name} as an Excel workbook: {exc}").format(
                                      name=path.name, exc=str(exc)[:200])) from None
        while self.header and not self.header[-1]:
            self.header.pop()
        self._done = 0

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        n = len(self.header)
        try:
            for line, values in enumerate(self._rows, start=2):
                self._done = line
                yield line, [xlsx_unescape(v) if v.__class__ is str else v
                             for v in values[:n]]
        except Exception as exc:  # a broken sheet found while streaming it
            if isinstance(exc, ValidationError):
                raise
            raise ValidationError(_("cannot read {name} as an Excel workbook: {exc}").format(
                                      name=self.path.name, exc=str(exc)[:200])) from None

    def position(self) -> int:
        return 0

    def close(self) -> None:
        self._wb.close()


class JsonSource(Source):
    """A JSON array of objects. Streamed when written one object per line (as
    ``export --format json`` does: line numbers are then the file's); otherwise read
    whole, and an object's "line" is its position + 1."""

    def _cells(self, line: int, obj: dict[str, Any]) -> list[Any]:
        values = [obj.get(h) for h in self.header]
        for v in values:
            if isinstance(v, str) and len(v) > CELL_MAX:
                raise ValidationError(_("{name} line {line}: a value of {n} "
                                        "characters; the largest cell crmkit reads "
                                        "is {CELL_MAX}").format(
                                          name=self.path.name, line=line, n=len(v),
                                          CELL_MAX=CELL_MAX))
        return values

    def __init__(self, path: Path):
        super().__init__(path)
        self._objects = self._stream()
        try:
            first = next(self._objects, None)
        except (ValueError, RecursionError) as exc:
            raise ValidationError(_("cannot read {name} as JSON: {value}").format(
                                      name=path.name, value=_why(exc))) from None
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
            yield line, self._cells(line, obj)
            for line, obj in self._objects:
                yield line, self._cells(line, obj)
        except (ValueError, RecursionError) as exc:
            raise ValidationError(_("cannot read {name} as JSON: {value}").format(
                                      name=self.path.name, value=_why(exc))) from None


def _why(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "it is nested too deeply"
    return str(exc)[:200]


def check_xlsx(path: Path) -> None:
    """Refuse, before openpyxl reads it, a workbook that declares XML entities (an
    "entity bomb": OOXML never has a DTD) or holds a cell longer than
    :data:`CELL_MAX` characters, which would be held whole in memory. Streams each
    part; parts too small to hold such a cell are only looked at for a DTD."""
    import xml.parsers.expat
    import zipfile

    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValidationError(_("cannot read {name} as an Excel workbook: {exc}").format(
                                  name=path.name, exc=str(exc)[:200])) from None
    with zf:
        for info in zf.infolist():
            if not info.filename.endswith((".xml", ".rels")):
                continue
            with zf.open(info) as f:
                head = f.read(4096)
            if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                raise ValidationError(_("{name} declares XML entities "
                                        "({filename}); an Excel workbook never "
                                        "does: refused").format(
                                          name=path.name, filename=info.filename))
            if info.file_size <= CELL_MAX:
                continue
            parser = xml.parsers.expat.ParserCreate()
            parser.buffer_text = True
            state = {"n": 0}

            def start(_name: str, _attrs: Any, state: dict = state) -> None:
                state["n"] = 0

            def text(data: str, state: dict = state, part: str = info.filename) -> None:
                state["n"] += len(data)
                if state["n"] > CELL_MAX:
                    raise ValidationError(
                        _("{name} has a cell longer than {CELL_MAX} characters "
                          "({part}); the largest cell crmkit reads is {CELL_MAX}").format(
                            name=path.name, CELL_MAX=CELL_MAX, part=part))

            def doctype(*_a: Any) -> None:
                raise ValidationError(_("{name} declares XML entities; refused").format(
                                          name=path.name))

            parser.StartElementHandler = start
            parser.CharacterDataHandler = text
            parser.StartDoctypeDeclHandler = doctype
            try:
                with zf.open(info) as f:
                    while chunk := f.read(_CHUNK):
                        parser.Parse(chunk, False)
                    parser.Parse(b"", True)
            except xml.parsers.expat.ExpatError as exc:
                raise ValidationError(_("cannot read {name} as an Excel workbook: "
                                        "{filename}: {exc}").format(
                                          name=path.name, filename=info.filename,
                                          exc=exc)) from None


def open_source(path: str | Path, encoding: str = "auto",
                delimiter: str | None = None) -> Source:
    """The right reader for the file's extension; ValidationError for any other."""
    p = Path(path)
    if not p.is_file():
        raise ValidationError(_("file '{path}' not found").format(path=path))
    ext = p.suffix.lower()
    if ext in (".csv", ".tsv", ".txt"):
        return CsvSource(p, encoding, delimiter)
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
