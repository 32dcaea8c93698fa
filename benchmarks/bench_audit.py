"""Audit log throughput and latency on SQLite, next to the storage limit, in one run.

    python benchmarks/bench_audit.py [--events 1000000] [--batch 1000]

- batched ingest: `AuditLogger.log_events` in batches (validation, canonical
  JSON, hash chain, indexes) vs a plain `executemany` of the same stored rows
  (prepared untimed) into the same table and indexes: on a file (the storage
  limit) and in memory (SQLite's CPU cost alone, no I/O: the ceiling)
- single `log_event` latency p50/p99 (each call returns only once committed),
  next to one plain INSERT per transaction into the same table (the limit)
- a 1-hour window query over the whole log (`query_events`, limit 100, and `count`)
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from ipfs_kit_py.audit.events import GENESIS_HASH, canonical_body, prepare_row
from ipfs_kit_py.audit.logger import AuditLogger
from ipfs_kit_py.audit.store import _INDEXES, _INSERT, _TABLE_DDL, chain_rows

ACTIONS = ["content.add", "content.cat", "pin.add", "pin.rm", "auth.login", "files.write"]


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


def storage_rows(events: list[dict]) -> list[tuple]:
    """The exact rows the logger stores (validated, canonical, chained), built untimed."""
    prepared = [(row, canonical_body(row)) for row in (prepare_row(**event) for event in events)]
    return chain_rows(0, GENESIS_HASH, prepared)[0]


def plain_executemany(target: str, rows: list[tuple], batch: int, singles: int = 0) -> tuple[float, list[float]]:
    """Seconds to insert ``rows`` with executemany into the audit schema and indexes,
    then the latency (µs) of ``singles`` more rows committed one per transaction.

    ``target`` is a file path (WAL, synchronous=NORMAL, SQLite's default
    checkpointing: what a plain program gets) or ":memory:" (no I/O at all:
    SQLite's CPU cost for this schema, the ceiling for any writer using it).
    """
    db = sqlite3.connect(target, isolation_level=None)
    if target != ":memory:":
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    for stmt in (_TABLE_DDL.format(seq_type="INTEGER", float_type="REAL", int_type="INTEGER"), *_INDEXES):
        db.execute(stmt)
    bulk, tail = rows[:len(rows) - singles], rows[len(rows) - singles:]
    t0 = time.perf_counter()
    for i in range(0, len(bulk), batch):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(_INSERT, bulk[i:i + batch])
        db.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    latencies = []
    for row in tail:
        t1 = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.execute(_INSERT, row)
        db.execute("COMMIT")
        latencies.append((time.perf_counter() - t1) * 1e6)
    db.close()
    return elapsed, sorted(latencies)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--singles", type=int, default=2000)
    args = ap.parse_args()
    now = time.time()
    span = 30 * 86400.0
    events = make_events(args.events, now - span, span)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = storage_rows(events + make_events(args.singles, now, 60.0, seed=2))
        t_plain, plain_lat = plain_executemany(str(tmp / "plain.db"), rows, args.batch, args.singles)
        t_memory, _ = plain_executemany(":memory:", rows[:len(events)], args.batch)
        del rows
        logger = AuditLogger(path=tmp / "audit.db")
        t0 = time.perf_counter()
        for i in range(0, len(events), args.batch):
            logger.log_events(events[i:i + args.batch])
        t_log = time.perf_counter() - t0
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
        logger.close()
    n = args.events
    print(f"events: {n:,}  batch: {args.batch}")
    print(f"plain executemany, file (limit)      {n / t_plain:10,.0f} events/s")
    print(f"plain executemany, :memory: (no I/O) {n / t_memory:10,.0f} events/s   (SQLite CPU ceiling, same schema)")
    print(f"AuditLogger.log_events               {n / t_log:10,.0f} events/s   {t_plain / t_log:5.2f}x of the limit")
    pl = plain_lat
    print(f"plain one-row commit, file (limit)   p50 {pl[len(pl) // 2]:7.1f} us   p99 {pl[int(len(pl) * 0.99)]:7.1f} us")
    print(f"log_event single                     p50 {lat[len(lat) // 2]:7.1f} us   p99 {lat[int(len(lat) * 0.99)]:7.1f} us"
          f"   {lat[len(lat) // 2] / pl[len(pl) // 2]:5.2f}x the limit's p50")
    print(f"1-hour window query+count            p50 {statistics.median(q):7.2f} ms  max {max(q):7.2f} ms")
    print(f"verify whole chain                   {t_verify:7.2f} s  ok={ok}")


if __name__ == "__main__":
    main()
