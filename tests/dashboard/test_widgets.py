"""Widgets: configs, the six types' shapes, caching per refresh interval, built-in Kit providers."""

from __future__ import annotations

import json
import time

import pytest

from ipfs_kit_py.dashboard_widgets import (
    KitProvider,
    StatusWidget,
    WidgetConfig,
    WidgetManager,
    builtin_widget_manager,
)
from ipfs_kit_py.errors import InvalidInput, NotFound, Unauthenticated


def test_config_validation():
    with pytest.raises(InvalidInput, match="widget_type"):
        WidgetConfig("w", "gauge", "W")
    with pytest.raises(InvalidInput, match="refresh_interval"):
        WidgetConfig("w", "status", "W", refresh_interval=0)
    with pytest.raises(InvalidInput, match="widget_id"):
        WidgetConfig("", "status", "W")


def test_seed_spelling_status_provider_and_caching_per_interval():
    calls = []

    def get_status():
        calls.append(1)
        return {"status": "healthy", "message": "fine", "peers": len(calls)}

    manager = WidgetManager()
    widget = manager.create_widget(WidgetConfig("status1", "status", "System Status", refresh_interval=30),
                                   status_provider=get_status)
    assert isinstance(widget, StatusWidget)
    first = manager.get_widget_data("status1")
    assert first["data"] == {"status": "ok", "message": "fine", "items": {"peers": 1}}
    assert first["error"] is None and first["refresh_interval"] == 30
    assert manager.get_widget_data("status1") is first  # cached within the interval
    assert manager.get_widget_data("status1", refresh=True)["data"]["items"]["peers"] == 2
    assert len(calls) == 2
    json.dumps(manager.get_all_widget_data())


def test_data_expires_after_refresh_interval():
    n = iter(range(100))
    manager = WidgetManager()
    manager.create_widget(WidgetConfig("c", "counter", "C", refresh_interval=0.05), data_provider=lambda: next(n))
    assert manager.get_widget_data("c")["data"]["counters"] == {"C": 0}
    time.sleep(0.08)
    data = manager.get_widget_data("c")["data"]
    assert data == {"counters": {"C": 1}, "deltas": {"C": 1}}


def test_exactly_one_provider_and_unique_ids():
    manager = WidgetManager()
    with pytest.raises(InvalidInput, match="exactly one provider"):
        manager.create_widget(WidgetConfig("a", "status", "A"))
    with pytest.raises(InvalidInput, match="exactly one provider"):
        manager.create_widget(WidgetConfig("a", "status", "A"), data_provider=dict, status_provider=dict)
    with pytest.raises(InvalidInput, match="unknown provider"):
        manager.create_widget(WidgetConfig("a", "status", "A"), gauge_provider=dict)
    manager.create_widget(WidgetConfig("a", "health", "A"), health_provider=lambda: {"db": True})
    with pytest.raises(InvalidInput, match="already exists"):
        manager.create_widget(WidgetConfig("a", "status", "A"), data_provider=dict)
    with pytest.raises(NotFound, match="no widget 'b'; widgets: a"):
        manager.get_widget_data("b")
    manager.remove_widget("a")
    assert manager.list_widgets() == []


def test_health_alert_metric_and_history_shapes():
    manager = WidgetManager()
    manager.create_widget(WidgetConfig("h", "health", "H"), data_provider=lambda: {
        "local": True, "s3": {"healthy": False, "error": "timeout"}})
    health = manager.get_widget_data("h")["data"]
    assert (health["overall"], health["healthy"], health["total"]) == ("degraded", 1, 2)
    assert health["components"][1] == {"name": "s3", "healthy": False, "error": "timeout"}

    manager.create_widget(WidgetConfig("al", "alert", "A", options={"limit": 2}), data_provider=lambda: [
        {"message": "old low", "severity": "low", "time": 1},
        {"message": "critical", "severity": "critical", "time": 2},
        {"message": "new low", "severity": "low", "time": 3},
    ])
    alerts = manager.get_widget_data("al")["data"]
    assert alerts["count"] == 3 and alerts["highest"] == "critical"
    assert alerts["by_severity"] == {"critical": 1, "low": 2}
    assert [a["message"] for a in alerts["alerts"]] == ["critical", "new low"]

    values = iter([10.0, 12.5])
    manager.create_widget(WidgetConfig("m", "metric", "M", refresh_interval=0.001),
                          data_provider=lambda: {"p95": {"value": next(values), "unit": "ms"}})
    manager.get_widget_data("m")
    time.sleep(0.002)
    metric = manager.get_widget_data("m")["data"]
    assert metric["metrics"]["p95"] == {"value": 12.5, "unit": "ms"}
    assert [v for _, v in metric["history"]["p95"]] == [10.0, 12.5]


def test_operation_history_sorted_newest_first_and_counted():
    manager = WidgetManager()
    manager.create_widget(WidgetConfig("o", "operation_history", "O", options={"limit": 2}), data_provider=lambda: [
        {"timestamp": 1, "action": "a", "status": "success"},
        {"timestamp": 3, "action": "c", "status": "error"},
        {"timestamp": 2, "action": "b", "status": "success"},
    ])
    data = manager.get_widget_data("o")["data"]
    assert [op["action"] for op in data["operations"]] == ["c", "b"]
    assert data["by_status"] == {"success": 2, "error": 1} and data["count"] == 3


def test_failing_or_malformed_provider_reports_error_not_exception():
    manager = WidgetManager()

    def broken():
        raise RuntimeError("disk on fire")

    manager.create_widget(WidgetConfig("x", "status", "X"), data_provider=broken)
    manager.create_widget(WidgetConfig("y", "health", "Y"), data_provider=lambda: {"db": "maybe"})
    manager.create_widget(WidgetConfig("z", "counter", "Z"), data_provider=lambda: {"n": float("inf")})
    data = manager.get_all_widget_data()
    assert data["x"]["error"] == "internal error (RuntimeError: disk on fire)" and data["x"]["data"] == {}
    assert "healthy: true or false" in data["y"]["error"]
    assert "finite number" in data["z"]["error"]


def test_kit_provider_needs_a_kit():
    manager = WidgetManager()
    manager.create_widget(WidgetConfig("k", "counter", "K"), data_provider=KitProvider(lambda kit: kit.repo_stat()["blocks"]))
    assert "needs a Kit" in manager.get_widget_data("k")["error"]


def test_builtin_widgets_show_real_store_numbers(kit, tmp_path):
    manager = builtin_widget_manager(kit)
    assert [w["widget_id"] for w in manager.list_widgets()] == [
        "system_status", "storage", "backend_health", "audit_findings", "operation_counts", "latency",
        "recent_operations"]
    before = manager.get_widget_data("storage")["data"]["counters"]
    assert before["pins"] == 0 and before["blocks"] == 0
    kit.add(b"a" * 300_000)  # two 256 KiB chunks + root
    kit.add(b"hello")
    after = manager.get_widget_data("storage", refresh=True)["data"]
    assert after["counters"]["pins"] == 2
    assert after["counters"]["blocks"] == 4
    assert after["counters"]["bytes"] == kit.repo_stat()["bytes"]
    assert after["deltas"]["pins"] == 2

    ops = manager.get_widget_data("operation_counts", refresh=True)["data"]["counters"]
    assert ops["operations (1h)"] >= 3 and ops["failed (1h)"] == 0
    assert ops["audit events"] == kit.audit.chain_head().seq

    latency = manager.get_widget_data("latency", refresh=True)["data"]["metrics"]
    assert latency["content.add p95"]["unit"] == "ms" and latency["content.add p95"]["count"] == 2

    recent = manager.get_widget_data("recent_operations", refresh=True)["data"]["operations"]
    assert {"content.add", "repo.stat"} <= {op["action"] for op in recent}

    health = manager.get_widget_data("backend_health")["data"]
    assert health["overall"] == "healthy" and health["components"][0]["name"] == "local"
    json.dumps(manager.get_all_widget_data())


def test_findings_widget_lists_denied_and_failed_operations(kit):
    from ipfs_kit_py.errors import NotFound as Missing
    from ipfs_kit_py.errors import PermissionDenied

    reader = kit.as_principal("eve", "reader", "10.1.2.3")
    with pytest.raises(PermissionDenied):
        reader.add(b"nope")
    with pytest.raises(Missing):
        kit.cat("QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX")
    manager = builtin_widget_manager(kit)
    data = manager.get_widget_data("audit_findings")["data"]
    by_action = {a["action"]: a for a in data["alerts"]}
    assert by_action["content.add"]["severity"] == "medium"
    assert "eve, 10.1.2.3" in by_action["content.add"]["message"]
    assert by_action["content.cat"]["severity"] == "low"
    assert data["highest"] == "medium"
    status = manager.get_widget_data("system_status")["data"]
    assert status["status"] == "warning"


def test_failed_login_threshold_from_monitoring_settings(kit):
    settings = kit.settings.with_changes(monitoring={"failed_logins_per_hour": 2})
    settings.save()
    from ipfs_kit_py.kit import Kit

    with Kit(kit.settings.home) as fresh:
        for _ in range(3):
            with pytest.raises(Unauthenticated):
                fresh.auth.authenticate("ik_wrong", "10.0.0.9")
        alerts = builtin_widget_manager(fresh).get_widget_data("audit_findings")["data"]["alerts"]
    assert any(a["source"] == "threshold" and "3 failed logins" in a["message"] for a in alerts)
