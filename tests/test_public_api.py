"""The public API plugins are written against: plugin APIs refuse tenants that have not
enabled them, and messages from Python name the Python way."""

from __future__ import annotations

import datetime as dt

import pytest

import crmkit

DAY = dt.date(2026, 11, 22)


def _calls(tmp_path):
    """(plugin, what, call) for every first-party plugin's public API entry point."""
    from crmkit_csv import export_file, import_file
    from crmkit_grading import grades, run
    from crmkit_receivables import api
    from crmkit_sales import reports, service
    from crmkit_webhooks.endpoints import Webhooks

    src = tmp_path / "in.csv"
    src.write_text("name\nAcme\n", encoding="utf-8")
    return [
        ("receivables", "api.aging", lambda crm: api.aging(crm, DAY)),
        ("receivables", "api.open_items", lambda crm: api.open_items(crm, DAY)),
        ("grading", "grades", lambda crm: grades(crm, DAY)),
        ("grading", "run", lambda crm: run(crm, DAY)),
        ("sales", "service.list_opportunities", lambda crm: service.list_opportunities(crm)),
        ("sales", "reports.forecast", lambda crm: reports.forecast(crm)),
        ("sales", "reports.funnel", lambda crm: reports.funnel(crm)),
        ("csv", "import_file", lambda crm: import_file(crm, "customers", src, dry_run=True)),
        ("csv", "export_file", lambda crm: export_file(crm, "customers",
                                                        tmp_path / "out.csv")),
        ("webhooks", "Webhooks.list", lambda crm: Webhooks(crm).list()),
    ]


def test_plugin_apis_refuse_a_tenant_that_has_not_enabled_them(crm, tmp_path):
    # the defect: receivables' aging answered for a tenant that never enabled it
    for plugin, what, call in _calls(tmp_path):
        with pytest.raises(crmkit.PluginNotEnabled) as info:
            call(crm)
        assert (info.value.plugin, info.value.tenant) == (plugin, "default"), what
        assert str(info.value) == (
            f"plugin '{plugin}' is not enabled for tenant 'default'; enable it with "
            f"crm.plugins.enable('{plugin}') or `crmkit plugins enable {plugin}`"), what
        assert isinstance(info.value, crmkit.CrmError)
    assert not (tmp_path / "out.csv").exists()
    crm.plugins.enable("receivables", "grading", "sales", "csv", "webhooks")
    for _plugin, _what, call in _calls(tmp_path):
        call(crm)  # answers now
    assert crmkit.PluginNotEnabled.__module__ == "crmkit.errors"
    assert "PluginNotEnabled" in crmkit.__all__


def test_require_is_per_tenant(crm):
    from crmkit_receivables import api

    crm.tenants.add("acme", name="Acme")
    crm.plugins.enable("receivables")
    assert api.aging(crm, DAY)["rows"] == []
    acme = crm.using(tenant="acme")
    with pytest.raises(crmkit.PluginNotEnabled, match="tenant 'acme'"):
        api.aging(acme, DAY)
    with acme.unit(write=False) as ctx:
        acme.plugins.require(ctx, "tasks")  # built-in plugins are always enabled
        with pytest.raises(crmkit.PluginNotEnabled, match="'nonexistent'"):
            acme.plugins.require(ctx, "nonexistent")


def test_a_plugin_command_says_the_command_line_way(cli, crm):
    r = cli("grading", "show")
    assert r.exit_code == 1
    assert r.stderr == ("Error: plugin 'grading' is not enabled for tenant 'default'; "
                        "enable it with `crmkit plugins enable grading`\n")


def test_unknown_tenant_from_python_names_the_python_way(crm):
    acme = crm.using(tenant="acme")
    with pytest.raises(crmkit.NotFound) as info:
        acme.customers.list()
    # the defect: "add it with `crmkit tenant add acme`", a CLI hint raised from Python
    assert str(info.value) == "tenant 'acme' not found; add it with crm.tenants.add('acme')"


def test_unknown_tenant_on_the_command_line_names_the_command(cli, crm):
    r = cli("customer", "list", tenant="acme")
    assert r.exit_code == 1
    assert r.stderr == "Error: tenant 'acme' not found; add it with `crmkit tenant add acme`\n"


GOOD = '''
import crmkit

PLUGIN = crmkit.PluginSpec(name="zztypo", description="Says hello to new customers.")


@crmkit.hookimpl
def crm_customer_created(ctx, {arg}):
    pass
'''


def test_an_enabled_plugin_that_fails_to_load_is_named_on_every_command(cli, crm, tmp_path,
                                                                        monkeypatch):
    """A misspelled hook argument (pluggy's PluginValidationError) kept the plugin's hooks
    from running, and `customer add` said nothing. Now every command warns, and works."""
    import sys

    pkg = tmp_path / "crmkit_zztypo"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(GOOD.format(arg="customer"), encoding="utf-8")
    info = tmp_path / "crmkit_zztypo-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crmkit-zztypo\n"
                                   "Version: 0.1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[crmkit.plugins]\nzztypo = crmkit_zztypo\n",
                                           encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cli("plugins", "enable", "zztypo").exit_code == 0
    assert cli("customer", "add", "Acme").stderr == ""  # a working plugin: no warning
    # the next release of the plugin misspells the argument
    (pkg / "__init__.py").write_text(GOOD.format(arg="custmer"), encoding="utf-8")
    sys.modules.pop("crmkit_zztypo", None)
    added = cli("customer", "add", "Blue")
    assert added.exit_code == 0 and added.stdout == "2\n"
    assert added.stderr == (
        "Warning: plugin 'zztypo' is enabled but not loaded: PluginValidationError: "
        "Plugin 'zztypo' for hook 'crm_customer_created'; hookimpl definition: "
        "crm_customer_created(ctx, custmer); Argument(s) {'custmer'} are declared in the "
        "hookimpl but can not be found in the hookspec; see `crmkit plugins list`\n")
    listed = cli("customer", "list", "--json")
    assert "Warning: plugin 'zztypo'" in listed.stderr and len(listed.json) == 2
    crm.tenants.add("acme", name="Acme")  # a tenant that did not enable it hears nothing
    assert cli("customer", "list", tenant="acme").stderr == ""
    sys.modules.pop("crmkit_zztypo", None)


# --- the declared public API (docs/author/api.md) --------------------------------------

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
#: The modules a plugin may import besides ``crmkit`` itself, with the names it may take
#: from each (None: any public name).
PUBLIC_MODULES = {"crmkit.output": None, "crmkit.sql": None, "crmkit.i18n": None,
                  "crmkit.cli": {"get_crm"}, "crmkit.testing": None,
                  "crmkit.conformance": None, "crmkit.jobs": {"Job", "JobResult"},
                  "crmkit.settings": None, "crmkit.checks": None, "crmkit.batching": None,
                  "crmkit.report": {"Chart", "ReportSection", "ReportTable", "aside"}}


def _crmkit_uses(path):
    """(line, what) for every use of crmkit in a file that is not the public API."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    public = set(crmkit.__all__)
    bad = []

    def check(module, names, line):
        if module == "crmkit":
            bad.extend((line, f"crmkit.{n}") for n in names
                       if n not in public and f"crmkit.{n}" not in PUBLIC_MODULES)
        elif module.startswith("crmkit.") or module == "crmkit":
            allowed = PUBLIC_MODULES.get(module, set())
            if module not in PUBLIC_MODULES:
                bad.append((line, module))
            elif allowed is not None:
                bad.extend((line, f"{module}.{n}") for n in names if n not in allowed)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("crmkit.") and a.name not in PUBLIC_MODULES:
                    bad.append((node.lineno, a.name))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            check(node.module, [a.name for a in node.names], node.lineno)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id == "crmkit":
            if node.attr not in public and f"crmkit.{node.attr}" not in PUBLIC_MODULES:
                bad.append((node.lineno, f"crmkit.{node.attr}"))
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                and not node.attr.startswith("__"):
            chain = ast.unparse(node.value)
            if chain.split(".")[0] in ("crm", "ctx") and ("crm" in chain.split(".")):
                bad.append((node.lineno, f"{chain}.{node.attr} (private)"))
    return bad


def test_first_party_plugins_use_only_the_public_api():
    found = {f"{p.relative_to(ROOT)}:{line}": what
             for p in sorted((ROOT / "plugins").rglob("*.py"))
             for line, what in _crmkit_uses(p)}
    assert found == {}, "plugins use crmkit beyond its public API (docs/author/api.md)"


def test_the_import_check_sees_private_uses(tmp_path):
    src = tmp_path / "bad.py"
    src.write_text("import crmkit\nimport crmkit.storage\nfrom crmkit.storage import Str\n"
                   "from crmkit import Money, records\nfrom crmkit.cli import State, get_crm\n"
                   "from crmkit.output import table\nx = crmkit.storage.Str(3)\n"
                   "y = crmkit.Str(3)\n"
                   "def f(ctx):\n    return ctx.crm.customers._load(ctx, 1)\n",
                   encoding="utf-8")
    assert _crmkit_uses(src) == [
        (2, "crmkit.storage"), (3, "crmkit.storage"), (4, "crmkit.records"),
        (5, "crmkit.cli.State"), (7, "crmkit.storage"),
        (10, "ctx.crm.customers._load (private)")]


API_PAGE = ROOT / "docs" / "author" / "api.md"


def _kind(type_):
    """A column type in the words of docs/author/api.md."""
    import sqlalchemy as sa

    from crmkit import storage

    for cls, word in ((storage.Money, "money"), (storage.Quantity, "quantity"),
                      (storage.RateType, "rate"),
                      (storage.UTCDateTime, "instant"), (sa.JSON, "json"),
                      (sa.Text, "long text"), (sa.Boolean, "boolean"), (sa.Date, "date"),
                      (sa.Integer, "integer")):
        if isinstance(type_, cls):
            return word
    if isinstance(type_, sa.String):
        return f"text({type_.length})"
    return repr(type_)


def _declared():
    """{table: {column: (type, nullable)}} from the page's "core tables" section."""
    import re

    text = API_PAGE.read_text(encoding="utf-8").split("## The core tables", 1)[1]
    text = text.split("\n## ", 1)[0]
    out = {}
    for section in re.split(r"^### ", text, flags=re.MULTILINE)[1:]:
        table = section.split("\n", 1)[0].strip()
        out[table] = {m.group(1): (m.group(2).strip(), m.group(3) == "yes")
                      for m in re.finditer(r"^\| `(\w+)` \| ([^|]+) \| (yes|no) \|",
                                           section, re.MULTILINE)}
    return out


def test_the_declared_core_columns_are_the_ones_crmkit_has():
    from crmkit import storage

    declared = _declared()
    assert set(declared) == {"customers", "contacts", "activities", "documents",
                             "document_lines", "document_terms", "users", "outbox"}
    assert all(declared.values())
    text = API_PAGE.read_text(encoding="utf-8")
    assert f"**Schema version {crmkit.SCHEMA_VERSION}**" in text
    for prefix in ("crm_", "erp_crm_"):
        md = storage.build_metadata(prefix)
        actual = {t: {c.name: (_kind(c.type), bool(c.nullable))
                      for c in md.tables[prefix + t].c} for t in declared}
        changed = {f"{t}.{c}": (want, actual[t].get(c))
                   for t, cols in declared.items() for c, want in cols.items()
                   if actual[t].get(c) != want}
        # a listed column renamed, removed, or of another type or nullability: that is
        # a new SCHEMA_VERSION and a release note, then this page and this test
        assert changed == {}, f"core columns differ from docs/author/api.md: {changed}"


def test_the_schema_check_sees_a_changed_column(monkeypatch):
    import sqlalchemy as sa

    from crmkit import storage

    real = storage.build_metadata

    def changed(prefix="crm_"):
        md = real(prefix)
        old = md.tables[prefix + "customers"]
        md.remove(old)  # the same table, but owner is shorter
        sa.Table(prefix + "customers", md,
                 *[sa.Column(c.name, sa.String(50) if c.name == "owner" else c.type,
                             nullable=c.nullable) for c in old.c])
        return md

    monkeypatch.setattr(storage, "build_metadata", changed)
    shorter = r"'customers\.owner': \(\('text\(100\)', True\), \('text\(50\)', True\)\)"
    with pytest.raises(AssertionError, match=shorter):
        test_the_declared_core_columns_are_the_ones_crmkit_has()


def test_first_party_plugins_read_only_declared_core_tables():
    import re

    from crmkit import storage

    declared = set(_declared())
    core = set(storage.CORE_TABLES)
    found = {}
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        own = path.relative_to(ROOT / "plugins").parts[0].removeprefix("crmkit_")
        for name in re.findall(r"""\btable\(\s*["'](\w+)["']""", path.read_text("utf-8")):
            if name in core and name not in declared:
                found.setdefault(name, []).append(str(path.relative_to(ROOT)))
            elif name not in core and not name.startswith(f"{own}_"):
                found.setdefault(name, []).append(str(path.relative_to(ROOT)))
    assert found == {}, "plugins read tables that are not theirs nor declared public"
