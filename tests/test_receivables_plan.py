"""receivables: SQLite's plan for the aging's whole-tenant pass (the index trap).

When one tenant holds most documents, walking a ``(tenant_id, ...)`` index that does not
cover the query, with a table look-up a row, is 1.5-2x slower than a scan
(``shared/PERFORMANCE.md``). The aging reads every document of the tenant through the
covering ``ix_documents_aging`` (in customer order, no sort, no look-up) and the applied
payments through the ``applies_to`` range of the covering ``ix_documents_applies`` (both
core_0006); these tests read
``EXPLAIN QUERY PLAN`` so that a change falling into the trap fails here, without
statistics, after ``ANALYZE`` of a small book, and with the statistics of one tenant
holding 1.5 million documents (the bench's).
"""

from __future__ import annotations

import datetime as dt

import pytest
from crmkit_receivables import queries
from sqlalchemy import text

D = dt.date(2026, 11, 22)

#: ``sqlite_stat1`` of the bench's database (bench/bench_receivables.py, after ANALYZE):
#: one tenant, 1,000,000 invoices and 500,000 payments of 100,000 customers
BIG = {
    "ix_documents_aging": "1500000 1500000 16 8 1 1 1 1 1",
    "ix_documents_kind": "1500000 1500000 750000 1894",
    "ix_documents_applies": "1500000 1500000 6 5 4 1 1 1",
    "ix_documents_customer": "1500000 1500000 16 8 1",
    "sqlite_autoindex_{p}documents_1": "1500000 1500000 750000 1",
}


def plan(ctx, stmt) -> list[str]:
    sql = str(stmt.compile(dialect=ctx.conn.dialect, compile_kwargs={"literal_binds": True}))
    return [r[3] for r in ctx.conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]


@pytest.fixture
def book(crm_factory):
    crm = crm_factory(enable=("receivables",))
    for k in range(3):
        c = crm.customers.add(name=f"Plan {k}")
        for i in range(4):
            crm.documents.add(c.id, kind="invoice", number=f"I-{k}-{i}", amount="100.00",
                              issued_on=D - dt.timedelta(days=40 * i),
                              due_on=D - dt.timedelta(days=40 * i - 30))
        crm.documents.add(c.id, kind="payment", number=f"P-{k}", amount="150.00",
                          issued_on=D, applies_to=f"I-{k}-1")
        crm.documents.add(c.id, kind="payment", number=f"Q-{k}", amount="50.00", issued_on=D)
    return crm


# EXPLAIN QUERY PLAN and sqlite_stat1 are SQLite's; the trap is SQLite's planner's
@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("stats", ["none", "analyze", "one big tenant"])
@pytest.mark.parametrize("by", ["customer", "owner"])
def test_aging_reads_the_tenant_from_the_covering_index(book, stats, by):
    with book.unit() as ctx:
        d = ctx.crm.table("documents").name
        p = d[:-len("documents")]
        if stats != "none":
            ctx.conn.exec_driver_sql("ANALYZE")
        if stats == "one big tenant":
            ctx.conn.exec_driver_sql("DELETE FROM sqlite_stat1 WHERE tbl = ?", (d,))
            for idx, stat in BIG.items():
                name = idx.format(p=p) if idx.startswith("sqlite_") else p + idx
                ctx.conn.execute(text("INSERT INTO sqlite_stat1 VALUES (:t, :i, :s)"),
                                 {"t": d, "i": name, "s": stat})
            ctx.conn.exec_driver_sql("ANALYZE sqlite_schema")  # reload the statistics
        steps = plan(ctx, queries.aging_rows(ctx, D, ctx.settings("receivables"), by))
    on_documents = [s for s in steps if f" {d} " in f"{s} "]
    # the pass over every document of the tenant: the covering index, in customer order
    whole = f"SEARCH {d} USING COVERING INDEX {p}ix_documents_aging (tenant_id=?)"
    assert steps.count(whole) == 1, "\n".join(steps)
    assert not [s for s in on_documents if s.startswith(f"SCAN {d}")], "\n".join(steps)
    if stats != "one big tenant":
        return  # a small book: any plan of the small corrections is quick
    # the rest: the applied payments and credit notes by the applies_to range of a
    # covering index, each invoice they name by the unique number index (the groups come
    # in number order, so these look-ups go through that index and the table in order;
    # by customer and number in the aging index each went to another page: 1.35 s
    # against 0.8 s for the bench's 250,000), an invoice with terms by its id; never a
    # scan, never a walk with a table look-up a row
    by_number = (f"SEARCH {d} USING INDEX sqlite_autoindex_{d}_1 "
                 "(tenant_id=? AND kind=? AND number=?)")
    allowed = {whole, by_number,
               f"SEARCH {d} USING COVERING INDEX {p}ix_documents_applies "
               "(tenant_id=? AND applies_to>?)",
               f"SEARCH {d} USING INTEGER PRIMARY KEY (rowid=?)"}
    assert set(on_documents) <= allowed, "\n".join(steps)
    assert by_number in on_documents, "\n".join(steps)


# sqlite_stat1 and PRAGMA optimize are SQLite's
@pytest.mark.backends("sqlite")
def test_closing_a_sqlite_connection_gives_the_tables_it_read_statistics(book):
    """``PRAGMA optimize`` when a connection closes: after a bulk load nobody analyzed,
    the first report's connection leaves statistics for the next one's planner."""
    from crmkit_receivables import api

    d = book.table("documents").name
    with book.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS sqlite_stat1")
    api.aging(book, D)
    book.engine.dispose()  # closes the pooled connections
    with book.engine.connect() as conn:
        stats = {r[0] for r in conn.exec_driver_sql("SELECT idx FROM sqlite_stat1 WHERE tbl = ?",
                                                     (d,))}
    p = d[:-len("documents")]
    assert f"{p}ix_documents_aging" in stats


def test_the_customers_join_names_the_tenant(book):
    # PostgreSQL, 1,000 tenants beside each other (bench/bench_tenants.py): joined on
    # the id alone, the planner hash-joined a small tenant's totals to every tenant's
    # customers (a parallel scan of 1.1 million rows: 1.71x the tenant alone); with the
    # tenant in the join condition it reads the tenant's own (1.03x)
    crm = book
    with crm.unit(write=False) as ctx:
        for by in ("customer", "owner"):
            sql = str(queries.aging_rows(ctx, D, ctx.settings("receivables"), by).compile(
                dialect=ctx.conn.dialect, compile_kwargs={"literal_binds": True}))
            on = sql[sql.index(f"JOIN {ctx.crm.table('customers').name} ON"):]
            assert on.split(" ON ", 1)[1].startswith(
                f"{ctx.crm.table('customers').name}.tenant_id = {ctx.tenant.id} AND"), on


@pytest.mark.backends("sqlite")
def test_the_aging_pass_computes_each_sum_once(book):
    """Each "due on or after" sum of the whole-tenant pass serves two buckets. SQLite
    computes an aggregate named twice once only when both are the same text, and two
    bound parameters never are (each ``?`` is a parameter of its own), so the dates,
    kinds and zeros go into the text (``crmkit.sql.const``; issue 17: the bench's pass
    took 1.4 s with parameters, 0.9 s without). Read from the bytecode SQLite runs: one
    ``AggStep`` per sum (one per bucket's first day, the invoices', the pool's)."""
    with book.unit() as ctx:
        ranges = tuple(ctx.settings("receivables").aging_ranges)
        sent = ctx.conn.execute(queries._whole_documents(ctx, D, ranges, None))
        sql, params = sent.context.statement, sent.context.parameters[0]
        sent.all()
        ops = [r[1] for r in ctx.conn.exec_driver_sql("EXPLAIN " + sql, tuple(params))]
    assert "?" not in sql[:sql.index("FROM ")]
    assert sum(op.startswith("AggStep") for op in ops) == len(ranges) + 1 + 2


@pytest.mark.backends("sqlite")
def test_the_corrections_are_summed_with_the_pass_not_joined_per_customer(book):
    """The due-date aging groups the whole-tenant pass's rows and the correction rows
    together, once per customer. Grouped apart and joined per customer (SQLite: an
    automatic index on the corrections), every use of a joined column in the FIFO
    repeated its sum (issue 17: the bench's statement 2.61 s against 2.17 s)."""
    with book.unit() as ctx:
        s = ctx.settings("receivables")
        steps = plan(ctx, queries.customer_totals(ctx, D, s))
    joined = [st for st in steps if "AUTOMATIC COVERING INDEX (customer_id=?) LEFT-JOIN" in st]
    assert not joined, "\n".join(steps)
    assert steps[-1] == "USE TEMP B-TREE FOR GROUP BY", "\n".join(steps)
