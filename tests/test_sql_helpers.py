import datetime as dt
from decimal import Decimal

from sqlalchemy import Column, Date, Index, Integer, MetaData, Table, func, literal, select

from crmkit import storage
from crmkit.sql import (
    add_days,
    day_of,
    days_between,
    median,
    money,
    tenant_holds_most,
    whole_tenant,
    year_month,
)


def test_date_helpers_agree_on_every_backend(crm_db_url):
    engine = storage.create_engine(crm_db_url)
    md = MetaData()
    t = Table("h", md, Column("id", Integer, primary_key=True), Column("d", Date),
              Column("amt", storage.Money))
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(t.insert(), [{"d": dt.date(2026, 2, 27), "amt": "10.05"},
                                  {"d": dt.date(2025, 12, 31), "amt": "0.10"}])
        rows = conn.execute(select(
            days_between(literal(dt.date(2026, 3, 1)), t.c.d),
            add_days(t.c.d, 3), year_month(t.c.d)).order_by(t.c.id)).all()
        total = conn.execute(select(money(func.sum(t.c.amt)))).scalar_one()
        stamp = dt.datetime(2026, 3, 1, 23, 59, 59, tzinfo=dt.UTC)
        day = conn.execute(select(day_of(literal(stamp, storage.UTCDateTime)))).scalar_one()
    engine.dispose()
    assert [r[0] for r in rows] == [2, 60]
    assert [dt.date.fromisoformat(str(r[1])) for r in rows] == [dt.date(2026, 3, 2),
                                                              dt.date(2026, 1, 3)]
    assert [r[2] for r in rows] == ["2026-02", "2025-12"]
    assert str(total) == "10.15"
    assert dt.date.fromisoformat(str(day)[:10]) == dt.date(2026, 3, 1)


def test_median_per_group_and_overall(crm_db_url):
    engine = storage.create_engine(crm_db_url)
    md = MetaData()
    t = Table("m", md, Column("id", Integer, primary_key=True), Column("g", Integer),
              Column("v", Integer))
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(t.insert(), [{"g": 1, "v": v} for v in (9, 1, 5)]
                     + [{"g": 2, "v": v} for v in (4, 1, 7, 2)])
        by = median(conn, t.c.v, [], group=t.c.g, tie=t.c.id)
        every = median(conn, t.c.v, [t.c.v > 1])
    engine.dispose()
    # g=1: 1 5 9 -> 5; g=2: 1 2 4 7 -> (2 + 4) / 2 = 3
    # overall without the 1s: 2 4 5 7 9 -> 5
    assert by == {1: Decimal(5), 2: Decimal(3)}
    assert every == {None: Decimal(5)}


def _plan(conn, stmt):
    sql = stmt.compile(dialect=conn.dialect)
    params = tuple(sql.construct_params()[k] for k in sql.positiontup)
    return " | ".join(r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(sql),
                                                         params))


def _tenant_table(engine, tenants):
    md = MetaData()
    t = Table("docs", md, Column("id", Integer, primary_key=True),
              Column("tenant_id", Integer, nullable=False), Column("d", Date),
              Column("amt", Integer), Index("ix_docs_tenant_d", "tenant_id", "d"))
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(t.insert(), [{"tenant_id": tenants[i % len(tenants)],
                                   "d": dt.date(2026, 1, 1) + dt.timedelta(days=i % 300),
                                   "amt": i} for i in range(600)])
    return t


def test_whole_tenant_reads_a_tenant_holding_most_rows_without_the_index(crm_db_url):
    # the "index trap": one tenant holds every row, so walking (tenant_id, d) and
    # fetching each row by id is slower than reading the table; with statistics that
    # say so, SQLite reads it NOT INDEXED; the sum is the same either way
    engine = storage.create_engine(crm_db_url)
    t = _tenant_table(engine, [1])
    with engine.begin() as conn:
        def total(src):
            return conn.execute(select(func.sum(src.c.amt)).where(
                src.c.tenant_id == 1, src.c.d >= dt.date(2026, 2, 1))).scalar_one()

        assert whole_tenant(conn, t) is t  # no statistics yet: the planner decides
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("ANALYZE")
            src = whole_tenant(conn, t)
            assert src is not t and tenant_holds_most(conn, t)
            def q(src):
                return select(func.sum(src.c.amt)).where(src.c.tenant_id == 1,
                                                         src.c.d >= dt.date(2026, 2, 1))

            assert _plan(conn, q(src)) == "SCAN docs"
            assert "USING INDEX ix_docs_tenant_d" in _plan(conn, q(t))
            assert total(src) == total(t) == sum(i for i in range(600) if i % 300 >= 31)
        else:
            assert not tenant_holds_most(conn, t) and whole_tenant(conn, t) is t
    engine.dispose()


def test_whole_tenant_keeps_the_index_when_tenants_share_the_table(crm_db_url):
    # three tenants of 200 rows each: a tenant is a third of the table, the index wins
    if not crm_db_url.startswith("sqlite"):
        return
    engine = storage.create_engine(crm_db_url)
    t = _tenant_table(engine, [1, 2, 3])
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
        assert not tenant_holds_most(conn, t)
        assert whole_tenant(conn, t) is t
    engine.dispose()
