"""Issue 20.12 (first half): grading matches a credit note to its invoice by number AND
customer. Before, a number re-used by another customer's invoice (after the first
invoice was renumbered) moved the credit to that other customer."""

from __future__ import annotations

import datetime as dt

from crmkit_grading import grades


def test_a_credit_note_never_reduces_another_customers_invoice(crm_factory):
    crm = crm_factory(enable=("grading",))
    a = crm.customers.add(name="甲")
    b = crm.customers.add(name="乙")
    inv = crm.documents.add(a.id, kind="invoice", number="INV-7", amount="1000.00",
                            issued_on="2026-10-01")
    crm.documents.add(a.id, kind="credit_note", number="CN-1", amount="400.00",
                      issued_on="2026-10-05", applies_to="INV-7")
    on = dt.date(2026, 11, 22)
    by = {g["customer_id"]: str(g["monetary"]) for g in grades(crm, on)}
    assert by[a.id] == "600.00"  # 1000.00 - 400.00
    # A's invoice is renumbered and the number re-used for B's invoice
    crm.documents.update(inv.id, number="INV-7A")
    crm.documents.add(b.id, kind="invoice", number="INV-7", amount="500.00",
                      issued_on="2026-10-10")
    by = {g["customer_id"]: str(g["monetary"]) for g in grades(crm, on)}
    # B keeps its 500.00 (before: 500.00 - 400.00 = 100.00, A's credit moved to B);
    # A's credit note names an invoice number A no longer has: it reduces nothing
    assert by[b.id] == "500.00"
    assert by[a.id] == "1000.00"
