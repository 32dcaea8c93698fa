"""Logs of older schema versions are converted in place when opened: version 1 (a row per event)
and version 2 (the open tail in a table of its own)."""

from __future__ import annotations

import hashlib
import sqlite3

from ipfs_kit_py.audit import AuditLogger
from ipfs_kit_py.audit.events import GENESIS_HASH, canonical_body, prepare_row

V1_DDL = (
    """CREATE TABLE audit_events (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE,
    timestamp REAL NOT NULL, event_type TEXT NOT NULL, action TEXT NOT NULL, status TEXT NOT NULL,
    user_id TEXT, source_ip TEXT, resource TEXT, resource_type TEXT, backend TEXT, operation_id TEXT,
    parent_id TEXT, session_id TEXT, duration_ms REAL, bytes INTEGER, severity TEXT NOT NULL,
    details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)""",
    "CREATE INDEX audit_events_time ON audit_events (timestamp)",
    """CREATE TABLE audit_chain (id INTEGER PRIMARY KEY CHECK (id = 1), head_seq INTEGER NOT NULL,
    head_event_id TEXT, head_hash TEXT NOT NULL, base_seq INTEGER NOT NULL, base_event_id TEXT,
    base_hash TEXT NOT NULL, schema_version INTEGER NOT NULL)""",
)


def _v1_log(path, n: int, pruned: int = 0) -> list[tuple]:
    """A version 1 database holding events pruned+1..n (hashes computed here, as version 1 did)."""
    db = sqlite3.connect(path, isolation_level=None)
    for stmt in V1_DDL:
        db.execute(stmt)
    prev, rows = GENESIS_HASH, []
    for i in range(1, n + 1):
        row = prepare_row("data", "content.add", user_id=f"u{i % 3}", resource=f"r{i}", bytes=i,
                          details={"i": i}, timestamp=1_700_000_000.0 + i)
        digest = hashlib.sha256(prev.encode() + canonical_body(row)).hexdigest()
        rows.append((i, *row, prev, digest))
        prev = digest
    base = rows[pruned - 1] if pruned else None
    db.executemany(f"INSERT INTO audit_events VALUES ({', '.join('?' * 20)})", rows[pruned:])
    db.execute("INSERT INTO audit_chain VALUES (1, ?, ?, ?, ?, ?, ?, 1)",
               (n, rows[-1][1], prev, pruned, base and base[1], base[19] if base else GENESIS_HASH))
    db.close()
    return rows[pruned:]


def test_a_version_1_log_is_converted_and_still_verifies(tmp_path):
    path = tmp_path / "audit.db"
    rows = _v1_log(path, 5000, pruned=10)
    with AuditLogger(path=path) as log:
        result = log.verify()
        assert result.ok and result.checked == 4990 and result.start_seq == 11
        event = log.get_event(rows[100][1])
        assert (event.seq, event.resource, event.bytes, event.details) == (111, "r111", 111, {"i": 111})
        assert log.count(user_id="u1") == sum(1 for r in rows if r[6] == "u1")
        new = log.log_event("data", "content.cat")
        assert new.seq == 5001 and new.prev_hash == rows[-1][19]
        assert log.verify().ok
    tables = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "audit_events" not in tables and {"audit_blocks", "audit_event_ids"} <= tables


def test_an_event_edited_before_the_conversion_still_fails_verify(tmp_path):
    path = tmp_path / "audit.db"
    rows = _v1_log(path, 50)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("UPDATE audit_events SET user_id = 'mallory' WHERE seq = 7")
    db.close()
    with AuditLogger(path=path) as log:
        result = log.verify()
        assert not result.ok and result.problem == "edited" and result.first_bad_event_id == rows[6][1]


def _as_v2(path) -> None:
    """Turn a current log back into the version 2 layout: the open tail in its own table."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE audit_tail (id INTEGER PRIMARY KEY CHECK (id = 1), first_seq INTEGER NOT NULL,"
               " bodies BLOB NOT NULL, links TEXT NOT NULL)")
    db.execute("INSERT INTO audit_tail SELECT 1, tail_first_seq, tail_bodies, tail_links FROM audit_chain")
    for column in ("tail_first_seq", "tail_bodies", "tail_links"):
        db.execute(f"ALTER TABLE audit_chain DROP COLUMN {column}")
    db.execute("UPDATE audit_chain SET schema_version = 2")
    db.close()


def test_a_version_2_log_keeps_its_open_tail(tmp_path):
    path = tmp_path / "audit.db"
    with AuditLogger(path=path) as log:
        batch = log.log_events([{"event_type": "data", "action": "content.add", "resource": f"b{i}"}
                                for i in range(100)])
        singles = [log.log_event("data", "pin.add", resource=f"s{i}").event_id for i in range(5)]
    _as_v2(path)
    with AuditLogger(path=path) as log:
        result = log.verify()
        assert result.ok and result.checked == 105
        assert [e.event_id for e in log.query_events(limit=None, order="asc")] == batch + singles
        assert log.get_event(singles[-1]).seq == 105
        assert log.log_event("data", "content.cat").seq == 106
        assert log.verify().ok
    db = sqlite3.connect(path)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "audit_tail" not in tables
    assert db.execute("SELECT schema_version, tail_first_seq FROM audit_chain").fetchone() == (3, 101)
