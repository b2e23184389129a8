"""doc commands."""

from __future__ import annotations

from typing import Any

import click

from ..output import json_option, money, parse_date, pass_crm, print_json, table


@click.group()
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
@click.option("--line", "lines", multiple=True, metavar="PRODUCT:QTY:PRICE",
              help="A line; repeat for more.")
@click.option("--status", default="open", show_default=True, metavar="S")
@click.option("--currency", metavar="C", help="Default: the tenant's currency.")
@json_option
@pass_crm
def doc_add(crm: Any, customer_id: int, kind: str, number: str, amount: str | None,
            issued: str | None, due: str | None, applies_to: str | None,
            lines: tuple[str, ...], status: str, currency: str | None, as_json: bool) -> None:
    """Add a document to a customer; prints its id."""
    d = crm.documents.add(customer_id, kind=kind, number=number, amount=amount,
                          issued_on=parse_date(issued, "--issued"),
                          due_on=parse_date(due, "--due"), applies_to=applies_to,
                          lines=list(lines), status=status, currency=currency)
    print_json(d) if as_json else click.echo(d.id)


@doc.command("list")
@click.option("--customer", "customer_id", type=int, metavar="ID")
@click.option("--kind", metavar="K")
@click.option("--status", metavar="S")
@click.option("--limit", type=int)
@json_option
@pass_crm
def doc_list(crm: Any, as_json: bool, **filters: Any) -> None:
    """List documents, newest first."""
    ds = crm.documents.list(**filters)
    if as_json:
        return print_json(ds)
    table([(d.id, d.customer_id, d.kind, d.number, d.status, money(d.amount), d.issued_on,
            d.due_on, d.applies_to) for d in ds],
          ["id", "customer", "kind", "number", "status", "amount", "issued", "due",
           "applies to"], empty="no documents")


@doc.command("show")
@click.argument("document_id", type=int)
@json_option
@pass_crm
def doc_show(crm: Any, document_id: int, as_json: bool) -> None:
    """One document with its lines."""
    d = crm.documents.get(document_id)
    if as_json:
        return print_json(d)
    click.echo(f"{d.kind} {d.number} (document {d.id}) customer {d.customer_id}: "
               f"{money(d.amount)} {d.currency}, {d.status}, issued {d.issued_on}"
               + (f", due {d.due_on}" if d.due_on else "")
               + (f", applies to {d.applies_to}" if d.applies_to else ""))
    if d.lines:
        table([(ln.product, ln.quantity, money(ln.unit_price), money(ln.total))
               for ln in d.lines], ["product", "quantity", "unit price", "total"])


@doc.command("status")
@click.argument("document_id", type=int)
@click.argument("status")
@json_option
@pass_crm
def doc_status(crm: Any, document_id: int, status: str, as_json: bool) -> None:
    """Set a document's status (draft, open, sent, accepted, rejected, paid, closed, void)."""
    d = crm.documents.set_status(document_id, status)
    print_json(d) if as_json else click.echo(f"document {d.id} is {d.status}")
