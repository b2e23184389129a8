"""doc commands."""

from __future__ import annotations

from typing import Any

import click

from ..i18n import _
from ..output import (
    Group,
    Page,
    amount,
    echo,
    json_option,
    paging,
    parse_date,
    pass_crm,
    print_json,
    stream_json,
    table,
)


@click.group(cls=Group)
def doc() -> None:
    """Quotes, contracts, orders, invoices, payments, credit notes, expenses."""


@doc.command("add")
@click.argument("customer_id", type=int)
@click.option("--kind", required=True, metavar="K",
              help="quote, contract, order, invoice, payment, credit_note or expense.")
@click.option("--number", required=True, metavar="N", help="Unique per kind.")
@click.option("--amount", metavar="A", help="Exact amount, e.g. 1234.50 (default: lines' total).")
@click.option("--issued", metavar="D", help="Issue date (default today).")
@click.option("--due", metavar="D", help="Due date.")
@click.option("--applies-to", metavar="NUMBER", help="Invoice a payment or credit note is for.")
@click.option("--line", "lines", multiple=True, metavar="PRODUCT:QTY:PRICE[:COST]",
              help="A line, with an optional unit cost; repeat for more.")
@click.option("--status", default="open", show_default=True, metavar="S")
@click.option("--currency", metavar="C",
              help="ISO 4217 code, e.g. USD (default: the tenant's currency).")
@click.option("--rate", metavar="R",
              help="Units of the tenant's currency for one unit of --currency, e.g. 7.1 "
                   "(required outside the tenant's currency).")
@click.option("--term", "terms", multiple=True, metavar="DAYS:PERCENT|DATE:AMOUNT",
              help="An invoice's installment, e.g. 30:50 or 2026-12-31:5000; repeat, in "
                   "due order (instead of --due).")
@json_option
@pass_crm
def doc_add(crm: Any, customer_id: int, kind: str, number: str, amount: str | None,
            issued: str | None, due: str | None, applies_to: str | None,
            lines: tuple[str, ...], status: str, currency: str | None, rate: str | None,
            terms: tuple[str, ...], as_json: bool) -> None:
    """Add a document to a customer; prints its id."""
    d = crm.documents.add(customer_id, kind=kind, number=number, amount=amount,
                          issued_on=parse_date(issued, "--issued"),
                          due_on=parse_date(due, "--due"), applies_to=applies_to,
                          lines=list(lines), status=status, currency=currency, rate=rate,
                          terms=list(terms))
    over = crm.documents.excess(d)
    if over > 0:
        click.echo(_("{kind} {number} is {excess} more than invoice {invoice} still owed; "
                     "the excess joins the customer's unapplied payments").format(
                         kind=d.kind.replace("_", " "), number=d.number,
                         excess=f"{over:,.2f}", invoice=d.applies_to), err=True)
    print_json(d) if as_json else click.echo(d.id)


@doc.command("list")
@click.option("--customer", "customer_id", type=int, metavar="ID")
@click.option("--kind", metavar="K")
@click.option("--status", metavar="S")
@paging
@json_option
@pass_crm
def doc_list(crm: Any, as_json: bool, page: Page, **filters: Any) -> None:
    """List documents, newest first, with their customer's name."""
    if as_json:
        stream_json(crm.documents.stream(limit=page.limit, offset=page.offset, **filters))
        return
    ds = crm.documents.list(limit=page.limit, offset=page.offset, **filters)
    names = crm.customers.names(d.customer_id for d in ds)
    table([(d.id, names.get(d.customer_id, d.customer_id), d.kind, d.number, d.status,
            d.amount, d.currency, d.issued_on, d.due_on, d.applies_to) for d in ds],
          [_("id"), _("customer"), _("kind"), _("number"), _("status"), _("amount"),
           _("currency"), _("issued"), _("due"), _("applies to")], empty=_("no documents"),
          more=page.more(crm.documents.count(**filters), len(ds)), offset=page.next_offset,
          optional=(9, 6, 4, 8, 7))


@doc.command("show")
@click.argument("document_id", type=int)
@json_option
@pass_crm
def doc_show(crm: Any, document_id: int, as_json: bool) -> None:
    """One document with its lines."""
    d = crm.documents.get(document_id)
    if as_json:
        return print_json(d)
    customer = crm.customers.names([d.customer_id]).get(d.customer_id, d.customer_id)
    # two lines (who, then what and when), each wrapped at the terminal's width
    echo(", ".join([_("{kind} {number} (document {id})").format(
        kind=d.kind, number=d.number, id=d.id),
        _("customer {name} ({id})").format(name=customer, id=d.customer_id)]))
    parts = [f"{amount(d.amount)} {d.currency}", *_in_base(crm, d), d.status,
             _("issued {day}").format(day=d.issued_on)]
    if d.due_on:
        parts.append(_("due {day}").format(day=d.due_on))
    if d.applies_to:
        parts.append(_("applies to {number}").format(number=d.applies_to))
    echo(", ".join(parts))
    if d.lines:
        table([(ln.product, ln.quantity, ln.unit_price, ln.total) for ln in d.lines],
              [_("product"), _("quantity"), _("unit price"), _("total")])
    if d.terms:
        table([(t.no, t.due_on, t.amount) for t in d.terms],
              [_("installment"), _("due"), _("amount")], title=_("Payment terms"))


def _in_base(crm: Any, d: Any) -> list[str]:
    """``at 7.1 = 7100.00 CNY`` for a document outside the base currency."""
    if d.rate == 1 and d.base_amount == d.amount:
        return []
    base = crm.tenants.get(crm.tenant_slug).currency
    return [_("at {rate} = {base_amount} {base}").format(
        rate=d.rate, base_amount=amount(d.base_amount), base=base)]


@doc.command("status")
@click.argument("document_id", type=int)
@click.argument("status")
@json_option
@pass_crm
def doc_status(crm: Any, document_id: int, status: str, as_json: bool) -> None:
    """Set a document's status (draft, open, sent, accepted, rejected, paid, closed, void)."""
    d = crm.documents.set_status(document_id, status)
    print_json(d) if as_json else click.echo(
        _("document {id} is {status}").format(id=d.id, status=d.status))
