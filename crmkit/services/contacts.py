"""Contacts: the people at a customer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..i18n import _
from ..records import Contact
from ..storage import NAME_MAX, SHORT_MAX
from ._base import Checker, ListService, get_row, inserted_id, reference_id


class ContactService(ListService[Contact]):
    """``crm.contacts``: people at a customer (audited, permission-checked);
    ``list``/``stream``/``count`` by id, filtered by ``customer_id``."""

    def _check(self, fields: dict[str, Any]) -> None:
        c = Checker("contact")
        c.text("name", fields.get("name"), NAME_MAX, required=True)
        c.text("title", fields.get("title"), SHORT_MAX)
        c.email(fields.get("email"))
        c.text("phone", fields.get("phone"), 64)
        c.raise_if_any()

    def add(self, customer_id: int, name: str, *, title: str | None = None,
            email: str | None = None, phone: str | None = None) -> Contact:
        with self.crm.unit() as ctx:
            customer = ctx.crm.customers.require(ctx, customer_id, "update")
            fields: dict[str, Any] = {"name": name.strip() if isinstance(name, str)
                                      else name, "title": title or None,
                      "email": email or None, "phone": phone or None}
            self._check(fields)
            t = self.table("contacts")
            new_id = inserted_id(ctx.conn.execute(t.insert().values(
                tenant_id=ctx.tenant.id, customer_id=customer.id, **fields
            )))
            contact = Contact(id=new_id, customer_id=int(customer.id or 0), **fields)
            ctx.audit("contact", new_id, "insert", None, contact, customer_id=customer.id)
            return contact

    def update(self, id_: int, **fields: Any) -> Contact:
        with self.crm.unit() as ctx:
            before = Contact.from_row(get_row(ctx, "contacts", id_, "contact"))
            ctx.crm.customers.require(ctx, before.customer_id, "update", f"contact {id_}")
            allowed = ("name", "title", "email", "phone")
            bad = [k for k in fields if k not in (*allowed, "customer_id")]
            if bad:
                Checker("contact").raise_if_any([_(
                    "unknown contact field '{field}'; valid: {valid}").format(
                        field=str(bad[0])[:80], valid=", ".join(("customer_id", *allowed)))])
            fields = dict(fields)
            customer_id = before.customer_id
            if "customer_id" in fields:
                # moving a contact is checked as strictly as adding it there
                customer_id = int(ctx.crm.customers.require(
                    ctx, reference_id("customer", fields.pop("customer_id")), "update").id
                    or 0)
            new = {k: getattr(before, k) for k in allowed} | fields
            self._check(new)
            values = {k: v for k, v in new.items() if getattr(before, k) != v}
            if customer_id != before.customer_id:
                values["customer_id"] = customer_id
            if not values:
                return before
            t = self.table("contacts")
            ctx.conn.execute(t.update().where(t.c.tenant_id == ctx.tenant.id,
                                              t.c.id == id_).values(**values))
            contact = Contact(id=id_, customer_id=customer_id, **new)
            ctx.audit("contact", id_, "update", before, contact, customer_id=customer_id)
            return contact

    def _query(self, ctx: Any, customer_id: int | None = None) -> Any:
        t = self.table("contacts")
        q = select(t).where(t.c.tenant_id == ctx.tenant.id,
                            t.c.customer_id.in_(ctx.crm.customers.visible_ids(ctx)))
        if customer_id is not None:
            q = q.where(t.c.customer_id == customer_id)
        return q.order_by(t.c.id)

    def _record(self, ctx: Any, row: Any) -> Contact:
        return Contact.from_row(row)
