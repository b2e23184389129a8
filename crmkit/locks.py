"""Per-tenant job locks: one runner of a job for a tenant at a time, on every backend.

``job_lock(crm, tenant_id, job)`` is a context manager that yields True when this
runner got the lock (and holds it until the block ends), False when another runner
holds it. Nothing waits: the second runner skips the tenant.

* PostgreSQL: ``pg_try_advisory_lock`` on a session of its own, kept for the job;
* MariaDB / MySQL: ``GET_LOCK(name, 0)`` on a session of its own;
* SQLite: the write lock (``BEGIN IMMEDIATE``, no wait) of a small lock database
  beside the database file, ``<file>-jobs/<prefix><tenant id>.<job>.lock``. Holding
  the main file's write lock for a whole job would block the job's own writes.

Each lock belongs to a database session (or, for SQLite, an open file), so the
operating system or the server frees it when its process dies, SIGKILL included: a
killed runner never leaves a tenant locked. The lock's name covers the schema (or
database) and the table prefix, so two crmkit installations on one server never
block each other.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .app import Crm

_PG_KEY = ("('x' || substr(md5(current_schema() || :scope), 1, 16))::bit(64)::bigint")
_PG_LOCK = text(f"SELECT k, pg_try_advisory_lock(k) FROM (SELECT {_PG_KEY} AS k) s")
_PG_UNLOCK = text("SELECT pg_advisory_unlock(:k)")
_MY_NAME = "CONCAT('crmkit:', SHA1(CONCAT(COALESCE(DATABASE(), ''), :scope)))"
_MY_LOCK = text(f"SELECT n, GET_LOCK(n, 0) FROM (SELECT {_MY_NAME} AS n) s")
_MY_UNLOCK = text("SELECT RELEASE_LOCK(:n)")


@contextmanager
def job_session(crm: Crm) -> Iterator[Connection]:
    """The connection a job is admitted on and whose session holds its lock:
    autocommit on a server (a session lock outlives transactions, and the session
    never sits idle in a transaction), reads without the write lock on SQLite."""
    conn = crm.engine.connect()
    try:
        if crm.engine.dialect.name == "sqlite":
            yield conn.execution_options(crmkit_write=False)
        else:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")
    finally:
        conn.close()


@contextmanager
def job_lock(crm: Crm, conn: Connection, tenant_id: int, job: str) -> Iterator[bool]:
    """Hold the lock of ``job`` for tenant ``tenant_id`` for the block, on the session
    of ``conn`` (from :func:`job_session`); yields whether this runner got it."""
    scope = f"|{crm.prefix}|{tenant_id}|{job}"
    dialect = crm.engine.dialect.name
    if dialect == "sqlite":
        lock = _sqlite_lock(crm, f"{crm.prefix}{tenant_id}.{job}")
    elif dialect == "postgresql":
        lock = _session_lock(conn, _PG_LOCK, _PG_UNLOCK, "k", scope)
    else:
        lock = _session_lock(conn, _MY_LOCK, _MY_UNLOCK, "n", scope)
    with lock as got:
        yield got


@contextmanager
def _session_lock(conn: Connection, lock: Any, unlock: Any, key: str, scope: str
                  ) -> Iterator[bool]:
    released = False
    try:
        name, got = conn.execute(lock, {"scope": scope}).one()
        if not got:
            released = True
            yield False
            return
        try:
            yield True
        finally:
            conn.execute(unlock, {key: name})
            released = True
    finally:
        if not released:
            # a session whose lock state is unknown must not go back to the pool
            conn.invalidate()


@contextmanager
def _sqlite_lock(crm: Crm, name: str) -> Iterator[bool]:
    database = crm.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        # a private database: only this process can see it, a thread lock suffices
        locks = crm._shared.setdefault("job_locks", {})
        tlock = locks.setdefault(name, threading.Lock())
        got = tlock.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                tlock.release()
        return
    folder = Path(database).with_name(Path(database).name + "-jobs")
    folder.mkdir(exist_ok=True)
    con = sqlite3.connect(folder / f"{name}.lock", timeout=0, isolation_level=None)
    try:
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            yield False  # another runner holds it
            return
        try:
            yield True
        finally:
            con.execute("ROLLBACK")
    finally:
        con.close()
