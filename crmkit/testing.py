"""pytest fixtures for crmkit and its plugins (a ``pytest11`` plugin: installed with
crmkit, active in every test session).

Fixtures:

* ``today`` - the fixed date tests run on (2026-11-22, a Sunday).
* ``crm_db_url`` - a fresh, empty database for this test. Tests that use it (directly
  or through ``crm``/``crm_factory``/``cli``) run once per backend chosen by
  ``CRMKIT_TEST_DATABASES`` (default ``sqlite,postgresql,mariadb``); the tests of an
  unreachable server are deselected, with one header line saying why, or fail the run
  when ``CRMKIT_TEST_REQUIRE_ALL=1`` (as in CI). PostgreSQL gets a schema per test, MariaDB
  a database per test, SQLite a file in ``tmp_path``.
  ``@pytest.mark.backends("sqlite")`` limits a test to some of them (say why beside it).
* ``crm_factory(enable=(), plugins=(), user="admin", tenant="default")`` - an initialised
  Crm on that database with plugins enabled.
* ``crm`` - ``crm_factory()``.
* ``cli`` - run the command line on that database: ``cli("customer", "list",
  "--json")`` returns a result with ``exit_code``, ``stdout``, ``stderr`` and ``json``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

TODAY = dt.date(2026, 11, 22)
BACKENDS = {
    "sqlite": None,
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/test",
}
_reachable: dict[str, str | None] = {}


def _backends() -> list[str]:
    chosen = os.environ.get("CRMKIT_TEST_DATABASES", "sqlite,postgresql,mariadb")
    return [b.strip() for b in chosen.split(",") if b.strip()]


def _server_url(backend: str) -> str:
    env = {"postgresql": "CRMKIT_TEST_POSTGRES_URL", "mariadb": "CRMKIT_TEST_MARIADB_URL"}
    return os.environ.get(env[backend]) or BACKENDS[backend] or ""


def _why_unreachable(backend: str) -> str | None:
    if backend not in _reachable:
        from sqlalchemy import create_engine, text

        try:
            eng = create_engine(_server_url(backend))
            with eng.connect() as conn:
                conn.execute(text("SELECT 1"))
            eng.dispose()
            _reachable[backend] = None
        except Exception as exc:  # noqa: BLE001 - any failure means "not here"
            from crmkit.storage import hide_secret

            _reachable[backend] = hide_secret(
                f"{type(exc).__name__}: {str(exc).splitlines()[0]}", _server_url(backend))
    return _reachable[backend]


def _unreachable() -> dict[str, str]:
    return {b: why for b in _backends() if b in BACKENDS and b != "sqlite"
            for why in [_why_unreachable(b)] if why}


def pytest_report_header(config: pytest.Config) -> list[str]:
    """One line per chosen backend that cannot be reached, saying why."""
    required = os.environ.get("CRMKIT_TEST_REQUIRE_ALL") == "1"
    from crmkit.storage import display_url

    return [f"crmkit: {b} not reachable at {display_url(_server_url(b))} ({why}); "
            + ("its tests will fail (CRMKIT_TEST_REQUIRE_ALL=1)" if required
               else "its tests are skipped")
            for b, why in _unreachable().items()]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the tests of unreachable backends (unless all are required)."""
    if os.environ.get("CRMKIT_TEST_REQUIRE_ALL") == "1":
        return
    gone = _unreachable()
    if not gone:
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("crm_db_url") if callspec else None
        (drop if backend in gone else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "backends(*names): run this database test only on these of the chosen "
        "backends (e.g. \"sqlite\"); give the reason in a comment beside it")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "crm_db_url" in metafunc.fixturenames:
        chosen = _backends()
        only = metafunc.definition.get_closest_marker("backends")
        if only is not None:
            chosen = [b for b in chosen if b in only.args]
        metafunc.parametrize("crm_db_url", chosen, indirect=True)


@pytest.fixture
def today() -> dt.date:
    """The fixed date tests run on: 2026-11-22 (a Sunday)."""
    return TODAY


@pytest.fixture
def crm_db_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A fresh, empty database on the backend this test instance runs on."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'crm.db'}"
        return
    if backend not in BACKENDS:
        raise pytest.UsageError(f"unknown backend '{backend}' in CRMKIT_TEST_DATABASES")
    why = _why_unreachable(backend)
    if why:
        if os.environ.get("CRMKIT_TEST_REQUIRE_ALL") == "1":
            pytest.fail(f"{backend} is required (CRMKIT_TEST_REQUIRE_ALL=1) but "
                        f"unreachable: {why}")
        from crmkit.storage import display_url

        pytest.skip(f"{backend} not reachable at {display_url(_server_url(backend))}: {why}")
    with _server_database(backend, request.getfixturevalue("crm_servers")) as url:
        yield url


class Servers:
    """Connections to the database servers for making and dropping test databases: one
    AUTOCOMMIT engine per backend, and a thread that drops finished tests' databases
    while the next test runs (``wait()`` joins it and raises what failed)."""

    def __init__(self, *, background: bool = True):
        from concurrent.futures import ThreadPoolExecutor

        self.engines: dict[str, Any] = {}
        self.pool = ThreadPoolExecutor(1, "crmkit-drop") if background else None
        self.pending: list[Any] = []

    def engine(self, backend: str) -> Any:
        from sqlalchemy import create_engine

        if backend not in self.engines:
            self.engines[backend] = create_engine(_server_url(backend),
                                                  isolation_level="AUTOCOMMIT")
        return self.engines[backend]

    def create(self, backend: str) -> str:
        from sqlalchemy import text

        name = "crmkit_t_" + uuid.uuid4().hex[:12]
        base = _server_url(backend)
        with self.engine(backend).connect() as conn:
            if backend == "postgresql":
                conn.execute(text(f"CREATE SCHEMA {name}"))
                return f"{base}?options=-csearch_path%3D{name}"
            conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
            return base.rsplit("/", 1)[0] + f"/{name}?charset=utf8mb4"

    def _drop(self, backend: str, url: str) -> None:
        from sqlalchemy import text

        with self.engine(backend).connect() as conn:
            if backend == "postgresql":
                conn.execute(text(f"DROP SCHEMA {url.rsplit('%3D', 1)[1]} CASCADE"))
            else:
                conn.execute(text(f"DROP DATABASE {url.rsplit('/', 1)[1].split('?')[0]}"))

    def drop(self, backend: str, url: str) -> None:
        if self.pool is None:
            self._drop(backend, url)
        else:
            self.pending = [f for f in self.pending if not f.done() or f.result()]
            self.pending.append(self.pool.submit(self._drop, backend, url))

    def wait(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            for f in self.pending:
                f.result()
        for engine in self.engines.values():
            engine.dispose()


@pytest.fixture(scope="session")
def crm_servers() -> Iterator[Servers]:
    """The :class:`Servers` of this session (of this xdist worker)."""
    servers = Servers()
    yield servers
    servers.wait()


@contextlib.contextmanager
def _server_database(backend: str, servers: Servers | None = None) -> Iterator[str]:
    """A new empty schema (PostgreSQL) or database (MariaDB), dropped afterwards."""
    own = servers is None
    srv = Servers(background=False) if servers is None else servers
    url = srv.create(backend)
    try:
        yield url
    finally:
        srv.drop(backend, url)
        if own:
            srv.wait()


@pytest.fixture(scope="session")
def crm_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., str]:
    """SQLite files initialised once per session (``crm.init()``: crmkit's core; a
    plugin's tables come when a test enables it), one per plugin discovery setting and
    table prefix; tests start from a copy."""
    import crmkit

    made: dict[tuple[bool, str], str] = {}

    def template(discover: bool, prefix: str = "crm_") -> str:
        if (discover, prefix) not in made:
            path = tmp_path_factory.mktemp("crmkit-template") / "template.db"
            crm = crmkit.open(f"sqlite:///{path}", discover=discover, prefix=prefix)
            crm.init()
            crm.close()
            made[discover, prefix] = str(path)
        return made[discover, prefix]

    return template


def _copy_sqlite(src: str, url: str) -> None:
    import sqlite3

    dst = url.split("sqlite:///", 1)[1]
    if os.path.exists(dst):
        return
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)


# statements that change nothing: not recorded for replay
_READS = re.compile(r"\s*(SELECT|SHOW|DESCRIBE|EXPLAIN)\b", re.IGNORECASE)
Script = list[tuple[str, Any]]


@pytest.fixture(scope="session")
def crm_server_template() -> Callable[..., Script]:
    """What ``crm.init()`` writes on PostgreSQL or MariaDB, recorded once per session
    (per xdist worker), per backend, plugin discovery setting and table prefix: it runs
    the real Alembic migrations on a scratch schema/database and keeps every statement
    that is not a read, exactly as the driver received it (DDL, the version rows, the
    tenant ``default`` and its ``admin``). ``crm_factory`` replays that script into a
    test's fresh database instead of migrating it again: the same statements in the same
    order on an empty schema build the same database, in a fraction of Alembic's time.
    ``tests/test_testing_template.py`` compares a replayed database with a migrated one."""
    from sqlalchemy import event

    import crmkit

    made: dict[tuple[str, bool, str], Script] = {}

    def template(backend: str, discover: bool, prefix: str = "crm_") -> Script:
        key = (backend, discover, prefix)
        if key not in made:
            script: Script = []

            def record(conn: Any, cursor: Any, statement: str, parameters: Any,
                       context: Any, executemany: bool) -> None:
                if not _READS.match(statement):
                    script.append((statement, parameters if parameters else None))

            with _server_database(backend) as url:
                crm = crmkit.open(url, discover=discover, prefix=prefix)
                event.listen(crm.engine, "after_cursor_execute", record)
                crm.init()
                if backend == "mariadb":
                    # every DDL statement commits on MariaDB (tens of ms each): replay
                    # the migrated tables instead, one CREATE TABLE each, and their rows
                    script = _dump_mariadb(crm)
                crm.close()
                name = url.rsplit("/", 1)[1].split("?")[0] if backend == "mariadb" else \
                    url.rsplit("%3D", 1)[1]
            for statement, parameters in script:
                # a statement naming the scratch schema would build into the wrong one
                if name in statement or name in repr(parameters):
                    raise RuntimeError(f"crm.init() named its schema {name}: {statement!r}")
            made[key] = script
        return made[key]

    return template


def _dump_mariadb(crm: Any) -> Script:
    """The migrated database as MariaDB itself describes it: ``SHOW CREATE TABLE`` of each
    table (created with foreign key checks off, so in any order; ``AUTO_INCREMENT``
    counters included), then an ``INSERT`` of each row."""
    from sqlalchemy import text

    with crm.engine.connect() as conn:
        names = [r[0] for r in conn.execute(text("SHOW FULL TABLES"))
                 if r[1] == "BASE TABLE"]
        script: Script = [("SET FOREIGN_KEY_CHECKS=0", None)]
        script += [(conn.execute(text(f"SHOW CREATE TABLE `{n}`")).one()[1], None)
                   for n in names]
        script.append(("SET FOREIGN_KEY_CHECKS=1", None))
        for n in names:
            result = conn.exec_driver_sql(f"SELECT * FROM `{n}`")
            cols = list(result.keys())
            rows = [dict(zip(cols, r, strict=True)) for r in result]
            if rows:
                script.append((f"INSERT INTO `{n}` ({', '.join(f'`{c}`' for c in cols)}) "
                               f"VALUES ({', '.join(f'%({c})s' for c in cols)})", rows))
    return script


def _replay(crm: Any, script: Script) -> None:
    """Run a recorded ``crm.init()`` on this (empty) database, in one transaction;
    consecutive statements without parameters go to PostgreSQL in one round trip."""
    pg = crm.engine.dialect.name == "postgresql"
    with crm.engine.begin() as conn:
        batch: list[str] = []
        for statement, parameters in [*script, ("", None)]:
            if pg and parameters is None and statement:
                batch.append(statement)
                continue
            if batch:
                conn.exec_driver_sql(";\n".join(batch))
                batch = []
            if statement:
                conn.exec_driver_sql(statement, parameters)


def _is_empty(crm: Any) -> bool:
    from sqlalchemy import inspect

    return not inspect(crm.engine).get_table_names()


@pytest.fixture
def crm_factory(crm_db_url: str, today: dt.date, crm_sqlite_template: Callable[..., str],
                crm_server_template: Callable[..., Script]) -> Iterator[Callable[..., Any]]:
    """Open initialised Crm instances on this test's database (``init=False`` for an
    empty one). The first initialisation of the test's database is a copy of one made
    once per session (SQLite: a file copy; servers: a replay of the statements
    ``crm.init()`` ran, see ``crm_server_template``); later ones run ``crm.init()``."""
    import crmkit

    opened: list[Any] = []
    backend = crm_db_url.split(":", 1)[0].split("+", 1)[0]
    fresh = [True]

    def make(*, enable: tuple[str, ...] | list[str] = (), plugins: Any = (),
             user: str = "admin", tenant: str = "default", day: dt.date | None = None,
             init: bool = True, **kw: Any) -> Any:
        crm = crmkit.open(crm_db_url, tenant=tenant, user=user, today=day or today,
                          plugins=plugins, **kw)
        opened.append(crm)
        if init:
            # only plugin discovery and the table prefix shape what crm.init() writes on
            # a fresh database (it migrates the core; no plugin is in use yet)
            copyable = fresh[0] and set(kw) <= {"discover", "prefix"}
            discover, prefix = kw.get("discover", True), kw.get("prefix", "crm_")
            if copyable and backend == "sqlite" and not os.path.exists(
                    crm_db_url.split("sqlite:///", 1)[1]):
                _copy_sqlite(crm_sqlite_template(discover, prefix), crm_db_url)
            elif copyable and backend in ("postgresql", "mysql") and _is_empty(crm):
                _replay(crm, crm_server_template(
                    "postgresql" if backend == "postgresql" else "mariadb", discover,
                    prefix))
            else:
                crm.using(user="admin", tenant="default").init()
            fresh[0] = False
        if enable:
            crm.plugins.enable(*enable)
        return crm

    yield make
    for crm in opened:
        crm.close()


@pytest.fixture
def crm(crm_factory: Callable[..., Any]) -> Any:
    """An initialised Crm (tenant ``default``, user ``admin``) on a fresh database."""
    return crm_factory()


class CliResult:
    def __init__(self, result: Any):
        self.exit_code: int = result.exit_code
        self.stdout: str = result.stdout
        self.stderr: str = result.stderr
        self.exception = result.exception

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    def __repr__(self) -> str:
        return (f"<CliResult exit={self.exit_code} stdout={self.stdout[:500]!r} "
                f"stderr={self.stderr[:500]!r}>")


@pytest.fixture
def cli(crm_db_url: str, today: dt.date) -> Callable[..., CliResult]:
    """Run ``crmkit`` on this test's database, with ``--today`` fixed.

    ``cli("customer", "list", "--json")``; keyword ``user=``, ``tenant=``, ``today=``,
    ``input=`` and ``env=`` are passed through."""
    from click.testing import CliRunner

    from crmkit.cli import cli as root

    def run(*args: str, user: str | None = None, tenant: str | None = None,
            today_: dt.date | None = None, input: str | None = None,
            env: dict[str, str] | None = None, **kw: Any) -> CliResult:
        day = kw.pop("today", None) or today_ or today
        argv = ["--db", crm_db_url, "--today", day.isoformat()]
        if user:
            argv += ["--user", user]
        if tenant:
            argv += ["--tenant", tenant]
        runner = CliRunner()
        result = runner.invoke(root, [*argv, *[str(a) for a in args]], input=input, env=env,
                               catch_exceptions=True)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return CliResult(result)

    return run


# --- for plugin authors: recorder, events, conformance ------------------------------


class Recorder:
    """A plugin that records the reminders delivered to it (a ``crm_deliver`` channel).

    Register it with ``crm_factory(plugins=[recorder], enable=("recorder",))`` (query
    hooks reach enabled plugins only); ``recorder.delivered`` lists the
    :class:`crmkit.Reminder` objects in delivery order.
    """

    def __init__(self, name: str = "recorder"):
        from crmkit import PluginSpec

        self.PLUGIN = PluginSpec(name=name, version="0.1.0",
                                 description="Records delivered reminders (tests).")
        self.__name__ = f"crmkit.testing.Recorder({name!r})"
        self.delivered: list[Any] = []

    @property
    def keys(self) -> list[str]:
        """Keys of the delivered reminders, in delivery order."""
        return [r.key for r in self.delivered]

    def clear(self) -> None:
        self.delivered.clear()

    def crm_deliver(self, ctx: Any, reminders: list[Any]) -> None:
        self.delivered.extend(reminders)

    from crmkit.hookspecs import hookimpl as _hookimpl

    crm_deliver = _hookimpl(crm_deliver)
    del _hookimpl


@pytest.fixture
def reminder_recorder() -> Recorder:
    """A fresh :class:`Recorder` named ``recorder``: pass it to ``crm_factory(plugins=[...],
    enable=("recorder",))``."""
    return Recorder()


def emitted_events(crm: Any, event: str | None = None) -> list[dict[str, Any]]:
    """The outbox rows of ``crm``'s tenant, oldest first: ``{"id", "event", "customer_id",
    "payload"}`` (only ``event`` when given). Events of rolled-back changes are absent."""
    from sqlalchemy import select

    t = crm.table("outbox")
    with crm.unit(write=False) as ctx:
        q = select(t).where(t.c.tenant_id == ctx.tenant.id).order_by(t.c.id)
        if event is not None:
            q = q.where(t.c.event == event)
        return [{"id": r.id, "event": r.event, "customer_id": r.customer_id,
                 "payload": r.payload} for r in ctx.conn.execute(q)]


def assert_conformant(plugin: Any, *, tests: Any = None) -> None:
    """Fail the test with every problem :func:`crmkit.conformance.check_plugin` finds in
    ``plugin`` (a module, an object or a plugin name). ``tests`` (the folder of the
    plugin's tests, e.g. ``Path(__file__).parent``) also checks that every hook the
    plugin implements has a test named after it."""
    from crmkit.conformance import check_plugin

    problems = check_plugin(plugin, tests=tests)
    assert not problems, "plugin does not conform:\n  " + "\n  ".join(problems)
