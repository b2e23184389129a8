import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    case,
    func,
    literal,
    select,
)

from crmkit import fmt_money, storage
from crmkit.sql import (
    add_days,
    day_of,
    days_between,
    id_chunks,
    in_ids,
    iso_utc,
    json_null,
    json_object,
    json_text,
    median,
    money,
    money_text,
    not_indexed,
    tags_json,
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


def test_json_object_and_money_text_write_what_python_encodes(crm_db_url):
    """The JSON images a bulk path builds in the database parse to what crmkit's
    Python encoding gives: amounts as fmt_money's text (negative ones below a unit
    too), days as ISO text, NULL as null, an object nested through a CASE, Chinese
    text as itself; json_null() is the JSON null a JSON column holds for None."""
    cents = [0, 5, -5, 99, -100, 8000, 123456789012, -123456789012]
    engine = storage.create_engine(crm_db_url)
    md = MetaData()
    t = Table("j", md, Column("id", Integer, primary_key=True), Column("c", BigInteger),
              Column("d", Date), Column("n", Integer), Column("s", String(20)))
    out = Table("jo", md, Column("id", Integer, primary_key=True), Column("v", JSON))
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(t.insert(), [{"id": i + 1, "c": c, "d": dt.date(2026, 11, 22) if i % 2
                                   else None, "n": i if i % 3 else None,
                                   "s": "甲公司" if i % 2 else "a"}
                                  for i, c in enumerate(cents)])
        texts = conn.execute(select(money_text(t.c.c)).order_by(t.c.id)).scalars().all()
        inner = json_object(("amount", money_text(t.c.c)), ("on", t.c.d), ("n", t.c.n))
        obj = json_object(("id", t.c.id), ("name", t.c.s),
                          ("inner", case((t.c.n.is_(None), None), else_=inner)))
        conn.execute(out.insert().from_select(["id", "v"], select(t.c.id, obj)))
        conn.execute(out.insert().from_select(["id", "v"], select(
            t.c.id + 100, func.coalesce(case((t.c.n.is_(None), inner)), json_null()))))
        stored = dict(conn.execute(select(out.c.id, out.c.v)).all())
    engine.dispose()
    assert texts == [fmt_money(Decimal(c).scaleb(-2)) for c in cents]
    assert texts[2] == "-0.05" and texts[5] == "80.00"
    for i in range(len(cents)):
        want_inner = {"amount": texts[i], "on": "2026-11-22" if i % 2 else None,
                      "n": i if i % 3 else None}
        got = stored[i + 1]
        got = json.loads(got) if isinstance(got, str) else got
        assert got == {"id": i + 1, "name": "甲公司" if i % 2 else "a",
                       "inner": want_inner if i % 3 else None}
        assert list(got) == ["id", "name", "inner"]
        assert stored[i + 101] == (want_inner if not i % 3 else None)


def test_tags_json_iso_utc_and_json_text_give_what_python_gives(crm_db_url):
    """A customer image's parts built by the database (the bulk update's audit rows):
    the stored tags as the tuple the record reads (quotes, backslashes, control
    characters, Chinese; none as []), an instant as the aware datetime's isoformat (with
    and without microseconds), JSON text nested as its value."""
    from crmkit.records import Customer
    from crmkit.services.customers import _tags_db
    from crmkit.storage import UTCDateTime

    tag_sets = [(), ("vip",), ("a\"b", "back\\slash", "tab\tx", "中文", "ü", "x y"),
                ("new", "'q'")]
    instants = [dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC),
                dt.datetime(2026, 11, 22, 9, 0, 0, 120, tzinfo=dt.UTC),
                dt.datetime(1999, 1, 2, 23, 59, 59, 999999, tzinfo=dt.UTC), None]
    extras = ['{"来源": "展会", "n": [1, {"k": null}]}', "{}", "[1, 2]", '"s"']
    engine = storage.create_engine(crm_db_url)
    md = MetaData()
    t = Table("tj", md, Column("id", Integer, primary_key=True), Column("tags", Text),
              Column("at", UTCDateTime), Column("x", Text))
    out = Table("tjo", md, Column("id", Integer, primary_key=True), Column("v", JSON))
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(t.insert(), [{"id": i + 1, "tags": _tags_db(tags), "at": at, "x": x}
                                  for i, (tags, at, x) in enumerate(
                                      zip(tag_sets, instants, extras, strict=True))])
        conn.execute(out.insert().from_select(["id", "v"], select(t.c.id, json_object(
            ("tags", tags_json(t.c.tags)), ("at", iso_utc(t.c.at)),
            ("x", json_text(t.c.x))))))
        stored = dict(conn.execute(select(out.c.id, out.c.v)).all())
    engine.dispose()
    for i, (tags, at, x) in enumerate(zip(tag_sets, instants, extras, strict=True)):
        got = stored[i + 1]
        got = json.loads(got) if isinstance(got, str) else got
        assert tuple(got["tags"]) == Customer(None, 1, "n", tags=_tags_db(tags)).tags == tags
        assert got["at"] == (None if at is None else at.isoformat())
        assert got["x"] == json.loads(x)


def test_json_object_keys_are_names():
    with pytest.raises(ValueError, match="lower-case name"):
        json_object(("it's", literal(1)))


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


def test_in_ids_picks_the_ids_given_in_chunks_each_backend_takes(crm_db_url):
    # 1,231 of 2,000 rows, in no order, with a repeat and an id not in the table: on
    # SQLite one JSON parameter for all of them (one chunk), elsewhere expanding IN
    # lists of at most 500; either way exactly the rows asked for
    engine = storage.create_engine(crm_db_url)
    md = MetaData()
    t = Table("ids", md, Column("id", Integer, primary_key=True), Column("v", Integer))
    md.create_all(engine)
    wanted = [i for i in range(2000, 0, -1) if i % 13 < 8] + [7, 99_999]
    with engine.begin() as conn:
        conn.execute(t.insert(), [{"id": i, "v": i * 2} for i in range(1, 2001)])
        chunks = id_chunks(conn, wanted)
        got: list[int] = []
        for chunk in chunks:
            got += conn.scalars(select(t.c.id).where(in_ids(conn, t.c.id, chunk))).all()
        assert sorted(got) == sorted(set(wanted) - {99_999})
        assert [x for c in chunks for x in c] == wanted  # nothing lost or reordered
        assert id_chunks(conn, []) == []
        assert conn.scalars(select(t.c.id).where(in_ids(conn, t.c.id, []))).all() == []
        if conn.dialect.name == "sqlite":
            assert len(chunks) == 1
            # the ids are walked and each row found by its key, the table never scanned
            plan = _plan(conn, select(t.c.v).where(in_ids(conn, t.c.id, wanted)))
            assert "SEARCH ids USING INTEGER PRIMARY KEY" in plan, plan
            assert "SCAN ids" not in plan, plan
        else:
            assert len(wanted) == 1233 and [len(c) for c in chunks] == [500, 500, 233]
    engine.dispose()


def test_not_indexed_gives_the_same_rows_without_the_index_on_sqlite(crm_db_url):
    engine = storage.create_engine(crm_db_url)
    t = _tenant_table(engine, [1, 2, 3])
    with engine.begin() as conn:
        def q(col):
            return select(t.c.id).where(col == 2, t.c.id > 590).order_by(t.c.id)

        assert conn.scalars(q(not_indexed(t.c.tenant_id))).all() == \
            conn.scalars(q(t.c.tenant_id)).all() == [593, 596, 599]
        if conn.dialect.name == "sqlite":
            # plain: the tenant's index, every row of it, then a sort by id
            assert "INDEX ix_docs_tenant_d (tenant_id=?)" in _plan(conn, q(t.c.tenant_id))
            assert _plan(conn, q(not_indexed(t.c.tenant_id))) == \
                "SEARCH docs USING INTEGER PRIMARY KEY (rowid>?)"
    engine.dispose()
