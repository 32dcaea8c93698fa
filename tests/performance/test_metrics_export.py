"""Prometheus exposition of monitor, cache and batch figures."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from ipfs_kit_py.batch_operations import BatchProcessor
from ipfs_kit_py.cache_manager import CacheManager
from ipfs_kit_py.performance import CONTENT_TYPE_LATEST, render_prometheus
from ipfs_kit_py.performance_monitor import PerformanceMonitor


def _samples(text: str) -> dict:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_render_prometheus_exposes_all_three(tmp_path):
    monitor = PerformanceMonitor(tmp_path / "metrics.db")
    for ms in (0.3, 4.0, 40.0):
        monitor.record("content.cat", ms)
    monitor.record("content.cat", 2000.0, success=False)
    cache = CacheManager(memory_size=10, enable_disk=False)
    cache.set("a", b"12345")
    cache.get("a")
    cache.get("b")
    batch = BatchProcessor()
    batch.add_operation(divmod, 7, 2)
    batch.add_operation(divmod, 7, 0)
    batch.execute_batch()

    text = render_prometheus(monitor, cache, batch).decode()
    s = _samples(text)
    op = (("operation", "content.cat"),)
    assert s[("ipfs_kit_operations_total", (("operation", "content.cat"), ("outcome", "success")))] == 3
    assert s[("ipfs_kit_operations_total", (("operation", "content.cat"), ("outcome", "failure")))] == 1
    assert s[("ipfs_kit_operation_duration_seconds_count", op)] == 4
    assert s[("ipfs_kit_operation_duration_seconds_sum", op)] == (0.3 + 4 + 40 + 2000) / 1000
    assert s[("ipfs_kit_operation_duration_seconds_bucket", (("le", "0.0005"), *op))] == 1
    assert s[("ipfs_kit_operation_duration_seconds_bucket", (("le", "0.005"), *op))] == 2
    assert s[("ipfs_kit_operation_duration_seconds_bucket", (("le", "0.05"), *op))] == 3
    assert s[("ipfs_kit_operation_duration_seconds_bucket", (("le", "+Inf"), *op))] == 4
    assert s[("ipfs_kit_cache_hits_total", (("tier", "memory"),))] == 1
    assert s[("ipfs_kit_cache_misses_total", (("tier", "memory"),))] == 1
    assert s[("ipfs_kit_cache_bytes", (("tier", "memory"),))] == 5
    assert ("ipfs_kit_cache_hits_total", (("tier", "disk"),)) not in s  # disabled tier
    assert s[("ipfs_kit_cache_hit_ratio", ())] == 0.5
    assert s[("ipfs_kit_batch_operations_total", (("status", "failed"),))] == 1
    assert s[("ipfs_kit_batches_total", ())] == 1
    assert CONTENT_TYPE_LATEST.startswith("text/plain")
    monitor.close()
    cache.close()


def test_counts_survive_a_restart(tmp_path):
    first = PerformanceMonitor(tmp_path / "metrics.db")
    first.record("x", 1.0)
    first.close()
    second = PerformanceMonitor(tmp_path / "metrics.db")
    second.record("x", 1.0)
    s = _samples(render_prometheus(second).decode())
    assert s[("ipfs_kit_operation_duration_seconds_count", (("operation", "x"),))] == 2
    second.close()
