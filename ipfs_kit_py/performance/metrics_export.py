"""Prometheus text exposition for ``/metrics``: monitor, cache and batch figures.

A custom collector reads the objects at scrape time (nothing is double
counted or kept twice). Operation latencies are exported as a cumulative
histogram with all-time counts (monotonic, as Prometheus expects) so
``histogram_quantile`` works; the exact windowed quantiles stay in
``get_metrics``.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from .samples import BUCKETS_MS

__all__ = ["CONTENT_TYPE_LATEST", "KitCollector", "make_registry", "render_prometheus"]


class KitCollector:
    def __init__(self, monitor: Any = None, cache: Any = None, batch: Any = None):
        self.monitor = monitor
        self.cache = cache
        self.batch = batch

    def describe(self) -> list:
        return []  # unchecked collector: families depend on what is being monitored

    def collect(self):
        if self.monitor is not None:
            yield from self._monitor_families()
        if self.cache is not None:
            yield from self._cache_families()
        if self.batch is not None:
            yield from self._batch_families()

    def _monitor_families(self):
        totals = self.monitor.operation_totals()
        ops = CounterMetricFamily("ipfs_kit_operations", "Operations finished, by outcome.",
                                  labels=["operation", "outcome"])
        hist = HistogramMetricFamily("ipfs_kit_operation_duration_seconds", "Operation latency.",
                                     labels=["operation"])
        for name, t in sorted(totals.items()):
            ops.add_metric([name, "success"], t["count"] - t["failures"])
            ops.add_metric([name, "failure"], t["failures"])
            cumulative, buckets = 0, []
            for bound_ms, count in zip(BUCKETS_MS, t["buckets"], strict=False):
                cumulative += count
                buckets.append((repr(bound_ms / 1000.0), cumulative))
            buckets.append(("+Inf", t["count"]))
            hist.add_metric([name], buckets, t["sum_ms"] / 1000.0)
        yield ops
        yield hist

    def _cache_families(self):
        stats = self.cache.get_statistics()
        labels = ["tier"]
        families = {
            "hits": CounterMetricFamily("ipfs_kit_cache_hits", "Cache hits by tier.", labels=labels),
            "misses": CounterMetricFamily("ipfs_kit_cache_misses", "Cache misses by tier.", labels=labels),
            "evictions": CounterMetricFamily("ipfs_kit_cache_evictions", "Entries evicted by tier.", labels=labels),
            "expirations": CounterMetricFamily("ipfs_kit_cache_expirations", "Entries expired by tier.",
                                               labels=labels),
            "entries": GaugeMetricFamily("ipfs_kit_cache_entries", "Entries held by tier.", labels=labels),
            "bytes": GaugeMetricFamily("ipfs_kit_cache_bytes", "Bytes held by tier.", labels=labels),
        }
        for tier, t in stats["tiers"].items():
            if not t["enabled"]:
                continue
            for key, family in families.items():
                family.add_metric([tier], t[key])
        yield from families.values()
        yield GaugeMetricFamily("ipfs_kit_cache_hit_ratio", "Hits / requests over all tiers.",
                                value=stats["hit_rate_percent"] / 100.0)

    def _batch_families(self):
        stats = self.batch.get_statistics()
        yield CounterMetricFamily("ipfs_kit_batches", "Batches executed.", value=stats["batches"])
        ops = CounterMetricFamily("ipfs_kit_batch_operations", "Batch operations by final status.",
                                  labels=["status"])
        for status in ("succeeded", "failed", "cancelled", "rolled_back", "rollback_failed"):
            ops.add_metric([status], stats[status])
        yield ops


def make_registry(monitor: Any = None, cache: Any = None, batch: Any = None) -> CollectorRegistry:
    """A registry of our own (not the global one), so several Kits never collide."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(KitCollector(monitor, cache, batch))
    return registry


def render_prometheus(monitor: Any = None, cache: Any = None, batch: Any = None) -> bytes:
    """The Prometheus text format (serve with ``CONTENT_TYPE_LATEST``)."""
    return generate_latest(make_registry(monitor, cache, batch))
