"""The csv plugin's hooks for other plugins: ``crm_import_columns`` claims extra columns
of an import, ``crm_import_row`` receives a row's claimed cells after its record is
written (tests/plugins/import_claims.py claims a contacts column)."""

from __future__ import annotations

from crmkit_csv import import_file

from tests.plugins.import_claims import ImportClaims

CSV = ("客户名称,姓名,积分,备注列\n"
       "上海大众,张经理,120,x\n"      # line 2: 120 points
       "上海大众,李工,,y\n"            # line 3: no points: the hook is not asked
       "上海大众,王五,很多,z\n")       # line 4: refused by the plugin


def _setup(crm_factory, tmp_path, enable=("csv", "claims")):
    crm = crm_factory(plugins=[ImportClaims()], enable=enable)
    crm.customers.add(name="上海大众")
    f = tmp_path / "c.csv"
    f.write_text(CSV, encoding="utf-8")
    return crm, f


def _loyalty(crm):
    return [(c["after"]["contact"], c["after"]["points"]) for c in crm.changes()
            if c["table"] == "loyalty"]


def test_crm_import_columns_and_crm_import_row_all_or_nothing(crm_factory, tmp_path):
    crm, f = _setup(crm_factory, tmp_path)
    before = crm.changes()
    report = import_file(crm, "contacts", f)
    assert (report.invalid, report.written) == (1, False)
    assert [str(e) for e in report.errors] == [
        "line 4, column '积分', value '很多': loyalty '很多' is not a whole number"]
    # the claimed column is not "ignored"; the unknown one still is
    assert report.ignored_columns == ["备注列"]
    assert crm.changes() == before and crm.contacts.list() == []


def test_crm_import_row_skip_invalid_rolls_back_the_refused_row_only(crm_factory, tmp_path):
    crm, f = _setup(crm_factory, tmp_path)
    report = import_file(crm, "contacts", f, skip_invalid=True)
    assert (report.imported, report.invalid, report.written) == (2, 1, True)
    assert [c.name for c in crm.contacts.list()] == ["张经理", "李工"]  # 王五 rolled back
    assert _loyalty(crm) == [("张经理", 120)]
    rejected = (tmp_path / "c.rejected.csv").read_text(encoding="utf-8-sig")
    assert "王五" in rejected and "not a whole number" in rejected


def test_crm_import_columns_of_a_plugin_not_enabled_are_ignored(crm_factory, tmp_path):
    crm, f = _setup(crm_factory, tmp_path, enable=("csv",))
    report = import_file(crm, "contacts", f)
    assert report.ignored_columns == ["积分", "备注列"] and report.imported == 3
    assert _loyalty(crm) == []


def test_crm_import_row_dry_run_writes_nothing(crm_factory, tmp_path):
    crm, f = _setup(crm_factory, tmp_path)
    before = crm.changes()
    report = import_file(crm, "contacts", f, dry_run=True, skip_invalid=True)
    assert (report.imported, report.written) == (2, False)
    assert crm.changes() == before
