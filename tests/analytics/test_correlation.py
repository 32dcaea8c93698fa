"""EventCorrelator against real Kit operations: correlation, timelines, causation, impact."""

from __future__ import annotations

import io
import json

import pytest

from ipfs_kit_py.audit_correlation import EventCorrelator
from ipfs_kit_py.errors import InvalidInput, NotFound, PermissionDenied

T0 = 1_780_000_000.0


@pytest.fixture
def traced(kit):
    """One MCP-style tool call wrapping a write and a read: three events of one operation."""
    with kit.track("mcp.files_roundtrip", event_type="mcp", role="writer") as op:
        kit.files_write("/docs/a.txt", io.BytesIO(b"hello " * 1000), parents=True)
        kit.files_read("/docs/a.txt")
    return kit, op.operation_id


def test_timeline_of_a_nested_operation(traced):
    kit, operation_id = traced
    timeline = kit.correlator.reconstruct_timeline(operation_id)
    assert timeline["event_count"] == 3 and timeline["status"] == "success"
    assert sorted(timeline["actions"]) == ["files.read", "files.write", "mcp.files_roundtrip"]
    (root,) = timeline["tree"]
    assert root["event_id"] == operation_id and root["action"] == "mcp.files_roundtrip"
    assert sorted(c["action"] for c in root["children"]) == ["files.read", "files.write"]
    depth = {e["action"]: e["depth"] for e in timeline["events"]}
    assert depth == {"mcp.files_roundtrip": 0, "files.write": 1, "files.read": 1}
    assert timeline["resources"] == ["/docs/a.txt"] and timeline["duration_ms"] >= 0
    stamps = [e["timestamp"] for e in timeline["events"]]
    assert stamps == sorted(stamps)
    json.dumps(timeline)


def test_timeline_reports_a_denied_step(kit):
    reader = kit.as_principal("bob", "reader")
    with pytest.raises(PermissionDenied):
        with reader.track("mcp.attempt", event_type="mcp") as op:
            reader.files_write("/x.txt", io.BytesIO(b"x"), parents=True)
    timeline = kit.correlator.reconstruct_timeline(op.operation_id)
    assert timeline["status"] == "denied" and len(timeline["failures"]) == 2  # the write and its wrapper


def test_correlate_accepts_id_object_or_dict(traced):
    kit, operation_id = traced
    by_id = kit.correlator.correlate_events(operation_id, time_window=300)
    event = kit.audit.get_event(operation_id)
    assert [c.event["event_id"] for c in kit.correlator.correlate_events(event)] == \
        [c.event["event_id"] for c in by_id]
    assert [c.score for c in kit.correlator.correlate_events(event.to_dict())] == [c.score for c in by_id]
    children = {c.event["action"]: c for c in by_id}
    assert set(children) == {"files.write", "files.read"}
    for c in children.values():
        assert "caused by the reference (child event)" in c.reasons
        assert any(r.startswith("same operation") for r in c.reasons)
        assert any(r.startswith("same user") for r in c.reasons)
        assert 0.9 < c.score <= 1.0
    json.dumps([c.to_dict() for c in by_id])


def test_two_missing_ids_are_not_a_match(logger):
    logger.log_events([
        {"event_type": "data", "action": "content.cat", "timestamp": T0, "event_id": "ref"},
        {"event_type": "data", "action": "content.stat", "timestamp": T0 + 1, "event_id": "anon"},
        {"event_type": "system", "action": "gc.sweep", "timestamp": T0 + 2, "event_id": "other"},
        {"event_type": "data", "action": "content.get", "timestamp": T0 + 3, "user_id": "u", "event_id": "user"},
    ])
    correlator = EventCorrelator(logger)
    related = correlator.correlate_events("ref", time_window=60, min_score=0.0)
    reasons = {c.event["event_id"]: c.reasons for c in related}
    # Same action family only: no "same operation/session/user/resource" from two missing values.
    assert reasons == {"anon": ["related action content.stat ~ content.cat"],
                       "user": ["related action content.get ~ content.cat"]}
    assert all(c.score < 0.15 for c in related)
    assert correlator.correlate_events("ref", time_window=60) == []  # below the default minimum score


def test_causation_explicit_chain_and_effects(traced):
    kit, operation_id = traced
    timeline = kit.correlator.reconstruct_timeline(operation_id)
    write = next(e for e in timeline["events"] if e["action"] == "files.write")
    result = kit.correlator.analyze_causation(write["event_id"])
    assert result["has_explicit_parent"] is True and result["broken_link"] is None
    assert [link["action"] for link in result["explicit_chain"]] == ["mcp.files_roundtrip", "files.write"]
    assert result["chains"][0]["kind"] == "explicit" and result["chains"][0]["confidence"] == 1.0
    effects = kit.correlator.analyze_causation(operation_id)["direct_effects"]
    assert sorted(e["action"] for e in effects) == ["files.read", "files.write"]


def test_causation_inferred_when_no_parent(logger):
    logger.log_events([
        {"event_type": "data", "action": "content.cat", "user_id": "x", "timestamp": T0 - 100, "event_id": "noise"},
        {"event_type": "config", "action": "config.change", "user_id": "ops", "backend": "s3",
         "resource": "s3.endpoint", "timestamp": T0, "event_id": "cfg"},
        {"event_type": "backend", "action": "backend.replicate", "status": "error", "backend": "s3",
         "timestamp": T0 + 30, "event_id": "err1"},
        {"event_type": "backend", "action": "backend.replicate", "status": "error", "backend": "s3",
         "timestamp": T0 + 60, "event_id": "err2"},
        {"event_type": "backend", "action": "backend.replicate", "parent_id": "pruned-long-ago", "backend": "s3",
         "timestamp": T0 + 90, "event_id": "orphan"},
    ])
    correlator = EventCorrelator(logger)
    result = correlator.analyze_causation("err2")
    assert result["has_explicit_parent"] is False
    causes = {c["event"]["event_id"]: c for c in result["inferred_causes"]}
    assert "noise" not in causes  # shares nothing with the error
    assert set(causes) == {"cfg", "err1"}
    assert any("state change" in r for r in causes["cfg"]["reasons"])
    assert any(r.startswith("earlier error") for r in causes["err1"]["reasons"])
    (chain,) = result["chains"]
    assert chain["kind"] == "inferred" and chain["links"][0]["event_id"] == "cfg"
    assert [link["event_id"] for link in chain["links"]] == ["cfg", "err1", "err2"]
    assert 0 < chain["confidence"] < 1
    orphan = correlator.analyze_causation("orphan")
    assert "pruned-long-ago" in orphan["broken_link"] and len(orphan["explicit_chain"]) == 1


def test_impact_of_a_config_change(logger):
    events = [{"event_type": "config", "action": "config.change", "user_id": "ops", "backend": "s3",
               "timestamp": T0, "event_id": "cfg", "severity": "high"}]
    for i in range(12):
        events.append({"event_type": "backend", "action": "backend.replicate", "status": "error", "backend": "s3",
                       "user_id": f"user{i % 4}", "resource": f"cid{i}", "timestamp": T0 + 10 + i,
                       "parent_id": "cfg" if i < 3 else None})
    events.append({"event_type": "data", "action": "content.cat", "user_id": "bystander", "timestamp": T0 + 50})
    events.append({"event_type": "backend", "action": "backend.replicate", "status": "error", "backend": "s3",
                   "timestamp": T0 + 1000})  # outside the window
    logger.log_events(events)
    impact = EventCorrelator(logger).assess_impact("cfg", time_window=300)
    assert impact["impact_level"] in ("high", "critical") and impact["descendant_count"] == 3
    assert impact["downstream_count"] == 12 and impact["status_counts"]["error"] == 12
    assert impact["affected_users"] == ["user0", "user1", "user2", "user3"]
    assert impact["affected_backends"] == ["s3"] and len(impact["affected_resources"]) == 12
    assert any("downstream non-success" in r for r in impact["reasons"])
    relations = {e["relation"] for e in impact["downstream_events"]}
    assert relations == {"descendant", "correlated"}
    quiet = EventCorrelator(logger).assess_impact(
        logger.query_events(user_id="bystander", limit=1)[0].event_id, time_window=10)
    assert quiet["impact_level"] in ("none", "low") and quiet["downstream_count"] == 0


@pytest.mark.parametrize("call", [
    lambda c: c.correlate_events("no-such-event"),
    lambda c: c.analyze_causation("no-such-event"),
    lambda c: c.assess_impact("no-such-event"),
])
def test_unknown_event_is_not_found(logger, call):
    with pytest.raises(NotFound, match="no-such-event"):
        call(EventCorrelator(logger))


def test_unknown_operation_is_not_found(logger):
    with pytest.raises(NotFound, match="no audit events with operation id op-404"):
        EventCorrelator(logger).reconstruct_timeline("op-404")


@pytest.mark.parametrize("call", [
    lambda c: c.correlate_events("x", time_window=0),
    lambda c: c.correlate_events(42),
    lambda c: c.correlate_events({"action": "x"}),
    lambda c: c.assess_impact("x", time_window=-5),
    lambda c: c.reconstruct_timeline(""),
])
def test_bad_input(logger, call):
    with pytest.raises(InvalidInput):
        call(EventCorrelator(logger))
