"""Audit analytics: patterns, anomalies, compliance, correlation, visualization, reports.

Everything reads the audit log in columnar form (``AuditLogger.export_columns``,
a polars DataFrame) and never loops in Python over events. Modules:

- ``frame``: loading and normalising the columns; shared vectorised helpers.
- ``patterns``: one detector per behaviour pattern (rules and defaults documented there).
- ``anomalies``: robust, seasonal time-series anomalies (+ optional Isolation Forest).
- ``compliance`` and ``policies/``: the policy format, its schema, example policies, scoring.
- ``statistics``: grouped summaries and trends.
- ``correlation``: ``EventCorrelator`` (correlation, timelines, causation, impact).
- ``visualization``: ``AuditVisualizer`` (chart-ready data).
- ``report``: reports as JSON or self-contained HTML with inline SVG charts.
- ``simulate`` and ``evaluation``: a scenario generator with an answer key, and
  precision / recall of findings against it.
- ``engine``: ``AuditAnalytics``, the entry point tying these together.
"""

from .correlation import Correlation, EventCorrelator
from .engine import AuditAnalytics
from .patterns import PATTERN_TYPES
from .results import Anomaly, ComplianceScore, Pattern, RuleScore, Violation
from .simulate import AnswerKey, Incident, generate_scenario, simulate
from .visualization import AuditVisualizer

__all__ = [
    "PATTERN_TYPES", "Anomaly", "AnswerKey", "AuditAnalytics", "AuditVisualizer", "ComplianceScore", "Correlation",
    "EventCorrelator", "Incident", "Pattern", "RuleScore", "Violation", "generate_scenario", "simulate",
]
