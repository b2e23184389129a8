"""Alembic: the migrations build exactly the tables the code uses, upgrading keeps the
data, a host application's own tables and Alembic history are untouched, and a plugin's
data can be listed and purged."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import crmkit
from crmkit import migrations

#: the core branch's newest revision (core_0006: the documents index the aging reads)
CORE_HEAD = "core_0006"


def _diff(crm):
    with crm.engine.connect() as conn:
        mc = MigrationContext.configure(conn, opts={"compare_type": True})
        migrated = {n for n in crm.metadata.tables
                    if n in sa.inspect(conn).get_table_names()}
        md = sa.MetaData()
        for name in migrated:
            crm.metadata.tables[name].to_metadata(md)
        return [d for d in compare_metadata(mc, md)
                if not (isinstance(d, tuple) and d[0] == "remove_table")]


def test_migrations_build_exactly_the_tables_the_code_uses(crm_db_url):
    crm = crmkit.open(crm_db_url)
    crm.init()
    assert migrations.current(crm)["core"] == migrations.heads(crm)["core"] == CORE_HEAD
    assert _diff(crm) == []
    names = set(sa.inspect(crm.engine).get_table_names())
    assert "crmkit_alembic_version" in names and "alembic_version" not in names
    crm.close()


def test_plugin_migrations_build_exactly_their_tables_with_their_types(crm_db_url):
    # compare_type=True: a column whose type differs between a migration and the code
    # (String(64) against String(100), Integer against BigInteger) is a difference
    crm = crmkit.open(crm_db_url)
    crm.init()
    with_tables = ("grading", "sales", "webhooks", "marketing")
    crm.plugins.enable(*with_tables)
    names = set(sa.inspect(crm.engine).get_table_names())
    assert {"crm_grading_grades", "crm_sales_opportunities"} <= names, names
    assert _diff(crm) == []
    crm.close()


def test_upgrade_from_the_first_revision_loses_nothing(crm_db_url):
    crm = crmkit.open(crm_db_url)
    migrations.upgrade(crm, "core@core_0001")
    assert migrations.current(crm)["core"] == "core_0001"
    now = dt.datetime(2026, 11, 1, 9, 0)
    # fill with the first revision's columns only (a fresh schema: ids start at 1)
    with crm.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO crm_tenants (slug, name, currency, created_at) "
                             "VALUES ('default', 'Default', 'CNY', :t)"), {"t": now})
        conn.execute(sa.text("INSERT INTO crm_users (tenant_id, name, role, created_at) "
                             "VALUES (1, 'admin', 'admin', :t), (1, 'li', 'sales', :t)"),
                     {"t": now})
        conn.execute(sa.text(
            "INSERT INTO crm_customers (tenant_id, name, kind, status, owner, tags, "
            "created_at, updated_at) VALUES (1, :n, 'company', 'active', 'li', ',vip,', "
            ":t, :t)"), {"t": now, "n": "上海大众"})
        conn.execute(sa.text(
            "INSERT INTO crm_documents (tenant_id, customer_id, kind, number, status, "
            "amount, currency, issued_on, created_at) VALUES (1, 1, 'invoice', 'INV-1', "
            "'open', 123450, 'CNY', :d, :t)"), {"d": dt.date(2026, 11, 1), "t": now})
    crm.init()  # upgrade heads
    assert migrations.current(crm)["core"] == CORE_HEAD
    c = crm.customers.get(1)
    assert (c.name, c.owner, c.tags, c.status) == ("上海大众", "li", ("vip",), "active")
    assert str(crm.documents.get(1).amount) == "1234.50"
    assert [(u.name, u.email, u.active) for u in crm.users.list()] == [
        ("admin", None, True), ("li", None, True)]  # core_0003: users are active
    assert crm.users.add("wang", email="wang@example.cn").email == "wang@example.cn"
    crm.close()


def test_db_upgrade_from_core_0003_keeps_documents_and_gives_them_rate_1(crm_db_url, cli):
    """core_0004 (money, terms, zones) on a database with data at core_0003: every
    document gets rate 1 and base_amount = amount, tenants UTC and en."""
    crm = crmkit.open(crm_db_url)
    migrations.upgrade(crm, "core@core_0003")
    now = dt.datetime(2026, 11, 1, 9, 0)
    with crm.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO crm_tenants (slug, name, currency, created_at) "
                             "VALUES ('default', 'Default', 'CNY', :t)"), {"t": now})
        conn.execute(sa.text("INSERT INTO crm_users (tenant_id, name, role, created_at) "
                             "VALUES (1, 'admin', 'admin', :t)"), {"t": now})
        conn.execute(sa.text(
            "INSERT INTO crm_customers (tenant_id, name, kind, status, created_at, "
            "updated_at) VALUES (1, :n, 'company', 'active', :t, :t)"),
            {"t": now, "n": "上海大众"})
        conn.execute(sa.text(
            "INSERT INTO crm_documents (tenant_id, customer_id, kind, number, status, "
            "amount, currency, issued_on, created_at) VALUES (1, 1, 'invoice', 'INV-1', "
            "'open', 123450, 'CNY', :d, :t), (1, 1, 'payment', 'PAY-1', 'open', 10001, "
            "'CNY', :d, :t)"), {"d": dt.date(2026, 11, 1), "t": now})
    crm.close()
    r = cli("db", "upgrade")
    assert r.exit_code == 0, r
    assert {"branch": "core", "current": CORE_HEAD, "head": CORE_HEAD} in cli(
        "db", "current", "--json").json
    docs = cli("doc", "list", "--json").json
    assert [(d["number"], d["amount"], d["rate"], d["base_amount"], d["terms"])
            for d in docs] == [("PAY-1", "100.01", "1", "100.01", []),
                               ("INV-1", "1234.50", "1", "1234.50", [])]
    assert [(t["slug"], t["timezone"], t["locale"]) for t in cli(
        "tenant", "list", "--json").json] == [("default", "UTC", "en")]
    assert cli("customer", "show", "1", "--json").json["customer"]["name"] == "上海大众"


def test_host_application_keeps_its_tables_and_alembic_history(crm_db_url):
    host = crmkit.storage.create_engine(crm_db_url)
    md = sa.MetaData()
    orders = sa.Table("erp_orders", md, sa.Column("id", sa.Integer, primary_key=True),
                      sa.Column("note", sa.String(50)))
    version = sa.Table("alembic_version", md,
                       sa.Column("version_num", sa.String(32), primary_key=True))
    md.create_all(host)
    with host.begin() as conn:
        conn.execute(orders.insert().values(id=1, note="host row"))
        conn.execute(version.insert().values(version_num="host_rev_42"))
    for prefix in ("crm_", "erp_crm_"):
        crm = crmkit.open(engine=host, prefix=prefix)
        crm.init()
        crm.customers.add(name=f"via {prefix}")
    names = set(sa.inspect(host).get_table_names())
    assert {"crm_customers", "erp_crm_customers", "crmkit_alembic_version",
            "erp_crm_alembic_version", "erp_orders"} <= names
    with host.connect() as conn:
        assert conn.execute(sa.select(orders.c.note)).scalars().all() == ["host row"]
        assert conn.execute(sa.select(version.c.version_num)).scalars().all() == [
            "host_rev_42"]
    assert [c.name for c in crmkit.open(engine=host, prefix="erp_crm_").customers.list()] \
        == ["via erp_crm_"]
    host.dispose()


class Notes:
    """A plugin with a table and no migrations folder."""

    PLUGIN = crmkit.PluginSpec(name="notes", description="notes")

    @crmkit.hookimpl
    def crm_tables(self, metadata, prefix):
        sa.Table(f"{prefix}notes_items", metadata,
                 sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("tenant_id", sa.Integer, nullable=False),
                 sa.Column("text", sa.String(100)))


def test_uninstall_lists_refuses_while_enabled_purges_and_reenables_cleanly(crm_factory):
    from crmkit.services.plugins import purge, uninstall_plan

    crm = crm_factory(plugins=[Notes()], enable=["notes"])
    t = crm.table("notes_items")
    with crm.engine.begin() as conn:
        conn.execute(t.insert(), [{"tenant_id": 1, "text": "a"}, {"tenant_id": 1, "text": "b"}])
    plan = uninstall_plan(crm, "notes")
    assert plan == {"plugin": "notes", "tables": {"crm_notes_items": 2},
                    "enabled_in": ["default"]}
    with pytest.raises(crmkit.ValidationError, match="still enabled for 1 tenant"):
        purge(crm, "notes")
    crm.plugins.disable("notes")
    assert uninstall_plan(crm, "notes")["tables"] == {"crm_notes_items": 2}  # kept
    purge(crm, "notes")
    assert "crm_notes_items" not in sa.inspect(crm.engine).get_table_names()
    assert [p for p in crm.plugins.list() if p["name"] == "notes"][0]["enabled"] is False
    crm.plugins.enable("notes")
    with crm.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() == 0


def test_db_commands(cli):
    assert cli("init").exit_code == 0
    cur = cli("db", "current", "--json").json
    assert {"branch": "core", "current": CORE_HEAD, "head": CORE_HEAD} in cur
    hist = cli("db", "history", "--json").json
    assert [h["revision"] for h in hist if "core" in h["branch"]] == [
        "core_0006", "core_0005", "core_0004", "core_0003", "core_0002", "core_0001"]
    r = cli("plugins", "uninstall", "permissions", "--dry-run")
    assert r.exit_code == 1 and "built-in plugin 'permissions' cannot be uninstalled" in r.stderr
    r = cli("plugins", "uninstall", "receivables")
    assert r.exit_code == 1 and "--dry-run" in r.stderr


def test_revisions_of_a_removed_plugin_package_give_a_clear_error(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    full = crmkit.open(url)
    full.init()  # the core only: plugins' branches come with enabling or `db upgrade`
    migrations.upgrade(full)  # `db upgrade`: webhooks, sales, grading, marketing, ...
    shipped = sorted(v for k, v in migrations.heads(full).items() if k != "core")
    assert {"grading_0001", "marketing_0001", "sales_0001", "webhooks_0001"} <= set(shipped)
    bare = crmkit.open(url, discover=False)  # as if their packages were gone
    assert migrations.unknown_revisions(bare) == shipped
    with pytest.raises(crmkit.DatabaseError, match="migrations of plugins that are not "
                       f"installed \\({', '.join(shipped)}\\)"):
        bare.init()
