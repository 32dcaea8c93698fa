"""The whole-batch validation builds exactly the rows and bytes of the per-event validation,
and hands anything it does not accept back to it (which names the first bad event)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipfs_kit_py.audit import AuditLogger
from ipfs_kit_py.audit.batch import prepare_batch
from ipfs_kit_py.audit.events import canonical_body, row_from_fields
from ipfs_kit_py.errors import InvalidInput

odd_floats = st.sampled_from([0.0, -0.0, 1e-5, 5e-324, 1e-4, 2.5, 1e15, 1e16, 1e20])
texts = st.one_of(st.none(), st.sampled_from(["", "alice", "grüße ✓", "x" * 4096]), st.text(max_size=8))
valid_events = st.fixed_dictionaries({
    "event_type": st.sampled_from(["data", "auth.x", "mcp", "authentication"]),
    "action": st.sampled_from(["content.add", "pin.rm", "auth.login"]),
}, optional={
    "status": st.sampled_from(["success", "failure", "denied", "error"]),
    "severity": st.sampled_from(["info", "low", "medium", "high", "critical", None]),
    "timestamp": st.one_of(st.floats(min_value=0, max_value=3e10), odd_floats, st.none(), st.integers(0, 1 << 34),
                           st.just(datetime(2024, 1, 1, tzinfo=UTC))),
    "duration_ms": st.one_of(st.none(), st.floats(min_value=0, max_value=1e6), odd_floats, st.integers(0, 9)),
    "bytes": st.one_of(st.none(), st.integers(0, 1 << 20), st.just((1 << 63) - 1)),
    "user_id": texts, "resource": texts, "source_ip": texts, "session_id": texts,
    "event_id": st.one_of(st.none(), st.uuids().map(str)),
    "details": st.one_of(st.none(), st.just({}), st.dictionaries(st.text(max_size=3), st.one_of(
        st.integers(-(1 << 70), 1 << 70), odd_floats, st.text(max_size=3), st.none(), st.booleans()), max_size=3)),
})
# What a caller can get wrong, one field at a time.
BAD_VALUES = {
    "event_type": ["Bad Type", "", None, 5], "action": [" x", "", "a\x00b", 3, "y" * 201, None],
    "status": ["nope", None], "severity": ["x", 1],
    "timestamp": [math.nan, math.inf, -1.0, True, 1 << 1100, 4e10, "2024"],
    "duration_ms": [math.nan, math.inf, -1.0, -2, True, "1"], "bytes": [-1, 1 << 63, True, 2.0],
    "user_id": ["a\ud800", "x" * 4097, 3], "resource": [b"r", 1.5],
    "event_id": ["has space", "", 5, "z" * 129], "details": [[1], {1: 2}, {"x": math.nan}, "{}"],
    "seq": [3], "tags": ["an unknown field"],
}


@st.composite
def batches(draw) -> list[dict]:
    batch = draw(st.lists(valid_events, min_size=1, max_size=6))
    if draw(st.booleans()):
        field = draw(st.sampled_from(sorted(BAD_VALUES)))
        batch[draw(st.integers(0, len(batch) - 1))][field] = draw(st.sampled_from(BAD_VALUES[field]))
    return batch


def _each(batch: list[dict]) -> list[tuple[tuple, bytes]] | str:
    try:
        return [(row, canonical_body(row)) for row in (row_from_fields(e) for e in batch)]
    except (InvalidInput, TypeError) as exc:
        return str(exc)


def _comparable(batch: list[dict], prepared: list[tuple[tuple, bytes]]) -> list:
    """Rows with the generated parts (ids, and times of events without one) masked."""
    out = []
    for event, (row, body) in zip(batch, prepared, strict=True):
        assert body == canonical_body(row)
        masked = list(row)
        if event.get("event_id") is None:
            assert len(row[0]) == 26
            masked[0] = "<id>"
        if event.get("timestamp") is None:
            masked[1] = "<now>"
        out.append(masked)
    return out


@settings(max_examples=600, deadline=None)
@given(batch=batches())
def test_the_batch_path_agrees_with_the_per_event_path(batch):
    expected = _each(batch)
    got = prepare_batch(batch)
    if isinstance(expected, str):
        assert got is None, f"accepted what the per-event path refuses: {expected}"
    elif got is not None:
        assert _comparable(batch, got) == _comparable(batch, expected)


def test_an_ordinary_batch_takes_the_batch_path():
    batch = [{"event_type": "data", "action": "content.add", "status": "failure" if i % 7 == 0 else "success",
              "user_id": f"u{i % 5}", "resource": f"r{i}", "source_ip": "" if i % 3 else "10.0.0.1",
              "duration_ms": (i % 4) * 0.5, "bytes": i, "timestamp": 1_700_000_000 + i * 0.25,
              "details": {"i": i}} for i in range(50)]
    batch[3]["duration_ms"] = 1e-7  # a float orjson spells differently: still this path
    batch[4]["timestamp"] = 1_700_000_004  # an int
    got = prepare_batch(batch)
    assert got is not None and len(got) == 50
    assert _comparable(batch, got) == _comparable(batch, _each(batch))
    assert got[3][1] == canonical_body(got[3][0]) and b"1e-07" in got[3][1]
    assert [row[15] for row, _ in got[:8]] == ["low", "info", "info", "info", "info", "info", "info", "low"]
    assert len({row[0] for row, _ in got}) == 50


def test_events_that_leave_out_different_fields_take_the_batch_path():
    batch = [{"event_type": "data", "action": "x", "status": "error"}, {"event_type": "data", "action": "x"},
             {"event_type": "data", "action": "x", "user_id": "u", "timestamp": 5.0}]
    got = prepare_batch(batch)
    assert got is not None
    assert [(row[1] if i == 2 else None, row[4], row[5], row[15]) for i, (row, _body) in enumerate(got)] == [
        (None, "error", None, "high"), (None, "success", None, "info"), (5.0, "success", "u", "info")]


def test_a_bad_event_in_a_batch_is_named_and_nothing_is_written(tmp_path):
    with AuditLogger(tmp_path / "audit.db") as log:
        batch = [{"event_type": "data", "action": "content.add", "duration_ms": 1.0} for _ in range(10)]
        batch[6]["duration_ms"] = math.nan
        with pytest.raises(InvalidInput, match=r"^event 6: duration_ms must be a finite number >= 0, not nan$"):
            log.log_events(batch)
        assert log.count() == 0
        batch[6]["duration_ms"] = 3  # an int: converted, as event by event
        ids = log.log_events(batch)
        assert len(ids) == 10 and log.get_event(ids[6]).duration_ms == 3.0
