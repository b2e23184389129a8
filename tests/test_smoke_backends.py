def test_add_and_read_back_chinese_name(crm):
    c = crm.customers.add(name="上海大众", tags=["vip"])
    assert crm.customers.get(c.id).name == "上海大众"
    assert crm.customers.get(c.id).tags == ("vip",)


def test_cli_add_prints_id(cli):
    assert cli("init").exit_code == 0
    r = cli("customer", "add", "北京华信")
    assert r.exit_code == 0, r
    assert r.stdout.strip() == "1"
