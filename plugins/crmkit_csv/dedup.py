"""Duplicate detection with constant memory: keys live in a temporary SQLite file.

A customer's keys, in the order they are tried: its external id, its e-mail (case
folded), its name (case folded, whitespace collapsed) plus the digits of its phone.
A key found by e-mail or name+phone does not make a duplicate when both sides carry
an external id and the ids differ (two records of another system are two customers).

Each key is stored as a 64-bit hash with its source: a line number of the file (> 0)
or minus the id of a customer already in the database (< 0). A 16 MB bit filter in
memory (one bit per slot of the hash's low 27 bits) says which keys cannot be in the
table, so that the look-ups of new keys, most of an import's, skip it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from operator import itemgetter
from typing import Any

from sqlalchemy import select

from crmkit.i18n import Domain

from .fields import _NONDIGIT, digits

_ = Domain("crmkit_csv").gettext

_IN = 400  # keys per lookup statement
_BITS = 1 << 27  # slots of the key store's filter: 16 MB, one bit each


def customer_keys(ext: str | None, email: str | None, name: str | None,
                  phone: str | None) -> list[tuple[int, str]]:
    """(hash, code) of each key, most specific first: code ``x`` external id, ``e``
    e-mail, ``n`` name plus phone."""
    keys: list[tuple[int, str]] = []
    if ext:
        keys.append((hash(("x", ext)), "x"))
    if email:
        keys.append((hash(("e", email.strip().casefold())), "e"))
    if name:
        keys.append((hash(("n", " ".join(name.split()).casefold(),
                           _NONDIGIT.sub("", phone) if phone else "")), "n"))
    return keys


def describe(code: str, fields: dict[str, Any]) -> str:
    """The key of a duplicate, for the report: ``e-mail 'a@b.cn'``."""
    if code == "x":
        return _("external id '{value}'").format(value=fields.get("external_id"))
    if code == "e":
        return _("e-mail '{value}'").format(value=fields.get("email"))
    phone = fields.get("phone")
    if digits(phone):
        return _("name and phone '{name} / {phone}'").format(name=fields.get("name"),
                                                           phone=phone)
    return _("name (no phone) '{name}'").format(name=fields.get("name"))


def ext_hash(ext: str | None) -> int | None:
    return hash(("x", ext)) if ext else None


class KeyStore:
    """Key hash -> (source, external-id hash), on disk, for one import."""

    def __init__(self) -> None:
        # "": SQLite's own temporary database, on disk once it outgrows the cache, in a
        # file SQLite unlinks as soon as it opens it: the OS reclaims it even when the
        # import is killed (SIGKILL), so nothing is ever left behind
        self.db = sqlite3.connect("", isolation_level=None)
        self.db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16000;"
            "CREATE TABLE k (h INTEGER PRIMARY KEY, src INTEGER NOT NULL, x INTEGER);")
        self.db.execute("BEGIN")
        # one bit per slot of the hash's low bits, set for every key stored (never
        # cleared): a key whose bit is clear is not in the table, so its look-up skips
        # SQLite. Most keys of an import are new; at 3 million keys a bit is set for 2%
        # of slots, so 98% of the look-ups of new keys never reach the table
        self.bits = bytearray(_BITS >> 3)

    def lookup(self, hashes: Iterable[int]) -> dict[int, tuple[int, int | None]]:
        out: dict[int, tuple[int, int | None]] = {}
        bits, mask = self.bits, _BITS - 1
        # in key order: each statement reads neighbouring pages
        hs = sorted({h for h in hashes if bits[(h & mask) >> 3] >> (h & 7) & 1})
        for i in range(0, len(hs), _IN):
            part = hs[i:i + _IN]
            q = f"SELECT h, src, x FROM k WHERE h IN ({','.join('?' * len(part))})"
            for h, src, x in self.db.execute(q, part):
                out[h] = (src, x)
        return out

    def add(self, rows: Iterable[tuple[int, int, int | None]]) -> None:
        # in key order: a batch's keys land in neighbouring pages of the key table, not
        # in a random page each (2-3x fewer page writes once the table outgrows the cache)
        rows = sorted(rows, key=itemgetter(0))  # stable: first one wins
        bits, mask = self.bits, _BITS - 1
        for h, _src, _x in rows:
            bits[(h & mask) >> 3] |= 1 << (h & 7)
        self.db.executemany("INSERT OR IGNORE INTO k (h, src, x) VALUES (?, ?, ?)", rows)

    def remove(self, hashes: Iterable[int], src: int) -> None:
        self.db.executemany("DELETE FROM k WHERE h = ? AND src = ?",
                            [(h, src) for h in hashes])

    def close(self) -> None:
        self.db.close()


def load_customers(store: KeyStore, ctx: Any) -> int:
    """Put the keys of every customer of the tenant into ``store`` (streamed by id)."""
    t = ctx.crm.table("customers")
    last, n = 0, 0
    while True:
        rows = ctx.conn.execute(
            select(t.c.id, t.c.external_id, t.c.email, t.c.name, t.c.phone)
            .where(t.c.tenant_id == ctx.tenant.id, t.c.id > last)
            .order_by(t.c.id).limit(20000)).all()
        if not rows:
            return n
        batch = []
        for r in rows:
            x = ext_hash(r.external_id)
            batch += [(h, -r.id, x) for h, _ in customer_keys(r.external_id, r.email,
                                                                   r.name, r.phone)]
        store.add(batch)
        n += len(rows)
        last = rows[-1].id


def find(keys: list[tuple[int, str]], x: int | None,
         known: dict[int, tuple[int, int | None]]) -> tuple[int, str] | None:
    """The first key of a row found in ``known``: (source, code) or None."""
    for h, code in keys:
        hit = known.get(h)
        if hit is None:
            continue
        src, other_x = hit
        if code != "x" and x is not None and other_x is not None and x != other_x:
            continue
        return src, code
    return None
