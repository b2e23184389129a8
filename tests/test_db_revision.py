"""`crmkit db revision` and `crmkit db stamp`: a plugin's migrations written outside this
repository, upgraded on every backend without losing data, and the way back for tables
made without migrations."""

from __future__ import annotations

import importlib
import sys
from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import crmkit
from crmkit import migrations
from crmkit.migrations import authoring

SOURCE = '''
import crmkit
from sqlalchemy import Column, Date, ForeignKey, Index, Integer, Table

PLUGIN = crmkit.PluginSpec(name="{name}", version="0.1.0", description="Loyalty points.")


@crmkit.hookimpl
def crm_tables(metadata, prefix):
    Table(
        f"{{prefix}}{name}_points", metadata,
        Column("id", Integer, primary_key=True),
        Column("tenant_id", Integer, nullable=False),
        Column("customer_id", Integer, ForeignKey(f"{{prefix}}customers.id"), nullable=False),
        Column("reason", crmkit.Str(100), nullable=False),
        Column("amount", crmkit.Money, nullable=False),
        Column("note", crmkit.LongText()),
        {extra}
        Index(f"{{prefix}}ix_{name}_points_customer", "tenant_id", "customer_id"),
    )
'''
V2 = 'Column("expires_on", Date),'


def _plugin(tmp_path, monkeypatch, name, extra=""):
    """The package crmkit_NAME in tmp_path (written again and reloaded when it exists)."""
    pkg = tmp_path / "src" / f"crmkit_{name}"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text(SOURCE.format(name=name, extra=extra), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    mod = f"crmkit_{name}"
    if mod in sys.modules:
        return importlib.reload(sys.modules[mod])
    return importlib.import_module(mod)


def _diff(crm, tables):
    """What Alembic finds different between the database and ``tables``."""
    from crmkit.conformance import _names

    with crm.engine.connect() as conn:
        mc = MigrationContext.configure(conn, opts={"compare_type": True})
        return [d for d in compare_metadata(mc, crm.metadata) if _names(d) & set(tables)]


def _open(url, mod, **kw):
    return crmkit.open(url, plugins=[mod], today=None, **kw)


def test_revisions_of_a_third_party_plugin_upgrade_and_keep_data(crm_db_url, tmp_path,
                                                                  monkeypatch):
    mod = _plugin(tmp_path, monkeypatch, "zzloyal")
    crm = _open(crm_db_url, mod)
    crm.init()
    first = migrations.revision(crm, "zzloyal", "points table")
    assert first["revision"] == "zzloyal_0001" and first["initial"]
    assert not first["tables_exist"]
    path = tmp_path / "src" / "crmkit_zzloyal" / "migrations" / "versions" / \
        "zzloyal_0001_points_table.py"
    assert first["path"] == str(path)
    text = path.read_text(encoding="utf-8")
    assert 'branch_labels = ("zzloyal",)' in text and 'depends_on = "core_0001"' in text
    assert "op.create_table(p + 'zzloyal_points'" in text
    assert "'crm_" not in text  # the prefix is read when it migrates
    assert "crmkit.Money()" in text and "import crmkit\n" in text
    crm.close()

    crm = _open(crm_db_url, mod)
    migrations.upgrade(crm)
    assert migrations.current(crm)["zzloyal"] == "zzloyal_0001"
    assert _diff(crm, ["crm_zzloyal_points"]) == []
    c = crm.customers.add(name="上海大众")
    points = crm.table("zzloyal_points")
    with crm.engine.begin() as conn:
        conn.execute(points.insert().values(tenant_id=1, customer_id=c.id, reason="首单",
                                            amount=Decimal("1234.50")))
    with pytest.raises(crmkit.ValidationError, match="the same as in the database"):
        migrations.revision(crm, "zzloyal", "nothing changed")
    crm.close()

    mod = _plugin(tmp_path, monkeypatch, "zzloyal", extra=V2)  # the author adds a column
    crm = _open(crm_db_url, mod)
    migrations.stamp(crm, "base", plugin="zzloyal")  # as if not upgraded yet
    with pytest.raises(crmkit.ValidationError, match="run `crmkit db upgrade` first"):
        migrations.revision(crm, "zzloyal", "expiry")
    migrations.stamp(crm, "heads", plugin="zzloyal")
    second = migrations.revision(crm, "zzloyal", "expiry date")
    assert second["revision"] == "zzloyal_0002" and not second["initial"]
    text = (path.parent / "zzloyal_0002_expiry_date.py").read_text(encoding="utf-8")
    assert 'down_revision = "zzloyal_0001"' in text and "branch_labels = None" in text
    assert "batch_op.add_column(sa.Column('expires_on', sa.Date(), nullable=True))" in text
    assert "batch_op.drop_column('expires_on')" in text
    crm.close()

    crm = _open(crm_db_url, mod)
    migrations.upgrade(crm)
    assert migrations.current(crm)["zzloyal"] == "zzloyal_0002"
    assert _diff(crm, ["crm_zzloyal_points"]) == []
    with crm.engine.connect() as conn:
        row = conn.execute(sa.select(points.c.reason, points.c.amount)).one()
    assert (row.reason, row.amount) == ("首单", Decimal("1234.50"))  # kept
    migrations.downgrade(crm, "zzloyal@zzloyal_0001")
    cols = {c["name"] for c in sa.inspect(crm.engine).get_columns("crm_zzloyal_points")}
    assert "expires_on" not in cols and "reason" in cols
    crm.close()

    # the same files migrate a host's prefix
    other = _open(crm_db_url, mod, prefix="erp_crm_")
    other.init()  # the core only
    other.plugins.enable("zzloyal")  # first enabled: its branch is upgraded
    names = set(sa.inspect(other.engine).get_table_names())
    assert "erp_crm_zzloyal_points" in names
    assert _diff(other, ["erp_crm_zzloyal_points"]) == []
    other.close()


def test_stamp_recovers_tables_made_without_migrations(crm_db_url, tmp_path, monkeypatch):
    mod = _plugin(tmp_path, monkeypatch, "zzstamp")
    crm = _open(crm_db_url, mod)
    crm.init()
    crm.plugins.enable("zzstamp")  # no migrations folder yet: create_all
    points = crm.table("zzstamp_points")
    c = crm.customers.add(name="Acme")
    with crm.engine.begin() as conn:
        conn.execute(points.insert().values(tenant_id=1, customer_id=c.id, reason="first",
                                            amount=Decimal("5.00")))
    first = migrations.revision(crm, "zzstamp", "points table")
    assert first["tables_exist"]
    crm.close()

    crm = _open(crm_db_url, mod)
    # the defect: this failed for good with "table crm_zzstamp_points already exists"
    with pytest.raises(crmkit.DatabaseError) as info:
        migrations.upgrade(crm)
    assert "plugin 'zzstamp' has tables in the database (crm_zzstamp_points)" in str(info.value)
    assert "`crmkit db stamp --plugin zzstamp heads`" in str(info.value)
    assert migrations.current(crm)["zzstamp"] is None
    with pytest.raises(crmkit.ValidationError,
                       match="unknown revision 'zzstamp_0009' of plugin 'zzstamp'; valid: "
                             "zzstamp_0001, heads, base"):
        migrations.stamp(crm, "zzstamp_0009", plugin="zzstamp")
    after = migrations.stamp(crm, "heads", plugin="zzstamp")
    assert after["zzstamp"] == "zzstamp_0001" and after["core"] == migrations.heads(crm)["core"]
    crm.close()

    mod = _plugin(tmp_path, monkeypatch, "zzstamp", extra=V2)
    crm = _open(crm_db_url, mod)
    assert migrations.revision(crm, "zzstamp", "expiry")["revision"] == "zzstamp_0002"
    crm.close()
    crm = _open(crm_db_url, mod)
    crm.init()
    assert migrations.current(crm)["zzstamp"] == "zzstamp_0002"
    with crm.engine.connect() as conn:
        assert conn.execute(sa.select(points.c.reason)).scalar_one() == "first"
    crm.close()


def test_revision_refuses_what_it_cannot_write(tmp_path, monkeypatch):
    mod = _plugin(tmp_path, monkeypatch, "zzrefuse")
    crm = _open(f"sqlite:///{tmp_path / 'r.db'}", mod)
    crm.init()
    with pytest.raises(crmkit.ValidationError, match="needs a message"):
        migrations.revision(crm, "zzrefuse", "  ")
    with pytest.raises(crmkit.ValidationError, match="unknown plugin 'nope'"):
        migrations.revision(crm, "nope", "x")
    with pytest.raises(crmkit.ValidationError, match="built-in plugin 'tasks' has no"):
        migrations.revision(crm, "tasks", "x")
    import sysconfig

    real = sysconfig.get_paths()
    monkeypatch.setattr(sysconfig, "get_paths",
                        lambda: dict(real, purelib=str(tmp_path / "src")))
    with pytest.raises(crmkit.ValidationError, match="installed from a wheel"):
        migrations.revision(crm, "zzrefuse", "x")
    assert not (tmp_path / "src" / "crmkit_zzrefuse" / "migrations").exists()
    crm.close()


def test_revision_text_is_one_template():
    text = authoring.revision_text(rev="x_0001", message="x: first", labels=("x",),
                                   depends="core_0001")
    assert text.startswith('"""x: first\n\nRevision ID: x_0001\nRevises: -\n"""\n')
    assert "import crmkit" not in text and "from sqlalchemy.dialects" not in text
    assert text.count("    pass\n") == 2
    compile(text, "x_0001.py", "exec")


ENTRY_POINTS = "[crmkit.plugins]\n{name} = crmkit_{name}\n"


def _installed(tmp_path, monkeypatch, name):
    """The plugin as an installed distribution (its metadata folder on sys.path), so that
    the command line discovers it like one pip installed from its source."""
    _plugin(tmp_path, monkeypatch, name)
    info = tmp_path / "src" / f"crmkit_{name}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: crmkit-{name}\n"
                                   "Version: 0.1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(ENTRY_POINTS.format(name=name), encoding="utf-8")


def test_db_revision_and_stamp_commands(cli, tmp_path, monkeypatch):
    _installed(tmp_path, monkeypatch, "zzcli")
    assert cli("init").exit_code == 0
    made = cli("db", "revision", "--plugin", "zzcli", "-m", "points table")
    assert made.exit_code == 0, made
    path = tmp_path / "src" / "crmkit_zzcli" / "migrations" / "versions" / \
        "zzcli_0001_points_table.py"
    assert made.stdout == f"created {path}\n"
    assert "apply it with `crmkit db upgrade`" in made.stderr
    assert cli("db", "upgrade").exit_code == 0
    current = {r["branch"]: r["current"] for r in cli("db", "current", "--json").json}
    assert current["zzcli"] == "zzcli_0001"
    again = cli("db", "revision", "--plugin", "zzcli", "-m", "nothing")
    assert again.exit_code == 1
    assert again.stderr == ("Error: the tables of 'zzcli' are the same as in the database; "
                            "nothing to write (use --empty for a revision to fill in by "
                            "hand)\n")
    empty = cli("db", "revision", "--plugin", "zzcli", "-m", "backfill", "--empty")
    assert empty.exit_code == 0 and "zzcli_0002_backfill.py" in empty.stdout
    bad = cli("db", "stamp", "--plugin", "zzcli", "zzcli_0007")
    assert bad.exit_code == 1 and "unknown revision 'zzcli_0007'" in bad.stderr
    assert {r["branch"]: r["current"] for r in cli("db", "current", "--json").json} \
        == current
    ok = cli("db", "stamp", "--plugin", "zzcli", "heads")
    assert ok.exit_code == 0 and "zzcli: zzcli_0002" in ok.stdout
    unknown = cli("db", "revision", "--plugin", "nope", "-m", "x")
    assert unknown.exit_code == 1 and "unknown plugin 'nope'" in unknown.stderr
    missing = cli("db", "revision", "--plugin", "zzcli")
    assert missing.exit_code == 2  # -m is required: a usage error


def test_the_revision_scripts_load_once_per_open_and_a_new_one_is_seen(crm_db_url, tmp_path,
                                                                        monkeypatch):
    """Loading the revision scripts runs every revision file (about 0.1 s): ``init()``
    did it 4 times plus 3 per plugin in use, each first enable 3 times. They are loaded
    once per ``crmkit.open()``, shared by its views and by no other open, and a revision
    written meanwhile is seen by the same instance's next upgrade."""
    mod = _plugin(tmp_path, monkeypatch, "zzonce")
    crm = _open(crm_db_url, mod)
    crm.init()
    loaded = migrations.scripts(crm)
    crm.plugins.enable("grading")  # a plugin with revisions: its branch is upgraded
    crm.init()
    assert migrations.scripts(crm) is loaded
    assert migrations.scripts(crm.using(user="admin")) is loaded
    other = _open(crm_db_url, mod)
    assert migrations.scripts(other) is not loaded
    other.close()

    written = migrations.revision(crm, "zzonce", "points table")
    assert written["revision"] == "zzonce_0001"
    assert migrations.scripts(crm) is not loaded
    migrations.upgrade(crm)  # the same instance: the new file is read
    assert migrations.current(crm)["zzonce"] == "zzonce_0001"
    assert "crm_zzonce_points" in sa.inspect(crm.engine).get_table_names()
    crm.close()
