"""``AuditAnalytics``: patterns, anomalies, compliance, statistics, trends and reports over an audit log.

Reads the log in columnar form (``audit_logger.export_columns``) and keeps the
last frame it loaded while the log is unchanged (same chain head), so a
dashboard asking several questions in a row loads the columns once.
"""

from __future__ import annotations

import threading
from typing import Any

import polars as pl

from ..errors import InvalidInput
from . import anomalies as _anomalies
from . import compliance as _compliance
from . import statistics as _statistics
from .frame import DAY, HOUR, MAX_WINDOW, epoch, export_frame, number, positive_int, span_of, window
from .patterns import DETECTORS, HISTORY_DAYS, PATTERN_TYPES, PatternContext
from .results import Anomaly, ComplianceScore, Pattern


class AuditAnalytics:
    def __init__(self, audit_logger: Any, *, history_days: float = HISTORY_DAYS, max_evidence: int = 200):
        self._source = audit_logger
        self.history_days = history_days
        self.max_evidence = max_evidence
        self._lock = threading.Lock()
        self._cache: tuple[Any, float, tuple | None, pl.DataFrame] | None = None

    @property
    def audit_logger(self) -> Any:
        return self._source

    # ---- loading ------------------------------------------------------------------
    def _state(self) -> Any:
        return self._source.chain_head()

    def frame(self, start: float | None, end: float | None = None, event_types: Any = None) -> pl.DataFrame:
        """Events from ``start`` to ``end`` as a normalised frame (cached while the log is unchanged)."""
        types = tuple(sorted(event_types)) if event_types else None
        if types is not None and not all(isinstance(t, str) for t in types):
            raise InvalidInput("event_types must be a list of event type names")
        state = self._state()
        lo = float("-inf") if start is None else start
        with self._lock:
            cached = self._cache
            if cached is None or cached[0] != state or cached[1] > lo or cached[2] != types:
                df = export_frame(self._source, start, None, types)
                self._cache = cached = (state, lo, types, df)
        df = cached[3]
        cond = pl.col("timestamp") >= lo
        if end is not None:
            cond &= pl.col("timestamp") <= end
        return df.filter(cond) if (start is not None and lo > cached[1]) or end is not None else df

    def _nothing_before(self, ts: float) -> bool:
        """True when the log holds no event stamped before ``ts`` (so a frame from ``ts`` on is all history)."""
        return not self._source.query_events(end_time=ts, limit=1)

    # ---- patterns -------------------------------------------------------------------
    def analyze_patterns(self, timeframe: Any = None, confidence: float = 0.7,
                         event_types: Any = None, *, hours: Any = None, days: Any = None,
                         pattern_types: Any = None, end_time: Any = None,
                         settings: dict[str, dict[str, Any]] | None = None) -> list[Pattern]:
        """Behaviour patterns whose events fall in the last ``timeframe`` (see ``patterns.py``).

        The window is ``timeframe`` (timedelta or seconds), or ``hours`` or ``days``
        (numbers); default 24 hours. Every window argument of this class is checked
        by ``frame.window``: finite, > 0, at most 100 years.

        ``confidence``: keep findings at or above it. ``pattern_types``: a subset of
        ``PATTERN_TYPES``. ``settings``: per-type overrides of the detectors' defaults,
        e.g. ``{"brute_force": {"min_failures": 20}}``.
        """
        span = span_of(timeframe, hours=hours, days=days, default=24 * HOUR)
        conf = number(confidence, "confidence", 0.0, 1.0)
        end = epoch(end_time)
        types = _choose(pattern_types, PATTERN_TYPES, "pattern type")
        settings = settings or {}
        unknown = set(settings) - set(PATTERN_TYPES)
        if unknown:
            raise InvalidInput(f"settings for unknown pattern type(s): {', '.join(sorted(unknown))}")
        start = end - span
        lo = start - self.history_days * DAY
        df = self.frame(lo, end, event_types)
        ctx = PatternContext(df, start, end, self.max_evidence, self._source,
                             history_complete=not event_types and self._nothing_before(lo))
        found: list[Pattern] = []
        if df.height:
            for name in types:
                try:
                    found += DETECTORS[name](ctx, **settings.get(name, {}))
                except TypeError as exc:
                    raise InvalidInput(f"bad settings for {name}: {exc}") from None
        found = [p for p in found if p.confidence >= conf]
        found.sort(key=lambda p: (-p.confidence, -p.last_seen))
        return found

    # ---- anomalies ----------------------------------------------------------------------
    def detect_anomalies(self, threshold: float = 2.0, days: float = 7, *, baseline_days: float = 14,
                         min_ratio: float = 2.0, multivariate: bool = False, end_time: Any = None) -> list[Anomaly]:
        """Anomalies in the last ``days`` days against robust baselines (see ``anomalies.py``)."""
        number(threshold, "threshold", 0.0)
        span = _days(days)
        base = number(baseline_days, "baseline_days", 0.0, MAX_WINDOW / DAY) * DAY
        number(min_ratio, "min_ratio", 1.0)
        end = epoch(end_time)
        start = end - span
        df = self.frame(start - base, end)
        return _anomalies.detect(df, start, end, threshold=threshold, min_ratio=min_ratio,
                                 max_evidence=min(self.max_evidence, 100), multivariate=multivariate)

    # ---- compliance -------------------------------------------------------------------
    def get_compliance_score(self, policy_rules: Any = "baseline", timeframe: Any = None, *,
                             hours: Any = None, days: Any = None, end_time: Any = None) -> ComplianceScore:
        """Score the last ``timeframe`` (or ``hours``/``days``; default 7 days) against a policy
        (dict, JSON/YAML path, or ``baseline``/``strict``)."""
        span = span_of(timeframe, hours=hours, days=days, default=7 * DAY)
        policy = _compliance.load_policy(policy_rules)
        end = epoch(end_time)
        df = self.frame(end - span, end)
        return _compliance.score(df, policy, end - span, end, self._source)

    # ---- statistics and trends ------------------------------------------------------------
    def generate_statistics(self, group_by: str = "event_type", timeframe: Any = None, *,
                            hours: Any = None, days: Any = None, end_time: Any = None,
                            limit: int = 50) -> dict[str, Any]:
        """Counts, outcomes, users, bytes and durations per value of ``group_by`` over ``timeframe``
        (or ``hours``/``days``; default 24 hours)."""
        span = span_of(timeframe, hours=hours, days=days, default=24 * HOUR)
        positive_int(limit, "limit")
        end = epoch(end_time)
        return _statistics.summarize(self.frame(end - span, end), group_by, end - span, end, limit)

    def analyze_trends(self, metric: str = "event_count", period: str = "daily", days: float = 30, *,
                       end_time: Any = None) -> dict[str, Any]:
        """``metric`` per ``period`` over the last ``days`` days, with direction and change."""
        if metric not in _statistics.METRICS:
            raise InvalidInput(f"unknown metric {metric!r}; choose one of {', '.join(_statistics.METRICS)}")
        _statistics.period_seconds(period)
        span = _days(days)
        end = epoch(end_time)
        return _statistics.trend(self.frame(end - span, end), metric, period, end - span, end)

    # ---- reports ------------------------------------------------------------------------------
    def generate_report(self, report_type: str = "summary", *, timeframe: Any = None, hours: Any = None,
                        days: Any = None, policy: Any = "baseline", end_time: Any = None) -> dict[str, Any]:
        """A report (``summary``, ``security``, ``compliance``, ``activity``) as a JSON-ready dict,
        over ``timeframe`` (or ``hours``/``days``; default 7 days)."""
        from .report import build_report

        span = span_of(timeframe, hours=hours, days=days, default=7 * DAY)
        return build_report(self, report_type, timeframe=span, policy=policy, end=epoch(end_time))

    def export_report(self, report_type: str, output: str, *, format: str | None = None,
                      timeframe: Any = None, hours: Any = None, days: Any = None, policy: Any = "baseline",
                      end_time: Any = None) -> dict[str, Any]:
        """Write a report to ``output`` (``.html``: self-contained page with charts; else JSON)."""
        from .report import write_report

        report = self.generate_report(report_type, timeframe=timeframe, hours=hours, days=days, policy=policy,
                                      end_time=end_time)
        return write_report(report, output, format)

    # ---- scenarios ----------------------------------------------------------------------------
    def simulate(self, days: int = 21, users: int = 30, seed: int = 0, incidents: Any = "all",
                 end_time: float | None = None, answer_key_path: str | None = None) -> Any:
        """Write a simulated scenario into this log; returns its answer key (see ``simulate.py``),
        also written as JSON to ``answer_key_path`` when given."""
        from .simulate import simulate, write_answer_key

        key = simulate(self._source, days=days, users=users, seed=seed, incidents=incidents, end_time=end_time)
        if answer_key_path is not None:
            write_answer_key(key, answer_key_path)
        return key


def _days(value: Any) -> float:
    """``days`` as seconds: a number of days, or a timedelta."""
    return window(value, "days", DAY)


def _choose(chosen: Any, allowed: tuple[str, ...], what: str) -> list[str]:
    if chosen is None:
        return list(allowed)
    if isinstance(chosen, str):
        chosen = [c.strip() for c in chosen.split(",") if c.strip()]
    unknown = [c for c in chosen if c not in allowed]
    if unknown:
        raise InvalidInput(f"unknown {what}(s) {', '.join(map(str, unknown))}; choose from {', '.join(allowed)}")
    return list(chosen)
