"""crmkit export: round trips through csv, xlsx and json without loss; visibility
(plugin ``csv``)."""

from __future__ import annotations

import csv
import json

import pytest
from crmkit_csv import export_file, import_file

KINDS = ("customers", "contacts", "activities", "documents")
SKIP = {"id", "created_at", "updated_at"}


def _seed(crm) -> None:
    crm.users.add("li", role="sales")
    a = crm.customers.add(name="上海大众汽车", email="sh@vw.cn", phone="021-1234",
                          tags=["vip", "汽车"], external_id="C001", owner="li",
                          address="上海市\n嘉定区 安亭镇", extra={"erp": {"区域": "华东"}})
    b = crm.customers.add(name="O'Brien, \"Ltd\"", kind="person", status="lost",
                          email="ob@x.ie")
    crm.contacts.add(a.id, "张经理", title="总经理", email="zhang@vw.cn", phone="138")
    crm.activities.add(a.id, kind="visit", subject="季度回访，谈价格",
                       body="第一行\n第二行, with \"quotes\"\n", occurred_at="2026-11-20T10:00")
    t = crm.activities.add(b.id, kind="task", subject="寄合同", due_on="2026-11-25",
                           occurred_at="2026-11-21T08:00:00+00:00")
    crm.activities.done(t.id, at=crm.activities.get(t.id).occurred_at)
    crm.documents.add(a.id, kind="invoice", number="INV-1", issued_on="2026-11-01",
                      due_on="2026-12-01", lines=[("零件;A:1", "2", "617.25"),
                                                  ("服务", "1.5", "100.00", "60.00")])
    crm.documents.add(a.id, kind="payment", number="PAY-1", amount="0.10",
                      issued_on="2026-11-02", applies_to="INV-1", status="paid")
    crm.documents.add(b.id, kind="quote", number="Q-1", amount="1234567.89")


def _dump(crm, kind: str, tmp_path, name: str) -> list[dict]:
    out = tmp_path / f"{name}.json"
    export_file(crm, kind, out)
    return [{k: v for k, v in r.items() if k not in SKIP}
            for r in json.loads(out.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_round_trip_without_loss(crm_factory, tmp_path, fmt):
    src = crm_factory(enable=("csv",))
    _seed(src)
    src.tenants.add("t2")
    dst = src.using(tenant="t2")
    dst.users.add("li", role="sales")
    dst.plugins.enable("csv")
    for kind in KINDS:
        path = tmp_path / f"{kind}.{fmt}"
        assert export_file(src, kind, path) == {"customers": 2, "contacts": 1,
                                                "activities": 2, "documents": 3}[kind]
        report = import_file(dst, kind, path)
        assert (report.written, report.invalid, report.duplicates) == (True, 0, 0), \
            [str(e) for e in report.errors]
    for kind in KINDS:
        got, want = (_dump(dst, kind, tmp_path, f"b-{kind}"),
                     _dump(src, kind, tmp_path, f"a-{kind}"))
        assert got == want, [(k, g.get(k), w.get(k)) for g, w in zip(got, want, strict=False)
                             for k in {*g, *w} if g.get(k) != w.get(k)]
    # a second import of the same export changes nothing
    for kind in KINDS:
        report = import_file(dst, kind, tmp_path / f"{kind}.{fmt}")
        assert (report.imported, report.invalid) == (0, 0)
    assert len(dst.customers.list()) == 2 and len(dst.documents.list()) == 3


def test_export_csv_shape(crm_factory, tmp_path):
    crm = crm_factory(enable=("csv",))
    _seed(crm)
    export_file(crm, "documents", tmp_path / "d.csv")
    rows = list(csv.DictReader((tmp_path / "d.csv").open(encoding="utf-8-sig")))
    inv = next(r for r in rows if r["number"] == "INV-1")
    # 2 x 617.25 + 1.5 x 100.00 = 1384.50; the ";" in a product name is escaped, a name
    # holding ":" gets an empty cost part, a known unit cost (60.00) its own
    assert (inv["amount"], inv["lines"], inv["customer_external_id"]) == (
        "1384.50", "零件\\;A:1:2:617.25:;服务:1.5:100.00:60.00", "C001")
    export_file(crm, "customers", tmp_path / "c.csv")
    c = next(csv.DictReader((tmp_path / "c.csv").open(encoding="utf-8-sig")))
    assert (c["tags"], c["extra"], c["address"]) == (
        "vip,汽车", '{"erp": {"区域": "华东"}}', "上海市\n嘉定区 安亭镇")


def test_sales_user_exports_only_own_customers(crm_factory, cli, tmp_path):
    crm = crm_factory(enable=("csv",))
    _seed(crm)
    r = cli("export", "customers", str(tmp_path / "mine.json"), user="li")
    assert r.exit_code == 0, r
    assert "1 customers exported" in r.stderr
    assert [c["name"] for c in json.loads((tmp_path / "mine.json").read_text())] == [
        "上海大众汽车"]
    r = cli("export", "documents", str(tmp_path / "d.xlsx"), user="li")
    assert "2 documents exported" in r.stderr  # INV-1 and PAY-1; Q-1 is not li's


def test_format_option_and_unknown_format(crm_factory, cli, tmp_path):
    crm = crm_factory(enable=("csv",))
    crm.customers.add(name="甲")
    r = cli("export", "customers", str(tmp_path / "out.txt"), "--format", "json")
    assert r.exit_code == 0
    assert json.loads((tmp_path / "out.txt").read_text())[0]["name"] == "甲"
    r = cli("export", "customers", str(tmp_path / "out.pdf"))
    assert r.exit_code == 1
    assert "unknown format 'pdf'; valid: csv, xlsx, json" in r.stderr
