"""The batch forms of the customer hooks, ``crm_customers_validate`` and
``crm_customers_created`` (issue 17): one call per batch for the plugins that implement
them, the per-record hooks still once per record for the plugins that implement only
those, never both for one plugin; a refusal by position leaves nothing written (also
through ``crmkit import``). Every test runs on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from typing import Any

import pytest
from crmkit_csv import import_file

import crmkit
from tests.test_hooks import counts


class Batch:
    """Implements only the batch forms; refuses customers whose name starts with "bad"."""

    def __init__(self, name: str = "batch"):
        self.PLUGIN = crmkit.PluginSpec(name=name)
        self.validated: list[list[str]] = []
        self.changes: list[list[dict[str, Any]]] = []
        self.created: list[list[tuple[int, str]]] = []

    @crmkit.hookimpl
    def crm_customers_validate(self, ctx: Any, customers: list, changes: list) -> Any:
        assert all(c.id is None for c in customers)
        self.validated.append([c.name for c in customers])
        self.changes.append(changes)
        return [(i, f"name '{c.name}' is refused") for i, c in enumerate(customers)
                if c.name.startswith("bad")]

    @crmkit.hookimpl
    def crm_customers_created(self, ctx: Any, customers: list) -> None:
        self.created.append([(c.id, c.name) for c in customers])


class PerRecord:
    """Implements only the per-record forms."""

    def __init__(self, name: str = "single"):
        self.PLUGIN = crmkit.PluginSpec(name=name)
        self.validated: list[str] = []
        self.created: list[int] = []

    @crmkit.hookimpl
    def crm_customer_validate(self, customer: Any, before: Any) -> list[str]:
        self.validated.append(customer.name if before is None else f"update {customer.name}")
        return []

    @crmkit.hookimpl
    def crm_customer_created(self, customer: Any) -> None:
        self.created.append(customer.id)


class Both(Batch, PerRecord):
    """Implements both forms of both hooks (the rule: the batch form for new customers,
    the per-record validate hook for updates)."""

    def __init__(self, name: str = "both"):
        Batch.__init__(self, name)
        self.single_validated: list[str] = []
        self.single_created: list[int] = []

    @crmkit.hookimpl
    def crm_customer_validate(self, customer: Any, before: Any) -> list[str]:
        self.single_validated.append(customer.name if before is None
                                     else f"update {customer.name}")
        return []

    @crmkit.hookimpl
    def crm_customer_created(self, customer: Any) -> None:
        self.single_created.append(customer.id)


def _names(n: int, bad: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    """Records 1..n named C1..Cn, those at the positions in ``bad`` named bad<i>."""
    return [{"name": f"bad{i}" if i in bad else f"C{i}"} for i in range(1, n + 1)]


def test_crm_customers_validate_sees_each_batch_in_one_call(crm_factory):
    batch, single = Batch(), PerRecord()
    crm = crm_factory(plugins=[batch, single], enable=["batch", "single"])
    assert crm.customers.add_many(_names(7), batch_size=5) == 7
    # two calls, of 5 and 2 records, against one call per record of the per-record plugin
    assert batch.validated == [["C1", "C2", "C3", "C4", "C5"], ["C6", "C7"]]
    assert batch.changes[1] == [{"name": "C6"}, {"name": "C7"}]
    assert single.validated == [f"C{i}" for i in range(1, 8)]
    ids = [c.id for c in crm.customers.list()]
    assert batch.created == [list(zip(ids[:5], [f"C{i}" for i in range(1, 6)], strict=True)),
                             [(ids[5], "C6"), (ids[6], "C7")]]
    assert single.created == ids
    # an audit row per record, whichever form the plugins implement
    assert [ch["id"] for ch in crm.changes() if ch["table"] == "customer"] == ids


def test_crm_customers_validate_refuses_by_position_and_nothing_is_written(crm_factory):
    batch = Batch()
    crm = crm_factory(plugins=[batch], enable=["batch"])
    kept = crm.customers.add(name="kept")
    before = counts(crm)
    batch.validated.clear()
    # record 2 fails the core's own check, so the plugin sees records 1, 3, 4, 5 of the
    # first batch and refuses its third: record 4 (the position in add_many's input);
    # the refused first batch ends the call, the second is never asked about
    records = _names(7, bad=(4, 7))
    records[1]["email"] = "nope"
    with pytest.raises(crmkit.ValidationError) as err:
        crm.customers.add_many(records, batch_size=5)
    assert err.value.errors == ["record 2: invalid e-mail address 'nope'",
                                "record 4: name 'bad4' is refused"]
    assert batch.validated == [["C1", "C3", "bad4", "C5"]]  # the first batch stops it
    assert counts(crm) == before
    with pytest.raises(crmkit.ValidationError) as err:
        crm.customers.add_many(_names(7, bad=(7,)), batch_size=5)
    assert err.value.errors == ["record 7: name 'bad7' is refused"]
    # the first batch was written and announced inside the transaction, then rolled back
    # with everything else when the second was refused
    assert counts(crm) == before
    assert [len(call) for call in batch.created] == [1, 5] and batch.created[0] == [
        (kept.id, "kept")]
    # the single paths ask the batch hook with a list of one
    with pytest.raises(crmkit.ValidationError, match="name 'bad' is refused"):
        crm.customers.add(name="bad")
    assert crm.customers.check(name="bad") == ["name 'bad' is refused"]
    assert counts(crm) == before


def test_a_per_record_plugin_still_gets_each_record_on_every_insert_path(crm_factory):
    single = PerRecord()
    crm = crm_factory(plugins=[single], enable=["single"])
    a = crm.customers.add(name="A")
    crm.customers.add_many(_names(3), batch_size=2)
    b, created = crm.customers.upsert("ERP-1", name="B")
    assert created
    assert single.validated == ["A", "C1", "C2", "C3", "B"]
    assert single.created == [a.id, a.id + 1, a.id + 2, a.id + 3, b.id]


def test_a_plugin_with_both_forms_is_called_once_per_record_in_the_batch_form(crm_factory):
    both = Both()
    crm = crm_factory(plugins=[both], enable=["both"])
    a = crm.customers.add(name="A")
    crm.customers.add_many(_names(3))
    assert both.validated == [["A"], ["C1", "C2", "C3"]]
    assert [[n for _i, n in call] for call in both.created] == [["A"], ["C1", "C2", "C3"]]
    assert both.single_validated == [] and both.single_created == []
    # an update has no batch form: the per-record validate hook is asked
    crm.customers.update(a.id, name="A2")
    assert both.single_validated == ["update A2"]


def test_the_rule_is_per_plugin_when_plugins_mix_forms(crm_factory):
    both, single = Both(), PerRecord()
    crm = crm_factory(plugins=[both, single], enable=["both", "single"])
    crm.customers.add_many(_names(2))
    assert both.validated == [["C1", "C2"]] and both.single_validated == []
    assert single.validated == ["C1", "C2"] and len(single.created) == 2


class BadPosition:
    PLUGIN = crmkit.PluginSpec(name="badpos")

    @crmkit.hookimpl
    def crm_customers_validate(self, customers: list) -> Any:
        return [(len(customers), "out of the batch")]


def test_a_position_outside_the_batch_is_the_plugins_error(crm_factory):
    crm = crm_factory(plugins=[BadPosition()], enable=["badpos"])
    before = counts(crm)
    with pytest.raises(crmkit.PluginError) as err:
        crm.customers.add_many(_names(2))
    assert err.value.plugin == "badpos" and err.value.hook == "crm_customers_validate"
    assert "a position from 0 to 1" in str(err.value)
    assert counts(crm) == before


def test_bulk_audit_image_is_to_dict(crm_factory):
    """The audit row of each customer add_many writes holds what ``crmkit.to_dict``
    gives the stored record (the SQLite path writes that JSON itself)."""
    crm = crm_factory()
    crm.users.add("li")
    n = crm.customers.add_many([
        {"name": '上海 "大众"\t\\ 汽车', "owner": "li", "email": "a@dz.cn", "phone": "021-1",
         "address": "浦东\n1号", "tags": ["vip", "华东"], "external_id": "E-1",
         "extra": {"erp": {"code": "Z-1", "n": 3, "ok": True, "x": None}}, "kind": "person",
         "status": "active"},
        {"name": "B"}])
    assert n == 2
    images = {ch["id"]: ch["after"] for ch in crm.changes() if ch["table"] == "customer"}
    stored = crm.customers.list()
    assert [images[c.id] for c in stored] == [crmkit.to_dict(c) for c in stored]
    assert images[stored[1].id]["tags"] == [] and images[stored[1].id]["extra"] == {}


class Tagger:
    """Tags each new customer from its created hook, through the API (an update)."""

    PLUGIN = crmkit.PluginSpec(name="tagger")

    @crmkit.hookimpl
    def crm_customer_created(self, ctx: Any, customer: Any) -> None:
        ctx.crm.customers.update(customer.id, tags=[*customer.tags, "new"])


@pytest.mark.parametrize("how", ["add", "add_many"])
def test_the_insert_is_audited_before_what_a_created_hook_writes(crm_factory, how):
    """The history of a customer a created hook changes reads insert, then update, and
    the insert's image is the record as inserted, not as the hook left it: the audit
    row is written before the created hooks run, by ``add`` and by ``add_many``."""
    crm = crm_factory(plugins=[Tagger()], enable=["tagger"])
    if how == "add":
        crm.customers.add(name="甲", tags=["vip"])
    else:
        crm.customers.add_many([{"name": "甲", "tags": ["vip"]}, {"name": "乙"}])
    first = crm.customers.list()[0]
    assert first.tags == ("vip", "new")
    history = [(ch["op"], ch["after"]["tags"]) for ch in crm.changes()
               if ch["table"] == "customer" and ch["id"] == first.id]
    assert history == [("insert", ["vip"]), ("update", ["vip", "new"])]


class Marker:
    """Tags each updated customer ``seen`` from its updated hook, through the API."""

    PLUGIN = crmkit.PluginSpec(name="marker")

    @crmkit.hookimpl
    def crm_customer_updated(self, ctx: Any, customer: Any) -> None:
        if "seen" not in customer.tags:
            ctx.crm.customers.update(customer.id, tags=[*customer.tags, "seen"])


@pytest.mark.parametrize("how", ["update", "update_many"])
def test_an_update_is_audited_before_what_an_updated_hook_writes(crm_factory, how):
    """As for inserts: the history of a customer an updated hook changes again reads the
    update first, then the hook's, each image as that change left the record."""
    crm = crm_factory(plugins=[Marker()], enable=["marker"])
    c = crm.customers.add(name="甲")
    if how == "update":
        crm.customers.update(c.id, tags=["vip"])
    else:
        crm.customers.update_many([(c.id, {"tags": ["vip"]})])
    assert crm.customers.get(c.id).tags == ("vip", "seen")
    history = [(ch["op"], ch["after"]["tags"]) for ch in crm.changes()
               if ch["table"] == "customer" and ch["id"] == c.id]
    assert history == [("insert", []), ("update", ["vip"]), ("update", ["vip", "seen"])]


def _batch_plugin_installed(tmp_path, monkeypatch) -> None:
    """A plugin with only ``crm_customers_validate`` as an installed distribution, so that
    the command line discovers it (refuses customers named bad...)."""
    src = tmp_path / "src"
    pkg = src / "crmkit_zzbatch"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        "import crmkit\n"
        "PLUGIN = crmkit.PluginSpec(name='zzbatch')\n\n\n"
        "@crmkit.hookimpl\n"
        "def crm_customers_validate(customers):\n"
        "    return [(i, 'zzbatch refuses the name') for i, c in enumerate(customers)\n"
        "            if c.name.startswith('bad')]\n", encoding="utf-8")
    info = src / "crmkit_zzbatch-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crmkit-zzbatch\n"
                                   "Version: 0.1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[crmkit.plugins]\nzzbatch = crmkit_zzbatch\n",
                                           encoding="utf-8")
    monkeypatch.syspath_prepend(str(src))


def test_crmkit_import_refused_by_a_batch_hook_exits_1_and_writes_nothing(
        cli, tmp_path, monkeypatch):
    _batch_plugin_installed(tmp_path, monkeypatch)
    assert cli("init").exit_code == 0
    assert cli("plugins", "enable", "csv", "zzbatch").exit_code == 0
    f = tmp_path / "c.csv"
    f.write_text("客户名称,邮箱\nA,a@x.cn\nbad one,b@x.cn\nC,c@x.cn\n", encoding="utf-8")
    before = cli("changes", "--json").json
    res = cli("import", "customers", str(f))
    assert res.exit_code == 1, res
    assert "line 3" in res.stderr and "zzbatch refuses the name" in res.stderr
    assert "bad one" in res.stderr  # the value of the refused row
    assert cli("customer", "list", "--json").json == []
    assert cli("changes", "--json").json == before
    f.write_text("客户名称,邮箱\nA,a@x.cn\nC,c@x.cn\n", encoding="utf-8")
    assert cli("import", "customers", str(f)).exit_code == 0
    assert [c["name"] for c in cli("customer", "list", "--json").json] == ["A", "C"]


def test_import_file_reports_the_row_a_batch_hook_refuses(crm_factory, tmp_path):
    batch = Batch()
    crm = crm_factory(plugins=[batch], enable=["csv", "batch"])
    f = tmp_path / "c.csv"
    f.write_text("客户名称\nA\nbad2\nC\n", encoding="utf-8")
    report = import_file(crm, "customers", f)
    assert (report.imported, report.invalid, report.written) == (2, 1, False)
    assert [str(e) for e in report.errors] == [
        "line 3, column '客户名称', value 'bad2': name 'bad2' is refused"]
    assert crm.customers.list() == []
