"""Replication state, persisted in ``<home>/replication.db`` (SQLite, WAL).

One row per (CID, backend) with the Pinning Service API's statuses:
``queued`` (wanted, not tried yet or due for a retry), ``pinning`` (a copy is
being made right now), ``pinned`` (the backend confirmed it holds the whole
DAG), ``failed`` (the last attempt failed; ``next_attempt`` says when it is
due again). A row becomes ``pinned`` only after the backend has confirmed
the complete copy, so a crash mid-copy leaves it ``pinning`` and the next
sync retries it.

One row per backend holds its circuit breaker: consecutive failures and,
while open, the time until which calls are refused without being tried.
Retry schedules and the breaker are a few lines of arithmetic over these
rows; libraries such as tenacity or pybreaker keep that state in memory of
one process, while ours must survive between CLI runs and be shared with the
server.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

STATUSES = ("queued", "pinning", "pinned", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS replication (
    cid TEXT NOT NULL,
    backend TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    bytes INTEGER,
    blocks INTEGER,
    method TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (cid, backend)
);
CREATE INDEX IF NOT EXISTS replication_due ON replication (status, next_attempt);
CREATE TABLE IF NOT EXISTS breakers (
    backend TEXT PRIMARY KEY,
    failures INTEGER NOT NULL DEFAULT 0,
    open_until REAL NOT NULL DEFAULT 0,
    last_error TEXT
);
"""


class ReplicationState:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # survives a process crash; no fsync per row
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _exec(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # ---- replication rows ---------------------------------------------------------
    def want(self, cid: str, backend: str) -> str:
        """Queue ``cid`` for ``backend`` unless it is already there or in progress; return its status."""
        now = time.time()
        self._exec(
            "INSERT INTO replication (cid, backend, status, created, updated) VALUES (?, ?, 'queued', ?, ?) "
            "ON CONFLICT (cid, backend) DO NOTHING", (cid, backend, now, now))
        return self.get(cid, backend)["status"]

    def get(self, cid: str, backend: str) -> dict[str, Any] | None:
        rows = self._exec("SELECT * FROM replication WHERE cid = ? AND backend = ?", (cid, backend))
        return dict(rows[0]) if rows else None

    def mark_pinning(self, cid: str, backend: str) -> None:
        self._exec("UPDATE replication SET status = 'pinning', updated = ? WHERE cid = ? AND backend = ?",
                   (time.time(), cid, backend))

    def mark_pinned(self, cid: str, backend: str, bytes_: int, blocks: int, method: str) -> None:
        self._exec(
            "UPDATE replication SET status = 'pinned', bytes = ?, blocks = ?, method = ?, last_error = NULL, "
            "attempts = attempts + 1, updated = ? WHERE cid = ? AND backend = ?",
            (bytes_, blocks, method, time.time(), cid, backend))

    def mark_failed(self, cid: str, backend: str, error: str, retry_in: float) -> int:
        now = time.time()
        self._exec(
            "UPDATE replication SET status = 'failed', last_error = ?, attempts = attempts + 1, "
            "next_attempt = ?, updated = ? WHERE cid = ? AND backend = ?",
            (error, now + retry_in, now, cid, backend))
        return self.get(cid, backend)["attempts"]

    def defer(self, cid: str, backend: str, error: str, until: float) -> None:
        """Not tried (circuit open): due again at ``until``, attempts unchanged."""
        self._exec("UPDATE replication SET status = 'failed', last_error = ?, next_attempt = ?, updated = ? "
                   "WHERE cid = ? AND backend = ?", (error, until, time.time(), cid, backend))

    def forget(self, cid: str, backend: str) -> None:
        self._exec("DELETE FROM replication WHERE cid = ? AND backend = ?", (cid, backend))

    def forget_backend(self, backend: str) -> None:
        self._exec("DELETE FROM replication WHERE backend = ?", (backend,))
        self._exec("DELETE FROM breakers WHERE backend = ?", (backend,))

    def due(self, cids: list[str] | None = None, include_not_due: bool = False) -> list[dict[str, Any]]:
        """Rows still to copy: queued, failed, or left ``pinning`` by an interrupted run."""
        sql = "SELECT * FROM replication WHERE status != 'pinned'"
        args: tuple = ()
        if not include_not_due:
            sql += " AND next_attempt <= ?"
            args = (time.time(),)
        rows = [dict(r) for r in self._exec(sql + " ORDER BY created, cid, backend", args)]
        if cids is not None:
            wanted = set(cids)
            rows = [r for r in rows if r["cid"] in wanted]
        return rows

    def rows(self, cid: str | None = None, backend: str | None = None,
             status: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM replication WHERE 1 = 1", []
        for column, value in (("cid", cid), ("backend", backend), ("status", status)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        return [dict(r) for r in self._exec(sql + " ORDER BY created, cid, backend", tuple(args))]

    def pinned_roots(self, backend: str, limit: int = 1000) -> list[str]:
        rows = self._exec("SELECT cid FROM replication WHERE backend = ? AND status = 'pinned' "
                          "ORDER BY updated DESC LIMIT ?", (backend, limit))
        return [r["cid"] for r in rows]

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for row in self._exec("SELECT backend, status, COUNT(*) AS n FROM replication GROUP BY backend, status"):
            out.setdefault(row["backend"], {s: 0 for s in STATUSES})[row["status"]] = row["n"]
        return out

    # ---- circuit breakers -----------------------------------------------------------
    def breaker(self, backend: str) -> dict[str, Any]:
        rows = self._exec("SELECT * FROM breakers WHERE backend = ?", (backend,))
        return dict(rows[0]) if rows else {"backend": backend, "failures": 0, "open_until": 0.0,
                                           "last_error": None}

    def breaker_success(self, backend: str) -> None:
        self._exec("INSERT INTO breakers (backend, failures, open_until) VALUES (?, 0, 0) "
                   "ON CONFLICT (backend) DO UPDATE SET failures = 0, open_until = 0, last_error = NULL",
                   (backend,))

    def breaker_failure(self, backend: str, error: str, threshold: int, cooldown: float) -> bool:
        """Count a failure; open the breaker at ``threshold`` consecutive ones. True if it is open now."""
        with self._lock:
            row = self._db.execute("SELECT failures FROM breakers WHERE backend = ?", (backend,)).fetchone()
            failures = (row["failures"] if row else 0) + 1
            open_until = time.time() + cooldown if failures >= threshold else 0.0
            self._db.execute(
                "INSERT INTO breakers (backend, failures, open_until, last_error) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (backend) DO UPDATE SET failures = excluded.failures, "
                "open_until = excluded.open_until, last_error = excluded.last_error",
                (backend, failures, open_until, error))
        return open_until > 0
