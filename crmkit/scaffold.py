"""``crmkit plugins new NAME``: a new plugin as its own distribution, tests passing.

``NAME`` is written the way Python distributions are (``acme-loyalty``, like
``pytest-xdist``); it gives three names::

    distribution  crmkit-acme-loyalty     (pip install crmkit-acme-loyalty)
    package       crmkit_acme_loyalty     (import crmkit_acme_loyalty)
    plugin        acme_loyalty            (crmkit plugins enable acme_loyalty)

The layout::

    crmkit-acme-loyalty/
        pyproject.toml       entry point acme_loyalty = "crmkit_acme_loyalty"; the package,
                             its migrations and translations go into the wheel
        README.md            install, enable, test, and how to add the next migration
        crmkit_acme_loyalty/__init__.py
                             PLUGIN, a settings class and one hookimpl (a reminder)
        crmkit_acme_loyalty/migrations/versions/acme_loyalty_0001_initial.py
                             the first Alembic revision of the plugin's branch
        tests/test_acme_loyalty.py
                             crmkit.testing fixtures and the conformance kit
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from attrs import frozen

from .errors import ValidationError
from .i18n import _
from .migrations.authoring import CORE_BASE, revision_text

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
MAX_LEN = 40
#: Plugin commands hang under the plugin's name: these are taken by the core.
TAKEN = ("activity", "audit", "changes", "contact", "customer", "db", "demo", "doc",
         "hooks", "init", "plugins", "reminders", "tenant", "user")


@frozen
class Names:
    """The three names of a new plugin."""

    plugin: str        # acme_loyalty
    package: str       # crmkit_acme_loyalty
    distribution: str  # crmkit-acme-loyalty


def names(name: str) -> Names:
    """The names for ``name`` (``acme-loyalty``, ``acme_loyalty`` or
    ``crmkit-acme-loyalty``), or a ValidationError naming it."""
    raw = name if isinstance(name, str) else ""
    base = re.sub(r"^crmkit[-_]", "", raw)
    plugin = base.replace("-", "_")
    if (not NAME_RE.match(base) or len(base) > MAX_LEN or keyword.iskeyword(plugin)
            or plugin in TAKEN):
        shown = raw if len(raw) <= 80 else raw[:79] + "…"
        if plugin in TAKEN:
            raise ValidationError(_("invalid plugin name '{name}': `crmkit {name}` is a "
                                    "crmkit command; choose another").format(name=shown))
        raise ValidationError(_(
            "invalid plugin name '{name}'; use lowercase letters and digits, words joined "
            "by - or _, starting with a letter, at most {max} characters (e.g. "
            "acme-loyalty)").format(name=shown, max=MAX_LEN))
    return Names(plugin=plugin, package=f"crmkit_{plugin}",
                 distribution=f"crmkit-{plugin.replace('_', '-')}")


def check_name(name: str) -> str:
    """The plugin name for ``name`` (see :func:`names`)."""
    return names(name).plugin


PYPROJECT = '''\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{distribution}"
version = "0.1.0"
description = "A crmkit plugin: {plugin}."
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["crmkit>=0.1"]

[project.optional-dependencies]
dev = ["pytest>=8"]

[project.entry-points."crmkit.plugins"]
{plugin} = "{package}"

# the package with everything below it: migrations/versions (revisions are modules of
# a namespace package) and the translations in locale/
[tool.setuptools.packages.find]
include = ["{package}*"]

[tool.setuptools.package-data]
{package} = ["locale/*/LC_MESSAGES/*.mo"]

[tool.pytest.ini_options]
testpaths = ["tests"]
'''

README = '''\
# {distribution}

A crmkit plugin. It reminds task owners of open tasks due in the
next `lead_days` days (default 1), so that nothing falls due by surprise.

```
pip install -e .                      # registers the entry point "{plugin}"
crmkit init                           # or crmkit db upgrade: applies its migrations
crmkit plugins enable {plugin}
crmkit plugins set {plugin} lead_days 3
crmkit reminders
```

## Tests

Every test runs on SQLite; on PostgreSQL and MariaDB too when they are reachable (see
`CRMKIT_TEST_DATABASES`):

```
CRMKIT_TEST_DATABASES=sqlite python -m pytest -q
```

`test_plugin_conforms` runs crmkit's conformance kit: hook names and arguments, the
settings, the tables against the migrations, and that every hook the plugin implements
has a test named after it (`test_crm_reminders_...`). `crmkit plugins check {plugin}
--tests tests` says the same from the command line.

## Migrations

The plugin's tables are created and changed by Alembic revisions in
`{package}/migrations/versions/`, a branch of its own named `{plugin}`;
`{plugin}_0001_initial.py` starts it. To add the next one, change the tables in
`crm_tables`, then, on a database upgraded to the current revisions:

```
crmkit db upgrade
crmkit db revision --plugin {plugin} -m "what changed"
crmkit db upgrade
```

`db revision` compares the plugin's tables with the database and writes
`{plugin}_0002_what_changed.py` (read it: it is yours to adjust). Write table names as
`p + "..."` with `p = op.get_context().opts["crmkit_prefix"]`, as the generated ones do,
so that a host application's prefix works too. The wheel ships the revisions, so
`crmkit db upgrade` applies them wherever the plugin is installed.
'''

PLUGIN_PY = '''\
"""crmkit plugin '{plugin}': reminds owners of open tasks due in the next few days."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from sqlalchemy import select

import crmkit
from crmkit.i18n import Domain

_ = Domain("{package}").gettext  # the plugin's translations: {package}/locale/


def _not_negative(instance: Any, attribute: Any, value: int) -> None:
    if value < 0:
        raise ValueError(_("{{name}} must be 0 or more, not {{value}}").format(
            name=attribute.name, value=value))


@attrs.frozen
class Settings:
    """Settings of {plugin}; change them with `crmkit plugins set {plugin} KEY VALUE`."""

    lead_days: int = attrs.field(default=1, validator=_not_negative)


PLUGIN = crmkit.PluginSpec(
    name="{plugin}",
    version="0.1.0",
    description="Reminds owners of open tasks due in the next lead_days days.",
    settings=Settings,
)


@crmkit.hookimpl
def crm_reminders(ctx: Any, on: dt.date) -> list[crmkit.Reminder]:
    """Open tasks due after ``on`` and at most ``lead_days`` days later."""
    lead_days = ctx.settings("{plugin}").lead_days
    a, c = ctx.crm.table("activities"), ctx.crm.table("customers")
    rows = ctx.conn.execute(
        select(a.c.id, a.c.subject, a.c.owner, a.c.due_on, a.c.customer_id,
               c.c.name.label("customer"))
        .join(c, c.c.id == a.c.customer_id)
        .where(a.c.tenant_id == ctx.tenant.id, a.c.kind == "task", a.c.done_at.is_(None),
               a.c.due_on > on, a.c.due_on <= on + dt.timedelta(days=lead_days),
               c.c.id.in_(ctx.crm.customers.visible_ids(ctx)))
        .order_by(a.c.due_on, a.c.id)
    )
    return [
        crmkit.Reminder(key=f"{plugin}:{{r.id}}:{{r.due_on}}", plugin="{plugin}",
                        kind="task_soon",
                        subject=_("due soon: {{subject}}").format(subject=r.subject),
                        customer_id=r.customer_id, customer=r.customer, owner=r.owner,
                        due_on=r.due_on)
        for r in rows
    ]
'''

TEST_PY = '''\
"""Tests of {distribution}. The fixtures (crm_factory, today, cli, reminder_recorder) come
from crmkit.testing, a pytest plugin installed with crmkit; today is 2026-11-22."""

import datetime as dt
from pathlib import Path

import {package}
from crmkit.testing import assert_conformant


def test_plugin_conforms():
    # tests=: also check that every hook the plugin implements has a test named after it
    assert_conformant({package}, tests=Path(__file__).parent)


def test_crm_reminders_for_a_task_due_tomorrow_only(crm_factory, today):
    crm = crm_factory(enable=("{plugin}",))
    c = crm.customers.add(name="Acme", owner="admin")
    crm.activities.add(c.id, kind="task", subject="send quote", due_on=today + dt.timedelta(days=1))
    crm.activities.add(c.id, kind="task", subject="call back", due_on=today + dt.timedelta(days=3))
    mine = [r for r in crm.reminders.due() if r.plugin == "{plugin}"]
    # lead_days is 1: 2026-11-23 is within reach, 2026-11-25 is not
    assert [(r.subject, r.due_on) for r in mine] == [
        ("due soon: send quote", dt.date(2026, 11, 23))
    ]


def test_crm_reminders_follow_the_lead_days_setting(crm_factory, today):
    crm = crm_factory(enable=("{plugin}",))
    c = crm.customers.add(name="Acme", owner="admin")
    crm.activities.add(c.id, kind="task", subject="call back", due_on=today + dt.timedelta(days=3))
    crm.plugins.set("{plugin}", "lead_days", 3)
    mine = [r.subject for r in crm.reminders.due() if r.plugin == "{plugin}"]
    assert mine == ["due soon: call back"]  # 2026-11-25 is within 3 days of 2026-11-22


def test_crm_reminders_are_delivered_once(crm_factory, today, reminder_recorder):
    crm = crm_factory(enable=("{plugin}", "recorder"), plugins=[reminder_recorder])
    c = crm.customers.add(name="Acme", owner="admin")
    crm.activities.add(c.id, kind="task", subject="send quote", due_on=today + dt.timedelta(days=1))
    crm.reminders.send()
    crm.reminders.send()
    assert [r.subject for r in reminder_recorder.delivered if r.plugin == "{plugin}"] == [
        "due soon: send quote"
    ]


def test_negative_lead_days_is_refused(cli):
    cli("init")
    assert cli("plugins", "enable", "{plugin}").exit_code == 0
    result = cli("plugins", "set", "{plugin}", "lead_days", "--", "-2")  # -- : "-2" is no option
    assert result.exit_code == 1
    assert "lead_days" in result.stderr
'''


def files(name: str) -> dict[str, str]:
    """Relative path -> content of the new distribution."""
    n = names(name)
    fmt = {"plugin": n.plugin, "package": n.package, "distribution": n.distribution}
    first = revision_text(
        rev=f"{n.plugin}_0001", message=f"{n.plugin}: start of the branch (no tables yet)",
        labels=(n.plugin,), depends=CORE_BASE)
    return {
        "pyproject.toml": PYPROJECT.format(**fmt),
        "README.md": README.format(**fmt),
        f"{n.package}/__init__.py": PLUGIN_PY.format(**fmt),
        f"{n.package}/migrations/versions/{n.plugin}_0001_initial.py": first,
        f"tests/test_{n.plugin}.py": TEST_PY.format(**fmt),
    }


def write(name: str, directory: str | Path | None = None) -> tuple[Path, list[Path]]:
    """Write the distribution into ``directory`` (default ``./crmkit-NAME``), which must
    be missing or empty. Returns (directory, files written)."""
    content = files(name)
    root = Path(directory) if directory else Path(names(name).distribution)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ValidationError(_("directory '{dir}' already exists and is not empty; "
                                "choose another with --dir").format(dir=root))
    written = []
    for rel, text in content.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return root, written
