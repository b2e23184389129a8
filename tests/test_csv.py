"""crmkit import customers: encodings, xlsx, headers, --map, all-or-nothing reports,
--skip-invalid, --dry-run, duplicates, --update-existing, re-runs (plugin ``csv``)."""

from __future__ import annotations

import csv
import types
from pathlib import Path

import pytest

import crmkit

HEADER = "客户名称,电话,邮箱,负责人,标签,客户编号,地址\n"


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _count(crm) -> int:
    return len(crm.customers.list())


@pytest.fixture
def setup(crm_factory):
    crm = crm_factory(enable=("csv",))
    crm.users.add("li", role="sales")
    return crm


def _names(crm) -> list[str]:
    return [c.name for c in crm.customers.list()]


def test_auto_encoding_reads_utf8_bom_and_gb18030(setup, cli, tmp_path):
    for n, encoding in enumerate(["utf-8", "utf-8-sig", "gb18030"]):
        f = _write(tmp_path / f"{encoding}.csv", HEADER + f"上海大众汽车{n},021-1234,"
                   f"sh{n}@vw.cn,li,\"vip,汽车\",C00{n},\"上海市\n嘉定区\"\n", encoding)
        r = cli("import", "customers", str(f))
        assert r.exit_code == 0, r
        assert "1 rows read, 1 imported, 0 duplicates skipped" in r.stderr
        c = setup.customers.list()[-1]
        assert (c.name, c.phone, c.email, c.owner, c.tags, c.external_id, c.address) == (
            f"上海大众汽车{n}", "021-1234", f"sh{n}@vw.cn", "li", ("vip", "汽车"), f"C00{n}",
            "上海市\n嘉定区")


def test_explicit_wrong_encoding_is_one_clear_error(setup, cli, tmp_path):
    f = _write(tmp_path / "c.csv", HEADER + "上海大众,,,,,,\n", "gb18030")
    r = cli("import", "customers", str(f), "--encoding", "utf-8")
    assert r.exit_code == 1
    assert "c.csv is not valid utf-8 (invalid start byte); pass --encoding with the " \
           "file's encoding, e.g. --encoding gb18030" in r.stderr
    assert _count(setup) == 0
    assert cli("import", "customers", str(f), "--encoding", "klingon").exit_code == 1


def test_english_aliases_kind_status_values_and_extra(setup, cli, tmp_path):
    f = _write(tmp_path / "c.csv", "Company,E-mail,Phone,Owner,Type,Status,extra\n"
               "Acme Ltd,info@acme.com,+1 555 0100,admin,个人,活跃,\"{\"\"erp\"\": 7}\"\n")
    assert cli("import", "customers", str(f)).exit_code == 0
    [c] = setup.customers.list()
    assert (c.name, c.email, c.phone, c.kind, c.status, c.extra) == (
        "Acme Ltd", "info@acme.com", "+1 555 0100", "person", "active", {"erp": 7})


def test_xlsx_import_with_numbers_and_a_blank_row(setup, cli, tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["名称", "手机", "电子邮件", "业务员", "编号"])
    ws.append(["杭州娃哈哈", 13800138000, "wh@whh.cn", "li", 1001])
    ws.append([None, None, None, None, None])
    ws.append(["苏州", 13900000000, "bad-mail", "li", 1002])
    wb.save(tmp_path / "c.xlsx")
    r = cli("import", "customers", str(tmp_path / "c.xlsx"))
    # sheet row 3 is blank and skipped; row 4 is the bad one
    assert r.exit_code == 1
    assert "line 4, column '电子邮件', value 'bad-mail': invalid e-mail address 'bad-mail'" \
        in r.stderr.splitlines()
    r = cli("import", "customers", str(tmp_path / "c.xlsx"), "--skip-invalid")
    assert r.exit_code == 0, r
    [c] = setup.customers.list()
    assert (c.name, c.phone, c.external_id) == ("杭州娃哈哈", "13800138000", "1001")
    rows = list(csv.reader((tmp_path / "c.rejected.csv").open(encoding="utf-8-sig")))
    assert rows == [["名称", "手机", "电子邮件", "业务员", "编号", "reason"],
                    ["苏州", "13900000000", "bad-mail", "li", "1002",
                     "invalid e-mail address 'bad-mail'"]]


def test_map_overrides_and_bad_map(setup, cli, tmp_path):
    f = _write(tmp_path / "c.csv", "Kunde,Mail,Notiz\nMüller GmbH,m@mueller.de,x\n")
    r = cli("import", "customers", str(f))
    assert r.exit_code == 1 and "no column for 'name'" in r.stderr
    r = cli("import", "customers", str(f), "--map", "Kunde=name", "--map", "Mail=email")
    assert r.exit_code == 0, r
    assert "ignoring columns not known for customers: Notiz" in r.stderr
    [c] = setup.customers.list()
    assert (c.name, c.email) == ("Müller GmbH", "m@mueller.de")
    r = cli("import", "customers", str(f), "--map", "Kunde=nome")
    assert r.exit_code == 1
    assert "unknown field 'nome' in --map 'Kunde=nome'; valid for customers: external_id, " \
           "name," in r.stderr
    r = cli("import", "customers", str(f), "--map", "Firma=name")
    assert r.exit_code == 1 and "column 'Firma' in --map 'Firma=name' is not in the file" \
        in r.stderr


def test_unknown_kind_lists_valid_values(setup, cli, tmp_path):
    f = _write(tmp_path / "c.csv", HEADER)
    r = cli("import", "clients", str(f))
    assert r.exit_code == 1
    assert "unknown kind 'clients'; valid: customers, contacts, activities, documents" \
        in r.stderr
    r = cli("export", "clients", str(tmp_path / "x.csv"))
    assert r.exit_code == 1 and "valid: customers, contacts" in r.stderr


BAD = (HEADER +
       "好客户,021-1,good@a.cn,li,,G1,\n"           # line 2
       ",021-2,nobody@a.cn,li,,G2,\n"               # line 3: no name
       "坏邮箱,021-3,not-an-email,ghost,,G3,\n"     # line 4: two errors
       "另一个好客户,021-4,ok@a.cn,admin,,G4,\n")   # line 5


def test_all_or_nothing_lists_every_bad_row_and_writes_nothing(setup, cli, tmp_path):
    f = _write(tmp_path / "c.csv", BAD)
    before = setup.changes()
    r = cli("import", "customers", str(f))
    assert r.exit_code == 1
    lines = r.stderr.splitlines()
    assert lines[:3] == [
        "line 3, column '客户名称', value '': customer name is required",
        "line 4, column '邮箱', value 'not-an-email': invalid e-mail address 'not-an-email'",
        "line 4, column '负责人', value 'ghost': unknown owner 'ghost'; add the user first "
        "(`crmkit user add ghost`)",
    ]
    assert lines[-1] == ("Error: 2 invalid rows in " + str(f) +
                         "; nothing imported (fix them, or use --skip-invalid)")
    assert _count(setup) == 0 and setup.changes() == before
    assert not (tmp_path / "c.rejected.csv").exists()


def test_skip_invalid_writes_valid_rows_and_rejected_csv(setup, cli, tmp_path):
    f = _write(tmp_path / "c.csv", BAD)
    r = cli("import", "customers", str(f), "--skip-invalid")
    assert r.exit_code == 0, r
    assert "4 rows read, 2 imported, 0 duplicates skipped, 2 invalid skipped" in r.stderr
    assert _names(setup) == ["好客户", "另一个好客户"]
    rows = list(csv.reader((tmp_path / "c.rejected.csv").open(encoding="utf-8-sig")))
    assert rows == [
        ["客户名称", "电话", "邮箱", "负责人", "标签", "客户编号", "地址", "reason"],
        ["", "021-2", "nobody@a.cn", "li", "", "G2", "", "customer name is required"],
        ["坏邮箱", "021-3", "not-an-email", "ghost", "", "G3", "",
         "invalid e-mail address 'not-an-email'; unknown owner 'ghost'; add the user first "
         "(`crmkit user add ghost`)"],
    ]


def test_dry_run_validates_and_writes_nothing(setup, cli, tmp_path):
    f = _write(tmp_path / "c.csv", HEADER + "甲,1,a@a.cn,li,,A1,\n乙,2,b@b.cn,li,,A2,\n")
    before = setup.changes()
    r = cli("import", "customers", str(f), "--dry-run", "--json")
    assert r.exit_code == 0, r
    assert r.json["imported"] == 2 and r.json["written"] is False
    assert "dry run: nothing written" in r.stderr
    assert _count(setup) == 0 and setup.changes() == before
    r = cli("import", "customers", str(_write(tmp_path / "b.csv", BAD)), "--dry-run")
    assert r.exit_code == 1 and r.stderr.count("line ") >= 3


def test_duplicates_within_file_and_against_database(setup, cli, tmp_path):
    setup.customers.add(name="老客户", email="Old@Example.com", external_id="D1")
    setup.customers.add(name="北京  华信", phone="010-8888 1234")
    f = _write(tmp_path / "c.csv", HEADER +
               "新客户,,new@a.cn,li,,N1,\n"                 # 2 new
               "新客户二,,NEW@A.CN,li,,,\n"                 # 3 e-mail of line 2
               "别名,,,li,,D1,\n"                           # 4 external id of customer 1
               "另一个,,old@example.COM,li,,,\n"            # 5 e-mail of customer 1
               "北京 华信,(010) 88881234,,li,,,\n"          # 6 name+phone of customer 2
               "同邮箱不同编号,,old@example.com,li,,N9,\n")  # 7 other external id: new
    r = cli("import", "customers", str(f))
    assert r.exit_code == 0, r
    lines = r.stderr.splitlines()
    assert lines[:4] == [
        "line 3: duplicate of line 2 (e-mail 'NEW@A.CN'); skipped",
        "line 4: duplicate of customer 1 (external id 'D1'); skipped (use --update-existing "
        "to update it)",
        "line 5: duplicate of customer 1 (e-mail 'old@example.COM'); skipped (use "
        "--update-existing to update it)",
        "line 6: duplicate of customer 2 (name and phone '北京 华信 / (010) 88881234'); "
        "skipped (use --update-existing to update it)",
    ]
    # 6 rows: 2 new (lines 2 and 7), 4 duplicates
    assert "6 rows read, 2 imported, 4 duplicates skipped" in r.stderr
    assert _names(setup) == ["老客户", "北京  华信", "新客户", "同邮箱不同编号"]


def test_update_existing_updates_through_the_service(setup, cli, tmp_path):
    c = setup.customers.add(name="老客户", phone="1", external_id="U1", tags=["a"])
    cursor = setup.changes()[-1]["cursor"]
    f = _write(tmp_path / "c.csv", HEADER + "老客户,021-999,u1@a.cn,li,b,U1,\n")
    r = cli("import", "customers", str(f), "--update-existing")
    assert r.exit_code == 0, r
    assert "1 rows read, 0 imported, 1 updated" in r.stderr
    got = setup.customers.get(c.id)
    assert (got.phone, got.email, got.owner, got.tags) == ("021-999", "u1@a.cn", "li", ("b",))
    [ch] = setup.changes(since=cursor)
    assert (ch["table"], ch["op"], ch["id"]) == ("customer", "update", c.id)
    assert _count(setup) == 1


def test_rerun_creates_no_duplicates(setup, cli, tmp_path):
    f = _write(tmp_path / "c.csv", HEADER + "甲,1,a@a.cn,li,,,\n乙,2,,li,,B2,\n丙,3,,li,,,\n")
    assert cli("import", "customers", str(f)).exit_code == 0
    r = cli("import", "customers", str(f))
    assert r.exit_code == 0 and "3 rows read, 0 imported, 3 duplicates skipped" in r.stderr
    assert _names(setup) == ["甲", "乙", "丙"]


def _strict_plugin() -> types.ModuleType:
    m = types.ModuleType("strict_names")
    m.PLUGIN = crmkit.PluginSpec(name="strict_names")
    m.created = []

    def validate(customer):
        return [f"name '{customer.name}' looks like a test record"] if "测试" in \
            customer.name else []

    def created(customer):
        m.created.append(customer.name)

    m.crm_customer_validate = crmkit.hookimpl(validate)
    m.crm_customer_created = crmkit.hookimpl(created)
    return m


def test_validate_hooks_of_plugins_reject_rows_in_the_report(crm_factory, tmp_path):
    from crmkit_csv import import_file

    plugin = _strict_plugin()
    crm = crm_factory(enable=("csv",), plugins=[plugin])
    crm.plugins.enable("strict_names")
    f = _write(tmp_path / "c.csv", "name,phone\n真客户,1\n测试客户,2\n")
    report = import_file(crm, "customers", f, batch_size=100)
    assert [str(e) for e in report.errors] == [
        "line 3, column 'name', value '测试客户': name '测试客户' looks like a test record"]
    assert report.written is False and crm.customers.list() == []
    plugin.created.clear()  # hooks ran inside the transaction that was rolled back
    report = import_file(crm, "customers", f, skip_invalid=True)
    assert report.written and report.imported == 1
    assert plugin.created == ["真客户"]  # created hook fired once, for the written row


def test_sales_user_imports_as_owner(setup, cli, tmp_path):
    f = _write(tmp_path / "c.csv", "name\n李的客户\n")
    assert cli("import", "customers", str(f), user="li").exit_code == 0
    [c] = setup.customers.list()
    assert c.owner == "li"


def test_plugin_must_be_enabled(crm, cli, tmp_path):
    f = _write(tmp_path / "c.csv", "name\nx\n")
    r = cli("import", "customers", str(f))
    assert r.exit_code == 1 and "crmkit plugins enable csv" in r.stderr


@pytest.mark.parametrize("slots", [None, 1 << 10], ids=["in memory", "moved to disk"])
def test_the_key_store_finds_every_key_it_holds_and_only_those(slots):
    """The duplicate-key store (issue 17) finds every key it holds and no other: in its
    table in memory, and after outgrowing a small one, on disk behind the bit filter.
    Negative and extreme hashes, keys sharing a slot of both (probed past; on disk the
    filter's bit is set and the table answers), the first of two equal keys winning, a
    removed key gone and taken back when added again."""
    import random

    from crmkit_csv.dedup import _BITS, KeyStore

    rnd = random.Random(7)
    keys = list({rnd.getrandbits(64) - 2**63 for _ in range(5000)} |
                {0, -2, 2**63 - 1, -(2**63)} - {-1})
    store = KeyStore() if slots is None else KeyStore(slots)
    try:
        store.add([(h, i + 1, i % 2 == 0) for i, h in enumerate(keys)])
        assert store.on_disk() is (slots is not None)
        want = {h: (i + 1, i % 2 == 0) for i, h in enumerate(keys)}
        assert store.lookup(keys) == want
        # the same low bits as a stored key (one slot in memory, one filter bit on disk)
        held = set(keys)
        twins = [t for t in (h + _BITS if h + _BITS < 2**63 else h - _BITS
                             for h in keys[:200]) if t not in held]
        assert len(twins) > 150 and store.lookup(twins) == {}
        fresh = [h for h in (rnd.getrandbits(64) - 2**63 for _ in range(2000))
                 if h not in held]
        assert store.lookup(fresh) == {}
        store.add([(keys[1], 999, True)])  # the first one stored wins
        assert store.lookup([keys[1]]) == {keys[1]: want[keys[1]]}
        store.remove([keys[0]], 999)  # only the source that stored a key removes it
        store.remove([keys[1]], 2)
        assert store.lookup([keys[0], keys[1]]) == {keys[0]: want[keys[0]]}
        store.add([(keys[1], -7, False)])  # a removed key is taken by the next source
        assert store.lookup(keys[:2]) == {keys[0]: want[keys[0]], keys[1]: (-7, False)}
        # keys stored after a removal, probing past the removed slot, are found
        store.add([(t, 5, False) for t in twins[:50]])
        assert store.lookup(twins[:50]) == {t: (5, False) for t in twins[:50]}
    finally:
        store.close()


@pytest.mark.parametrize("slots", [1 << 8, 1 << 17])  # one slice of slots moved, two
def test_the_key_store_moves_to_disk_as_it_fills_without_losing_a_key(slots):
    """Past three quarters of its slots, the store moves its keys to disk in the middle
    of an add: keys removed before are not carried over, the rest are all found."""
    from crmkit_csv.dedup import KeyStore

    room = slots * 3 // 4
    first, total = room * 3 // 4, room * 2
    store = KeyStore(slots)
    try:
        store.add([(h, h, h % 3 == 0) for h in range(1, first + 1)])
        store.remove(range(1, 11), 1)  # only key 1 was stored by source 1
        assert not store.on_disk()
        store.add([(h, h, False) for h in range(first + 1, total + 1)])
        assert store.on_disk()
        got = store.lookup(range(0, total + 2))
        assert got == {h: (h, h <= first and h % 3 == 0) for h in range(2, total + 1)}
    finally:
        store.close()


@pytest.mark.parametrize("slots", [None, 1 << 9], ids=["in memory", "moves to disk"])
def test_the_key_store_claims_rows_as_one_by_one_look_ups_would(slots):
    """``KeyStore.claim`` (one probe a key in memory) gives, row after row, what a
    look-up against every earlier row would: the first key another source holds, an
    e-mail or name match between two sources that both have an external id being none,
    and only rows without a match storing their keys (a key's first holder keeps it).
    Random rows over few values, so that matches within a batch, across batches, the
    external-id rule and removed keys all occur; with a small table it moves to disk
    in the middle of a batch."""
    import random

    from crmkit_csv.dedup import KeyStore, customer_keys

    rnd = random.Random(11)
    held: dict[int, tuple[int, bool]] = {}  # the model: hash -> (source, has ext id)
    store = KeyStore() if slots is None else KeyStore(slots)
    line, seen, skipped = 0, set(), 0
    try:
        for _batch in range(12):
            rows, want = [], []
            for _ in range(60):
                line += 1
                ext = rnd.choice([None, None, *(f"X{k}" for k in range(300))])
                keys = customer_keys(ext, rnd.choice([None, *(f"e{k}@a.cn" for k in range(400))]),
                                     f"Name {rnd.randrange(600)}", None)
                x = ext is not None
                hit = None
                for h, code in keys:
                    if h in held:
                        src, other_x = held[h]
                        if not (code != "x" and x and other_x):
                            hit = (src, code)
                            break
                        skipped += 1
                if hit is None:
                    for h, _ in keys:
                        held.setdefault(h, (line, x))
                rows.append((keys, line, x))
                want.append(hit)
            assert store.claim(rows) == want
            gone = rnd.choice([r for r, w in zip(rows, want, strict=True) if w is None])
            seen.update(w[1] for w in want if w is not None)
            store.remove([h for h, _ in gone[0]], gone[1])  # a row found invalid later
            for h, _ in gone[0]:
                if held.get(h, (None,))[0] == gone[1]:
                    del held[h]
        assert seen == {"x", "e", "n"}  # matches by each kind of key occurred
        assert skipped > 0  # and e-mail or name matches that the external ids overrule
        assert store.on_disk() is (slots is not None)
    finally:
        store.close()


def test_the_key_store_starts_at_the_size_it_is_told_and_doubles_as_it_fills():
    """A small import takes a small table (``expect``), which doubles as keys come,
    the removed ones left behind, every other key found after each doubling; at the
    bound (``slots``) the keys move to disk."""
    from crmkit_csv.dedup import KeyStore

    store = KeyStore(1 << 14, expect=100)
    try:
        assert store._mask + 1 == 1 << 10  # the smallest table: 768 keys
        store.add([(h, h, h % 2 == 0) for h in range(1, 101)])
        store.remove([5, 6], 5)
        store.claim([([(h, "e")], h, False) for h in range(101, 3001)])
        assert store._mask + 1 == 1 << 12 and not store.on_disk()  # 3,072 keys
        want = {h: (h, h <= 100 and h % 2 == 0) for h in range(1, 3001) if h != 5}
        assert store.lookup(range(0, 3002)) == want
        store.add([(h, h, False) for h in range(3001, 13001)])
        assert store.on_disk()
        assert store.lookup(range(0, 13002)) == want | {h: (h, False)
                                                         for h in range(3001, 13001)}
    finally:
        store.close()
