"""crmkit import contacts|activities|documents: customer references, lines, duplicates
(plugin ``csv``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def crm2(crm_factory):
    crm = crm_factory(enable=("csv",))
    crm.customers.add(name="上海大众", external_id="C001")
    crm.customers.add(name="北京现代", external_id="C002")
    crm.customers.add(name="重名公司")
    crm.customers.add(name="重名公司")
    return crm


def test_contacts_by_external_id_and_name_with_unknown_and_ambiguous(crm2, cli, tmp_path):
    f = _write(tmp_path / "p.csv", "客户编号,客户名称,姓名,职位,邮箱,电话\n"
               "C001,,张经理,总经理,zhang@vw.cn,021-1\n"   # 2: by external id
               ",北京现代,李工,工程师,,010-2\n"            # 3: by name
               "C999,,王五,,,\n"                           # 4: unknown external id
               ",重名公司,赵六,,,\n")                      # 5: two customers with that name
    before = crm2.changes()
    r = cli("import", "contacts", str(f))
    assert r.exit_code == 1
    assert r.stderr.splitlines()[:2] == [
        "line 4, column '客户编号', value 'C999': no customer with external id 'C999'",
        "line 5, column '客户名称', value '重名公司': customer name '重名公司' matches "
        "customers 3, 4; give the customer's external id",
    ]
    assert crm2.contacts.list() == [] and crm2.changes() == before
    r = cli("import", "contacts", str(f), "--skip-invalid")
    assert r.exit_code == 0, r
    got = [(c.customer_id, c.name, c.title, c.email, c.phone) for c in crm2.contacts.list()]
    assert got == [(1, "张经理", "总经理", "zhang@vw.cn", "021-1"), (2, "李工", "工程师", None,
                                                                 "010-2")]
    r = cli("import", "contacts", str(f), "--skip-invalid")
    assert "4 rows read, 0 imported, 2 duplicates skipped, 2 invalid skipped" in r.stderr
    assert len(crm2.contacts.list()) == 2


def test_activities_with_chinese_kinds_times_and_rerun(crm2, cli, tmp_path):
    f = _write(tmp_path / "a.csv", "客户编号,类型,主题,内容,时间,截止日期,负责人\n"
               "C001,拜访,季度回访,\"谈了价格\n下次带样品\",2026-11-20T10:00,,admin\n"
               "C002,task,寄合同,,2026-11-21T09:30+08:00,2026-11-25,admin\n"
               "C002,meeting,,,,,admin\n")   # line 5 (the body above spans 2-3): no subject
    r = cli("import", "activities", str(f))
    assert r.exit_code == 1
    assert "line 5, column '主题', value '': activity subject is required" in r.stderr
    assert cli("import", "activities", str(f), "--skip-invalid").exit_code == 0
    acts = sorted(crm2.activities.list(), key=lambda a: a.id)
    assert [(a.customer_id, a.kind, a.subject, a.body, a.due_on) for a in acts] == [
        (1, "visit", "季度回访", "谈了价格\n下次带样品", None),
        (2, "task", "寄合同", None, dt.date(2026, 11, 25))]
    # 09:30 in +08:00 is 01:30 UTC
    assert acts[1].occurred_at == dt.datetime(2026, 11, 21, 1, 30, tzinfo=dt.UTC)
    r = cli("import", "activities", str(f), "--skip-invalid")
    assert "3 rows read, 0 imported, 2 duplicates skipped, 1 invalid skipped" in r.stderr


def test_documents_lines_amounts_payments_and_update(crm2, cli, tmp_path):
    f = _write(tmp_path / "d.csv", "客户编号,类型,编号,金额,日期,到期日,关联发票,明细\n"
               "C001,发票,INV-1,,2026-11-01,2026-12-01,,零件A:2:617.25;服务:1.5:100\n"
               "C001,payment,PAY-1,500.00,2026-11-10,,INV-1,\n")
    r = cli("import", "documents", str(f))
    assert r.exit_code == 0, r
    inv = crm2.documents.by_number("invoice", "INV-1")
    # amount from lines: 2 x 617.25 + 1.5 x 100.00 = 1234.50 + 150.00 = 1384.50
    assert inv.amount == Decimal("1384.50")
    assert [(ln.product, ln.quantity, ln.unit_price) for ln in inv.lines] == [
        ("零件A", Decimal("2"), Decimal("617.25")), ("服务", Decimal("1.5"), Decimal("100.00"))]
    pay = crm2.documents.by_number("payment", "PAY-1")
    assert (pay.amount, pay.applies_to, pay.customer_id) == (Decimal("500.00"), "INV-1", 1)
    # re-run: both are duplicates; with --update-existing the new status is applied
    f2 = _write(tmp_path / "d2.csv", "客户编号,类型,编号,状态\nC001,invoice,INV-1,paid\n")
    r = cli("import", "documents", str(f2))
    assert "duplicate of document" in r.stderr and inv.status == "open"
    r = cli("import", "documents", str(f2), "--update-existing")
    assert r.exit_code == 0 and "1 updated" in r.stderr
    assert crm2.documents.by_number("invoice", "INV-1").status == "paid"
    r = cli("import", "documents", str(f))
    assert "2 rows read, 0 imported, 2 duplicates skipped" in r.stderr
    assert len(crm2.documents.list()) == 2


def test_bad_line_and_missing_customer_column(crm2, cli, tmp_path):
    f = _write(tmp_path / "d.csv", "customer_id,kind,number,lines\n1,invoice,X1,A:two:5\n")
    r = cli("import", "documents", str(f))
    assert r.exit_code == 1
    assert "line 2, column 'lines', value 'A:two:5': invalid quantity of 'A' 'two'" in r.stderr
    f = _write(tmp_path / "e.csv", "kind,number\ninvoice,X1\n")
    r = cli("import", "documents", str(f))
    assert r.exit_code == 1 and "the file has no customer column" in r.stderr
