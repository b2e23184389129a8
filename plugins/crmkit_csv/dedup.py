"""Duplicate detection in bounded memory: keys in a table in memory, on disk past a bound.

A customer's keys, in the order they are tried: its external id, its e-mail (case
folded), its name (case folded, whitespace collapsed) plus the digits of its phone.
A key found by e-mail or name+phone does not make a duplicate when both sides carry an
external id (two records of another system are two customers: had the ids been equal,
the external id, tried first, would have found it).

Each key is stored as its 64-bit hash with its source, a line number of the file (> 0)
or minus the id of a customer already in the database (< 0), and whether that source
carries an external id. Up to 3,145,728 keys (an import of about a million customers)
live in an open-addressing table in memory, sized for the file and 64 MB at most; past
that bound they move to
a temporary SQLite table on disk with a 16 MB bit filter in front (one bit per slot of
the hash's low 27 bits, saying which keys cannot be in the table), and memory stays
bounded however large the file.
"""

from __future__ import annotations

import mmap
import sqlite3
from collections.abc import Iterable
from operator import itemgetter
from typing import Any

from sqlalchemy import select

from crmkit.i18n import Domain

from .fields import _NONDIGIT, digits

_ = Domain("crmkit_csv").gettext

_IN = 400  # keys per lookup statement
_BITS = 1 << 27  # slots of the on-disk store's filter: 16 MB, one bit each
_SLOTS = 1 << 22  # slots of the table in memory: 16 bytes each, 64 MB


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


class KeyStore:
    """Key hash -> (source, source has an external id), for one import.

    Keys are Python ``hash()`` values (never -1). In memory, two arrays of 64-bit cells
    in anonymous memory maps: the hash's complement (0: free) and the source times two
    plus the external-id flag (0: removed; a re-added key takes its slot back). Linear
    probing from the hash's low bits. The table starts at the size ``expect`` keys
    need (all of ``slots`` without a hint) and doubles when three quarters of it are
    taken; past ``slots`` every key moves to the on-disk table and stays there.
    """

    def __init__(self, slots: int = _SLOTS, expect: int | None = None) -> None:
        self._cap = slots
        size = slots
        if expect is not None:
            size = min(slots, 1 << 10)
            while size < slots and size * 3 // 4 < expect:
                size <<= 1
        self._maps: list[mmap.mmap] | None = None
        self.db: sqlite3.Connection | None = None
        self.bits = bytearray()
        self._alloc(size)

    def _alloc(self, size: int) -> None:
        self._maps = [mmap.mmap(-1, size * 8) for _ in "hs"]
        self._hs = memoryview(self._maps[0]).cast("q")
        self._ss = memoryview(self._maps[1]).cast("q")
        self._mask = size - 1
        self._room = size * 3 // 4  # slots that may still be taken (live or removed)

    def _make_room(self, n: int) -> bool:
        """Room for ``n`` more keys in memory, the table doubled as need be (its live
        keys moved over, the removed ones dropped): True; or, past ``slots``, every
        key moved to disk: False."""
        while self._room < n:
            size = self._mask + 1
            if size >= self._cap:
                self._to_disk()
                return False
            old, old_hs, old_ss = self._maps, self._hs, self._ss
            self._alloc(size * 2)
            hs, ss, mask, room = self._hs, self._ss, self._mask, self._room
            for v, s in zip(old_hs, old_ss, strict=True):
                if v and s:
                    i = ~v & mask
                    while hs[i]:
                        i = (i + 1) & mask
                    hs[i], ss[i] = v, s
                    room -= 1
            self._room = room
            old_hs.release()
            old_ss.release()
            for m in old or ():
                m.close()
        return True

    def lookup(self, hashes: Iterable[int]) -> dict[int, tuple[int, bool]]:
        """The stored keys among ``hashes``: hash -> (source, has external id)."""
        if self.db is not None:
            return self._disk_lookup(hashes)
        out: dict[int, tuple[int, bool]] = {}
        hs, ss = self._hs, self._ss
        for h in hashes:
            i = self._slot(h)
            if hs[i] and (s := ss[i]):
                out[h] = (s >> 1, bool(s & 1))
        return out

    def claim(self, rows: list[tuple[list[tuple[int, str]], int, bool]]
              ) -> list[tuple[int, str] | None]:
        """For each row in order, (its keys as :func:`customer_keys` gives them, its
        source, whether it has an external id): the first of its keys another source
        holds, as (that source, the key's code), under the external-id rule of
        :func:`find`; or None, and then the row's keys are stored (a key's first holder
        keeps it). A row is thus checked against the rows before it too. In memory each
        key is probed once (the probe of :meth:`_slot`, inlined: the import's hot
        loop), its insert starting where its look-up stopped."""
        if self.db is not None:
            return self._disk_claim(rows)
        out: list[tuple[int, str] | None] = []
        hs, ss, mask = self._hs, self._ss, self._mask
        for n, (keys, src, x) in enumerate(rows):
            if self._room < len(keys):
                if not self._make_room(len(keys)):
                    return out + self._disk_claim(rows[n:])
                hs, ss, mask = self._hs, self._ss, self._mask
            hit, ends = None, []
            for h, code in keys:
                want, i = ~h, h & mask
                while v := hs[i]:
                    if v == want:
                        s = ss[i]
                        if s and not (x and s & 1 and code != "x"):
                            hit = (s >> 1, code)
                        break
                    i = (i + 1) & mask
                if hit is not None:
                    break
                ends.append(i)
            out.append(hit)
            if hit is not None:
                continue
            enc = src * 2 + (1 if x else 0)
            for (h, _code), i in zip(keys, ends, strict=True):
                want = ~h
                while v := hs[i]:  # past a slot this row's own keys took meanwhile
                    if v == want:
                        break
                    i = (i + 1) & mask
                if not v:
                    hs[i] = want
                    ss[i] = enc
                    self._room -= 1
                elif not ss[i]:  # removed: taken back
                    ss[i] = enc
        return out

    def _disk_claim(self, rows: list[tuple[list[tuple[int, str]], int, bool]]
                    ) -> list[tuple[int, str] | None]:
        known = self._disk_lookup([h for keys, _src, _x in rows for h, _ in keys])
        out: list[tuple[int, str] | None] = []
        new: list[tuple[int, int, bool]] = []
        for keys, src, x in rows:
            hit = find(keys, x, known)
            out.append(hit)
            if hit is None:
                for h, _ in keys:
                    if h not in known:
                        known[h] = (src, x)
                        new.append((h, src, x))
        self._disk_add(new)
        return out

    def add(self, rows: Iterable[tuple[int, int, bool]]) -> None:
        """Store each (hash, source, has external id) not stored yet: the first wins.
        (The probe of :meth:`_slot`, inlined: a tenant's stored customers come in here,
        three keys each, and a call per key doubled the time.)"""
        if self.db is not None:
            return self._disk_add(rows)
        hs, ss, mask = self._hs, self._ss, self._mask
        rows = list(rows)
        room = self._room
        for n, (h, src, x) in enumerate(rows):
            if not room:
                self._room = 0
                if not self._make_room(1):
                    return self._disk_add(rows[n:])
                hs, ss, mask, room = self._hs, self._ss, self._mask, self._room
            want, i = ~h, h & mask
            while (v := hs[i]) and v != want:
                i = (i + 1) & mask
            if not v:
                hs[i] = want
                ss[i] = src * 2 + (1 if x else 0)
                room -= 1
            elif not ss[i]:  # removed: taken back
                ss[i] = src * 2 + (1 if x else 0)
        self._room = room
        return None

    def remove(self, hashes: Iterable[int], src: int) -> None:
        """Forget each of ``hashes`` that ``src`` stored."""
        if self.db is not None:
            self.db.executemany("DELETE FROM k WHERE h = ? AND src = ?",
                                [(h, src) for h in hashes])
            return
        for h in hashes:
            i = self._slot(h)
            if self._hs[i] and self._ss[i] >> 1 == src:
                self._ss[i] = 0

    def _slot(self, h: int) -> int:
        """The slot in memory that holds ``h``, else the free one where it would go."""
        hs, mask, want, i = self._hs, self._mask, ~h, h & self._mask
        while (v := hs[i]) and v != want:
            i = (i + 1) & mask
        return i

    def on_disk(self) -> bool:
        """Whether the keys have outgrown memory and moved to disk."""
        return self.db is not None

    def _to_disk(self) -> None:
        # "": SQLite's own temporary database, on disk once it outgrows the cache, in a
        # file SQLite unlinks as soon as it opens it: the OS reclaims it even when the
        # import is killed (SIGKILL), so nothing is ever left behind
        db = sqlite3.connect("", isolation_level=None)
        db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16000;"
            "CREATE TABLE k (h INTEGER PRIMARY KEY, src INTEGER NOT NULL, x INTEGER);")
        db.execute("BEGIN")
        self.db = db
        # one bit per slot of the hash's low bits, set for every key stored (never
        # cleared): a key whose bit is clear is not in the table, so its look-up skips
        # SQLite. Most keys of an import are new; at 3 million keys a bit is set for 2%
        # of slots, so 98% of the look-ups of new keys never reach the table
        self.bits = bytearray(_BITS >> 3)
        hs, ss, step = self._hs, self._ss, 1 << 16
        for i in range(0, len(hs), step):  # a slice at a time: memory stays bounded
            self._disk_add([(~v, s >> 1, s & 1) for v, s in
                            zip(hs[i:i + step], ss[i:i + step], strict=True) if v and s])
        self._release()

    def _disk_lookup(self, hashes: Iterable[int]) -> dict[int, tuple[int, bool]]:
        assert self.db is not None
        out: dict[int, tuple[int, bool]] = {}
        bits, mask = self.bits, _BITS - 1
        # in key order: each statement reads neighbouring pages
        hs = sorted({h for h in hashes if bits[(h & mask) >> 3] >> (h & 7) & 1})
        for i in range(0, len(hs), _IN):
            part = hs[i:i + _IN]
            q = f"SELECT h, src, x FROM k WHERE h IN ({','.join('?' * len(part))})"
            for h, src, x in self.db.execute(q, part):
                out[h] = (src, bool(x))
        return out

    def _disk_add(self, rows: Iterable[tuple[int, int, bool]]) -> None:
        assert self.db is not None
        # in key order: a batch's keys land in neighbouring pages of the key table, not
        # in a random page each (2-3x fewer page writes once the table outgrows the cache)
        rows = sorted(rows, key=itemgetter(0))  # stable: first one wins
        bits, mask = self.bits, _BITS - 1
        for h, _src, _x in rows:
            bits[(h & mask) >> 3] |= 1 << (h & 7)
        self.db.executemany("INSERT OR IGNORE INTO k (h, src, x) VALUES (?, ?, ?)",
                            [(h, src, 1 if x else 0) for h, src, x in rows])

    def _release(self) -> None:
        if self._maps is not None:
            self._hs.release()
            self._ss.release()
            for m in self._maps:
                m.close()
            self._maps = None

    def close(self) -> None:
        self._release()
        if self.db is not None:
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
            x = bool(r.external_id)
            batch += [(h, -r.id, x) for h, _ in customer_keys(r.external_id, r.email,
                                                                   r.name, r.phone)]
        store.add(batch)
        n += len(rows)
        last = rows[-1].id


def find(keys: list[tuple[int, str]], x: bool,
         known: dict[int, tuple[int, bool]]) -> tuple[int, str] | None:
    """The first key of a row found in ``known`` (hash -> (source, source has an
    external id)): (source, code) or None. ``x``: whether the row has an external id;
    an e-mail or name key held by a source that has one too is no match."""
    for h, code in keys:
        hit = known.get(h)
        if hit is None:
            continue
        src, other_x = hit
        if code != "x" and x and other_x:
            continue
        return src, code
    return None
