"""The event model on both stores: fields round-trip, validation, batches, schema file."""

from __future__ import annotations

import json
import time
from importlib import resources

import jsonschema
import pytest
from ulid import ULID

from ipfs_kit_py.audit import AuditEvent, new_event_id
from ipfs_kit_py.audit.events import EVENT_FIELDS, new_event_ids
from ipfs_kit_py.errors import Conflict, InvalidInput, NotFound

FULL = dict(
    user_id="alice", source_ip="203.0.113.7", resource="bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
    resource_type="cid", backend="s3-main", operation_id="01HOPERATION0000000000000", parent_id="01HPARENT",
    session_id="sess-42", duration_ms=12.345, bytes=1048576, severity="high",
    details={"nested": {"list": [1, 2.5, "x", None, True]}, "unicode": "grüße ✓", "empty": {}},
    timestamp=1700000000.123456, event_id="01HQ3ZC7N1CUSTOMIDXXXXXXXX",
)


def test_every_field_round_trips(target, log):
    event = log.log_event("data", "content.add", "failure", **FULL)
    for name, value in FULL.items():
        assert getattr(event, name) == value, name
    assert (event.event_type, event.action, event.status) == ("data", "content.add", "failure")
    assert event.seq == 1 and event.prev_hash == "0" * 64 and len(event.hash) == 64

    assert log.get_event(event.event_id) == event
    assert log.query_events() == [event]
    assert AuditEvent.from_dict(json.loads(json.dumps(event.to_dict()))) == event

    frame = log.export_columns()
    assert frame.columns == [*EVENT_FIELDS, "seq", "prev_hash", "hash"]
    row = frame.row(0, named=True)
    assert json.loads(row.pop("details")) == FULL["details"]
    assert row == {k: v for k, v in event.to_dict().items() if k != "details"}

    log.close()
    reopened = target.open()
    try:
        assert reopened.get_event(event.event_id) == event
        assert reopened.verify().ok
    finally:
        reopened.close()


def test_defaults_and_generated_ids(log):
    before = time.time()
    event = log.log_event("authentication", "auth.login", "failure", user_id="mallory")
    assert before <= event.timestamp <= time.time()
    assert abs(ULID.from_str(event.event_id).timestamp - event.timestamp) < 0.002
    assert event.severity == "medium"  # authentication failure
    assert event.details == {} and event.bytes is None and event.source_ip is None
    assert log.log_event("data", "content.cat").severity == "info"
    assert log.log_event("data", "content.cat", "failure").severity == "low"
    assert log.log_event("authorization", "pin.rm", "denied").severity == "medium"
    assert log.log_event("backend", "s3.put", "error").severity == "high"
    # Integers become floats (the hash form of a timestamp is always a float).
    assert log.log_event("system", "tick", timestamp=1700000000).timestamp == 1700000000.0
    assert log.log_event("system", "tick", resource="").resource is None
    ids = {new_event_id() for _ in range(2000)}
    assert len(ids) == 2000 and all(len(i) == 26 for i in ids)


def test_event_ids_sort_by_time():
    ids = [new_event_id(t) for t in (1.0, 1000.0, 1700000000.0, 1700000000.5)]
    assert ids == sorted(ids)
    assert [ULID.from_str(i).timestamp for i in ids] == [1.0, 1000.0, 1700000000.0, 1700000000.5]


@pytest.mark.parametrize("size", [3, 400])  # the small-batch loop and the numpy encoding
def test_a_batch_of_ids_encodes_each_time_as_one_id_would(size):
    times = [0.0, 3.2e10, 1234.5678] + [1_700_000_000 + i * 0.3337 for i in range(size - 3)]
    ids = new_event_ids(times)
    assert [i[:10] for i in ids] == [new_event_id(t)[:10] for t in times]
    assert [ULID.from_str(i).timestamp for i in ids] == [int(t * 1000) / 1000 for t in times]
    assert len(set(ids)) == size and all(len(i) == 26 for i in ids)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"event_type": "Data"}, "event_type"),
        ({"action": ""}, "action"),
        ({"status": "ok"}, "status must be one of"),
        ({"severity": "urgent"}, "severity"),
        ({"details": ["not", "an", "object"]}, "details must be a JSON object"),
        ({"details": {"x": float("nan")}}, "details cannot be stored"),
        ({"duration_ms": -1}, "duration_ms"),
        ({"bytes": 1.5}, "bytes must be an integer"),
        ({"bytes": True}, "bytes must be an integer"),
        ({"timestamp": 1700000000000}, "out of range"),
        ({"timestamp": "yesterday-ish"}, "invalid time"),
        ({"user_id": 42}, "user_id must be a string"),
        ({"event_id": "has space"}, "event_id"),
    ],
)
def test_bad_fields_are_rejected_and_nothing_is_written(log, kwargs, fragment):
    args = {"event_type": "data", "action": "content.add", **kwargs}
    with pytest.raises(InvalidInput) as info:
        log.log_event(args.pop("event_type"), args.pop("action"), **args)
    assert fragment in str(info.value) and "\n" not in str(info.value)
    assert log.count() == 0


def test_details_with_non_json_values_are_stored_as_text(log, tmp_path):
    event = log.log_event("data", "content.get", details={"path": tmp_path, "tuple": (1, 2)})
    assert event.details == {"path": str(tmp_path), "tuple": [1, 2]}
    assert log.get_event(event.event_id) == event


def test_log_events_is_one_batch_in_order(log):
    ids = log.log_events([{"event_type": "data", "action": f"a.{i}", "bytes": i} for i in range(250)])
    assert len(ids) == 250
    events = log.query_events(order="asc", limit=None)
    # Equal timestamps are ordered by seq, so ascending order is insertion order.
    assert [e.event_id for e in events] == ids
    assert [e.seq for e in events] == list(range(1, 251))
    assert [log.get_event(i).action for i in ids] == [f"a.{i}" for i in range(250)]
    assert log.verify().checked == 250


def test_log_events_rejects_the_whole_batch(log):
    batch = [{"event_type": "data", "action": "ok"}, {"event_type": "data", "action": "x", "bytes": -3}]
    with pytest.raises(InvalidInput, match="event 1: bytes"):
        log.log_events(batch)
    with pytest.raises(InvalidInput, match=r"event 0: unknown event field\(s\): colour"):
        log.log_events([{"event_type": "data", "action": "x", "colour": "red"}])
    with pytest.raises(InvalidInput, match="assigned by the log"):
        log.log_events([{"event_type": "data", "action": "x", "seq": 5}])
    with pytest.raises(InvalidInput, match="event 0: action must be a non-empty name"):
        log.log_events([{"event_type": "data"}])
    assert log.count() == 0


def test_duplicate_event_id_is_a_conflict_and_the_log_stays_usable(log):
    first = log.log_event("data", "content.add", event_id="01HDUPLICATEDUPLICATE00000")
    with pytest.raises(Conflict):
        log.log_event("data", "content.add", event_id=first.event_id)
    second = log.log_event("data", "content.cat")
    assert second.seq == 2 and second.prev_hash == first.hash
    assert log.verify().ok and log.count() == 2


def test_get_event_missing_is_not_found(log):
    with pytest.raises(NotFound, match="no audit event with id nope"):
        log.get_event("nope")


def test_convenience_loggers(log):
    a = log.log_auth_success("alice", "10.0.0.1", method="token")
    b = log.log_auth_failure("bob", "10.0.0.2", reason="bad password")
    c = log.log_permission_check("carol", "pin.rm", False, role="reader", required_role="writer", resource="Qm1")
    d = log.log_data_access("dave", "content.cat", "Qm2", bytes=10, duration_ms=1.5)
    e = log.log_config_change("erin", "fsync", "batch", "always")
    f = log.log_backend_operation("kubo-1", "block.put", "error", resource="Qm3", details={"error": "timeout"})
    g = log.log_admin_action("root", "audit.prune", details={"deleted": 3})
    got = [(x.event_type, x.action, x.status, x.user_id) for x in (a, b, c, d, e, f, g)]
    assert got == [
        ("authentication", "auth.login", "success", "alice"),
        ("authentication", "auth.login", "failure", "bob"),
        ("authorization", "pin.rm", "denied", "carol"),
        ("data", "content.cat", "success", "dave"),
        ("config", "config.change", "success", "erin"),
        ("backend", "block.put", "error", None),
        ("admin", "audit.prune", "success", "root"),
    ]
    assert a.details == {"method": "token"} and b.details == {"reason": "bad password"}
    assert c.details == {"role": "reader", "required_role": "writer"} and c.resource == "Qm1"
    assert (d.resource, d.bytes, d.duration_ms) == ("Qm2", 10, 1.5)
    assert e.details == {"key": "fsync", "old": "batch", "new": "always"} and e.resource == "fsync"
    assert (f.backend, f.severity) == ("kubo-1", "high")
    assert log.count() == 7 and log.verify().ok


def test_schema_file_describes_exported_events(log):
    schema = json.loads(resources.files("ipfs_kit_py.audit").joinpath("event_schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    event = log.log_event("data", "content.add", "failure", **FULL)
    jsonschema.validate(event.to_dict(), schema)
    jsonschema.validate(log.log_event("mcp", "tool.call").to_dict(), schema)
    bad = dict(event.to_dict(), status="ok")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    assert set(schema["properties"]) == set(event.to_dict())
