"""The column snapshot next to a SQLite audit log: same frames as SQL, never stale.

Every check compares ``export_columns`` answered from the snapshot with the same
query answered from the stored blocks alone (``columns.frame_from_rows``), on
a real log. The thresholds are lowered so a few hundred events get a snapshot.
"""

from __future__ import annotations

import json
import os

import polars as pl
import pytest

from ipfs_kit_py.audit import AuditLogger
from ipfs_kit_py.audit import columns as colmod
from ipfs_kit_py.audit.events import ALL_FIELDS
from ipfs_kit_py.errors import InvalidInput
from tests.audit.conftest import LogTarget

T0 = 1_700_000_000.0
TYPES = ("data", "authentication", "backend", "admin")
STATUSES = ("success", "success", "failure", "denied", "error")


@pytest.fixture
def small_snapshots(monkeypatch):
    monkeypatch.setattr(colmod, "SNAPSHOT_MIN_ROWS", 100)
    monkeypatch.setattr(colmod, "SNAPSHOT_SEGMENT_ROWS", 50)


@pytest.fixture
def log(tmp_path, small_snapshots):
    lg = AuditLogger(path=tmp_path / "audit.db")
    yield lg
    lg.close()


def _add(log, n: int, start: int = 0) -> None:
    batch = []
    for i in range(start, start + n):
        batch.append(dict(
            event_type=TYPES[i % 4], action=("content.add", "content.cat", "pin.rm", "auth.login")[i % 4],
            status=STATUSES[i % 5], user_id=None if i % 6 == 0 else f"u{i % 9}",
            source_ip=f"10.0.{i % 3}.{i % 7}", resource=f"Qm{i % 11}" if i % 2 else None,
            operation_id=f"op{i // 10}", session_id=f"s{i % 4}" if i % 3 else None,
            # Not in time order: every 13th event is back-dated (like an import).
            timestamp=T0 + 60 * i - (7200 if i % 13 == 0 else 0),
            duration_ms=float(i % 17) if i % 5 else None, bytes=i * 1000 if i % 4 else None,
            details={"i": i, "note": "x" * (i % 5)},
        ))
    log.log_events(batch)


QUERIES = [
    {},
    {"start_time": T0 + 6000},
    {"start_time": T0 - 10_000, "end_time": T0 + 50_000},
    {"end_time": T0 + 9000},
    {"event_types": ["data", "admin"]},
    {"start_time": T0 + 3000, "event_types": "authentication"},
    {"start_time": T0 + 10**9},  # nothing
    {"columns": ["timestamp", "user_id", "seq", "details"]},
    {"start_time": T0 + 1200, "columns": ["event_id", "hash"]},
]


def _sql(log, start_time=None, end_time=None, event_types=None, columns=None):
    """The same query, answered from the stored blocks alone (no snapshot), filtered here."""
    chosen = columns or list(ALL_FIELDS)
    types = None if event_types is None else ([event_types] if isinstance(event_types, str) else event_types)
    rows = [row for row in log.store.iter_chain(log.chain_base().seq + 1)
            if (start_time is None or row[2] >= start_time) and (end_time is None or row[2] < end_time)
            and (types is None or row[3] in types)]
    return colmod.frame_from_rows(rows, chosen)


def _assert_same(log):
    for query in QUERIES:
        got = log.export_columns(**query)
        want = _sql(log, **query)
        assert got.schema == want.schema, query
        assert got.equals(want), query
        assert got.height == want.height
    full = log.export_columns()
    assert full["seq"].to_list() == sorted(full["seq"].to_list())


def _manifest(log) -> dict:
    return json.loads((colmod.snapshot_dir(log.path) / "manifest.json").read_text())


def _head(log) -> int:
    return log.chain_head().seq


def test_same_frames_as_sql_and_private_atomic_files(log):
    _add(log, 300)
    _assert_same(log)
    snap = colmod.snapshot_dir(log.path)
    manifest = _manifest(log)
    assert [(s["first_seq"], s["last_seq"]) for s in manifest["segments"]] == [(1, 300)]
    assert os.stat(snap).st_mode & 0o777 == 0o700
    names = sorted(p.name for p in snap.iterdir())
    assert [n for n in names if n.startswith(".tmp")] == []
    for name in names:
        if name != ".lock":
            assert os.stat(snap / name).st_mode & 0o777 == 0o600


def test_small_log_has_no_snapshot(tmp_path, small_snapshots):
    with AuditLogger(path=tmp_path / "small.db") as lg:
        _add(lg, 60)
        assert lg.export_columns().height == 60
        assert not colmod.snapshot_dir(lg.path).exists()


def test_new_events_extend_the_snapshot(log):
    _add(log, 300)
    log.export_columns()
    first = _manifest(log)["segments"]
    # Fewer than SNAPSHOT_SEGMENT_ROWS new rows: read from SQL, snapshot unchanged.
    _add(log, 20, start=300)
    _assert_same(log)
    assert _manifest(log)["segments"] == first
    assert log.export_columns().height == 320
    # Enough new rows: saved as a segment after the first, the first one kept as it was.
    _add(log, 60, start=320)
    _assert_same(log)
    segments = _manifest(log)["segments"]
    assert segments[0] == first[0]
    assert [(s["first_seq"], s["last_seq"]) for s in segments] == [(1, 300), (301, 380)]
    # A trailing segment is merged with the one before when that one is not over twice its size.
    _add(log, 70, start=380)
    _assert_same(log)
    spans = [(s["first_seq"], s["last_seq"]) for s in _manifest(log)["segments"]]
    assert spans == [(1, 450)]  # 80 + 70 -> 150, then 300 + 150
    _add(log, 70, start=450)
    _assert_same(log)
    spans = [(s["first_seq"], s["last_seq"]) for s in _manifest(log)["segments"]]
    assert spans == [(1, 450), (451, 520)] and _head(log) == 520
    files = {p.name for p in colmod.snapshot_dir(log.path).glob("seg-*")}
    assert files == {s["file"] for s in _manifest(log)["segments"]}


def test_prune_drops_the_snapshot_at_once(log):
    _add(log, 300)
    log.export_columns()
    assert colmod.snapshot_dir(log.path).is_dir()
    log.prune(T0 + 60 * 100)
    assert not colmod.snapshot_dir(log.path).exists()  # retention applies to the copy immediately
    _assert_same(log)


def test_a_snapshot_older_than_a_prune_is_cut_to_the_new_base(log):
    # A snapshot written from a read that began before a prune (another process) must not bring
    # the pruned rows back: on use it is cut at the new base, after checking the anchor.
    _add(log, 300)
    log.export_columns()
    saved = {p.name: p.read_bytes() for p in colmod.snapshot_dir(log.path).iterdir() if p.is_file()}
    result = log.prune(T0 + 60 * 100)
    assert result.deleted > 0
    colmod.snapshot_dir(log.path).mkdir(mode=0o700)
    for name, data in saved.items():
        (colmod.snapshot_dir(log.path) / name).write_bytes(data)
    _assert_same(log)
    assert _manifest(log)["segments"][0]["first_seq"] == result.base_seq + 1
    assert log.export_columns()["seq"][0] == result.base_seq + 1
    # The pruned events are gone from the snapshot files too.
    segments = _manifest(log)["segments"]
    assert segments[0]["first_seq"] == result.base_seq + 1
    files = {p.name for p in colmod.snapshot_dir(log.path).glob("seg-*")}
    assert files == {s["file"] for s in segments}


def test_prune_past_the_snapshot_rebuilds(log):
    _add(log, 300)
    log.export_columns()
    _add(log, 200, start=300)
    log.prune(T0 + 60 * 350)  # the base moves past the end of the snapshot's segment
    _assert_same(log)
    assert _manifest(log)["segments"][0]["first_seq"] == log.chain_base().seq + 1


def _rewrite_chain_from(path, seq: int, **changes) -> None:
    """Tamper like someone who knows the format: change a row and recompute every hash after it."""
    LogTarget("sqlite", path=path).tamper.rewrite_from(seq, **changes)


def test_rewritten_row_invalidates_the_snapshot(log):
    _add(log, 300)
    before = log.export_columns()
    old_files = {s["file"] for s in _manifest(log)["segments"]}
    _rewrite_chain_from(log.path, 150, status="success", user_id="mallory")
    assert log.verify().ok  # a consistent rewrite: the chain alone cannot tell
    after = log.export_columns()
    assert after.filter(pl.col("seq") == 150)["user_id"].item() == "mallory"
    assert not after.equals(before)
    _assert_same(log)
    assert {s["file"] for s in _manifest(log)["segments"]}.isdisjoint(old_files)


def test_changed_hash_of_the_last_row_invalidates_the_snapshot(log):
    _add(log, 300)
    log.export_columns()
    LogTarget("sqlite", path=log.path).tamper.set_hash(300, "f" * 64)
    assert log.export_columns().filter(pl.col("seq") == 300)["hash"].item() == "f" * 64
    _assert_same(log)


def test_tampered_or_missing_snapshot_files_are_rebuilt(log):
    _add(log, 300)
    log.export_columns()
    snap = colmod.snapshot_dir(log.path)
    segment = snap / _manifest(log)["segments"][0]["file"]
    # Flip bytes in the middle of the segment (column data), keeping its size.
    data = bytearray(segment.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 8] = bytes(b ^ 0xFF for b in data[middle:middle + 8])
    tampered = snap / "tampered.arrow"
    tampered.write_bytes(bytes(data))
    os.replace(tampered, segment)
    _assert_same(log)
    assert _manifest(log)["segments"][0]["file"] != segment.name
    # A manifest naming a file that is gone.
    manifest = _manifest(log)
    (snap / manifest["segments"][0]["file"]).unlink()
    _assert_same(log)
    # A manifest that is not JSON.
    (snap / "manifest.json").write_text("{not json")
    _assert_same(log)
    assert _manifest(log)["version"] == colmod.SNAPSHOT_VERSION


def test_other_filters_still_go_to_sql(log):
    _add(log, 300)
    log.export_columns()
    bob = log.export_columns(user_id="u3", status="success")
    assert bob.height == log.count(user_id="u3", status="success") > 0
    assert set(bob["user_id"].to_list()) == {"u3"}
    with pytest.raises(InvalidInput, match="columns"):
        log.export_columns(columns=["nope"])
