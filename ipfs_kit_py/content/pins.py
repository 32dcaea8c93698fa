"""Pins and the VFS root, in one small SQLite database (``store.db``).

Recursive pins keep a whole DAG; direct pins keep one block. The VFS root CID
is stored here too, so GC treats it as a root and concurrent processes update
it with a compare-and-set inside one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInput

PIN_TYPES = ("recursive", "direct")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pins (
    cid TEXT PRIMARY KEY,
    type TEXT NOT NULL CHECK (type IN ('recursive', 'direct')),
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Pin:
    cid: str
    type: str
    created: float

    def to_dict(self) -> dict:
        return {"cid": self.cid, "type": self.type, "created": self.created}


class PinStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        # One connection serves every thread of the process (a server's
        # requests): one transaction at a time on it, and no read that would
        # see another thread's uncommitted writes. Re-entrant for reads made
        # inside a transaction.
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Exclusive write transaction (serialises writers across threads and processes)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                if self._db.in_transaction:  # SQLite already rolled back on disk full / I/O errors
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # ---- pins ------------------------------------------------------------
    def add(self, cid: str, pin_type: str = "recursive") -> Pin:
        if pin_type not in PIN_TYPES:
            raise InvalidInput(f"pin type must be recursive or direct, not {pin_type!r}")
        now = time.time()
        with self.transaction() as db:
            row = db.execute("SELECT type, created FROM pins WHERE cid = ?", (cid,)).fetchone()
            # A recursive pin subsumes a direct one; never downgrade.
            if row and (row[0] == "recursive" or row[0] == pin_type):
                return Pin(cid, row[0], row[1])
            db.execute(
                "INSERT INTO pins (cid, type, created) VALUES (?, ?, ?) "
                "ON CONFLICT(cid) DO UPDATE SET type = excluded.type",
                (cid, pin_type, now),
            )
        return Pin(cid, pin_type, now)

    def remove(self, cid: str) -> Pin | None:
        with self.transaction() as db:
            row = db.execute("SELECT type, created FROM pins WHERE cid = ?", (cid,)).fetchone()
            if row is None:
                return None
            db.execute("DELETE FROM pins WHERE cid = ?", (cid,))
        return Pin(cid, row[0], row[1])

    def get(self, cid: str) -> Pin | None:
        rows = self._rows("SELECT type, created FROM pins WHERE cid = ?", (cid,))
        return Pin(cid, rows[0][0], rows[0][1]) if rows else None

    def list(self, pin_type: str = "all") -> list[Pin]:
        if pin_type == "all":
            rows = self._rows("SELECT cid, type, created FROM pins ORDER BY created, cid")
        else:
            rows = self._rows(
                "SELECT cid, type, created FROM pins WHERE type = ? ORDER BY created, cid", (pin_type,)
            )
        return [Pin(*row) for row in rows]

    def count(self) -> dict[str, int]:
        counts = dict(self._rows("SELECT type, COUNT(*) FROM pins GROUP BY type"))
        return {t: counts.get(t, 0) for t in PIN_TYPES}

    # ---- small key/value (VFS root) --------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str, db: sqlite3.Connection | None = None) -> None:
        sql = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"
        if db is not None:  # inside the caller's transaction
            db.execute(sql, (key, value))
        else:
            self._rows(sql, (key, value))
