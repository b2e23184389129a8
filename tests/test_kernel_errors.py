"""The database password is never printed (issue 11, item 13): "cannot reach database",
"database … is not initialised", "database error on …" and ``DatabaseError`` show the
URL with the password masked, in the CLI and from Python."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

import crmkit
from crmkit.cli import State, _message
from crmkit.cli import cli as root
from crmkit.errors import DatabaseError
from crmkit.storage import display_url, hide_secret

SECRET = "S3cr3t-pw"
UNREACHABLE = f"postgresql+psycopg://erp:{SECRET}@127.0.0.1:1/erp"  # nothing listens on 1


def _with_password(url: str) -> str:
    """``url`` with user credentials carrying SECRET (sqlite: an unreachable server)."""
    if url.startswith("sqlite"):
        return UNREACHABLE
    return make_url(url).set(password=SECRET).render_as_string(hide_password=False)


def _run(*args: str):
    result = CliRunner().invoke(root, list(args), catch_exceptions=True)
    return result


def test_cli_never_prints_the_password_of_a_server_it_cannot_use(crm_db_url):
    """PostgreSQL (trust auth) accepts the password: the empty schema "is not
    initialised"; MariaDB refuses it: "cannot reach"; SQLite's run uses a server on a
    closed port: "cannot reach". Every message names the URL, masked."""
    url = _with_password(crm_db_url)
    result = _run("--db", url, "customer", "list")
    out = result.stdout + result.stderr
    assert result.exit_code == 1, out
    assert SECRET not in out
    assert "cannot reach database" in out or "is not initialised" in out
    assert ":***@" in out


def test_bad_driver_is_reported_with_the_password_masked():
    result = _run("--db", f"postgresql+nosuchdriver://erp:{SECRET}@db/erp", "customer",
                  "list")
    out = result.stdout + result.stderr
    assert result.exit_code == 1
    assert "cannot reach database postgresql+nosuchdriver://erp:***@db/erp" in out
    assert SECRET not in out


def test_database_error_from_python_masks_the_password():
    crm = crmkit.open(UNREACHABLE, discover=False)
    try:
        with pytest.raises(DatabaseError) as info:
            crm.customers.list()
    finally:
        crm.close()
    assert "cannot reach database postgresql+psycopg://erp:***@127.0.0.1:1/erp" in str(
        info.value)
    assert SECRET not in str(info.value)
    assert SECRET not in crm.url


def test_database_error_on_message_masks_the_password():
    state = State(UNREACHABLE, "default", "admin", None)
    exc = OperationalError("SELECT 1", {}, Exception(
        f"connection to {UNREACHABLE} failed for password {SECRET}"))
    text = _message(exc, state)
    assert text.startswith("database error on postgresql+psycopg://erp:***@127.0.0.1:1/erp")
    assert SECRET not in text


@pytest.mark.parametrize("raw, shown", [
    ("mysql+pymysql://root:Pw9@h/db", "mysql+pymysql://root:***@h/db"),
    ("sqlite:///tmp/x.db", "sqlite:///tmp/x.db"),
    ("not a url://u:Pw9@h", "not a url://u:***@h"),  # unparseable: masked by its shape
])
def test_display_url_and_hide_secret(raw, shown):
    assert display_url(raw) == shown
    # the URL and the bare password in a driver's message are both masked
    assert hide_secret(f"failed: {raw} (Pw9)", raw) == (
        f"failed: {shown} ({'***' if 'Pw9' in raw else 'Pw9'})")


def test_the_test_fixtures_report_an_unreachable_server_with_the_password_masked(
        monkeypatch):
    from crmkit import testing

    monkeypatch.setenv("CRMKIT_TEST_DATABASES", "sqlite,postgresql")
    monkeypatch.setenv("CRMKIT_TEST_POSTGRES_URL", UNREACHABLE)
    monkeypatch.setattr(testing, "_reachable", {})
    lines = testing.pytest_report_header(None)
    assert len(lines) == 1 and "not reachable at postgresql+psycopg://erp:***@" in lines[0]
    assert SECRET not in lines[0]
