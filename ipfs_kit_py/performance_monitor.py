"""Seed import path: ``from ipfs_kit_py.performance_monitor import PerformanceMonitor``."""

from .performance.metrics_export import render_prometheus
from .performance.monitor import PerformanceMonitor, parse_timeframe

__all__ = ["PerformanceMonitor", "parse_timeframe", "render_prometheus"]
