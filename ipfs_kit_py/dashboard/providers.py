"""Built-in widget providers, each fed by a real ``Kit``.

Every provider reads through indexed queries or in-memory state so the
overview stays fast on a log of millions of events: the newest events by
time, failures by (status, time), counts over the last hour only, and the
performance monitor's own aggregates.
"""

from __future__ import annotations

import time
from typing import Any

from ..config import MONITORING_DEFAULTS
from .widgets import KitProvider, WidgetConfig, WidgetManager

FINDING_STATUSES = ("failure", "denied", "error")
FINDINGS_WINDOW = 24 * 3600
DEFAULT_THRESHOLDS = {k: MONITORING_DEFAULTS[k] for k in (
    "latency_p95_ms", "error_rate_percent", "cpu_percent", "memory_percent",
    "failed_logins_per_hour")}


def thresholds(kit) -> dict[str, float]:
    """Alert thresholds: the monitoring wizard's values over the defaults (config.json now)."""
    configured = kit.services.current_settings().monitoring or {}
    return {k: configured.get(k, v) for k, v in DEFAULT_THRESHOLDS.items()}


def storage(kit) -> dict[str, Any]:
    stat = kit.repo_stat()
    pins = stat["pins"]
    counts = {"pins": sum(pins.values()) if isinstance(pins, dict) else pins}
    if isinstance(pins, dict):
        counts.update({f"{kind} pins": n for kind, n in pins.items()})
    return {**counts, "blocks": stat["blocks"], "bytes": stat["bytes"]}


def backend_health(kit) -> dict[str, Any]:
    """{backend: {healthy, ...}}; the embedded blockstore is always listed."""
    health: dict[str, Any] = {"local": {"healthy": True, "kind": "embedded blockstore"}}
    if kit.services.backends_configured():
        for name, info in kit.backends.health().items():
            entry = dict(info) if isinstance(info, dict) else {"healthy": bool(info)}
            health[name] = entry
    return health


_SUMMARY_TTL = 1.0
_summaries: dict[int, tuple[float, dict[str, Any]]] = {}


def operation_summary(kit, timeframe: str = "1h") -> dict[str, Any]:
    """Totals over every operation in ``timeframe`` from the performance monitor.

    ``{count, failures, success_rate (percent or None), worst_p95_ms, operations:
    [per-operation metrics, busiest first]}``. Cached for a second because one
    overview asks for it from several widgets.
    """
    key = id(kit.monitor)
    hit = _summaries.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < _SUMMARY_TTL and hit[1]["timeframe"] == timeframe:
        return hit[1]
    per_op = list(kit.monitor.get_metrics(None, timeframe=timeframe)["operations"].values())
    per_op.sort(key=lambda m: -m["count"])
    count = sum(m["count"] for m in per_op)
    failures = sum(m["failures"] for m in per_op)
    p95s = [m["p95_ms"] for m in per_op if m["p95_ms"] is not None]
    summary = {"timeframe": timeframe, "count": count, "failures": failures,
               "success_rate": 100.0 * (count - failures) / count if count else None,
               "worst_p95_ms": max(p95s) if p95s else None, "operations": per_op}
    _summaries[key] = (now, summary)
    return summary


def operation_counts(kit) -> dict[str, Any]:
    summary = operation_summary(kit)
    return {"operations (1h)": summary["count"], "failed (1h)": summary["failures"],
            "audit events": kit.audit.chain_head().seq}


def latency(kit, top: int = 5) -> dict[str, Any]:
    """p50/p95 of the busiest operations in the last hour, in ms."""
    metrics: dict[str, Any] = {}
    for m in operation_summary(kit)["operations"][:top]:
        metrics[f"{m['operation']} p50"] = {"value": round(m["p50_ms"], 3), "unit": "ms", "count": m["count"]}
        metrics[f"{m['operation']} p95"] = {"value": round(m["p95_ms"], 3), "unit": "ms", "count": m["count"]}
    return metrics


def audit_findings(kit, now: float | None = None) -> list[dict[str, Any]]:
    """Recent failed/denied/error events, plus threshold alerts from monitoring settings."""
    now = time.time() if now is None else now
    limits = thresholds(kit)
    alerts: list[dict[str, Any]] = []
    for event in kit.audit.query_events(start_time=now - FINDINGS_WINDOW, status=list(FINDING_STATUSES),
                                        user_id=kit.audit_scope(), limit=50):
        reason = event.details.get("error") or event.details.get("reason") or ""
        who = event.user_id or "anonymous"
        alerts.append({
            "severity": event.severity, "time": event.timestamp, "source": "audit",
            "message": f"{event.action} {event.status} ({who}{', ' + event.source_ip if event.source_ip else ''})"
                       + (f": {reason}" if reason else ""),
            "event_id": event.event_id, "action": event.action, "user_id": event.user_id,
        })
    failed_logins = kit.audit.count(start_time=now - 3600, event_types="authentication", status="failure")
    if failed_logins > limits["failed_logins_per_hour"]:
        alerts.append({"severity": "high", "time": now, "source": "threshold",
                       "message": f"{failed_logins} failed logins in the last hour (limit {limits['failed_logins_per_hour']})"})
    summary = operation_summary(kit)
    for m in summary["operations"]:
        if m["count"] >= 20 and m["p95_ms"] > limits["latency_p95_ms"]:
            alerts.append({"severity": "medium", "time": now, "source": "threshold",
                           "message": f"{m['operation']}: p95 latency {m['p95_ms']:.1f} ms over the last hour"
                                      f" (limit {limits['latency_p95_ms']:g} ms)"})
    if summary["count"] >= 20:
        error_rate = 100.0 - summary["success_rate"]
        if error_rate > limits["error_rate_percent"]:
            alerts.append({"severity": "high", "time": now, "source": "threshold",
                           "message": f"error rate {error_rate:.1f}% over the last hour (limit {limits['error_rate_percent']}%)"})
    return alerts


def recent_operations(kit, limit: int = 20) -> list[dict[str, Any]]:
    return [{
        "timestamp": e.timestamp, "action": e.action, "status": e.status, "user_id": e.user_id,
        "resource": e.resource, "duration_ms": e.duration_ms, "event_id": e.event_id,
        "interface": e.details.get("interface"), "parent_id": e.parent_id,
    } for e in kit.audit.query_events(user_id=kit.audit_scope(), limit=limit)]


def system_status(kit) -> dict[str, Any]:
    from .status import status_summary

    summary = status_summary(kit)
    return {"status": summary["status"], "message": summary["message"],
            "version": summary["version"], "pins": summary["store"]["pins"],
            "audit events": summary["audit"]["events"],
            "backends healthy": f"{summary['backends']['healthy']}/{summary['backends']['total']}"}


BUILTIN_WIDGETS: tuple[tuple[WidgetConfig, KitProvider], ...] = (
    (WidgetConfig("system_status", "status", "System status", 10), KitProvider(system_status)),
    (WidgetConfig("storage", "counter", "Store", 5), KitProvider(storage)),
    (WidgetConfig("backend_health", "health", "Backend health", 30), KitProvider(backend_health)),
    (WidgetConfig("audit_findings", "alert", "Recent audit findings", 15, {"limit": 10}), KitProvider(audit_findings)),
    (WidgetConfig("operation_counts", "counter", "Operations", 5), KitProvider(operation_counts)),
    (WidgetConfig("latency", "metric", "Latency (1h)", 5), KitProvider(latency)),
    (WidgetConfig("recent_operations", "operation_history", "Recent operations", 5, {"limit": 15}),
     KitProvider(recent_operations)),
)


def builtin_widget_manager(kit) -> WidgetManager:
    """A manager holding the built-in widgets, fed by ``kit``."""
    manager = WidgetManager(kit)
    for config, provider in BUILTIN_WIDGETS:
        manager.create_widget(WidgetConfig(config.widget_id, config.widget_type, config.title,
                                           config.refresh_interval, dict(config.options)),
                              data_provider=provider)
    return manager
