"""One document with everything the performance suite knows (CLI ``summary``, MCP, dashboard)."""

from __future__ import annotations

from typing import Any


def performance_summary(monitor: Any = None, cache: Any = None, batch: Any = None, *,
                        timeframe: str = "1h", cpu_threshold: float = 80.0,
                        memory_threshold: float = 80.0, interval: float = 0.5) -> dict[str, Any]:
    """Cache, batch and monitor statistics, per-operation metrics, resources and bottlenecks."""
    out: dict[str, Any] = {"timeframe": timeframe}
    out["cache"] = cache.get_statistics() if cache is not None else None
    out["batch"] = batch.get_statistics() if batch is not None else None
    if monitor is None:
        out.update(monitor=None, operations=None, resources=None, bottlenecks=None)
        return out
    out["monitor"] = monitor.get_statistics()
    out["operations"] = monitor.get_metrics(None, timeframe)["operations"]
    usage = monitor.get_resource_usage(interval)
    out["resources"] = usage
    out["bottlenecks"] = monitor.detect_bottlenecks(cpu_threshold, memory_threshold, timeframe=timeframe,
                                                    usage=usage)
    return out
