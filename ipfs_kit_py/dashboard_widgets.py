"""Seed import path: ``from ipfs_kit_py.dashboard_widgets import WidgetManager, WidgetConfig``.

The implementation lives in ``ipfs_kit_py.dashboard.widgets`` (built-in Kit
providers in ``ipfs_kit_py.dashboard.providers``).
"""

from .dashboard.providers import BUILTIN_WIDGETS, builtin_widget_manager
from .dashboard.widgets import (
    WIDGET_TYPES,
    AlertWidget,
    CounterWidget,
    HealthWidget,
    KitProvider,
    MetricWidget,
    OperationHistoryWidget,
    StatusWidget,
    Widget,
    WidgetConfig,
    WidgetManager,
)

__all__ = [
    "BUILTIN_WIDGETS", "WIDGET_TYPES", "AlertWidget", "CounterWidget", "HealthWidget", "KitProvider",
    "MetricWidget", "OperationHistoryWidget", "StatusWidget", "Widget", "WidgetConfig", "WidgetManager",
    "builtin_widget_manager",
]
