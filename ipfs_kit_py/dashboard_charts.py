"""Seed import path: ``from ipfs_kit_py.dashboard_charts import ChartGenerator, ChartConfig``.

The implementation lives in ``ipfs_kit_py.dashboard.charts``.
"""

from .dashboard.charts import AGGREGATIONS, CHART_TYPES, Chart, ChartConfig, ChartGenerator, Dataset

__all__ = ["AGGREGATIONS", "CHART_TYPES", "Chart", "ChartConfig", "ChartGenerator", "Dataset"]
