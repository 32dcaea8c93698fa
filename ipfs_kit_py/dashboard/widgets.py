"""Dashboard widgets: a config, a data provider, and a shape per widget type.

``WidgetManager`` holds widgets; ``get_widget_data(id)`` calls the widget's
provider at most once per ``refresh_interval`` seconds (``refresh=True``
forces it) and returns one JSON-serializable envelope::

    {"widget_id", "widget_type", "title", "refresh_interval",
     "updated_at", "data": {...}, "error": None | "one-line message"}

Each of the six types turns what its provider returns into a fixed shape the
web page knows how to draw (see the ``_shape_*`` functions). A provider that
fails does not break the dashboard: its widget carries the error message.

Providers are plain callables with no arguments (the seed's
``status_provider=get_status``), or ``KitProvider`` objects that are called
with the Kit of whoever is looking, so the audit trail names the right user
(``manager.bind(kit)`` gives a view that shares widgets and cached data).
Built-in providers fed by a real Kit are in ``providers.py``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput, IpfsKitError, NotFound

log = logging.getLogger(__name__)

WIDGET_TYPES = ("status", "health", "alert", "counter", "metric", "operation_history")
STATUS_LEVELS = ("ok", "warning", "critical", "unknown")
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "warning": 2, "low": 3, "info": 4}
HISTORY_POINTS = 120


@dataclass
class WidgetConfig:
    widget_id: str
    widget_type: str
    title: str
    refresh_interval: float = 30
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.widget_id, str) or not self.widget_id.strip():
            raise InvalidInput("widget_id must be a non-empty string")
        if self.widget_type not in WIDGET_TYPES:
            raise InvalidInput(f"widget_type must be one of {', '.join(WIDGET_TYPES)}, not {self.widget_type!r}")
        if isinstance(self.refresh_interval, bool) or not isinstance(self.refresh_interval, int | float) or not (
            math.isfinite(self.refresh_interval) and self.refresh_interval > 0
        ):
            raise InvalidInput(f"refresh_interval must be a number of seconds > 0, not {self.refresh_interval!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"widget_id": self.widget_id, "widget_type": self.widget_type, "title": self.title,
                "refresh_interval": self.refresh_interval, "options": dict(self.options)}


class KitProvider:
    """A provider that needs the caller's Kit: ``fn(kit) -> data``."""

    def __init__(self, fn: Callable[[Any], Any], name: str | None = None):
        self.fn = fn
        self.name = name or fn.__name__

    def __call__(self, kit) -> Any:
        return self.fn(kit)


_MAX_SCOPES = 256  # cached views per widget (admin + that many users); the oldest goes first


class Widget:
    """One widget: its config, its provider, its last data and (metric) history."""

    def __init__(self, config: WidgetConfig, provider: Callable[..., Any]):
        self.config = config
        self.provider = provider
        self._lock = threading.Lock()
        # Last data per audit scope (whose events the caller may see), with when it was fetched:
        # a reader must never be served an admin's cached view of other users' events.
        self._envelopes: dict[str | None, tuple[dict[str, Any], float]] = {}
        self._previous: dict[str, float] = {}
        self._history: dict[str, deque] = {}

    @property
    def widget_id(self) -> str:
        return self.config.widget_id

    @property
    def widget_type(self) -> str:
        return self.config.widget_type

    def get_data(self, refresh: bool = False, kit=None) -> dict[str, Any]:
        scope = kit.audit_scope() if kit is not None and isinstance(self.provider, KitProvider) else None
        with self._lock:
            cached = self._envelopes.get(scope)
            if cached is not None and not refresh and time.monotonic() - cached[1] < self.config.refresh_interval:
                return cached[0]
            envelope = self._fetch(kit)
            if len(self._envelopes) >= _MAX_SCOPES:
                self._envelopes.pop(next(iter(self._envelopes)))
            self._envelopes[scope] = (envelope, time.monotonic())
            return envelope

    def _fetch(self, kit) -> dict[str, Any]:
        error = None
        data: dict[str, Any] = {}
        try:
            if isinstance(self.provider, KitProvider):
                if kit is None:
                    raise InvalidInput(f"widget {self.widget_id} needs a Kit: create the manager with WidgetManager(kit)")
                raw = self.provider(kit)
            else:
                raw = self.provider()
            data = SHAPERS[self.widget_type](self, raw)
        except IpfsKitError as exc:
            error = str(exc)
        except Exception as exc:  # a provider bug must not take the dashboard down
            log.exception("widget %s provider failed", self.widget_id)
            error = f"internal error ({type(exc).__name__}: {exc})"
        return {**self.config.to_dict(), "updated_at": time.time(), "data": data, "error": error}

    def to_dict(self) -> dict[str, Any]:
        provider = self.provider.name if isinstance(self.provider, KitProvider) else getattr(
            self.provider, "__name__", type(self.provider).__name__)
        return {**self.config.to_dict(), "provider": provider}


class StatusWidget(Widget):
    """Overall state (ok / warning / critical / unknown) with its facts."""


class HealthWidget(Widget):
    """Health of named components, and how many are healthy."""


class AlertWidget(Widget):
    """Recent alerts, most severe and newest first, counted by severity."""


class CounterWidget(Widget):
    """Named counts, with the change since the previous refresh."""


class MetricWidget(Widget):
    """Named measurements with a short history per name (for sparklines)."""


class OperationHistoryWidget(Widget):
    """Recent operations, newest first, counted by status."""


WIDGET_CLASSES: dict[str, type[Widget]] = {
    "status": StatusWidget, "health": HealthWidget, "alert": AlertWidget,
    "counter": CounterWidget, "metric": MetricWidget, "operation_history": OperationHistoryWidget,
}


class WidgetManager:
    """Creates widgets and serves their data (``kit`` feeds ``KitProvider`` widgets)."""

    def __init__(self, kit=None, *, _widgets: dict[str, Widget] | None = None):
        self.kit = kit
        self._widgets: dict[str, Widget] = {} if _widgets is None else _widgets

    def bind(self, kit) -> WidgetManager:
        """A view sharing these widgets and their cached data, calling providers with ``kit``."""
        return WidgetManager(kit, _widgets=self._widgets)

    def create_widget(self, config: WidgetConfig, data_provider: Callable[..., Any] | None = None, *,
                      status_provider: Callable[..., Any] | None = None, **providers: Callable[..., Any]) -> Widget:
        """Add a widget. The provider may be passed as ``data_provider=`` or by its
        type's name (``status_provider=``, ``health_provider=``, ...)."""
        if not isinstance(config, WidgetConfig):
            raise InvalidInput("config must be a WidgetConfig")
        given = [p for p in (data_provider, status_provider, *providers.values()) if p is not None]
        unknown = [k for k in providers if k.removesuffix("_provider") not in WIDGET_TYPES]
        if unknown:
            raise InvalidInput(f"unknown provider keyword(s): {', '.join(unknown)}; use data_provider=")
        if len(given) != 1:
            raise InvalidInput(f"widget {config.widget_id} needs exactly one provider (data_provider=...)")
        if not callable(given[0]):
            raise InvalidInput(f"the provider of widget {config.widget_id} is not callable")
        if config.widget_id in self._widgets:
            raise InvalidInput(f"a widget named {config.widget_id!r} already exists")
        widget = WIDGET_CLASSES[config.widget_type](config, given[0])
        self._widgets[config.widget_id] = widget
        return widget

    def remove_widget(self, widget_id: str) -> None:
        self._get(widget_id)
        del self._widgets[widget_id]

    def get_widget(self, widget_id: str) -> Widget:
        return self._get(widget_id)

    def list_widgets(self) -> list[dict[str, Any]]:
        return [w.to_dict() for w in self._widgets.values()]

    def get_widget_data(self, widget_id: str, refresh: bool = False) -> dict[str, Any]:
        return self._get(widget_id).get_data(refresh, self.kit)

    def get_all_widget_data(self, refresh: bool = False) -> dict[str, dict[str, Any]]:
        return {wid: w.get_data(refresh, self.kit) for wid, w in list(self._widgets.items())}

    def _get(self, widget_id: str) -> Widget:
        try:
            return self._widgets[widget_id]
        except KeyError:
            known = ", ".join(self._widgets) or "none"
            raise NotFound(f"no widget {widget_id!r}; widgets: {known}") from None


# ---- shaping provider output per type ------------------------------------------

def _number(value: Any, what: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{what} must be a finite number, not {value!r}")
    return value


def _shape_status(widget: Widget, raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        raw = {"status": raw}
    if not isinstance(raw, dict):
        raise InvalidInput("a status provider must return a status string or a dict")
    status = str(raw.get("status", "unknown")).lower()
    status = {"healthy": "ok", "running": "ok", "degraded": "warning", "error": "critical",
              "down": "critical"}.get(status, status)
    if status not in STATUS_LEVELS:
        status = "unknown"
    items = {k: v for k, v in raw.items() if k not in ("status", "message")}
    return {"status": status, "message": raw.get("message"), "items": items}


def _shape_health(widget: Widget, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidInput("a health provider must return {component: healthy or {'healthy': ...}}")
    components = []
    for name, value in raw.items():
        entry = dict(value) if isinstance(value, dict) else {"healthy": value}
        healthy = entry.pop("healthy", None)
        if not isinstance(healthy, bool):
            raise InvalidInput(f"health of {name!r} must say healthy: true or false")
        components.append({"name": str(name), "healthy": healthy, **entry})
    healthy = sum(c["healthy"] for c in components)
    total = len(components)
    overall = "healthy" if healthy == total else ("unhealthy" if healthy == 0 else "degraded")
    return {"overall": overall if total else "unknown", "healthy": healthy, "total": total,
            "components": components}


def _shape_alert(widget: Widget, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, list):
        raise InvalidInput("an alert provider must return a list of alerts")
    alerts = []
    for item in raw:
        if not isinstance(item, dict) or "message" not in item:
            raise InvalidInput("each alert must be a dict with at least a 'message'")
        severity = str(item.get("severity", "medium")).lower()
        if severity not in SEVERITY_ORDER:
            raise InvalidInput(f"alert severity {severity!r} is not one of {', '.join(SEVERITY_ORDER)}")
        alerts.append({**item, "severity": severity, "time": item.get("time")})
    alerts.sort(key=lambda a: (SEVERITY_ORDER[a["severity"]], -(a["time"] or 0)))
    limit = int(widget.config.options.get("limit", 20))
    counts: dict[str, int] = {}
    for a in alerts:
        counts[a["severity"]] = counts.get(a["severity"], 0) + 1
    return {"count": len(alerts), "by_severity": counts,
            "highest": alerts[0]["severity"] if alerts else None, "alerts": alerts[:limit]}


def _shape_counter(widget: Widget, raw: Any) -> dict[str, Any]:
    values = {widget.config.title: raw} if not isinstance(raw, dict) else raw
    counters = {str(k): _number(v, f"counter {k!r}") for k, v in values.items()}
    deltas = {k: (v - widget._previous[k]) if k in widget._previous else None for k, v in counters.items()}
    widget._previous = dict(counters)
    return {"counters": counters, "deltas": deltas}


def _shape_metric(widget: Widget, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidInput("a metric provider must return {name: value or {'value': .., 'unit': ..}}")
    metrics = {}
    now = time.time()
    for name, value in raw.items():
        entry = dict(value) if isinstance(value, dict) else {"value": value}
        if entry.get("value") is not None:
            entry["value"] = _number(entry["value"], f"metric {name!r}")
            history = widget._history.setdefault(str(name), deque(maxlen=HISTORY_POINTS))
            history.append([now, entry["value"]])
        metrics[str(name)] = entry
    history = {k: list(v) for k, v in widget._history.items() if k in metrics}
    return {"metrics": metrics, "history": history}


def _shape_operation_history(widget: Widget, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, list):
        raise InvalidInput("an operation history provider must return a list of operations")
    ops = []
    for item in raw:
        if not isinstance(item, dict):
            raise InvalidInput("each operation must be a dict")
        t = item.get("timestamp", item.get("time"))
        ops.append({**item, "timestamp": _number(t, "operation timestamp") if t is not None else None})
    ops.sort(key=lambda o: -(o["timestamp"] or 0))
    limit = int(widget.config.options.get("limit", 20))
    by_status: dict[str, int] = {}
    for op in ops:
        status = str(op.get("status", "unknown"))
        by_status[status] = by_status.get(status, 0) + 1
    return {"count": len(ops), "by_status": by_status, "operations": ops[:limit]}


SHAPERS: dict[str, Callable[[Widget, Any], dict[str, Any]]] = {
    "status": _shape_status, "health": _shape_health, "alert": _shape_alert,
    "counter": _shape_counter, "metric": _shape_metric, "operation_history": _shape_operation_history,
}
