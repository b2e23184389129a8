"""``crmkit export``: stream records to .csv, .xlsx or .json in the shape ``import`` reads.

Rows are read in pages by id (keyset pagination), so memory stays flat and no
server-side cursor is held open (MariaDB allows one streaming result per connection).
Only what the user may see is exported (``crm.customers.visible``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select

from crmkit import ValidationError, fmt_money
from crmkit.i18n import Domain
from crmkit.output import writable

from .fields import KINDS, line_text, neutralise, xlsx_escape

_ = Domain("crmkit_csv").gettext

FORMATS = ("csv", "xlsx", "json")
COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("id", "external_id", "name", "kind", "status", "owner", "email", "phone",
                  "address", "tags", "extra", "created_at", "updated_at"),
    "contacts": ("id", "customer_external_id", "customer_name", "name", "title", "email",
                 "phone"),
    "activities": ("id", "customer_external_id", "customer_name", "kind", "subject", "body",
                   "owner", "occurred_at", "due_on", "done_at", "extra"),
    "documents": ("id", "customer_external_id", "customer_name", "kind", "number", "status",
                  "amount", "currency", "issued_on", "due_on", "applies_to", "lines",
                  "attachment", "extra", "rate", "base_amount", "terms"),
}
_PAGE = 2000


def export_file(crm: Any, kind: str, path: str | Path, fmt: str | None = None,
                progress: Any = None) -> int:
    """Write every visible ``kind`` record to ``path``; returns the number written.
    ``progress(done)`` is called after each page of records."""
    if kind not in KINDS:
        raise ValidationError(_("unknown kind '{kind}'; valid: {valid}").format(
                                  kind=kind, valid=', '.join(KINDS)))
    p = Path(path)
    fmt = (fmt or p.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValidationError(_("unknown format '{value}'; valid: {valid} (give "
                                "--format or a file ending in .csv, .xlsx or .json)").format(
                                  value=fmt or p.name, valid=', '.join(FORMATS)))
    cols = COLUMNS[kind]
    writable(p)
    try:
        return _write(crm, kind, p, fmt, cols, progress)
    except OSError as exc:  # a full disk (/dev/full), a folder removed meanwhile
        raise ValidationError(_("cannot write {p}: {value}").format(
                                  p=str(p)[:200],
                                  value=exc.strerror or type(exc).__name__)) from None


def _write(crm: Any, kind: str, p: Path, fmt: str, cols: tuple[str, ...],
           progress: Any) -> int:
    n = 0
    with crm.unit(write=False) as ctx:
        ctx.crm.plugins.require(ctx, "csv")
        records = _records(ctx, kind, progress)
        if fmt == "csv":
            with open(p, "w", encoding="utf-8-sig", newline="") as f:
                w = csv.writer(f)
                w.writerow(cols)
                for rec in records:
                    w.writerow([neutralise(_text(rec[c])) for c in cols])
                    n += 1
        elif fmt == "xlsx":
            import openpyxl
            from openpyxl.cell import WriteOnlyCell

            wb = openpyxl.Workbook(write_only=True)
            ws = wb.create_sheet(kind)
            ws.append(list(cols))

            def cell(text: str) -> Any:
                if not text:
                    return None
                # a text cell, never a formula: "=HYPERLINK(..)" stays the name it is
                c = WriteOnlyCell(ws, value=xlsx_escape(text))
                c.data_type = "s"
                return c

            for rec in records:
                ws.append([cell(_text(rec[c])) for c in cols])
                n += 1
            wb.save(p)
        else:
            with open(p, "w", encoding="utf-8") as f:
                f.write("[")
                for rec in records:
                    f.write(",\n" if n else "\n")
                    f.write(json.dumps({c: _json(rec[c]) for c in cols}, ensure_ascii=False))
                    n += 1
                f.write("\n]\n")
    return n


def _text(v: Any) -> str:
    """A value as one cell: lists comma- or semicolon-joined, dicts as JSON."""
    if v is None:
        return ""
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False, sort_keys=True) if v else ""
    if isinstance(v, _Lines):  # "P:Q:PRICE;P2:Q:PRICE", ";" in a product escaped
        return ";".join(line_text(*x) for x in v)
    if isinstance(v, tuple):  # tags: a tag never holds a comma
        return ",".join(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def _json(v: Any) -> Any:
    if isinstance(v, _Lines):
        return [line_text(*x, escape=False) for x in v]
    if isinstance(v, tuple):
        return list(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


class _Lines(tuple):  # noqa: SLOT001 - a marker type for document lines
    __slots__ = ()


def _records(ctx: Any, kind: str, progress: Any = None) -> Iterator[dict[str, Any]]:
    crm = ctx.crm
    c = crm.table("customers")
    visible = crm.customers.visible(ctx)
    if kind == "customers":
        t, q = c, select(c).where(visible)
    else:
        t = crm.table(kind)
        q = (select(t, c.c.external_id.label("customer_external_id"),
                    c.c.name.label("customer_name"))
             .join(c, c.c.id == t.c.customer_id).where(visible, t.c.tenant_id == ctx.tenant.id))
        if kind == "activities":  # less the entries plugins hide (crm_activity_scope)
            q = q.where(crm.activities.visible(ctx))
    last = done = 0
    while True:
        rows = ctx.conn.execute(q.where(t.c.id > last).order_by(t.c.id).limit(_PAGE)).all()
        if not rows:
            return
        lines = _lines(ctx, [r.id for r in rows]) if kind == "documents" else {}
        terms = _terms(ctx, [r.id for r in rows]) if kind == "documents" else {}
        for r in rows:
            rec = dict(r._mapping)
            if kind == "customers":
                rec["tags"] = tuple(x for x in (r.tags or "").split(",") if x)
            if "amount" in rec:
                rec["amount"] = fmt_money(rec["amount"])
            if kind == "documents":
                rec["lines"] = _Lines(lines.get(r.id, ()))
                rec["rate"] = str(rec["rate"])
                rec["base_amount"] = fmt_money(rec["base_amount"])
                # "DATE:AMOUNT;DATE:AMOUNT": what import reads back
                rec["terms"] = ";".join(f"{t.due_on.isoformat()}:{t.amount}"
                                        for t in terms.get(r.id, ())) or None
            rec["extra"] = rec.get("extra") or {}
            yield rec
        last = rows[-1].id
        done += len(rows)
        if progress is not None:
            progress(done)


def _lines(ctx: Any, ids: list[int]) -> dict[int, list[tuple[str, str, str, str | None]]]:
    lt = ctx.crm.table("document_lines")
    out: dict[int, list[tuple[str, str, str, str | None]]] = {}
    for r in ctx.conn.execute(select(lt).where(lt.c.tenant_id == ctx.tenant.id,
                                               lt.c.document_id.in_(ids))
                              .order_by(lt.c.document_id, lt.c.position)):
        out.setdefault(r.document_id, []).append(
            (r.product, str(r.quantity), fmt_money(r.unit_price),
             None if r.unit_cost is None else fmt_money(r.unit_cost)))
    return out


def _terms(ctx: Any, ids: list[int]) -> dict[int, list[Any]]:
    """The documents' payment terms (installment rows in due order)."""
    tt = ctx.crm.table("document_terms")
    out: dict[int, list[Any]] = {}
    for r in ctx.conn.execute(select(tt).where(tt.c.tenant_id == ctx.tenant.id,
                                               tt.c.document_id.in_(ids))
                              .order_by(tt.c.document_id, tt.c.no)):
        out.setdefault(r.document_id, []).append(r)
    return out
