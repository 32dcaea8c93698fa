"""Dashboard data: widgets, charts, configuration wizards and the status summary.

Data only (no HTTP): the CLI (``cli/dashboard.py``), the web app (``web/``)
and the MCP server all call ``Dashboard`` (``service.py``) or the seed-level
classes re-exported here.
"""

from .charts import CHART_TYPES, Chart, ChartConfig, ChartGenerator
from .service import Dashboard
from .status import status_summary
from .widgets import (
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
from .wizards import (
    BackendSetupWizard,
    MonitoringSetupWizard,
    VFSConfigurationWizard,
    Wizard,
    WizardManager,
)

__all__ = [
    "CHART_TYPES", "WIDGET_TYPES", "AlertWidget", "BackendSetupWizard", "Chart", "ChartConfig",
    "ChartGenerator", "CounterWidget", "Dashboard", "HealthWidget", "KitProvider", "MetricWidget",
    "MonitoringSetupWizard", "OperationHistoryWidget", "StatusWidget", "VFSConfigurationWizard",
    "Widget", "WidgetConfig", "WidgetManager", "Wizard", "WizardManager", "status_summary",
]
