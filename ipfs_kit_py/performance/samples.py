"""Where the monitor keeps its samples: in memory, or in SQLite shared by processes.

Both stores hold every sample ``(operation, timestamp, duration_ms, ok)``
for the monitor's retention period (default 7 days), per-operation running
totals with a latency histogram (for Prometheus, monotonic and never pruned),
and baselines. Quantiles are computed from the stored samples, so they are exact.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from array import array
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

# Upper bounds (ms) of the latency histogram exported to Prometheus.
BUCKETS_MS = (0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)

Row = tuple[str, float, float, bool]


def empty_totals() -> dict[str, Any]:
    return {"count": 0, "failures": 0, "sum_ms": 0.0, "buckets": [0] * (len(BUCKETS_MS) + 1)}


def _add_totals(totals: dict[str, dict[str, Any]], rows: Iterable[Row]) -> None:
    for name, _ts, ms, ok in rows:
        t = totals.get(name)
        if t is None:
            t = totals[name] = empty_totals()
        t["count"] += 1
        t["failures"] += 0 if ok else 1
        t["sum_ms"] += ms
        t["buckets"][bisect_left(BUCKETS_MS, ms)] += 1


class MemorySampleStore:
    def __init__(self, max_samples_per_operation: int = 2_000_000):
        self._series: dict[str, tuple[array, array, array]] = {}
        self._totals: dict[str, dict[str, Any]] = {}
        self._baselines: dict[str, dict[str, Any]] = {}
        self._max = max_samples_per_operation
        self.dropped = 0
        self._lock = threading.Lock()

    def append(self, rows: list[Row]) -> None:
        with self._lock:
            for name, ts, ms, ok in rows:
                series = self._series.get(name)
                if series is None:
                    series = self._series[name] = (array("d"), array("d"), array("b"))
                series[0].append(ts)
                series[1].append(ms)
                series[2].append(1 if ok else 0)
            _add_totals(self._totals, rows)
            for series in self._series.values():
                excess = len(series[0]) - self._max
                if excess > 0:  # bounded memory: drop the oldest, and say so in the statistics
                    for arr in series:
                        del arr[:excess]
                    self.dropped += excess

    def window(self, name: str | None, since: float) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        with self._lock:
            names = [name] if name is not None else list(self._series)
            out = {}
            for n in names:
                series = self._series.get(n)
                if series is None:
                    continue
                ts = np.array(series[0], dtype=float)
                mask = ts >= since
                if mask.any():
                    out[n] = (ts[mask], np.array(series[1], dtype=float)[mask], np.array(series[2], dtype=bool)[mask])
            return out

    def prune(self, before: float) -> None:
        with self._lock:
            for name, (ts, ms, ok) in list(self._series.items()):
                keep = np.frombuffer(ts, dtype=float) >= before
                if keep.all():
                    continue
                idx = np.nonzero(keep)[0]
                self._series[name] = (array("d", np.frombuffer(ts, dtype=float)[idx].tobytes()),
                                      array("d", np.frombuffer(ms, dtype=float)[idx].tobytes()),
                                      array("b", np.frombuffer(ok, dtype=np.int8)[idx].tobytes()))

    def totals(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: {**v, "buckets": list(v["buckets"])} for k, v in self._totals.items()}

    def sample_count(self) -> int:
        with self._lock:
            return sum(len(s[0]) for s in self._series.values())

    def set_baseline(self, name: str, record: dict[str, Any]) -> None:
        with self._lock:
            self._baselines[name] = record

    def get_baseline(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self._baselines.get(name)

    def baselines(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return dict(self._baselines)

    def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS perf_blocks (
    name TEXT NOT NULL, ts_min REAL NOT NULL, ts_max REAL NOT NULL, n INTEGER NOT NULL,
    ts BLOB NOT NULL, ms BLOB NOT NULL, ok BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS perf_blocks_name_ts ON perf_blocks (name, ts_max);
CREATE INDEX IF NOT EXISTS perf_blocks_ts ON perf_blocks (ts_max);
CREATE TABLE IF NOT EXISTS perf_totals (
    name TEXT PRIMARY KEY, count INTEGER NOT NULL, failures INTEGER NOT NULL,
    sum_ms REAL NOT NULL, buckets TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS perf_baselines (
    name TEXT PRIMARY KEY, set_at REAL NOT NULL, summary TEXT NOT NULL, samples BLOB NOT NULL);
"""
_BUCKET_BOUNDS = np.asarray(BUCKETS_MS, dtype=float)


def _columns(rows: list[Row]) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Rows grouped by operation as (timestamps, durations, ok) arrays."""
    names, ts, ms, ok = zip(*rows, strict=True)
    ts_a, ms_a, ok_a = np.array(ts, dtype="<f8"), np.array(ms, dtype="<f8"), np.array(ok, dtype=bool)
    distinct = set(names)
    if len(distinct) == 1:
        return {names[0]: (ts_a, ms_a, ok_a)}
    where: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(names):
        where[name].append(i)
    return {name: (ts_a[idx], ms_a[idx], ok_a[idx]) for name, idx in where.items()}


class SqliteSampleStore:
    """Samples in ``metrics.db`` (WAL): a CLI process reads what the service wrote.

    Each flush stores one *block* per operation: its timestamps, durations and
    outcomes as packed arrays (``perf_blocks``), with the block's time range
    for lookups. A row per sample cost more than the whole in-memory record
    path (SQLite insert ~3 us a row here); a block costs well under 1 us a
    sample, and a window read is a few BLOBs turned into numpy arrays.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            from ..errors import IpfsKitError

            raise IpfsKitError(f"cannot open metrics database {self.path}: {exc}") from exc
        self._lock = threading.Lock()
        self.dropped = 0
        self._migrate_rows()

    def _migrate_rows(self) -> None:
        """Samples an older version stored one per row become blocks (once)."""
        db = self._db
        if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'perf_samples'").fetchone():
            return
        with self._lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'perf_samples'").fetchone():
                    rows = db.execute("SELECT name, ts, duration_ms, ok FROM perf_samples ORDER BY ts").fetchall()
                    if rows:
                        self._insert_blocks(_columns([(n, t, m, bool(o)) for n, t, m, o in rows]))
                    db.execute("DROP TABLE perf_samples")
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # SQLite already rolled back on disk full / I/O errors
                    db.execute("ROLLBACK")
                raise

    def _insert_blocks(self, groups: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
        self._db.executemany(
            "INSERT INTO perf_blocks (name, ts_min, ts_max, n, ts, ms, ok) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(name, float(ts.min()), float(ts.max()), len(ts), ts.astype("<f8").tobytes(),
              ms.astype("<f8").tobytes(), ok.astype(np.uint8).tobytes())
             for name, (ts, ms, ok) in groups.items() if len(ts)])

    def append(self, rows: list[Row]) -> None:
        if not rows:
            return
        groups = _columns(rows)
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                self._insert_blocks(groups)
                for name, (_ts, ms, ok) in groups.items():
                    row = db.execute("SELECT count, failures, sum_ms, buckets FROM perf_totals WHERE name = ?",
                                     (name,)).fetchone()
                    if row is None:
                        count, failures, sum_ms, buckets = 0, 0, 0.0, [0] * (len(BUCKETS_MS) + 1)
                    else:
                        count, failures, sum_ms, buckets = row[0], row[1], row[2], json.loads(row[3])
                    hist = np.bincount(np.searchsorted(_BUCKET_BOUNDS, ms, side="left"),
                                       minlength=len(BUCKETS_MS) + 1)
                    merged = [int(a + b) for a, b in zip(buckets, hist, strict=True)]
                    db.execute("INSERT OR REPLACE INTO perf_totals VALUES (?, ?, ?, ?, ?)",
                               (name, count + len(ms), failures + int((~ok).sum()),
                                sum_ms + float(ms.sum()), json.dumps(merged)))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # SQLite already rolled back on disk full / I/O errors
                    db.execute("ROLLBACK")
                raise

    def window(self, name: str | None, since: float) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        with self._lock:
            if name is None:
                rows = self._db.execute("SELECT name, ts, ms, ok FROM perf_blocks WHERE ts_max >= ? ORDER BY rowid",
                                        (since,)).fetchall()
            else:
                rows = self._db.execute("SELECT name, ts, ms, ok FROM perf_blocks WHERE name = ? AND ts_max >= ? "
                                        "ORDER BY rowid", (name, since)).fetchall()
        grouped: dict[str, list] = defaultdict(list)
        for n, ts, ms, ok in rows:
            grouped[n].append((np.frombuffer(ts, dtype="<f8"), np.frombuffer(ms, dtype="<f8"),
                               np.frombuffer(ok, dtype=np.uint8)))
        out = {}
        for n, parts in grouped.items():
            ts = np.concatenate([p[0] for p in parts])
            ms = np.concatenate([p[1] for p in parts])
            ok = np.concatenate([p[2] for p in parts]).astype(bool)
            keep = ts >= since
            ts, ms, ok = ts[keep], ms[keep], ok[keep]
            if len(ts) > 1 and np.any(ts[1:] < ts[:-1]):
                order = np.argsort(ts, kind="stable")
                ts, ms, ok = ts[order], ms[order], ok[order]
            if len(ts):
                out[n] = (ts, ms, ok)
        return out

    def prune(self, before: float) -> None:
        """Drop samples older than ``before``: whole blocks, and the old part of blocks that straddle it."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM perf_blocks WHERE ts_max < ?", (before,))
                straddling = db.execute("SELECT rowid, name, ts, ms, ok FROM perf_blocks WHERE ts_min < ?",
                                        (before,)).fetchall()
                for rowid, name, ts_b, ms_b, ok_b in straddling:
                    ts = np.frombuffer(ts_b, dtype="<f8")
                    keep = ts >= before
                    ms = np.frombuffer(ms_b, dtype="<f8")[keep]
                    ok = np.frombuffer(ok_b, dtype=np.uint8)[keep].astype(bool)
                    db.execute("DELETE FROM perf_blocks WHERE rowid = ?", (rowid,))
                    self._insert_blocks({name: (ts[keep], ms, ok)})
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # SQLite already rolled back on disk full / I/O errors
                    db.execute("ROLLBACK")
                raise

    def totals(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT name, count, failures, sum_ms, buckets FROM perf_totals").fetchall()
        return {r[0]: {"count": r[1], "failures": r[2], "sum_ms": r[3], "buckets": json.loads(r[4])} for r in rows}

    def sample_count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COALESCE(SUM(n), 0) FROM perf_blocks").fetchone()[0]

    def set_baseline(self, name: str, record: dict[str, Any]) -> None:
        samples = np.asarray(record["samples"], dtype="<f8").tobytes()
        summary = {k: v for k, v in record.items() if k != "samples"}
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO perf_baselines VALUES (?, ?, ?, ?)",
                             (name, summary["set_at"], json.dumps(summary), samples))

    def _baseline_rows(self, name: str | None) -> list:
        with self._lock:
            if name is None:
                return self._db.execute("SELECT summary, samples FROM perf_baselines").fetchall()
            return self._db.execute("SELECT summary, samples FROM perf_baselines WHERE name = ?", (name,)).fetchall()

    def get_baseline(self, name: str) -> dict[str, Any] | None:
        rows = self._baseline_rows(name)
        if not rows:
            return None
        summary, blob = rows[0]
        return {**json.loads(summary), "samples": np.frombuffer(blob, dtype="<f8").copy()}

    def baselines(self) -> dict[str, dict[str, Any]]:
        out = {}
        for summary, blob in self._baseline_rows(None):
            record = {**json.loads(summary), "samples": np.frombuffer(blob, dtype="<f8").copy()}
            out[record["operation"]] = record
        return out

    def close(self) -> None:
        with self._lock:
            self._db.close()
