"""``AuditVisualizer``: chart-ready data (timelines, heat maps, dashboards, charts, summaries).

Everything returned is plain JSON: the web dashboard draws it with its vendored
chart code and ``report.py`` turns it into inline SVG. ``events`` may be a list
of events (objects or dicts), a polars frame of events, or ``None`` for the
last ``hours`` (default 24) of the log.

Heat maps (empty cells are 0):

- ``hourly``: one row per UTC date, 24 columns (hour of day);
- ``daily``: one row per ISO week (Monday first), 7 columns (weekday);
- ``weekly``: the weekly rhythm — 7 rows (weekday), 24 columns (hour of day).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import polars as pl

from ..errors import InvalidInput
from .frame import (
    DAY,
    HOUR,
    NON_SUCCESS,
    empty_frame,
    export_frame,
    frame_from_events,
    iso,
    normalize,
    window,
)

STATUS_COLORS = {"success": "#2e7d32", "failure": "#f9a825", "denied": "#ef6c00", "error": "#c62828"}
SEVERITY_COLORS = {"info": "#90a4ae", "low": "#42a5f5", "medium": "#ffb300", "high": "#f4511e", "critical": "#b71c1c"}
PALETTE = ("#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#e53935", "#00acc1", "#6d4c41", "#3949ab", "#7cb342",
           "#d81b60")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
GRANULARITIES = ("hourly", "daily", "weekly")
CHART_TYPES = ("bar", "line", "pie", "scatter")
_UNIT = {"minute": "minute", "hourly": "hour", "daily": "day"}


class AuditVisualizer:
    def __init__(self, audit_logger: Any = None, *, max_points: int = 2000):
        self._source = audit_logger
        self.max_points = max_points

    def _events(self, events: Any, hours: float = 24) -> pl.DataFrame:
        if events is None:
            if self._source is None:
                return empty_frame()
            span = window(hours, "hours", HOUR)
            now = time.time()
            return export_frame(self._source, now - span, now)
        if isinstance(events, pl.DataFrame):
            return normalize(events)
        if isinstance(events, dict) or isinstance(events, str):
            raise InvalidInput("events must be a list of events, an event frame, or None")
        return frame_from_events(events)

    # ---- timeline -------------------------------------------------------------------
    def generate_timeline_data(self, events: Any = None, *, group_by: str = "user_id", hours: float = 24,
                               bucket_seconds: float | None = None) -> dict[str, Any]:
        """Events as points on lanes (one per ``group_by`` value) plus a density track."""
        df = self._events(events, hours)
        if group_by not in df.columns:
            raise InvalidInput(f"cannot group a timeline by {group_by!r}")
        if df.is_empty():
            return {"start": None, "end": None, "group_by": group_by, "groups": [], "events": [], "density": [],
                    "total": 0, "truncated": False}
        start, end = float(df["timestamp"].min()), float(df["timestamp"].max())
        size = bucket_seconds or _nice_bucket(end - start)
        lane = pl.col(group_by).fill_null("(none)")
        groups = df.group_by(lane.alias("g")).len().sort(["len", "g"], descending=[True, False])
        shown = df.tail(self.max_points)
        points = []
        for row in shown.select("event_id", "timestamp", "event_type", "action", "status", "severity", "resource",
                                lane.alias("g")).iter_rows(named=True):
            points.append({"id": row["event_id"], "timestamp": row["timestamp"], "time": iso(row["timestamp"]),
                           "group": row["g"], "label": row["action"], "event_type": row["event_type"],
                           "status": row["status"], "severity": row["severity"], "resource": row["resource"],
                           "color": STATUS_COLORS.get(row["status"], "#607d8b")})
        density = df.group_by((pl.col("timestamp") // size * size).alias("t")).agg(
            pl.len().alias("count"), pl.col("status").is_in(NON_SUCCESS).sum().alias("failures")).sort("t")
        return {
            "start": start, "end": end, "start_iso": iso(start), "end_iso": iso(end), "group_by": group_by,
            "groups": [{"name": g, "count": n} for g, n in groups.iter_rows()], "events": points,
            "density": [{"bucket_start": t, "time": iso(t), "count": c, "failures": f}
                        for t, c, f in density.iter_rows()],
            "bucket_seconds": size, "total": df.height, "truncated": df.height > len(points),
        }

    # ---- heat map --------------------------------------------------------------------
    def generate_heatmap_data(self, events: Any = None, granularity: str = "hourly", *,
                              hours: float = 24 * 7, value: str = "count") -> dict[str, Any]:
        """Event counts (or ``value='failures'``) as a matrix; see the module doc for the axes."""
        if granularity not in GRANULARITIES:
            raise InvalidInput(f"granularity must be one of {', '.join(GRANULARITIES)}, not {granularity!r}")
        if value not in ("count", "failures"):
            raise InvalidInput(f"heat map value must be 'count' or 'failures', not {value!r}")
        df = self._events(events, hours)
        if value == "failures":
            df = df.filter(pl.col("status").is_in(NON_SUCCESS))
        weekday = ((pl.col("day") + 3) % 7).alias("wd")
        if granularity == "weekly":
            rows, cols = list(_WEEKDAYS), [f"{h:02d}" for h in range(24)]
            cells = df.group_by(weekday.alias("r"), pl.col("hour").alias("c")).len()
            index = {i: i for i in range(7)}
        elif df.is_empty():
            rows, cols, cells, index = [], [], None, {}
        elif granularity == "hourly":
            first, last = int(df["day"].min()), int(df["day"].max())
            rows = [_date(d) for d in range(first, last + 1)]
            cols = [f"{h:02d}" for h in range(24)]
            cells = df.group_by(pl.col("day").alias("r"), pl.col("hour").alias("c")).len()
            index = {d: d - first for d in range(first, last + 1)}
        else:  # daily: ISO weeks x weekdays
            monday = pl.col("day") - (pl.col("day") + 3) % 7
            first = int(df.select(monday.min()).item())
            last = int(df.select(monday.max()).item())
            weeks = list(range(first, last + 1, 7))
            rows = [f"week of {_date(w)}" for w in weeks]
            cols = list(_WEEKDAYS)
            cells = df.group_by(monday.alias("r"), weekday.alias("c")).len()
            index = {w: i for i, w in enumerate(weeks)}
        matrix = [[0] * len(cols) for _ in rows]
        if cells is not None:
            for r, c, n in cells.iter_rows():
                matrix[index[int(r)]][int(c)] = int(n)
        peak = max((max(row) for row in matrix if row), default=0)
        return {"granularity": granularity, "value": value, "x_labels": cols, "y_labels": rows, "values": matrix,
                "max": peak, "total": int(sum(map(sum, matrix)))}

    # ---- compliance dashboard ---------------------------------------------------------
    def generate_compliance_dashboard(self, compliance_score: Any) -> dict[str, Any]:
        """Gauge, per-rule bars, a violations table and recommendations from a compliance score."""
        data = compliance_score.to_dict() if hasattr(compliance_score, "to_dict") else compliance_score
        if not isinstance(data, dict) or "overall_score" not in data:
            raise InvalidInput("generate_compliance_dashboard needs the result of get_compliance_score")
        overall = float(data["overall_score"])
        rules = data.get("rules", [])
        violations = data.get("violations", [])
        by_severity: dict[str, int] = {}
        for v in violations:
            by_severity[v["severity"]] = by_severity.get(v["severity"], 0) + 1
        return {
            "policy": data.get("policy"),
            "overall": {"score": overall, "grade": data.get("grade"), "color": _score_color(overall)},
            "gauges": [{"rule": r["rule"], "score": r["score"], "status": r["status"], "color": _score_color(r["score"]),
                        "checked": r["checked"], "violations": r["violations"], "description": r["description"]}
                       for r in rules],
            "rule_chart": {"type": "bar", "labels": [r["rule"] for r in rules],
                           "datasets": [{"label": "score", "data": [r["score"] for r in rules],
                                         "colors": [_score_color(r["score"]) for r in rules]}]},
            "severity_chart": {"type": "pie", "labels": list(by_severity),
                               "datasets": [{"label": "violations", "data": list(by_severity.values()),
                                             "colors": [SEVERITY_COLORS[s] for s in by_severity]}]},
            "violations": [{"rule": v["rule"], "severity": v["severity"], "user": v.get("user"), "count": v["count"],
                            "description": v["description"], "evidence": v["evidence"][:10]} for v in violations],
            "recommendations": data.get("recommendations", []),
            "passed": sum(1 for r in rules if r["status"] == "pass"),
            "failed": sum(1 for r in rules if r["status"] == "fail"),
        }

    # ---- charts ------------------------------------------------------------------------
    def generate_chart_data(self, chart_type: str = "bar", events: Any = None, *, field: str = "event_type",
                            period: str = "hourly", hours: float = 24, limit: int = 10) -> dict[str, Any]:
        """Chart data: ``bar``/``pie`` count events by ``field``; ``line`` counts per ``period``
        (successes and non-successes, empty periods included); ``scatter`` plots duration
        against time, coloured by status."""
        if chart_type not in CHART_TYPES:
            raise InvalidInput(f"chart type must be one of {', '.join(CHART_TYPES)}, not {chart_type!r}")
        df = self._events(events, hours)
        if chart_type in ("bar", "pie"):
            if field not in df.columns or field in ("timestamp", "details"):
                raise InvalidInput(f"cannot count events by {field!r}")
            counts = df.group_by(pl.col(field).cast(pl.Utf8).fill_null("(none)").alias("k")).len().sort(
                ["len", "k"], descending=[True, False])
            top = counts.head(limit).rows()
            rest = int(counts.tail(max(counts.height - limit, 0))["len"].sum()) if counts.height > limit else 0
            labels = [k for k, _ in top] + (["other"] if rest else [])
            data = [n for _, n in top] + ([rest] if rest else [])
            return {"type": chart_type, "title": f"events by {field}", "labels": labels,
                    "datasets": [{"label": "events", "data": data,
                                  "colors": [PALETTE[i % len(PALETTE)] for i in range(len(labels))]}]}
        if chart_type == "line":
            size = {"hourly": HOUR, "daily": DAY, "minute": 60.0}.get(period)
            if size is None:
                raise InvalidInput(f"line chart period must be minute, hourly or daily, not {period!r}")
            if df.is_empty():
                return {"type": "line", "title": "events over time", "labels": [], "datasets": []}
            first, last = int(df["timestamp"].min() // size), int(df["timestamp"].max() // size)
            grid = pl.DataFrame({"b": pl.int_range(first, last + 1, eager=True).cast(pl.Int64)})
            counts = df.group_by((pl.col("timestamp") // size).cast(pl.Int64).alias("b")).agg(
                (pl.col("status") == "success").sum().alias("ok"), pl.col("status").is_in(NON_SUCCESS).sum().alias("bad"))
            rows = grid.join(counts, on="b", how="left").fill_null(0).sort("b")
            return {"type": "line", "title": f"events per {_UNIT[period]}",
                    "labels": [iso(b * size) for b in rows["b"]],
                    "datasets": [{"label": "success", "data": rows["ok"].to_list(), "color": STATUS_COLORS["success"]},
                                 {"label": "non-success", "data": rows["bad"].to_list(), "color": STATUS_COLORS["error"]}]}
        pts = df.filter(pl.col("duration_ms").is_not_null()).tail(self.max_points)
        datasets = []
        for status in ("success", *NON_SUCCESS):
            part = pts.filter(pl.col("status") == status)
            if part.height:
                datasets.append({"label": status, "color": STATUS_COLORS[status],
                                 "data": [{"x": t, "y": d, "id": i} for t, d, i in
                                          part.select("timestamp", "duration_ms", "event_id").iter_rows()]})
        return {"type": "scatter", "title": "duration (ms) over time", "x_label": "time", "y_label": "duration_ms",
                "datasets": datasets}

    # ---- activity summary ------------------------------------------------------------------
    def generate_activity_summary(self, events: Any = None, *, hours: float = 24, top: int = 5) -> dict[str, Any]:
        """Totals, outcome split, busiest hour, and the top users, actions, resources and sources."""
        df = self._events(events, hours)
        if df.is_empty():
            return {"total_events": 0, "start": None, "end": None, "status": {}, "unique_users": 0,
                    "unique_sources": 0, "bytes": 0, "failure_rate": None, "busiest_hour": None,
                    "top_users": [], "top_actions": [], "top_resources": [], "top_sources": []}

        def top_of(col: str) -> list[dict[str, Any]]:
            counts = df.filter(pl.col(col).is_not_null()).group_by(col).len().sort(["len", col],
                                                                                   descending=[True, False])
            return [{"name": k, "count": n} for k, n in counts.head(top).iter_rows()]

        status = dict(df.group_by("status").len().iter_rows())
        busiest = df.group_by((pl.col("timestamp") // HOUR).alias("h")).len().sort(
            ["len", "h"], descending=[True, False]).row(0)
        failures = sum(status.get(s, 0) for s in NON_SUCCESS)
        start, end = float(df["timestamp"].min()), float(df["timestamp"].max())
        return {
            "total_events": df.height, "start": start, "end": end, "start_iso": iso(start), "end_iso": iso(end),
            "status": {s: int(status.get(s, 0)) for s in ("success", *NON_SUCCESS)},
            "failure_rate": round(failures / df.height, 4),
            "unique_users": df["user_id"].drop_nulls().n_unique(),
            "unique_sources": df["source_ip"].drop_nulls().n_unique(),
            "bytes": int(df["bytes"].sum() or 0),
            "busiest_hour": {"start": busiest[0] * HOUR, "start_iso": iso(busiest[0] * HOUR), "count": busiest[1]},
            "top_users": top_of("user_id"), "top_actions": top_of("action"), "top_resources": top_of("resource"),
            "top_sources": top_of("source_ip"),
        }


def _date(day: int) -> str:
    return datetime.fromtimestamp(day * DAY, UTC).strftime("%Y-%m-%d")


def _nice_bucket(span: float) -> float:
    for size in (60, 300, 900, 3600, 6 * 3600, DAY):
        if span / size <= 200:
            return float(size)
    return 7 * DAY


def _score_color(score: float) -> str:
    return "#2e7d32" if score >= 90 else "#f9a825" if score >= 70 else "#c62828"
