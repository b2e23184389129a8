"""Documents: quotes, contracts, orders, invoices, payments, credit notes, expenses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from ..context import Context
from ..errors import ValidationError
from ..i18n import _
from ..money import parse_money, parse_quantity
from ..records import DOCUMENT_KINDS, DOCUMENT_STATUSES, Document, Line
from ..storage import SHORT_MAX
from ._base import Checker, ListService, get_row, inserted_id

APPLYING_KINDS = ("payment", "credit_note")
_FIELDS = ("customer_id", "kind", "number", "status", "amount", "currency", "issued_on",
           "due_on", "applies_to", "attachment", "extra")


def parse_line(value: Any) -> Line:
    """``Line``, a (product, quantity, unit_price) tuple, or ``"PRODUCT:QTY:PRICE"``."""
    if isinstance(value, Line):
        return value
    if isinstance(value, str):
        parts = value.rsplit(":", 2)
        if len(parts) != 3:
            raise ValidationError(_("invalid line '{value}'; expected "
                                    "PRODUCT:QTY:PRICE").format(value=value))
        value = parts
    try:
        product, qty, price = value
    except (TypeError, ValueError):
        raise ValidationError(_("invalid line {value!r}; expected (product, qty, "
                                "price)").format(value=value)) from None
    product = str(product).strip()
    if not product or len(product) > SHORT_MAX or "\x00" in product:
        raise ValidationError(_("invalid line product '{product}'").format(
                                  product=product))
    q = parse_quantity(qty, what=f"quantity of '{product}'")
    if q <= 0:
        raise ValidationError(_("quantity of '{product}' must be positive, got "
                                "{qty}").format(product=product, qty=qty))
    p = parse_money(price, what=f"unit price of '{product}'")
    if p < 0:
        raise ValidationError(_("unit price of '{product}' must not be negative, "
                                "got {price}").format(product=product, price=price))
    return Line(product=product, quantity=q, unit_price=p)


class DocumentService(ListService[Document]):
    """``crm.documents``: every document with its lines, audited and hooked.

    ``list``/``stream``/``count`` (without lines, newest first) filter by
    ``customer_id``, ``kind`` and ``status``."""

    def _lines(self, ctx: Context, doc_id: int) -> tuple[Line, ...]:
        t = self.table("document_lines")
        rows = ctx.conn.execute(select(t).where(t.c.tenant_id == ctx.tenant.id,
                                                t.c.document_id == doc_id)
                                .order_by(t.c.position))
        return tuple(Line(r.product, r.quantity, r.unit_price) for r in rows)

    def _load(self, ctx: Context, id_: int) -> Document:
        row = get_row(ctx, "documents", int(id_), "document")
        return Document.from_row(row, self._lines(ctx, row.id))

    def by_number(self, kind: str, number: str) -> Document | None:
        t = self.table("documents")
        with self.crm.unit(write=False) as ctx:
            row = ctx.conn.execute(select(t).where(t.c.tenant_id == ctx.tenant.id,
                                                   t.c.kind == kind, t.c.number == number)
                                   ).first()
            if row is None:
                return None
            ctx.crm.customers.require(ctx, row.customer_id, "view")
            return Document.from_row(row, self._lines(ctx, row.id))

    def _check(self, ctx: Context, new: dict[str, Any], before: Document | None) -> Checker:
        c = Checker("document")
        c.choice("kind", new["kind"], DOCUMENT_KINDS)
        c.choice("status", new["status"], DOCUMENT_STATUSES)
        c.text("number", new["number"], 100, required=True)
        c.text("attachment", new.get("attachment"), 2000)
        if new["amount"] is not None and new["amount"] < 0:
            c.errors.append(_("amount must not be negative, got {amount}").format(
                                amount=new['amount']))
        if new["due_on"] and new["issued_on"] and new["due_on"] < new["issued_on"]:
            c.errors.append(_("due date {due_on} is before the issue date "
                              "{issued_on}").format(
                                due_on=new['due_on'], issued_on=new['issued_on']))
        t = self.table("documents")
        if c.errors:
            return c
        if before is None or new["number"] != before.number or new["kind"] != before.kind:
            dup = ctx.conn.execute(select(t.c.id).where(
                t.c.tenant_id == ctx.tenant.id, t.c.kind == new["kind"],
                t.c.number == new["number"])).first()
            if dup is not None:
                c.errors.append(_("{kind} number '{number}' already exists "
                                  "(document {id})").format(
                                    kind=new['kind'], number=new['number'], id=dup.id))
        if new["applies_to"]:
            if new["kind"] not in APPLYING_KINDS:
                c.errors.append(_("only payments and credit notes apply to an "
                                  "invoice, not a {kind}").format(kind=new['kind']))
            inv = ctx.conn.execute(select(t).where(
                t.c.tenant_id == ctx.tenant.id, t.c.kind == "invoice",
                t.c.number == new["applies_to"])).first()
            if inv is None:
                c.errors.append(_("{kind} applies to unknown invoice "
                                  "'{applies_to}'").format(
                    kind=new["kind"].replace("_", " "), applies_to=new["applies_to"]))
            elif inv.customer_id != new["customer_id"]:
                c.errors.append(_("invoice '{applies_to}' belongs to customer "
                                  "{customer_id}, not {other}").format(
                    applies_to=new["applies_to"], customer_id=inv.customer_id,
                    other=new["customer_id"]))
            elif new["kind"] == "credit_note" and new["amount"] > inv.amount:
                c.errors.append(_("credit note of {amount} is larger than invoice "
                                  "'{number}' ({invoice_amount})").format(
                    amount=new["amount"], number=inv.number, invoice_amount=inv.amount))
        return c

    def add(self, customer_id: int, *, kind: str, number: str, amount: Any = None,
            issued_on: Any = None, due_on: Any = None, applies_to: str | None = None,
            lines: Iterable[Any] = (), status: str = "open", currency: str | None = None,
            attachment: str | None = None, extra: dict[str, Any] | None = None) -> Document:
        """Add a document; ``amount`` defaults to the lines' total."""
        with self.crm.unit() as ctx:
            customer = ctx.crm.customers.require(ctx, customer_id, "update")
            c = Checker("document")
            c.choice("kind", kind, DOCUMENT_KINDS)  # before the amount: name the bad kind
            c.raise_if_any()
            parsed = tuple(parse_line(x) for x in lines)
            if amount is None or amount == "":
                if not parsed:
                    raise ValidationError(_("amount is required (or give lines)"))
                amt: Any = sum((ln.total for ln in parsed), Decimal("0.00"))
            else:
                amt = c.money("amount", amount, minimum=None)
            c.raise_if_any()
            new = {"customer_id": customer.id, "kind": kind, "number": (number or "").strip(),
                   "status": status, "amount": amt,
                   "currency": currency or ctx.tenant.currency,
                   "issued_on": c.date("issue date", issued_on) or ctx.today,
                   "due_on": c.date("due date", due_on), "applies_to": applies_to or None,
                   "attachment": attachment, "extra": extra or {}}
            c.raise_if_any()
            c = self._check(ctx, new, None)
            c.raise_if_any()
            doc = Document(id=None, tenant_id=ctx.tenant.id, lines=parsed, **new)
            c.raise_if_any(ctx.hooks.crm_document_validate(ctx=ctx, document=doc,
                                                           changes=dict(new), before=None))
            t = self.table("documents")
            new_id = inserted_id(ctx.conn.execute(t.insert().values(
                tenant_id=ctx.tenant.id, created_at=ctx.now(), **new)))
            if parsed:
                lt = self.table("document_lines")
                ctx.conn.execute(lt.insert(), [
                    {"tenant_id": ctx.tenant.id, "document_id": new_id, "position": i,
                     "product": ln.product, "quantity": ln.quantity,
                     "unit_price": ln.unit_price} for i, ln in enumerate(parsed, 1)])
            doc = self._load(ctx, new_id)
            ctx.hooks.crm_document_created(ctx=ctx, document=doc)
            ctx.audit("document", new_id, "insert", None, doc, customer_id=doc.customer_id)
            return doc

    def add_many(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Add many documents in one transaction (each validated, hooked and audited like
        ``add``; all or nothing). Returns the number added."""
        n = 0
        with self.crm.unit():
            for i, rec in enumerate(records, start=1):
                rec = dict(rec)
                try:
                    self.add(rec.pop("customer_id"), **rec)
                except (ValidationError, KeyError) as exc:
                    raise ValidationError(_("record {i}: {exc}").format(i=i, exc=exc)) from None
                n += 1
        return n

    def get(self, id_: int) -> Document:
        with self.crm.unit(write=False) as ctx:
            doc = self._load(ctx, id_)
            ctx.crm.customers.require(ctx, doc.customer_id, "view")
            return doc

    def update(self, id_: int, **fields: Any) -> Document:
        """Change a document's fields (not its lines)."""
        with self.crm.unit() as ctx:
            before = self._load(ctx, id_)
            ctx.crm.customers.require(ctx, before.customer_id, "update")
            bad = [k for k in fields if k not in _FIELDS or k == "customer_id"]
            if bad:
                raise ValidationError(_("unknown document field '{bad}'").format(
                                          bad=bad[0]))
            c = Checker("document")
            if "amount" in fields:
                fields["amount"] = c.money("amount", fields["amount"], minimum=None)
            for k in ("issued_on", "due_on"):
                if k in fields:
                    fields[k] = c.date(k.replace("_on", " date"), fields[k])
            c.raise_if_any()
            new = {k: getattr(before, k) for k in _FIELDS} | fields
            changes = {k: v for k, v in fields.items() if getattr(before, k) != v}
            if not changes:
                return before
            self._check(ctx, new, before).raise_if_any()
            doc = Document(id=before.id, tenant_id=ctx.tenant.id, lines=before.lines, **new)
            c.raise_if_any(ctx.hooks.crm_document_validate(ctx=ctx, document=doc,
                                                           changes=changes, before=before))
            t = self.table("documents")
            ctx.conn.execute(t.update().where(t.c.id == before.id).values(**changes))
            doc = self._load(ctx, before.id)  # type: ignore[arg-type]
            ctx.hooks.crm_document_updated(ctx=ctx, document=doc, before=before,
                                           changes=changes)
            ctx.audit("document", before.id, "update", before, doc,
                      customer_id=doc.customer_id)
            return doc

    def set_status(self, id_: int, status: str) -> Document:
        return self.update(id_, status=status)

    def _query(self, ctx: Context, *, customer_id: int | None = None,
               kind: str | None = None, status: str | None = None) -> Any:
        t = self.table("documents")
        c = Checker("document")
        if kind is not None:
            c.choice("kind", kind, DOCUMENT_KINDS)
        if status is not None:
            c.choice("status", status, DOCUMENT_STATUSES)
        c.raise_if_any()
        q = select(t).where(t.c.tenant_id == ctx.tenant.id,
                            t.c.customer_id.in_(ctx.crm.customers.visible_ids(ctx)))
        if customer_id is not None:
            q = q.where(t.c.customer_id == customer_id)
        if kind:
            q = q.where(t.c.kind == kind)
        if status:
            q = q.where(t.c.status == status)
        return q.order_by(t.c.issued_on.desc(), t.c.id.desc())

    def _record(self, ctx: Context, row: Any) -> Document:
        return Document.from_row(row)
