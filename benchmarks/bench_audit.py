"""Audit log throughput and latency on SQLite, next to the storage limits, in one run.

    python benchmarks/bench_audit.py [--events 1000000] [--batch 1000]

- batched ingest: `AuditLogger.log_events` in batches (validation, canonical
  JSON, ids, hash chain, blocks with value keys, id index), next to plain
  inserts of the same stored data, prepared untimed:
  * the storage limit: the same block rows and id rows into the same schema,
    with the same statements the store runs (SQLite's cost for our layout,
    no Python work per event);
  * a row per event with B-tree indexes on time, type, user, status,
    operation and resource (the classic layout, schema version 1), on a file
    and in memory: what the block layout is measured against.
- single `log_event` latency p50/p99 (each call returns only once committed;
  timed after the bulk load's writes reached the disk, for the limit too),
  next to the plain statement of our single-event commit (the chain row with
  the head and the open tail rewritten, in its own transaction: the limit)
  and one plain row per transaction into the row-per-event table.
- a 1-hour window query over the whole log (`query_events`, limit 100, and `count`).
- `verify` of the whole chain.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from ipfs_kit_py.audit.events import GENESIS_HASH, canonical_body, prepare_row
from ipfs_kit_py.audit.logger import AuditLogger
from ipfs_kit_py.audit.store import (
    ADVANCE,
    INSERT_BLOCK,
    SQLiteStore,
    _ids_insert,
    block_records,
    chain_links,
)

ACTIONS = ["content.add", "content.cat", "pin.add", "pin.rm", "auth.login", "files.write"]

# The row-per-event layout (schema version 1), as the reference.
ROW_TABLE = """CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, timestamp REAL NOT NULL,
    event_type TEXT NOT NULL, action TEXT NOT NULL, status TEXT NOT NULL, user_id TEXT,
    source_ip TEXT, resource TEXT, resource_type TEXT, backend TEXT, operation_id TEXT,
    parent_id TEXT, session_id TEXT, duration_ms REAL, bytes INTEGER, severity TEXT NOT NULL,
    details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)"""
ROW_INDEXES = (
    "CREATE INDEX t ON audit_events (timestamp)",
    "CREATE INDEX ty ON audit_events (event_type, timestamp)",
    "CREATE INDEX u ON audit_events (user_id, timestamp)",
    "CREATE INDEX s ON audit_events (status, timestamp)",
    "CREATE INDEX o ON audit_events (operation_id)",
    "CREATE INDEX r ON audit_events (resource)",
)
ROW_INSERT = f"INSERT INTO audit_events VALUES ({', '.join('?' * 20)})"


def make_events(n: int, start: float, span: float, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    step = span / n
    return [
        {
            "event_type": "data",
            "action": rng.choice(ACTIONS),
            "status": "success" if rng.random() > 0.05 else "failure",
            "user_id": f"user{rng.randrange(200)}",
            "source_ip": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
            "resource": f"Qm{rng.getrandbits(128):032x}",
            "duration_ms": rng.random() * 20,
            "bytes": rng.randrange(1 << 20),
            "timestamp": start + i * step,
            "details": {"i": i},
        }
        for i in range(n)
    ]


def stored(events: list[dict]) -> tuple[list[tuple[tuple, bytes]], list[tuple[int, str, str]]]:
    """The validated rows, canonical bodies and chain links the logger stores, built untimed."""
    prepared = [(row, canonical_body(row)) for row in (prepare_row(**event) for event in events)]
    return prepared, chain_links(0, GENESIS_HASH, [body for _row, body in prepared])


def _connect(target: str) -> sqlite3.Connection:
    db = sqlite3.connect(target, isolation_level=None)
    if target != ":memory:":
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    return db


def plain_blocks(path: Path, prepared, links, batch: int, singles: int) -> tuple[float, list[float]]:
    """Seconds to insert the block and id rows of ``batch``-sized commits into our schema (the same
    statements the store runs), then the latency (µs) of ``singles`` more one-event commits as the
    store makes them: the chain row (head and open tail, the event added) rewritten by one statement."""
    SQLiteStore(path).close()  # the real schema, empty
    db = _connect(str(path))
    n = len(prepared) - singles
    commits = [(block_records(prepared[i:i + batch], links[i:i + batch]),
                [v for (row, _b), link in zip(prepared[i:i + batch], links[i:i + batch], strict=True)
                 for v in (row[0], link[0])])
               for i in range(0, n, batch)]
    t0 = time.perf_counter()
    for records, ids in commits:
        db.execute("BEGIN IMMEDIATE")
        db.executemany(INSERT_BLOCK, records)
        db.execute(_ids_insert(len(ids) // 2), ids)
        db.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    settle()
    latencies = []
    head = links[n - 1]
    db.execute("UPDATE audit_chain SET head_seq = ?, head_hash = ?, tail_first_seq = ?, tail_bodies = ?,"
               " tail_links = ''", (head[0], head[2], head[0] + 1, b""))
    old = (head[0], head[2], head[0] + 1, b"", "")
    for i in range(n, len(prepared)):
        (row, body), (seq, prev, digest) = prepared[i], links[i]
        _s, _h, first, bodies, link_text = old
        if len(bodies) > 3000:  # the store seals a full tail into a block; the limit starts over
            first, bodies, link_text = seq, b"", ""
        new = (first, bodies + b"\n" + body if bodies else body, link_text + prev + digest)
        t1 = time.perf_counter()
        changed = db.execute(ADVANCE, (seq, row[0], digest, *new, *old)).rowcount
        latencies.append((time.perf_counter() - t1) * 1e6)
        assert changed == 1, "the limit's commit must write"
        old = (seq, digest, *new)
    db.close()
    return elapsed, sorted(latencies)


def plain_rows(target: str, prepared, links, batch: int, singles: int = 0) -> tuple[float, list[float]]:
    """The same events as one row each into the row-per-event table and its indexes."""
    db = _connect(target)
    for stmt in (ROW_TABLE, *ROW_INDEXES):
        db.execute(stmt)
    rows = [(seq, *row, prev, digest) for (row, _body), (seq, prev, digest) in zip(prepared, links, strict=True)]
    bulk, tail = rows[:len(rows) - singles], rows[len(rows) - singles:]
    t0 = time.perf_counter()
    for i in range(0, len(bulk), batch):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(ROW_INSERT, bulk[i:i + batch])
        db.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    latencies = []
    for row in tail:
        t1 = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.execute(ROW_INSERT, row)
        db.execute("COMMIT")
        latencies.append((time.perf_counter() - t1) * 1e6)
    db.close()
    return elapsed, sorted(latencies)


def settle() -> None:
    """Let the bulk load's writes reach the disk before timing single commits (the same for the
    limit and the logger): otherwise the single-commit numbers measure the leftover write-back."""
    os.sync()
    time.sleep(1.0)


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--singles", type=int, default=2000)
    args = ap.parse_args()
    now = time.time()
    span = 30 * 86400.0
    events = make_events(args.events, now - span, span)
    n = args.events
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        prepared, links = stored(events + make_events(args.singles, now, 60.0, seed=2))
        t_blocks, block_lat = plain_blocks(tmp / "plain-blocks.db", prepared, links, args.batch, args.singles)
        t_rows, row_lat = plain_rows(str(tmp / "plain-rows.db"), prepared, links, args.batch, args.singles)
        t_memory, _ = plain_rows(":memory:", prepared[:n], links[:n], args.batch)
        del prepared, links
        logger = AuditLogger(path=tmp / "audit.db")
        t0 = time.perf_counter()
        for i in range(0, n, args.batch):
            logger.log_events(events[i:i + args.batch])
        t_log = time.perf_counter() - t0
        settle()
        lat = []
        for i in range(args.singles):
            t1 = time.perf_counter()
            logger.log_event("data", "content.cat", user_id="bench", resource=f"r{i}")
            lat.append((time.perf_counter() - t1) * 1e6)
        lat.sort()
        q = []
        rng = random.Random(3)
        for _ in range(50):
            start = now - span + rng.random() * (span - 3600)
            t1 = time.perf_counter()
            logger.query_events(start_time=start, end_time=start + 3600, limit=100)
            logger.count(start_time=start, end_time=start + 3600)
            q.append((time.perf_counter() - t1) * 1000)
        t1 = time.perf_counter()
        ok = logger.verify().ok
        t_verify = time.perf_counter() - t1
        size = (tmp / "audit.db").stat().st_size
        logger.close()
    print(f"events: {n:,}  batch: {args.batch}")
    print(f"plain executemany, our blocks+ids (limit) {n / t_blocks:10,.0f} events/s")
    print(f"plain executemany, row per event, file    {n / t_rows:10,.0f} events/s   (6 B-tree indexes)")
    print(f"plain executemany, row per event, :memory:{n / t_memory:10,.0f} events/s   (its CPU ceiling)")
    print(f"AuditLogger.log_events                    {n / t_log:10,.0f} events/s   "
          f"{t_blocks / t_log:5.2f}x the block limit, {t_rows / t_log:5.2f}x the row-per-event store")
    print(f"plain one-event commit, tail (limit)      p50 {pct(block_lat, .5):7.1f} us   p99 {pct(block_lat, .99):7.1f} us")
    print(f"plain one-row commit, row per event       p50 {pct(row_lat, .5):7.1f} us   p99 {pct(row_lat, .99):7.1f} us")
    print(f"log_event single                          p50 {pct(lat, .5):7.1f} us   p99 {pct(lat, .99):7.1f} us   "
          f"{pct(lat, .5) / pct(block_lat, .5):5.2f}x the limit's p50")
    print(f"1-hour window query+count                 p50 {statistics.median(q):7.2f} ms  max {max(q):7.2f} ms")
    print(f"verify whole chain                        {t_verify:7.2f} s  ok={ok}")
    print(f"database size                             {size / 1e6:7.1f} MB")


if __name__ == "__main__":
    main()
