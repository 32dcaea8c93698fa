"""Dashboard tools (the seed's 7 ``dashboard_*``): widgets, charts, operations, wizards, status.

Each calls the same ``Dashboard`` method as ``ipfs-kit dashboard <command>
--json``. The server keeps one set of built-in widgets per home (their cached
data and metric history shared by every caller) and binds it to the caller's
Kit for each call, as the web app does.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Annotated, Any, Literal, NotRequired

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field
from typing_extensions import TypedDict

from ...dashboard.providers import builtin_widget_manager
from ...dashboard.service import Dashboard
from .common import Progress, caller, server_path, structured, tool

_shared_widgets: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_shared_lock = threading.Lock()


def _board(kit) -> Dashboard:
    """The caller's Dashboard over the widgets this server shares between callers."""
    with _shared_lock:
        shared = _shared_widgets.get(kit.services)
        if shared is None:
            shared = _shared_widgets[kit.services] = builtin_widget_manager(kit)
    return Dashboard(kit, widgets=shared.bind(kit))


WidgetType = Literal["status", "health", "alert", "counter", "metric", "operation_history"]
ChartType = Literal["line", "bar", "pie", "scatter", "time_series"]
Aggregation = Literal["avg", "sum", "min", "max", "count", "last", "p50", "p95", "p99"]
WizardId = Annotated[str, Field(
    min_length=1, max_length=100, description="backend_setup, vfs_configuration or monitoring_setup "
                                              "(see dashboard_list_wizards).")]


# ---- output types -----------------------------------------------------------------------------
class WidgetInfo(TypedDict):
    widget_id: str
    widget_type: WidgetType
    title: str
    refresh_interval: float
    options: dict[str, Any]
    provider: str


class WidgetEnvelope(TypedDict):
    widget_id: str
    widget_type: WidgetType
    title: str
    refresh_interval: float
    options: dict[str, Any]
    updated_at: float
    data: Annotated[dict[str, Any], Field(description=(
        "By widget_type: status {status, message, items}; health {overall, healthy, total, components}; "
        "alert {count, by_severity, highest, alerts}; counter {counters, deltas}; metric {metrics, history}; "
        "operation_history {count, by_status, operations}."))]
    error: Annotated[str | None, Field(description="Why the provider failed; data is then empty.")]


class WidgetData(TypedDict):
    """One widget's data envelope; without widget_id, every widget under `widgets`."""

    widget_id: NotRequired[str]
    widget_type: NotRequired[WidgetType]
    title: NotRequired[str]
    refresh_interval: NotRequired[float]
    options: NotRequired[dict[str, Any]]
    updated_at: NotRequired[float]
    data: NotRequired[dict[str, Any]]
    error: NotRequired[str | None]
    widgets: NotRequired[list[WidgetEnvelope]]
    time: NotRequired[float]


class Widgets(TypedDict):
    widgets: list[WidgetInfo]


class Dataset(TypedDict):
    label: str
    data: Annotated[list[Any], Field(description="[{x, y}] points, or values aligned with labels (bar/pie).")]


class Chart(TypedDict):
    """Chart.js-ready data: datasets of {x, y} points (line, scatter, time_series) or labels + values."""

    chart_id: str
    type: ChartType
    title: str
    x_label: str | None
    y_label: str | None
    x_type: Literal["time", "number", "category"]
    labels: list[str]
    datasets: list[Dataset]
    meta: dict[str, Any]
    generated_at: float


class OperationRow(TypedDict):
    event_id: str
    timestamp: float
    action: str
    status: Literal["success", "failure", "denied", "error"]
    user_id: str | None
    source_ip: str | None
    resource: str | None
    duration_ms: float | None
    bytes: int | None
    error: Any
    interface: Any


class Operations(TypedDict):
    """Operations (audit events) of the window, newest first; total counts all of them."""

    status: str | None
    hours: float
    total: int
    operations: list[OperationRow]


class WizardInfo(TypedDict):
    wizard_id: str
    title: str
    description: str
    steps: int
    templates: list[str]


class Wizards(TypedDict):
    wizards: list[WizardInfo]


class ConfigChange(TypedDict):
    path: str
    old: Any
    new: Any


class WizardRun(TypedDict):
    """What the wizard wrote (secrets shown as ***) and the config.change audit event."""

    wizard_id: str
    template: str | None
    applied: bool
    config: dict[str, Any]
    changes: list[ConfigChange]
    event_id: str | None
    settings_path: NotRequired[str]


class StatusSummary(TypedDict):
    """Overall level (worst of backends and recent findings) with the facts behind it."""

    status: Literal["ok", "warning", "critical"]
    message: str
    version: str
    time: float
    uptime_seconds: float
    home: str
    user: str
    role: str
    store: dict[str, Any]
    audit: dict[str, Any]
    backends: dict[str, Any]
    findings: dict[str, Any]
    performance: dict[str, Any]


# ---- tools -------------------------------------------------------------------------------------------
@tool(title="Widget data", read_only=True)
def dashboard_get_widget_data(
    widget_id: Annotated[str | None, Field(
        min_length=1, max_length=200, description="A widget (see dashboard_list_widgets); all when omitted.")] = None,
    refresh: Annotated[bool, Field(description="Fetch fresh data instead of the cached value.")] = False,
) -> Annotated[CallToolResult, WidgetData]:
    """A dashboard widget's current data, or every widget's (as `ipfs-kit dashboard widget-data --json`).

    Unknown widget ids are an error listing the known ones.
    """
    board = _board(caller())
    return structured(board.widget_data(widget_id, refresh) if widget_id else board.overview(refresh))


@tool(title="Chart data", read_only=True)
def dashboard_get_chart_data(
    chart_type: ChartType,
    title: Annotated[str, Field(max_length=200)],
    data: Annotated[dict[str, Any], Field(description=(
        'line/scatter/time_series: {"series name": [[x, y], ...]} (x: number, epoch seconds or ISO time); '
        'bar/pie: {"label": value}.'))],
    trendline: Annotated[bool, Field(description="scatter: add a least-squares trendline per series.")] = False,
    interval: Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?[smhd]?$", description=(
        "time_series: bucket size, seconds or 30s, 5m, 1h, 1d."))] = "60",
    aggregation: Annotated[Aggregation, Field(description="time_series: how each bucket is aggregated.")] = "avg",
) -> Annotated[CallToolResult, Chart]:
    """Build chart data (Chart.js datasets) from series or label/value data
    (as `ipfs-kit dashboard chart --json`)."""
    options: dict[str, Any] = {}
    if chart_type == "scatter":
        options["trendline"] = trendline
    elif chart_type == "time_series":
        options.update(interval=interval, aggregation=aggregation)
    return structured(_board(caller()).chart(chart_type, title, data, **options))


@tool(title="Operations history", read_only=True)
def dashboard_get_operations_history(
    status: Annotated[Literal["success", "failure", "denied", "error"] | None, Field(
        description="Only operations with this outcome.")] = None,
    hours: Annotated[float, Field(gt=0, le=24 * 366, description="How far back to look.")] = 24,
    limit: Annotated[int, Field(ge=1, le=10_000)] = 100,
) -> Annotated[CallToolResult, Operations]:
    """Recent operations from the audit log, newest first, with the total in the window
    (as `ipfs-kit dashboard operations --json`)."""
    return structured(_board(caller()).operations(status, hours, limit))


@tool(title="Run a configuration wizard", role="admin", destructive=True, idempotent=True, open_world=True)
async def dashboard_run_wizard(
    ctx: Context,
    wizard_id: WizardId,
    template: Annotated[str | None, Field(max_length=4096, description=(
        "A template name (see dashboard_list_wizards), or a .json/.yaml answers file on the server under "
        "allowed_roots."))] = None,
    answers: Annotated[dict[str, Any] | None, Field(description="{field: value}, over the template's.")] = None,
    apply: Annotated[bool | None, Field(description=(
        "Write config.json (default: yes, or as the answers say); false only validates and shows the config."))]
    = None,
) -> Annotated[CallToolResult, WizardRun]:
    """Run a configuration wizard non-interactively from a template and/or answers, validate every step
    and apply it to config.json (as `ipfs-kit dashboard wizard --json`). Needs the admin role; the change
    is audited as config.change. Invalid answers are an error naming the field."""
    kit = caller()
    if template is not None and ("/" in template or template.endswith((".json", ".yaml", ".yml"))):
        template = server_path(kit, template, "answers file")
    if answers and isinstance(answers.get("path"), str) and answers["path"]:
        # A local backend's directory is written to by the server: the same rule as any server-side path.
        answers = {**answers, "path": server_path(kit, os.path.expanduser(answers["path"]), "backend path")}
    board = _board(kit)
    work = lambda _advance: board.run_wizard(wizard_id, template, answers, interactive=False, apply=apply)  # noqa: E731
    return structured(await Progress(ctx, None, f"running wizard {wizard_id}").run(work))


@tool(title="System status summary", read_only=True)
def dashboard_get_status_summary() -> Annotated[CallToolResult, StatusSummary]:
    """Overall status (ok / warning / critical) with store, audit log, backends, findings and performance
    facts (as `ipfs-kit dashboard status --json`)."""
    return structured(_board(caller()).status())


@tool(title="List widgets", read_only=True)
def dashboard_list_widgets() -> Annotated[CallToolResult, Widgets]:
    """The dashboard widgets: id, type, title, refresh interval (as `ipfs-kit dashboard widgets --json`)."""
    return structured(_board(caller()).list_widgets(), key="widgets")


@tool(title="List wizards", read_only=True)
def dashboard_list_wizards() -> Annotated[CallToolResult, Wizards]:
    """The configuration wizards, their step counts and templates
    (as `ipfs-kit dashboard list-wizards --json`)."""
    return structured(_board(caller()).list_wizards(), key="wizards")
