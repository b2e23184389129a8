"""``crmkit plugins new NAME``: a new plugin as its own distribution, tests passing.

The layout::

    crmkit-NAME/
        pyproject.toml          entry point NAME = "crmkit_NAME" in group crmkit.plugins
        README.md
        crmkit_NAME/__init__.py PLUGIN, a settings class and one hookimpl (a reminder)
        tests/test_NAME.py      crmkit.testing fixtures and the conformance kit
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from .errors import ValidationError

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

PYPROJECT = '''\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "crmkit-{dist}"
version = "0.1.0"
description = "A crmkit plugin: {name}."
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["crmkit>=0.1"]

[project.optional-dependencies]
dev = ["pytest>=8"]

[project.entry-points."crmkit.plugins"]
{name} = "crmkit_{name}"

[tool.setuptools]
packages = ["crmkit_{name}"]

[tool.pytest.ini_options]
testpaths = ["tests"]
'''

README = '''\
# crmkit-{dist}

A crmkit plugin. It reminds task owners of open tasks due in the
next `lead_days` days (default 1), so that nothing falls due by surprise.

```
pip install -e .                      # registers the entry point "{name}"
crmkit plugins enable {name}
crmkit plugins set {name} lead_days 3
crmkit reminders
```

Run the tests (every test runs on SQLite; PostgreSQL and MariaDB too when reachable,
see `CRMKIT_TEST_DATABASES`):

```
CRMKIT_TEST_DATABASES=sqlite python -m pytest -q
```

`crmkit plugins check` and `crmkit.testing.assert_conformant` tell you when a hook name
or argument is wrong.
'''

PLUGIN_PY = '''\
"""crmkit plugin '{name}': reminds owners of open tasks due in the next few days."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from sqlalchemy import select

import crmkit


def _not_negative(instance: Any, attribute: Any, value: int) -> None:
    if value < 0:
        raise ValueError(f"{{attribute.name}} must be 0 or more, not {{value}}")


@attrs.frozen
class Settings:
    """Settings of {name}; change them with `crmkit plugins set {name} KEY VALUE`."""

    lead_days: int = attrs.field(default=1, validator=_not_negative)


PLUGIN = crmkit.PluginSpec(
    name="{name}",
    version="0.1.0",
    description="Reminds owners of open tasks due in the next lead_days days.",
    settings=Settings,
)


@crmkit.hookimpl
def crm_reminders(ctx: Any, on: dt.date) -> list[crmkit.Reminder]:
    """Open tasks due after ``on`` and at most ``lead_days`` days later."""
    lead_days = ctx.settings("{name}").lead_days
    a, c = ctx.crm.table("activities"), ctx.crm.table("customers")
    rows = ctx.conn.execute(
        select(a.c.id, a.c.subject, a.c.owner, a.c.due_on, a.c.customer_id,
               c.c.name.label("customer"))
        .join(c, c.c.id == a.c.customer_id)
        .where(a.c.tenant_id == ctx.tenant.id, a.c.kind == "task", a.c.done_at.is_(None),
               a.c.due_on > on, a.c.due_on <= on + dt.timedelta(days=lead_days))
        .order_by(a.c.due_on, a.c.id)
    )
    return [
        crmkit.Reminder(key=f"{name}:{{r.id}}:{{r.due_on}}", plugin="{name}", kind="task_soon",
                        subject=f"due soon: {{r.subject}}", customer_id=r.customer_id,
                        customer=r.customer, owner=r.owner, due_on=r.due_on)
        for r in rows
    ]
'''

TEST_PY = '''\
"""Tests of crmkit-{dist}. The fixtures (crm_factory, today, cli, reminder_recorder) come
from crmkit.testing, a pytest plugin installed with crmkit; today is 2026-11-22."""

import datetime as dt

import crmkit_{name}
from crmkit.testing import assert_conformant


def test_plugin_conforms():
    assert_conformant(crmkit_{name})


def test_reminds_of_a_task_due_tomorrow_only(crm_factory, today):
    crm = crm_factory(enable=("{name}",))
    c = crm.customers.add(name="Acme", owner="admin")
    crm.activities.add(c.id, kind="task", subject="send quote", due_on=today + dt.timedelta(days=1))
    crm.activities.add(c.id, kind="task", subject="call back", due_on=today + dt.timedelta(days=3))
    mine = [r for r in crm.reminders.due() if r.plugin == "{name}"]
    # lead_days is 1: 2026-11-23 is within reach, 2026-11-25 is not
    assert [(r.subject, r.due_on) for r in mine] == [
        ("due soon: send quote", dt.date(2026, 11, 23))
    ]


def test_lead_days_setting(crm_factory, today):
    crm = crm_factory(enable=("{name}",))
    c = crm.customers.add(name="Acme", owner="admin")
    crm.activities.add(c.id, kind="task", subject="call back", due_on=today + dt.timedelta(days=3))
    crm.plugins.set("{name}", "lead_days", 3)
    mine = [r.subject for r in crm.reminders.due() if r.plugin == "{name}"]
    assert mine == ["due soon: call back"]  # 2026-11-25 is within 3 days of 2026-11-22


def test_delivered_once(crm_factory, today, reminder_recorder):
    crm = crm_factory(enable=("{name}", "recorder"), plugins=[reminder_recorder])
    c = crm.customers.add(name="Acme", owner="admin")
    crm.activities.add(c.id, kind="task", subject="send quote", due_on=today + dt.timedelta(days=1))
    crm.reminders.send()
    crm.reminders.send()
    assert [r.subject for r in reminder_recorder.delivered if r.plugin == "{name}"] == [
        "due soon: send quote"
    ]


def test_negative_lead_days_is_refused(cli):
    cli("init")
    assert cli("plugins", "enable", "{name}").exit_code == 0
    result = cli("plugins", "set", "{name}", "lead_days", "--", "-2")  # -- : "-2" is no option
    assert result.exit_code == 1
    assert "lead_days" in result.stderr
'''


def check_name(name: str) -> str:
    """A valid plugin name (lowercase identifier), or a ValidationError naming it."""
    if not NAME_RE.match(name) or keyword.iskeyword(name):
        raise ValidationError(f"invalid plugin name '{name}'; use lowercase letters, digits "
                              "and _ starting with a letter (e.g. followup)")
    return name


def files(name: str) -> dict[str, str]:
    """Relative path -> content of the new distribution."""
    check_name(name)
    dist = name.replace("_", "-")
    fmt = {"name": name, "dist": dist}
    return {
        "pyproject.toml": PYPROJECT.format(**fmt),
        "README.md": README.format(**fmt),
        f"crmkit_{name}/__init__.py": PLUGIN_PY.format(**fmt),
        f"tests/test_{name}.py": TEST_PY.format(**fmt),
    }


def write(name: str, directory: str | Path | None = None) -> tuple[Path, list[Path]]:
    """Write the distribution into ``directory`` (default ``./crmkit-NAME``), which must
    be missing or empty. Returns (directory, files written)."""
    content = files(name)
    root = Path(directory) if directory else Path(f"crmkit-{name.replace('_', '-')}")
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ValidationError(f"directory '{root}' already exists and is not empty; "
                              "choose another with --dir")
    written = []
    for rel, text in content.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return root, written
