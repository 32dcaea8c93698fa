"""The fast write path: its canonical bytes are exactly the documented form,
bad text is refused cleanly, and checkpoints happen off the writer."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipfs_kit_py.audit import AuditLogger
from ipfs_kit_py.audit import store as audit_store
from ipfs_kit_py.audit.events import canonical_body, details_text, prepare_row
from ipfs_kit_py.errors import Conflict, InvalidInput

# The documented canonical form, written the slow, obvious way.
_REFERENCE_ROW = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_REFERENCE_DETAILS = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                                      allow_nan=False, default=str)

texts = st.one_of(st.none(), st.text(min_size=1, max_size=40))
floats = st.one_of(
    st.floats(min_value=0, max_value=1e20, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, 1e-4, 9.99e-5, 1e-7, 1e15, 1e16, 123456789012345.6, 5e-324]),
)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(1 << 70), max_value=1 << 70),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20))
details = st.dictionaries(st.text(max_size=10), st.one_of(json_scalars, st.lists(json_scalars, max_size=3)),
                          max_size=6)


def _valid_unicode(value: str | None) -> bool:
    try:
        return value is None or bool(value.encode("utf-8"))
    except UnicodeEncodeError:
        return False


@settings(max_examples=400, deadline=None)
@given(ts=st.floats(min_value=0, max_value=3.2e10, allow_nan=False), duration=st.one_of(st.none(), floats),
       size=st.one_of(st.none(), st.integers(min_value=0, max_value=(1 << 63) - 1)),
       user=texts, resource=texts, details=details)
def test_canonical_body_is_the_documented_json(ts, duration, size, user, resource, details):
    if not (_valid_unicode(user) and _valid_unicode(resource)):
        return
    try:
        expected_details = _REFERENCE_DETAILS.encode(details)
        expected_details.encode("utf-8")
    except (ValueError, TypeError):
        with pytest.raises(InvalidInput):
            details_text(details)
        return
    assert details_text(details) == expected_details
    row = prepare_row("data", "content.add", user_id=user, resource=resource, timestamp=ts,
                      duration_ms=duration, bytes=size, details=details, event_id="E1")
    assert canonical_body(row) == _REFERENCE_ROW.encode(row).encode("utf-8")


def test_lone_surrogates_are_refused_with_one_line(tmp_path):
    with AuditLogger(path=tmp_path / "audit.db") as log:
        with pytest.raises(InvalidInput, match="not valid Unicode"):
            log.log_event("data", "content.add", user_id="bad\ud800")
        with pytest.raises(InvalidInput, match="details cannot be stored"):
            log.log_event("data", "content.add", details={"k": "bad\udfff"})
        assert log.count() == 0
        assert log.log_event("data", "content.add", user_id="grüße ✓").user_id == "grüße ✓"
        assert log.verify().ok


def test_checkpoints_run_in_the_background_and_reach_the_database_file(tmp_path):
    path = tmp_path / "audit.db"
    with AuditLogger(path=path) as log:
        batches = audit_store._CHECKPOINT_AFTER * 4096 // (500 * 300) + 1  # ~300 bytes per event
        for b in range(batches):
            log.log_events([{"event_type": "data", "action": "content.add", "resource": f"r{b}-{i}"}
                            for i in range(500)])
        # The checkpoint thread is a single FIFO worker: once a later no-op ran, ours did.
        audit_store.checkpointer().submit(lambda: None).result(timeout=30)
        # immutable=1 reads the database file alone, ignoring the WAL: the rows
        # are there only if a checkpoint copied them while the log was open.
        deadline = time.monotonic() + 10
        while True:
            with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as raw:
                in_file = raw.execute("SELECT COUNT(*) FROM audit_blocks").fetchone()[0]
            if in_file > 0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert in_file > 0
        assert log.count() == batches * 500
        assert log.verify().ok


def test_the_wal_stays_bounded_under_a_steady_writer(tmp_path):
    # Background checkpoints must let the WAL start over: a WAL that only grows makes every
    # commit slower (and used to reach gigabytes during a long import).
    path = tmp_path / "audit.db"
    wal = tmp_path / "audit.db-wal"
    with AuditLogger(path=path) as log:
        largest = 0
        for b in range(80):
            log.log_events([{"event_type": "data", "action": "content.add", "user_id": f"u{i % 40}",
                             "resource": f"bafy{b:03d}{i:05d}{'x' * 40}"} for i in range(500)])
            largest = max(largest, wal.stat().st_size)
        assert log.count() == 40_000
    assert largest < 24 << 20, f"WAL grew to {largest / 2**20:.0f} MiB"


def test_single_events_from_two_loggers_interleave_into_one_chain(tmp_path):
    # Each logger commits a single event from the chain row it last wrote; the other's commits
    # in between must send it back to read the row (no fork, no lost or repeated event).
    path = tmp_path / "audit.db"
    with AuditLogger(path) as a, AuditLogger(path) as b:
        ids = [(a if i % 3 else b).log_event("data", "content.add", resource=f"r{i}").event_id for i in range(150)]
        assert [e.event_id for e in a.query_events(limit=None, order="asc")] == ids
        assert [e.seq for e in b.query_events(limit=None, order="asc")] == list(range(1, 151))
        assert a.verify().ok and b.verify().ok


def test_a_reused_event_id_is_refused_on_the_single_event_path(tmp_path):
    with AuditLogger(tmp_path / "audit.db") as log:
        log.log_events([{"event_type": "data", "action": "x", "event_id": "in-a-block"}])
        log.log_event("data", "x", event_id="in-the-tail")
        for taken in ("in-a-block", "in-the-tail"):
            with pytest.raises(Conflict, match=f"event_id '{taken}' is already in the log"):
                log.log_event("data", "x", event_id=taken)
        assert log.log_event("data", "x").seq == 3 and log.verify().ok


def test_the_logger_takes_a_path_or_a_url_and_refuses_anything_else(tmp_path):
    with AuditLogger(tmp_path / "audit.db") as log:
        log.log_event("data", "x")
    with AuditLogger(f"sqlite:{tmp_path / 'audit.db'}") as log:
        assert log.count() == 1
    with pytest.raises(InvalidInput, match="audit url must be a string or a path, not int"):
        AuditLogger(5)
