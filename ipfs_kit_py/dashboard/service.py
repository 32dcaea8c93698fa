"""``Dashboard``: the dashboard operations every interface calls (CLI, web, MCP).

Each public method is one audited, timed operation of the caller's Kit
(``dashboard.<name>``); Kit methods it uses (``repo.stat``...) become its
child events. Widgets and their cached data can be shared between Dashboards
of different callers (``widgets=shared.bind(kit)``).
"""

from __future__ import annotations

import time
from typing import Any

from ..errors import InvalidInput
from .charts import ChartConfig, ChartGenerator
from .providers import builtin_widget_manager
from .status import status_summary
from .widgets import WidgetManager
from .wizards import WizardManager

OPERATION_STATUSES = ("success", "failure", "denied", "error")


class Dashboard:
    def __init__(self, kit, widgets: WidgetManager | None = None):
        self.kit = kit
        self.widgets = widgets if widgets is not None else builtin_widget_manager(kit)
        self.charts = ChartGenerator()
        self.wizards = WizardManager(kit)

    def _track(self, name: str, role: str = "reader", event_type: str = "system"):
        return self.kit.track(f"dashboard.{name}", event_type=event_type, role=role, resource_type=None)

    # ---- widgets ------------------------------------------------------------
    def list_widgets(self) -> list[dict[str, Any]]:
        with self._track("widgets"):
            return self.widgets.list_widgets()

    def widget_data(self, widget_id: str, refresh: bool = False) -> dict[str, Any]:
        with self._track("widget_data"):
            from ..instrument import note

            note(resource=widget_id)
            return self.widgets.get_widget_data(widget_id, refresh)

    def overview(self, refresh: bool = False) -> dict[str, Any]:
        """Every widget's data (status summary included) in one document."""
        with self._track("overview"):
            return {"widgets": list(self.widgets.get_all_widget_data(refresh).values()), "time": time.time()}

    def status(self) -> dict[str, Any]:
        with self._track("status"):
            return status_summary(self.kit)

    # ---- charts and operations -------------------------------------------------
    def chart(self, chart_type: str, title: str, data: Any, chart_id: str | None = None,
              **options: Any) -> dict[str, Any]:
        """Chart JSON for ``data`` (see ChartGenerator for the shapes per type)."""
        with self._track("chart"):
            config = ChartConfig(chart_id or title.lower().replace(" ", "_") or "chart", chart_type, title)
            return self.charts.generate(config, data, **options).to_dict()

    def chart_csv(self, chart_type: str, title: str, data: Any, **options: Any) -> str:
        """The same chart's data as CSV text (rows in x/time order)."""
        with self._track("chart"):
            config = ChartConfig(title.lower().replace(" ", "_") or "chart", chart_type, title)
            return self.charts.export_to_csv(self.charts.generate(config, data, **options))

    def operations(self, status: str | None = None, hours: float = 24, limit: int = 100) -> dict[str, Any]:
        """Operations (audit events) of the last ``hours``, newest first."""
        with self._track("operations"):
            if status is not None and status not in OPERATION_STATUSES:
                raise InvalidInput(f"status must be one of {', '.join(OPERATION_STATUSES)}, not {status!r}")
            if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 24 * 366:
                raise InvalidInput(f"hours must be a number in (0, 8784], not {hours!r}")
            if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
                raise InvalidInput(f"limit must be 1..10000, not {limit!r}")
            since = time.time() - hours * 3600
            mine = self.kit.audit_scope()
            events = self.kit.audit.query_events(start_time=since, status=status, user_id=mine, limit=limit)
            total = self.kit.audit.count(start_time=since, status=status, user_id=mine)
            return {"status": status, "hours": hours, "total": total,
                    "operations": [{
                        "event_id": e.event_id, "timestamp": e.timestamp, "action": e.action,
                        "status": e.status, "user_id": e.user_id, "source_ip": e.source_ip,
                        "resource": e.resource, "duration_ms": e.duration_ms, "bytes": e.bytes,
                        "error": e.details.get("error"), "interface": e.details.get("interface"),
                    } for e in events]}

    # ---- wizards -------------------------------------------------------------------
    def list_wizards(self) -> list[dict[str, Any]]:
        with self._track("wizards"):
            return self.wizards.list_wizards()

    def describe_wizard(self, wizard_id: str, template: str | None = None) -> dict[str, Any]:
        """Steps, fields and (with a template) the template's answers, secrets hidden."""
        with self._track("wizard.describe", role="admin"):
            wizard = self.wizards.create_wizard(wizard_id)
            if template:
                wizard.load_template(template)
            fields = wizard.fields
            return {**wizard.to_dict(), "answers": {k: v for k, v in wizard.answers.items() if not fields[k].secret}}

    def validate_wizard_step(self, wizard_id: str, step: int, answers: dict[str, Any],
                             template: str | None = None) -> dict[str, Any]:
        """Validate one step of answers; on the last step, also the redacted summary."""
        with self._track("wizard.validate", role="admin"):
            wizard = self.wizards.create_wizard(wizard_id)
            if template:
                wizard.load_template(template)
            wizard.set_answers(answers)
            errors = wizard.validate_step(step)
            result: dict[str, Any] = {"wizard_id": wizard_id, "step": step, "valid": not errors,
                                      "errors": errors, "last_step": step == len(wizard.steps) - 1}
            if not errors and step >= len(wizard.steps) - 2:
                result["summary"] = wizard.summary()
            return result

    def run_wizard(self, wizard_id: str, template: str | None = None, answers: dict[str, Any] | None = None,
                   interactive: bool | None = None, apply: bool | None = None) -> dict[str, Any]:
        """Run a wizard (from a template and/or answers, or interactively) and apply it."""
        with self._track("wizard.run", role="admin", event_type="config"):
            wizard = self.wizards.create_wizard(wizard_id)
            if template:
                wizard.load_template(template)
            return wizard.run(answers, interactive=interactive if answers is None else False, apply=apply)
