"""Audit log throughput and latency on SQLite, next to the storage limit, in one run.

    python benchmarks/bench_audit.py [--events 1000000] [--batch 1000]

- batched ingest: `AuditLogger.log_events` in batches (validation, canonical
  JSON, hash chain, indexes) vs a plain `executemany` of the same rows into a
  bare table with the same columns and indexes (the storage limit)
- single `log_event` latency p50/p99 (each call returns only once committed)
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

from ipfs_kit_py.audit.logger import AuditLogger

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


def plain_executemany(path: Path, events: list[dict], batch: int) -> float:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    cols = ["event_type", "action", "status", "user_id", "source_ip", "resource", "duration_ms",
            "bytes", "timestamp", "details"]
    db.execute(f"CREATE TABLE t (seq INTEGER PRIMARY KEY, {', '.join(cols)})")
    for idx in ("timestamp", "event_type, timestamp", "user_id, timestamp", "status, timestamp", "resource"):
        db.execute(f"CREATE INDEX i_{abs(hash(idx))} ON t ({idx})")
    rows = [tuple(str(e[c]) if c == "details" else e[c] for c in cols) for e in events]
    t0 = time.perf_counter()
    for i in range(0, len(rows), batch):
        with db:
            db.executemany(f"INSERT INTO t ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                           rows[i:i + batch])
    elapsed = time.perf_counter() - t0
    db.close()
    return elapsed


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
        t_plain = plain_executemany(tmp / "plain.db", events, args.batch)
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
    print(f"plain executemany (limit)   {n / t_plain:10,.0f} events/s")
    print(f"AuditLogger.log_events      {n / t_log:10,.0f} events/s   {t_plain / t_log:5.2f}x of the limit")
    print(f"log_event single            p50 {lat[len(lat) // 2]:7.1f} us   p99 {lat[int(len(lat) * 0.99)]:7.1f} us")
    print(f"1-hour window query+count   p50 {statistics.median(q):7.2f} ms  max {max(q):7.2f} ms")
    print(f"verify whole chain          {t_verify:7.2f} s  ok={ok}")


if __name__ == "__main__":
    main()
