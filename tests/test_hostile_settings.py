"""Issue 20.5: settings are parsed strictly and bounded (crmkit/settings.py), so a
setting that was accepted can never break a command.

Booleans are only JSON true/false; whole numbers are ints within bounds (1.5, true,
"30" refused); numbers are finite (NaN, Infinity refused). Every refusal is one
sentence, exit 1, nothing written.
"""

from __future__ import annotations

import pytest

import crmkit
from crmkit.settings import MAX_DAYS

BAD = [
    # (plugin, key, value as typed on the command line)
    ("email", "dun_customers", "no"),
    ("email", "dun_customers", "off"),
    ("email", "dun_customers", "False"),
    ("email", "dun_customers", "0"),
    ("email", "starttls", "yes"),
    ("grading", "window_days", "99999999999999999999"),
    ("grading", "window_days", "3000000"),
    ("grading", "window_days", "1.5"),
    ("grading", "window_days", "true"),
    ("grading", "lost_after_days", "1e20"),
    ("grading", "repurchase_factor", "1e20"),
    ("grading", "repurchase_factor", "NaN"),
    ("grading", "repurchase_factor", "Infinity"),
    ("sales", "stale_days", "1e20"),
    ("sales", "stale_days", "100000000"),
    ("webhooks", "lease_seconds", "Infinity"),
    ("webhooks", "timeout_seconds", "-Infinity"),
    ("webhooks", "max_attempts", "2.0"),
    ("email", "timeout_seconds", "NaN"),
    ("email", "port", '"25"'),
]


@pytest.mark.parametrize("plugin, key, value", BAD)
def test_bad_settings_are_refused_in_one_sentence_and_nothing_written(
        cli, crm_factory, plugin, key, value):
    crm = crm_factory(enable=(plugin,))
    before = crm.changes()
    default = getattr(crm.plugins.settings(plugin), key)
    r = cli("plugins", "set", plugin, key, value)
    assert r.exit_code == 1, (r.stdout, r.stderr)
    assert "unexpected" not in r.stderr and key in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert crm.changes() == before
    assert getattr(crm.plugins.settings(plugin), key) == default


@pytest.mark.parametrize("value, expected", [("true", True), ("false", False)])
def test_booleans_are_json_true_and_false(cli, crm_factory, value, expected):
    crm = crm_factory(enable=("email",))
    assert cli("plugins", "set", "email", "dun_customers", value).exit_code == 0
    assert crm.plugins.settings("email").dun_customers is expected


def test_a_long_value_is_quoted_at_most_80_characters(crm_factory):
    crm = crm_factory(enable=("grading",))
    with pytest.raises(crmkit.ValidationError) as e:
        crm.plugins.set("grading", "window_days", "x" * 100_000)
    assert len(str(e.value)) < 200


def test_settings_at_their_bounds_do_not_break_commands(cli, crm_factory):
    """The largest accepted values: grading, reminders and the 360° view still run."""
    crm = crm_factory(enable=("grading", "sales", "receivables"))
    c = crm.customers.add(name="边界")
    crm.documents.add(c.id, kind="invoice", number="B-1", amount="10.00",
                      issued_on="2026-01-05")
    for plugin, key, value in [("grading", "window_days", MAX_DAYS),
                               ("grading", "lost_after_days", MAX_DAYS),
                               ("grading", "repurchase_factor", 1000),
                               ("sales", "stale_days", MAX_DAYS),
                               ("sales", "class_a_days", MAX_DAYS)]:
        crm.plugins.set(plugin, key, value)
    for day in ("2026-11-22", "1000-01-01", "9899-12-31"):
        for args in (("grading", "run", "--as-of", day), ("reminders", "--on", day),
                     ("customer", "show", str(c.id), "--on", day)):
            r = cli(*args)
            assert r.exit_code in (0, 1), (args, r.stderr)
            assert "unexpected" not in r.stderr, (args, r.stderr)
    r = cli("grading", "run", "--as-of", "2026-11-22", "--json")
    assert r.exit_code == 0, r.stderr
