"""crmkit.testing gives ``crm_factory`` a copy of a database initialised once per session
(SQLite: a file copy; PostgreSQL: the recorded statements of ``crm.init()`` replayed;
MariaDB: the migrated tables' ``SHOW CREATE TABLE`` and rows). These tests prove the
copy is the database ``crm.init()`` builds, so every other test starts where a real
migration would have left it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import DateTime, inspect, text

import crmkit
from crmkit.testing import _copy_sqlite, _replay, _server_database


def _describe(crm: Any) -> dict[str, Any]:
    """Everything a test could tell apart: tables, columns, keys, indexes, sequences and
    rows (timestamps left out: they record when each database was made)."""
    out: dict[str, Any] = {}
    with crm.engine.connect() as conn:
        insp = inspect(conn)
        for name in sorted(insp.get_table_names()):
            cols = insp.get_columns(name)
            stamps = {c["name"] for c in cols if isinstance(c["type"], DateTime)}
            out[name] = {
                "columns": [(c["name"], str(c["type"]), c["nullable"], c.get("default"),
                             c.get("autoincrement")) for c in cols],
                "pk": insp.get_pk_constraint(name),
                "fks": sorted(map(repr, insp.get_foreign_keys(name))),
                "indexes": sorted(map(repr, insp.get_indexes(name))),
                "unique": sorted(map(repr, insp.get_unique_constraints(name))),
                "rows": sorted(repr({k: v for k, v in r._mapping.items() if k not in stamps})
                               for r in conn.execute(text(f"SELECT * FROM {name}"))),
            }
            if crm.engine.dialect.name == "mysql":
                # the table as MariaDB prints it, AUTO_INCREMENT counter included
                out[name]["create"] = conn.execute(text(f"SHOW CREATE TABLE {name}")).one()[1]
        if crm.engine.dialect.name == "postgresql":
            out["sequences"] = sorted(map(tuple, conn.execute(text(
                "SELECT sequencename, last_value FROM pg_sequences "
                "WHERE schemaname = current_schema()"))))
    return out


def test_a_copied_database_is_the_one_crm_init_builds(crm_db_url, crm_sqlite_template,
                                                      crm_server_template):
    migrated = crmkit.open(crm_db_url)
    migrated.init()                                    # the real Alembic migrations
    backend = migrated.engine.dialect.name
    try:
        if backend == "sqlite":
            url = crm_db_url.replace("crm.db", "copy.db")
            _copy_sqlite(crm_sqlite_template(True), url)
            copied = crmkit.open(url)
            assert _describe(copied) == _describe(migrated)
            copied.close()
            return
        with _server_database("postgresql" if backend == "postgresql" else "mariadb") \
                as url:
            copied = crmkit.open(url)
            _replay(copied, crm_server_template(
                "postgresql" if backend == "postgresql" else "mariadb", True))
            got, want = _describe(copied), _describe(migrated)
            copied.close()
        assert want["crm_tenants"]["rows"] and want["crmkit_alembic_version"]["rows"]
        assert got == want
    finally:
        migrated.close()


def test_the_copy_works_like_a_migrated_database(crm_factory):
    crm = crm_factory(enable=("sales",))                # a plugin branch migrated on top
    c = crm.customers.add(name="Acme")
    assert c.id == 1                                   # counters start where init left them
    assert "sales" in crm.plugins.enabled()
    again = crm_factory()                              # a second Crm runs crm.init() itself
    assert [x.name for x in again.customers.list()] == ["Acme"]
