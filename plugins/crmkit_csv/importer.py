"""The import engine: one streamed pass, one transaction, savepoints per batch.

Rows are read in batches. Customers go through ``crm.customers.add_many`` (validate and
created hooks fire for each row) inside a savepoint; when a batch is refused, its rows
are checked one by one (``crm.customers.check``, then ``add`` in a savepoint of its
own) so that the report names every bad row. Contacts, activities and documents go
through the services' ``add`` per row in a savepoint (``add_many`` when the core has
it). Columns other plugins claim (``crm_import_columns``) reach them per row through
``crm_import_row``, after the row's record is written, in the row's savepoint (such
rows take the one-by-one path). At the end the transaction commits only if nothing was
invalid (or ``skip_invalid``) and this is not a dry run: all or nothing, with a full
report.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import select

from crmkit import CrmError, DatabaseError, ValidationError
from crmkit.batching import gc_paused
from crmkit.checks import date_in_range
from crmkit.i18n import Domain

from . import dedup
from .fields import (
    FIELDS,
    KINDS,
    REF,
    cell_text,
    converter,
    digits,
    is_plain,
    map_header,
    norm_header,
    norm_name,
)
from .report import Report, RowError
from .source import open_source, rejected_path

_ = Domain("crmkit_csv").gettext

_RECORD = re.compile(r"^record \d+: ")
_COLUMN_OF = [  # which field an error message is about (first match wins)
    ("external_id", r"external id"), ("email", r"e-mail|\bemail\b"),
    ("owner", r"\bowner\b|permission denied: user '[^']*' may not create"),
    ("phone", r"\bphone\b"), ("address", r"\baddress\b"), ("tags", r"\btag"),
    ("status", r"\bstatus\b"), ("kind", r"\bkind\b"),
    ("due_on", r"due date"), ("issued_on", r"issue date"),
    ("terms", r"\bterms?\b|installment"), ("rate", r"\brate\b"),
    ("currency", r"\bcurrency\b"),
    ("amount", r"\bamount\b|credit note of"), ("lines", r"\bline\b|quantity|unit price"),
    ("applies_to", r"applies to|invoice '"), ("number", r"number '"),
    ("occurred_at", r"invalid time"), ("done_at", r"done"), ("subject", r"\bsubject\b"),
    ("body", r"\bbody\b"), ("title", r"\btitle\b"), ("extra", r"\bextra\b"),
    ("name", r"\bname\b"),
]


_REQUIRED = {"customers": ("name",), "contacts": ("name",),
             "activities": ("kind", "subject"), "documents": ("kind", "number")}


class _Rollback(Exception):
    """Leave the unit of work without committing (dry run, or invalid rows)."""


class _Row:
    """One data row: its line, its cells, the fields read from them, its keys."""

    __slots__ = ("line", "values", "fields", "keys", "ref", "claims")

    def __init__(self, line: int, values: list[Any], fields: dict[str, Any]):
        self.line, self.values, self.fields = line, values, fields
        self.keys: list[tuple[int, str]] = []
        self.ref = ""
        self.claims: dict[str, str] = {}  # cells of columns other plugins claimed


def import_file(crm: Any, kind: str, path: str | Path, *, mapping: tuple[str, ...] = (),
                dry_run: bool = False, skip_invalid: bool = False,
                update_existing: bool = False, encoding: str = "auto",
                delimiter: str | None = None,
                on_message: Callable[[str], None] | None = None,
                progress: Callable[[int, int], None] | None = None,
                batch_size: int | None = None) -> Report:
    """Import a .csv/.xlsx/.json file of ``kind`` rows; see the module docstring.

    ``on_message`` receives each error and duplicate line as it is found; ``progress``
    receives (bytes read, file size). Returns the :class:`Report`."""
    with crm.unit(write=False) as ctx:
        ctx.crm.plugins.require(ctx, "csv")
    if kind not in KINDS:
        raise ValidationError(_("unknown kind '{kind}'; valid: {valid}").format(
                                  kind=kind, valid=', '.join(KINDS)))
    imp = _Importer(crm, kind, Path(path), mapping, dry_run, skip_invalid, update_existing,
                    encoding, on_message, progress, batch_size)
    imp.delimiter = delimiter
    return imp.run()


class _Importer:
    def __init__(self, crm: Any, kind: str, path: Path, overrides: tuple[str, ...],
                 dry_run: bool, skip_invalid: bool, update_existing: bool, encoding: str,
                 on_message: Callable[[str], None] | None,
                 progress: Callable[[int, int], None] | None, batch_size: int | None):
        self.crm, self.kind, self.path = crm, kind, path
        self.overrides, self.encoding = overrides, encoding
        self.dry_run, self.skip_invalid, self.update = dry_run, skip_invalid, update_existing
        self.say = on_message or (lambda _m: None)
        self.progress = progress
        self.batch_size = batch_size
        self.report = Report(kind=kind, file=str(path), dry_run=dry_run)
        self.pending: list[_Row] = []
        self._rej_file: Any = None
        self._rej: Any = None
        self._refs: dict[tuple[str, Any], int | str] = {}
        self.ctx: Any = None
        self.claimed: dict[str, int] = {}  # plugins' fields -> column index

    # --- driver ----------------------------------------------------------------------

    delimiter: str | None = None

    def run(self) -> Report:
        from sqlalchemy.exc import DBAPIError, InvalidRequestError

        try:
            return self._run()
        except (DBAPIError, InvalidRequestError) as exc:
            # e.g. the connection was killed mid-import: the transaction is rolled back
            # (PendingRollbackError after the savepoint's failure), nothing was written
            orig = getattr(exc, "orig", None) or exc
            reason = str(orig).strip().splitlines()[0][:200] if str(orig).strip() else ""
            raise DatabaseError(_("the import of {name} stopped on a database "
                                  "error ({name2}: {reason}); it was rolled back, "
                                  "nothing was written").format(
                                    name=self.path.name, name2=type(orig).__name__,
                                    reason=reason)) from None

    def _run(self) -> Report:
        src = open_source(self.path, self.encoding, self.delimiter)
        try:
            self.header = [cell_text(h) for h in src.header]
            self.mapping, ignored = map_header(self.kind, self.header, list(self.overrides))
            self.convs = [(f, i, converter(self.kind, f), is_plain(self.kind, f))
                          for f, i in self.mapping.items()]
            # sized for the file: a row seldom takes fewer than 32 bytes and gives up to
            # three keys for a customer, one for another record (the table doubles if
            # the guess is short)
            per_row = 3 if self.kind == "customers" else 1
            self.store = dedup.KeyStore(expect=per_row * src.size // 32)
            try:
                with self.crm.unit() as ctx:
                    self.ctx = ctx
                    ignored = self._claim(ignored)
                    self.report.ignored_columns = ignored
                    if ignored:
                        self.say(f"ignoring columns not known for {self.kind}: "
                                 f"{', '.join(ignored)} (name them with --map COLUMN=field)")
                    self.svc = getattr(ctx.crm, self.kind)
                    size = self.batch_size or _setting(ctx, "batch_size", 5000)
                    if self.kind == "customers":
                        dedup.load_customers(self.store, ctx)
                    chunks = _chunks(src.rows(), size)
                    while True:
                        # a chunk's rows die with it: the collector held off meanwhile
                        # (a third of a 100,000-row import's CPU; see crmkit.batching)
                        with gc_paused():
                            chunk = next(chunks, None)
                            if chunk is None:
                                break
                            self._chunk(chunk)
                            if len(self.pending) >= size:
                                self._flush()
                        if self.progress:
                            self.progress(src.position(), src.size)
                    with gc_paused():
                        self._flush()
                    if self.dry_run or (self.report.invalid and not self.skip_invalid):
                        raise _Rollback
                self.report.written = True
            except _Rollback:
                pass
            finally:
                self.store.close()
        finally:
            src.close()
            if self._rej_file is not None:
                self._rej_file.close()
        return self.report

    def _claim(self, ignored: list[str]) -> list[str]:
        """Give the ignored columns other plugins claim (``crm_import_columns``) to
        them; the columns still ignored."""
        wanted: dict[str, str] = {}
        for answer in self.ctx.hooks.crm_import_columns(ctx=self.ctx, kind=self.kind):
            for header, fld in (answer or {}).items():
                wanted.setdefault(norm_header(header), fld)
        if not wanted:
            return ignored
        taken, free = set(self.mapping.values()), set(ignored)
        for i, h in enumerate(self.header):
            fld = wanted.get(norm_header(h))
            if fld is not None and h in free and i not in taken and fld not in self.claimed:
                self.claimed[fld] = i
        mine = {self.header[i] for i in self.claimed.values()}
        return [h for h in ignored if h not in mine]

    # --- rows ------------------------------------------------------------------------

    def _fields(self, row: _Row) -> list[tuple[str, str]]:
        errs: list[tuple[str, str]] = []
        values = row.values
        n = len(values)
        fields = row.fields
        for f, i, conv, plain in self.convs:
            v = values[i] if i < n else None
            if plain and v.__class__ is str:  # the fast path: a CSV text cell
                v = v.strip()
                if v:
                    fields[f] = v
                continue
            try:
                c = conv(v)
            except ValueError as exc:
                errs.append((f, str(exc)))
                continue
            if c is not None:
                fields[f] = c
        for f in _REQUIRED[self.kind]:
            # an empty required cell: the core then says e.g. "customer name is required"
            fields.setdefault(f, None)
        for f, i in self.claimed.items():
            text = cell_text(values[i]).strip() if i < n else ""
            if text:
                row.claims[f] = text
        return errs

    def _chunk(self, chunk: list[tuple[int, list[Any]]]) -> None:
        rows: list[_Row] = []
        for line, values in chunk:
            try:
                blank = not "".join(values).strip()
            except TypeError:  # xlsx and json cells: numbers, dates, lists
                blank = not any(cell_text(v).strip() for v in values)
            if blank:
                continue
            self.report.rows += 1
            row = _Row(line, values, {})
            errs = self._fields(row)
            if errs:
                self._reject(row, [(f, r) for f, r in errs])
                continue
            rows.append(row)
        if self.kind == "customers":
            self._customers(rows)
        else:
            for row in rows:
                self._child(row)

    def _customers(self, rows: list[_Row]) -> None:
        claims = []
        for r in rows:
            f = r.fields
            r.keys = keys = dedup.customer_keys(f.get("external_id"), f.get("email"),
                                                f.get("name"), f.get("phone"))
            claims.append((keys, r.line, bool(keys) and keys[0][1] == "x"))
        for r, hit in zip(rows, self.store.claim(claims), strict=True):
            if hit is not None:
                self._duplicate(r, hit[0], dedup.describe(hit[1], r.fields))
            else:
                self.pending.append(r)

    def _child(self, row: _Row) -> None:
        f = row.fields
        try:
            cid = self._customer(row)
            f.pop("customer_external_id", None)
            f.pop("customer_name", None)
            f["customer_id"] = cid
            for k in ("occurred_at", "done_at"):
                if k in f:
                    f[k] = _datetime(f[k], k, getattr(self.ctx, "zone", dt.UTC))
            key, existing = self._natural(f)
        except _CellError as exc:
            self._reject(row, [(exc.field, exc.reason)])
            return
        keys = [(hash(key), "k")]
        if existing is not None:  # a stored record (its key is never stored for it)
            hit: tuple[int, str] | None = (-existing, "k")
        else:  # an earlier row of the file, or stored as this row's
            hit = self.store.claim([(keys, row.line, False)])[0]
        if hit is not None:
            self._duplicate(row, hit[0], _("the same {what}").format(what=_what(self.kind)))
            return
        row.keys = keys  # forgotten again if the row turns out invalid
        self.pending.append(row)

    # --- customers of child rows, natural keys ---------------------------------------

    def _customer(self, row: _Row) -> int:
        f = row.fields
        for ref in REF:
            if f.get(ref) is not None:
                row.ref = ref
                break
        else:
            raise _CellError(REF[2] if REF[2] in self.mapping else REF[1],
                             "no customer given (customer id, external id or name)")
        value = f[row.ref]
        if row.ref == "customer_id":
            return int(value)
        got = self._refs.get((row.ref, value))
        if got is None:
            t = self.ctx.crm.table("customers")
            col = t.c.external_id if row.ref == "customer_external_id" else t.c.name
            ids = self.ctx.conn.scalars(
                select(t.c.id).where(self.ctx.crm.customers.visible(self.ctx), col == value)
                .order_by(t.c.id).limit(3)).all()
            what = "external id" if row.ref == "customer_external_id" else "name"
            if not ids:
                got = f"no customer with {what} '{value}'"
            elif len(ids) > 1:
                got = (f"customer name '{value}' matches customers "
                       f"{', '.join(map(str, ids))}; give the customer's external id")
            else:
                got = ids[0]
            if len(self._refs) > 50_000:
                self._refs.clear()
            self._refs[(row.ref, value)] = got
        if isinstance(got, str):
            raise _CellError(row.ref, got)
        return got

    def _natural(self, f: dict[str, Any]) -> tuple[tuple[Any, ...], int | None]:
        """A row's identity within the tenant and the id of a stored match."""
        ctx, cid = self.ctx, f["customer_id"]
        tid = ctx.tenant.id
        if self.kind == "contacts":
            email = (f.get("email") or "").strip().casefold()
            key: tuple[Any, ...] = (("ce", cid, email) if email else
                                    ("cn", cid, norm_name(f.get("name")), digits(f.get("phone"))))
            t = ctx.crm.table("contacts")
            for r in ctx.conn.execute(select(t.c.id, t.c.name, t.c.email, t.c.phone).where(
                    t.c.tenant_id == tid, t.c.customer_id == cid).order_by(t.c.id)):
                if (email and (r.email or "").casefold() == email) or (
                        not email and norm_name(r.name) == key[2]
                        and digits(r.phone) == key[3]):
                    return key, r.id
            return key, None
        if self.kind == "activities":
            at = f.get("occurred_at")
            key = ("a", cid, f.get("kind"), f.get("subject"), at.isoformat() if at else "")
            t = ctx.crm.table("activities")
            q = select(t.c.id).where(t.c.tenant_id == tid, t.c.customer_id == cid,
                                     t.c.kind == f.get("kind"), t.c.subject == f.get("subject"))
            if at is not None:
                q = q.where(t.c.occurred_at == at)
            return key, ctx.conn.scalars(q.order_by(t.c.id).limit(1)).first()
        key = ("d", f.get("kind"), f.get("number"))
        t = ctx.crm.table("documents")
        found = ctx.conn.execute(select(t.c.id, t.c.customer_id).where(
            t.c.tenant_id == tid, t.c.kind == f.get("kind"),
            t.c.number == f.get("number"))).first()
        if found is not None and found.customer_id != cid:
            # kind + number is the document's identity, but a row never moves or changes
            # another customer's document (and never says which customer that is)
            raise _CellError(self._ref_field(), f"{f.get('kind')} number "
                             f"'{str(f.get('number'))[:80]}' belongs to another customer; "
                             f"a row may only update its own customer's document")
        return key, found.id if found is not None else None

    def _ref_field(self) -> str:
        return next((r for r in REF if r in self.mapping), REF[0])

    # --- writing ---------------------------------------------------------------------

    def _flush(self) -> None:
        pending, self.pending = self.pending, []
        if not pending:
            return
        bulk = getattr(self.svc, "add_many", None)
        if bulk is None:
            for r in pending:
                self._add_one(r)
            return
        direct = [r for r in pending if "done_at" in r.fields or r.claims]
        batch = [r for r in pending if "done_at" not in r.fields and not r.claims]
        if batch and not self._bulk(bulk, batch):
            if self.kind == "customers":
                batch = [r for r in batch if self._check(r)]
                if batch and self._bulk(bulk, batch):
                    batch = []
            direct = sorted(batch + direct, key=lambda r: r.line)
        for r in direct:
            self._add_one(r)

    def _bulk(self, bulk: Callable[..., int], rows: list[_Row]) -> bool:
        try:
            with self.ctx.conn.begin_nested():
                bulk([self._record(r) for r in rows])
        except CrmError:
            return False
        self.report.imported += len(rows)
        return True

    def _check(self, r: _Row) -> bool:
        try:
            errs = self.ctx.crm.customers.check(**self._record(r))
        except CrmError as exc:
            errs = getattr(exc, "errors", None) or [str(exc)]
        if errs:
            self._reject(r, self._attribute(errs, getattr(errs, "fields", None)))
        return not errs

    def _record(self, r: _Row) -> dict[str, Any]:
        if self.kind == "customers":
            return r.fields
        allowed = FIELDS[self.kind]
        return {k: v for k, v in r.fields.items()
                if k in allowed and k not in ("customer_external_id", "customer_name",
                                              "done_at")}

    def _add_one(self, r: _Row) -> None:
        try:
            with self.ctx.conn.begin_nested():
                rec = self._record(r)
                if self.kind == "customers":
                    obj = self.svc.add(**rec)
                else:
                    obj = self.svc.add(rec.pop("customer_id"), **rec)
                    if r.fields.get("done_at") is not None:
                        obj = self.svc.update(obj.id, done_at=r.fields["done_at"])
                self._claimed_row(r, obj)
        except _Refused as exc:
            self._reject(r, exc.errors)
            return
        except CrmError as exc:
            self._reject(r, self._attribute(getattr(exc, "errors", None) or [str(exc)],
                                            getattr(exc, "fields", None)))
            return
        self.report.imported += 1

    def _duplicate(self, r: _Row, src: int, why: str) -> None:
        if src > 0:
            self.report.duplicates += 1
            self._note(_("line {line}: duplicate of line {src} ({why}); skipped").format(
                line=r.line, src=src, why=why))
            return
        target = -src
        if not self._may_see(target):
            # a record the importing user may not see is never named, nor updated
            # (issue 11.4/11.12): the row is a duplicate of "another" record
            self.report.duplicates += 1
            self._note(_("line {line}: duplicate of another {what} ({why}); skipped")
                       .format(line=r.line, what=_what(self.kind), why=why))
            return
        if not self.update:
            self.report.duplicates += 1
            self._note(_("line {line}: duplicate of {what} {id} ({why}); skipped (use "
                         "--update-existing to update it)").format(
                           line=r.line, what=_what(self.kind), id=target, why=why))
            return
        fields = {k: v for k, v in self._record(r).items() if k != "customer_id"}
        if r.fields.get("done_at") is not None:
            fields["done_at"] = r.fields["done_at"]
        if self.kind == "documents":
            fields.pop("lines", None)
        try:
            with self.ctx.conn.begin_nested():
                self._claimed_row(r, self.svc.update(target, **fields))
        except _Refused as exc:
            self._reject(r, exc.errors)
            return
        except CrmError as exc:
            self._reject(r, self._attribute(getattr(exc, "errors", None) or [str(exc)],
                                            getattr(exc, "fields", None)))
            return
        self.report.updated += 1

    def _may_see(self, record_id: int) -> bool:
        """Whether the importing user may see the stored record ``record_id`` (for a
        contact, activity or document: its customer)."""
        ctx = self.ctx
        if self.kind == "customers":
            return bool(ctx.crm.customers.sees(ctx, record_id))
        t = ctx.crm.table(self.kind)
        owner = ctx.conn.scalars(select(t.c.customer_id).where(
            t.c.tenant_id == ctx.tenant.id, t.c.id == record_id)).first()
        return bool(ctx.crm.customers.sees(ctx, owner))

    def _claimed_row(self, r: _Row, record: Any) -> None:
        """Hand the row's claimed cells to the plugins (``crm_import_row``); raise
        ``_Refused`` (rolling the row's savepoint back) when one refuses it."""
        if not r.claims:
            return
        errs = [(str(f), str(reason)) for answer in self.ctx.hooks.crm_import_row(
                    ctx=self.ctx, kind=self.kind, record=record, values=dict(r.claims))
                for f, reason in (answer or {}).items()]
        if errs:
            raise _Refused(errs)

    # --- reporting -------------------------------------------------------------------

    def _attribute(self, messages: list[str],
                   fields: list[str | None] | None = None) -> list[tuple[str, str]]:
        """(column field, message) for each message: the field the core named
        (``ValidationError.fields``), else one found by the message's wording."""
        out = []
        for i, m in enumerate(messages):
            m = _RECORD.sub("", str(m))
            fld = ""
            named = fields[i] if fields and i < len(fields) else None
            if named is not None and (named in self.mapping or named in self.claimed):
                out.append((named, m))
                continue
            if re.match(r"^(customer \d+ not found|permission denied: .* customer \d+)", m):
                fld = next((f for f in REF if f in self.mapping), "")
            else:
                for name, pat in _COLUMN_OF:
                    if name in self.mapping and re.search(pat, m):
                        fld = name
                        break
            out.append((fld, m))
        return out

    def _reject(self, r: _Row, errs: list[tuple[str, str]]) -> None:
        self.report.invalid += 1
        if r.keys:
            self.store.remove([h for h, _ in r.keys], r.line)
        for fld, reason in errs:
            i = self.mapping.get(fld, self.claimed.get(fld))
            column = self.header[i] if i is not None else ""
            value = cell_text(r.values[i]) if i is not None and i < len(r.values) else ""
            e = RowError(r.line, column, value[:200], reason[:1000])
            if len(self.report.errors) < 1000:
                self.report.errors.append(e)
            self.say(str(e))
        if self.skip_invalid and not self.dry_run:
            if self._rej is None:
                out = rejected_path(self.path)
                self._rej_file = open(out, "w", encoding="utf-8-sig", newline="")  # noqa: SIM115
                self._rej = csv.writer(self._rej_file)
                self._rej.writerow([*self.header, "reason"])
                self.report.rejected_file = str(out)
            cells = [cell_text(v) for v in r.values][:len(self.header)]
            cells += [""] * (len(self.header) - len(cells))
            self._rej.writerow([*cells, "; ".join(reason for _, reason in errs)])

    def _note(self, msg: str) -> None:
        if len(self.report.notes) < 1000:
            self.report.notes.append(msg)
        self.say(msg)


class _Refused(Exception):
    """A plugin refused a row in ``crm_import_row``: ``errors`` are (field, reason)."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors


class _CellError(Exception):
    def __init__(self, field: str, reason: str):
        self.field, self.reason = field, reason


def _chunks(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def _what(kind: str) -> str:
    return {"customers": _("customer"), "contacts": _("contact"),
            "activities": _("activity"), "documents": _("document")}[kind]


def _datetime(value: Any, fld: str, zone: dt.tzinfo = dt.UTC) -> dt.datetime:
    """ISO 8601; a value without offset is in ``zone`` (the tenant's, as everywhere in
    crmkit)."""
    if isinstance(value, dt.datetime):
        d = value
    else:
        try:
            d = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise _CellError(fld, f"invalid {fld.replace('_', ' ')} '{str(value)[:80]}'; "
                                  f"expected YYYY-MM-DDTHH:MM") from None
    d = d if d.tzinfo else d.replace(tzinfo=zone)
    try:  # before it is compared in SQL: moved to UTC it must stay in the calendar
        date_in_range(d, fld.replace("_", " "))
    except ValidationError as exc:
        raise _CellError(fld, str(exc)) from None
    return d.astimezone(dt.UTC)


def _setting(ctx: Any, name: str, default: Any) -> Any:
    try:
        return getattr(ctx.settings("csv"), name, default)
    except CrmError:
        return default
