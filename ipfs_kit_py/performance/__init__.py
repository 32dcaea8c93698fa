"""Performance suite: multi-tier cache, batch processor, performance monitor, Prometheus export."""

from .batch import BatchProcessor, BatchResult, Operation, TransactionBatch
from .cache import TIERS, CacheManager
from .codec import SafeCodec, ValueCodec
from .metrics_export import CONTENT_TYPE_LATEST, make_registry, render_prometheus
from .monitor import PerformanceMonitor, parse_timeframe
from .policies import POLICIES
from .summary import performance_summary

__all__ = [
    "BatchProcessor", "BatchResult", "CONTENT_TYPE_LATEST", "CacheManager", "Operation", "POLICIES",
    "PerformanceMonitor", "SafeCodec", "TIERS", "TransactionBatch", "ValueCodec", "make_registry",
    "parse_timeframe", "performance_summary", "render_prometheus",
]
