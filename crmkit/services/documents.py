"""Documents: quotes, contracts, orders, invoices, payments, credit notes, expenses."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, func, select, type_coerce

from ..context import Context
from ..errors import ValidationError
from ..i18n import _
from ..money import base_amount, document_rate, parse_currency, parse_money, parse_quantity
from ..records import DOCUMENT_KINDS, DOCUMENT_STATUSES, Document, Line, Term
from ..storage import SHORT_MAX
from ..terms import parse_terms, split_terms, term_rows
from ._base import (
    Checker,
    ListService,
    customer_label,
    customer_visible,
    get_row,
    inserted_id,
)

APPLYING_KINDS = ("payment", "credit_note")
_NUMERIC = re.compile(r"^[+-]?[\d,.¥￥$€£]*\d[\d,.]*$")
_FIELDS = ("customer_id", "kind", "number", "status", "amount", "currency", "issued_on",
           "due_on", "applies_to", "attachment", "extra", "rate")
#: fields an invoice's payment terms were computed from: fixed once it has terms
_TERMED = ("amount", "currency", "rate", "issued_on", "due_on")


def _split_line(value: str) -> list[str]:
    """``PRODUCT:QTY:PRICE[:COST]``: four parts when the quantity and price places both
    read as numbers (a product name may itself contain ``:``; a cost that is no number
    is then reported as the bad cost it is), else three."""
    four = value.rsplit(":", 3)
    if len(four) == 4 and four[0].strip() and all(_NUMERIC.match(x.strip()) for x in four[1:3]):
        return four
    parts = value.rsplit(":", 2)
    if len(parts) != 3:
        raise ValidationError(_("invalid line '{value}'; expected "
                                "PRODUCT:QTY:PRICE or PRODUCT:QTY:PRICE:COST").format(
                                  value=value[:80]))
    return parts


def parse_line(value: Any) -> Line:
    """``Line``, a (product, quantity, unit_price[, unit_cost]) tuple, or
    ``"PRODUCT:QTY:PRICE"`` / ``"PRODUCT:QTY:PRICE:COST"`` (the unit cost is optional)."""
    if isinstance(value, Line):
        return value
    if isinstance(value, str):
        value = _split_line(value)
    try:
        product, qty, price, *rest = value
        if len(rest) > 1:
            raise ValueError
    except (TypeError, ValueError):
        raise ValidationError(_("invalid line {value!r}; expected (product, qty, "
                                "price)").format(value=value)) from None
    cost_in = rest[0] if rest else None
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
    cost = None
    if cost_in is not None and cost_in != "":
        cost = parse_money(cost_in, what=f"unit cost of '{product}'")
        if cost < 0:
            raise ValidationError(_("unit cost of '{product}' must not be "
                                    "negative, got {cost_in}").format(
                                      product=product, cost_in=cost_in))
    return Line(product=product, quantity=q, unit_price=p, unit_cost=cost)


def _dup_message(ctx: Context, new: dict[str, Any], dup: Any) -> str:
    number = str(new["number"])[:80]
    if not customer_visible(ctx, dup.customer_id):
        return _("{kind} number '{number}' is already used by another customer's "
                 "document").format(kind=new["kind"], number=number)
    return _("{kind} number '{number}' already exists (document {id})").format(
        kind=new["kind"], number=number, id=dup.id)


def _currency(c: Checker, value: Any, default: str) -> str:
    """An ISO 4217 code (``default`` when none is given); an error goes to ``c``."""
    if value is None or value == "":
        return default
    try:
        return parse_currency(value)
    except ValidationError as exc:
        c.errors.extend(exc.errors)
        return default


class DocumentService(ListService[Document]):
    """``crm.documents``: every document with its lines, audited and hooked.

    ``list``/``stream``/``count`` (without lines, newest first) filter by
    ``customer_id``, ``kind`` and ``status``."""

    def _lines(self, ctx: Context, doc_id: int) -> tuple[Line, ...]:
        t = self.table("document_lines")
        rows = ctx.conn.execute(select(t).where(t.c.tenant_id == ctx.tenant.id,
                                                t.c.document_id == doc_id)
                                .order_by(t.c.position))
        return tuple(Line(r.product, r.quantity, r.unit_price, r.unit_cost) for r in rows)

    def _installments(self, ctx: Context, doc_id: int) -> tuple[Term, ...]:
        t = self.table("document_terms")
        rows = ctx.conn.execute(select(t).where(t.c.tenant_id == ctx.tenant.id,
                                                t.c.document_id == doc_id).order_by(t.c.no))
        return tuple(Term(no=r.no, due_on=r.due_on, amount=r.amount) for r in rows)

    def _load(self, ctx: Context, id_: int) -> Document:
        row = get_row(ctx, "documents", id_, "document")
        return Document.from_row(row, self._lines(ctx, row.id),
                                 self._installments(ctx, row.id))

    @staticmethod
    def _terms(new: dict[str, Any], terms: Any) -> tuple[list[Term], list[Decimal]]:
        """Parse ``terms`` for the document ``new``; its ``due_on`` becomes the last
        installment's due date."""
        if not split_terms(terms):
            return [], []
        if new["kind"] != "invoice":
            raise ValidationError(_("only invoices have payment terms, not a {kind}").format(
                kind=new["kind"]))
        if new["due_on"] is not None:
            raise ValidationError(_("give either --due or --term, not both: with terms the "
                                    "due date is the last installment's"))
        installments, bases = parse_terms(terms, amount=new["amount"],
                                          base=new["base_amount"], rate=new["rate"],
                                          issued_on=new["issued_on"])
        new["due_on"] = installments[-1].due_on
        return installments, bases

    def by_number(self, kind: str, number: str) -> Document | None:
        t = self.table("documents")
        with self.crm.unit(write=False) as ctx:
            row = ctx.conn.execute(select(t).where(t.c.tenant_id == ctx.tenant.id,
                                                   t.c.kind == kind, t.c.number == number)
                                   ).first()
            if row is None:
                return None
            ctx.crm.customers.require(ctx, row.customer_id, "view",
                                      f"{kind} '{str(number)[:80]}'")
            return Document.from_row(row, self._lines(ctx, row.id),
                                     self._installments(ctx, row.id))

    def _check(self, ctx: Context, new: dict[str, Any], before: Document | None) -> Checker:
        c = Checker("document")
        c.choice("kind", new["kind"], DOCUMENT_KINDS)
        c.text("number", new["number"], 100, required=True)
        key_ok = not c.errors  # kind and number can be looked up: report a duplicate too
        c.choice("status", new["status"], DOCUMENT_STATUSES)
        c.text("attachment", new.get("attachment"), 2000)
        new["extra"] = c.extra(new.get("extra"))
        if new["amount"] is not None and new["amount"] < 0:
            c.errors.append(_("amount must not be negative, got {amount}").format(
                                amount=new['amount']))
        if new["due_on"] and new["issued_on"] and new["due_on"] < new["issued_on"]:
            c.errors.append(_("due date {due_on} is before the issue date "
                              "{issued_on}").format(
                                due_on=new['due_on'], issued_on=new['issued_on']))
        t = self.table("documents")
        if key_ok and (before is None or new["number"] != before.number
                       or new["kind"] != before.kind):
            dup = ctx.conn.execute(select(t.c.id, t.c.customer_id).where(
                t.c.tenant_id == ctx.tenant.id, t.c.kind == new["kind"],
                t.c.number == new["number"])).first()
            if dup is not None:
                # the holder's id only to a user who may see it (issue 11.4)
                c.errors.append(_dup_message(ctx, new, dup))
        if c.errors:
            return c
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
                c.errors.append(_("invoice '{number}' belongs to {holder}, not customer "
                                  "{id}").format(number=str(new["applies_to"])[:80],
                                                 holder=customer_label(ctx, inv.customer_id),
                                                 id=new["customer_id"]))
            elif new["kind"] == "credit_note" and new["base_amount"] > inv.base_amount:
                c.errors.append(_("credit note of {amount} is larger than invoice "
                                  "'{number}' ({amount2})").format(
                                    amount=new['amount'], number=inv.number, amount2=inv.amount))
        return c

    def add(self, customer_id: int, *, kind: str, number: str, amount: Any = None,
            issued_on: Any = None, due_on: Any = None, applies_to: str | None = None,
            lines: Iterable[Any] = (), status: str = "open", currency: str | None = None,
            attachment: str | None = None, extra: dict[str, Any] | None = None,
            rate: Any = None, terms: Any = None) -> Document:
        """Add a document; ``amount`` defaults to the lines' total.

        Outside the tenant's base currency ``rate`` is required (base units for one unit
        of ``currency``); ``terms`` are an invoice's installments (``"30:30"``,
        ``"2026-12-31:5000.00"``, or ``"30:30;60:50;90:20"``), see :mod:`crmkit.terms`."""
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
            new = {"customer_id": customer.id, "kind": kind,
                   "number": number.strip() if isinstance(number, str) else number,
                   "status": status, "amount": amt,
                   "currency": _currency(c, currency, ctx.tenant.currency),
                   "issued_on": c.date("issue date", issued_on) or ctx.today,
                   "due_on": c.date("due date", due_on), "applies_to": applies_to or None,
                   "attachment": attachment, "extra": extra or {}}
            c.raise_if_any()
            new["rate"] = document_rate(new["currency"], ctx.tenant.currency, rate)
            new["base_amount"] = base_amount(amt, new["rate"])
            installments, bases = self._terms(new, terms)
            c = self._check(ctx, new, None)
            c.raise_if_any()
            doc = Document(id=None, tenant_id=ctx.tenant.id, lines=parsed, terms=installments,
                           **new)
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
                     "unit_price": ln.unit_price, "unit_cost": ln.unit_cost}
                    for i, ln in enumerate(parsed, 1)])
            if installments:
                ctx.conn.execute(self.table("document_terms").insert(),
                                 term_rows(ctx.tenant.id, new_id, installments, bases))
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

    def excess(self, document: Document) -> Decimal:
        """How much of a payment or credit note applied to an invoice goes beyond what
        the invoice still owed (base amounts; 0.00 when it did not). The excess is kept:
        it joins the customer's unapplied payments."""
        if document.kind not in APPLYING_KINDS or not document.applies_to \
                or document.status == "void":
            return Decimal("0.00")
        t = self.table("documents")
        with self.crm.unit(write=False) as ctx:
            inv = ctx.conn.execute(select(t.c.base_amount).where(
                t.c.tenant_id == ctx.tenant.id, t.c.kind == "invoice",
                t.c.number == document.applies_to, t.c.status != "void")).scalar()
            applied = ctx.conn.execute(select(func.coalesce(func.sum(
                type_coerce(t.c.base_amount, BigInteger)), 0)).where(
                t.c.tenant_id == ctx.tenant.id, t.c.kind.in_(APPLYING_KINDS),
                t.c.applies_to == document.applies_to, t.c.status != "void",
                t.c.customer_id == document.customer_id)).scalar()
        if inv is None:
            return Decimal("0.00")
        over = Decimal(int(applied or 0)).scaleb(-2) - inv
        return max(Decimal("0.00"), min(over, document.base_amount or Decimal("0.00")))

    def get(self, id_: int) -> Document:
        with self.crm.unit(write=False) as ctx:
            doc = self._load(ctx, id_)
            ctx.crm.customers.require(ctx, doc.customer_id, "view", f"document {doc.id}")
            return doc

    def update(self, id_: int, **fields: Any) -> Document:
        """Change a document's fields (not its lines)."""
        with self.crm.unit() as ctx:
            before = self._load(ctx, id_)
            ctx.crm.customers.require(ctx, before.customer_id, "update",
                                      f"document {before.id}")
            if "customer_id" in fields and fields["customer_id"] != before.customer_id:
                # payments and credit notes applied to it stay with the old customer
                raise ValidationError(_("a document cannot move to another customer; void "
                                        "{kind} '{number}' and add it to the other customer"
                                        ).format(kind=before.kind, number=before.number))
            fields = {k: v for k, v in fields.items() if k != "customer_id"}
            bad = [k for k in fields if k not in _FIELDS]
            if bad:
                raise ValidationError(_("unknown document field '{field}'; valid: {valid}"
                                        ).format(field=str(bad[0])[:80],
                                                 valid=", ".join(_FIELDS[1:])))
            c = Checker("document")
            if "amount" in fields:
                fields["amount"] = c.money("amount", fields["amount"], minimum=None)
            if "currency" in fields:
                fields["currency"] = _currency(c, fields["currency"], before.currency)
            for k in ("issued_on", "due_on"):
                if k in fields:
                    fields[k] = c.date(k.replace("_on", " date"), fields[k])
            c.raise_if_any()
            new = {k: getattr(before, k) for k in _FIELDS} | fields
            if {"amount", "currency", "rate"} & set(fields):
                new["rate"] = document_rate(new["currency"], ctx.tenant.currency,
                                            fields.get("rate", before.rate if new["currency"]
                                                       == before.currency else None))
                new["base_amount"] = base_amount(new["amount"], new["rate"])
                fields = fields | {"rate": new["rate"], "base_amount": new["base_amount"]}
            else:
                new["base_amount"] = before.base_amount
            changes = {k: v for k, v in fields.items() if getattr(before, k) != v}
            if not changes:
                return before
            fixed = [k for k in _TERMED if k in changes]
            if before.terms and fixed:
                raise ValidationError(_(
                    "invoice '{number}' has payment terms; its {field} cannot change "
                    "(void it and add a new one)").format(number=before.number,
                                                          field=fixed[0]))
            self._check(ctx, new, before).raise_if_any()
            doc = Document(id=before.id, tenant_id=ctx.tenant.id, lines=before.lines,
                           terms=before.terms, **new)
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
