"""``case search``: the solution base, a substring search in any script.

What is matched is ``search_text``: the lower-cased subject and solution of a resolved
or closed case (NULL while the case is open), so the search is case-insensitive for
every script Python lower-cases, and exact on every backend: the last word is always
``search_text LIKE '%term%'``. An index narrows the rows first where the backend has
one that serves a Chinese term of two characters:

* **SQLite**: a contentless FTS5 table ``{prefix}service_case_fts`` (rowid = case id)
  of character **bigrams**, each written as one ASCII token (``9000g8d27`` for
  ``退货``). A term of n >= 2 characters is the phrase of its n - 1 bigrams: a case
  whose text holds the phrase holds the term. (FTS5's own ``trigram`` tokenizer needs
  3 characters, so it cannot serve ``退货``.) A one-character term, or a database
  without the table, falls back to the ``LIKE`` scan.
* **PostgreSQL**, **MariaDB**: the ``LIKE`` scan over the tenant's resolved and
  closed cases (``pg_trgm`` needs 3 characters; MariaDB's FULLTEXT has no ngram
  parser). See docs/plugins/service.md.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, column, text

FTS = "service_case_fts"


def searchable(subject: str, solution: str | None) -> str:
    """The denormalised ``search_text`` of a resolved case."""
    return f"{subject}\n{solution or ''}".lower()


def grams(text_: str) -> str:
    """``text_`` as space-separated bigram tokens (``ab`` -> ``61g62``)."""
    return " ".join(f"{ord(a):x}g{ord(b):x}" for a, b in zip(text_, text_[1:], strict=False))


def fts_name(ctx: Any) -> str:
    """The FTS table's name with the host's prefix."""
    cases = ctx.crm.table("service_cases").name
    return cases[: -len("service_cases")] + FTS


def has_fts(ctx: Any) -> bool:
    """Whether this database has the bigram index (SQLite with FTS5, migrated)."""
    if ctx.conn.dialect.name != "sqlite":
        return False
    return ctx.conn.execute(text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                 "name = :n"), {"n": fts_name(ctx)}).first() is not None


def index(ctx: Any, case_id: int, search_text: str) -> None:
    """Add a newly resolved case to the bigram index."""
    if has_fts(ctx):
        ctx.conn.execute(text(f'INSERT INTO "{fts_name(ctx)}" (rowid, grams) '
                              "VALUES (:id, :g)"), {"id": case_id, "g": grams(search_text)})


def unindex(ctx: Any, case_id: int, search_text: str | None) -> None:
    """Take a reopened case out of the index (a contentless table is told what the
    row held: the grams of its stored ``search_text``)."""
    if search_text is not None and has_fts(ctx):
        t = fts_name(ctx)
        ctx.conn.execute(text(f'INSERT INTO "{t}" ("{t}", rowid, grams) '
                              "VALUES ('delete', :id, :g)"),
                         {"id": case_id, "g": grams(search_text)})


def candidates(ctx: Any, term: str) -> Any | None:
    """A subquery of the case ids whose text may hold ``term`` (lower-cased), or None
    when no index serves it (then the LIKE alone decides)."""
    if len(term) < 2 or not has_fts(ctx):
        return None
    t = fts_name(ctx)
    phrase = '"' + grams(term) + '"'
    return text(f'SELECT rowid FROM "{t}" WHERE "{t}" MATCH :phrase').bindparams(
        phrase=phrase).columns(column("rowid", Integer))


def like_pattern(term: str) -> str:
    """``%term%`` with LIKE's wildcards escaped (escape character ``\\``)."""
    esc = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{esc}%"


def create_fts_sql(prefix: str) -> str:
    """The DDL of the bigram index (SQLite), used by the migration."""
    return (f'CREATE VIRTUAL TABLE IF NOT EXISTS "{prefix}{FTS}" USING fts5(grams, '
            "content='', tokenize='ascii')")
