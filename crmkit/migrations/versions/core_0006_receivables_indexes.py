"""core: covering documents indexes for the receivables aging's whole-tenant reads

Revision ID: core_0006
Revises: core_0005

Two indexes hold every column the aging reads of a document, so that on a tenant of a
million documents it reads indexes alone, in order, with no sort and no table look-up
a row (``docs/performance.md``, "the index trap"):

* ``ix_documents_aging`` (tenant, customer, kind, number, issue date, status, due date,
  base amount): every document of the tenant in customer order, and an invoice by its
  customer and number;
  on PostgreSQL it also carries ``id`` and ``applies_to`` (``INCLUDE``);
* ``ix_documents_applies`` gains the columns after ``applies_to`` (customer, kind, issue
  date, status, base amount): what is applied to each invoice.
"""

from alembic import op

revision = "core_0006"
down_revision = "core_0005"
branch_labels = None
depends_on = None

AGING = ["tenant_id", "customer_id", "kind", "number", "issued_on", "status", "due_on",
         "base_amount"]
APPLIES = ["tenant_id", "applies_to", "customer_id", "kind", "issued_on", "status",
           "base_amount"]


def upgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    op.drop_index(p + "ix_documents_applies", table_name=p + "documents")
    op.create_index(p + "ix_documents_applies", p + "documents", APPLIES, unique=False)
    # PostgreSQL: id and applies_to ride along (INCLUDE) for index-only reads there
    op.create_index(p + "ix_documents_aging", p + "documents", AGING, unique=False,
                    postgresql_include=["id", "applies_to"])


def downgrade() -> None:
    p = op.get_context().opts["crmkit_prefix"]
    op.drop_index(p + "ix_documents_aging", table_name=p + "documents")
    op.drop_index(p + "ix_documents_applies", table_name=p + "documents")
    op.create_index(p + "ix_documents_applies", p + "documents", ["tenant_id", "applies_to"],
                    unique=False)
