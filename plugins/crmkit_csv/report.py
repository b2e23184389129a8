"""What an import reports: each bad row (line, column, value, reason) and the counts."""

from __future__ import annotations

from typing import Any

from attrs import define, field


def _clip(text: str, limit: int = 80) -> str:
    """At most ``limit`` characters of a cell in a message (``…`` marks the cut)."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


@define
class RowError:
    line: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        if self.column:
            return f"line {self.line}, column '{_clip(self.column)}', value " \
                   f"'{_clip(self.value)}': {self.reason}"
        return f"line {self.line}: {self.reason}"


@define
class Report:
    """What an import did. ``errors`` and ``notes`` keep the first 1,000 of each."""

    kind: str
    file: str
    dry_run: bool = False
    rows: int = 0
    imported: int = 0
    updated: int = 0
    duplicates: int = 0
    invalid: int = 0
    written: bool = False
    rejected_file: str | None = None
    ignored_columns: list[str] = field(factory=list)
    errors: list[RowError] = field(factory=list)
    notes: list[str] = field(factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "file": self.file, "dry_run": self.dry_run,
                "rows": self.rows, "imported": self.imported, "updated": self.updated,
                "duplicates": self.duplicates, "invalid": self.invalid,
                "written": self.written, "rejected_file": self.rejected_file,
                "ignored_columns": self.ignored_columns,
                "errors": [str(e) for e in self.errors]}
