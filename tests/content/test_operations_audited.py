"""Every Kit operation is one audit event and one monitor sample, from one wrapper."""

from __future__ import annotations

import io

import pytest

from ipfs_kit_py.errors import NotFound, PermissionDenied


def test_each_operation_logs_one_event_with_facts(kit, tmp_path):
    cid = kit.add(b"x" * 5000).cid
    kit.cat(cid)
    kit.pin_rm(cid)
    kit.gc()
    kit.files_write("/f", io.BytesIO(b"abc"))
    with pytest.raises(NotFound):
        kit.cat("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o")
    events = kit.audit.query_events(order="asc", limit=100)
    top = [e for e in events if e.parent_id is None]
    assert [e.action for e in top] == ["content.add", "content.cat", "pin.rm", "content.gc", "files.write",
                                      "content.cat"]
    add, cat = top[0], top[1]
    assert add.resource == cid and add.bytes == 5000 and add.duration_ms > 0
    assert add.user_id == kit.user and add.event_type == "data" and add.status == "success"
    assert cat.bytes == 5000
    failed = top[-1]
    assert failed.status == "failure" and "not in the local store" in failed.details["error"]
    assert kit.monitor.get_metrics("content.add", timeframe="1h")["count"] == 1
    assert kit.audit.verify().ok


def test_nested_operations_share_operation_id(kit):
    with kit.track("mcp.example", event_type="mcp"):
        kit.add(b"nested")
    events = kit.audit.query_events(order="asc", limit=10)
    outer = next(e for e in events if e.action == "mcp.example")
    inner = next(e for e in events if e.action == "content.add")
    assert inner.parent_id == outer.event_id and inner.operation_id == outer.operation_id


def test_reader_role_is_denied_and_audited(kit):
    reader = kit.as_principal("viewer", "reader", source_ip="127.0.0.1")
    with pytest.raises(PermissionDenied):
        reader.add(b"nope")
    denied = kit.audit.query_events(status=["denied"], limit=5)
    assert denied[0].user_id == "viewer" and denied[0].action == "content.add"
    assert denied[0].source_ip == "127.0.0.1"
