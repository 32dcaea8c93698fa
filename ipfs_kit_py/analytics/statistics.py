"""Statistical summaries (grouped counts) and trends (a metric per period, with direction).

``summarize(df, group_by)``: one row per value of ``group_by`` (an event field,
or ``hour_of_day``, ``weekday``, ``date``) with its count, share, outcome
counts, failure rate, distinct users, bytes and duration percentiles.

``trend(df, metric, period)``: the metric per period (hourly, daily, weekly
from Monday; empty periods included: 0 for counts, null for rates and
latencies), its robust slope (Theil–Sen: the median of pairwise slopes, so one
outlier period cannot fake a trend), the fitted change over the range and a
direction: ``increasing`` / ``decreasing`` when the fitted change is at least
10% of the fitted start (or, from zero, any rise), else ``stable``. A period
still running at the end of the range is shown (``partial``) but not fitted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from ..errors import InvalidInput
from .frame import DAY, HOUR, NON_SUCCESS, iso

GROUP_FIELDS = ("event_type", "action", "status", "user_id", "source_ip", "resource", "resource_type", "backend",
                "severity", "session_id", "operation_id", "hour_of_day", "weekday", "date")
METRICS = ("event_count", "failure_count", "failure_rate", "error_count", "denied_count", "auth_failures",
           "unique_users", "unique_sources", "bytes", "latency_p50", "latency_p95")
PERIODS = {"hourly": HOUR, "daily": DAY, "weekly": 7 * DAY}
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# 1970-01-05 was a Monday: weekly periods start on Mondays.
_WEEK_OFFSET = 4 * DAY


def _group_expr(group_by: str) -> pl.Expr:
    if group_by == "hour_of_day":
        return pl.col("hour").cast(pl.Utf8).str.zfill(2).alias("key")
    if group_by == "weekday":
        return ((pl.col("day") + 3) % 7).replace_strict(dict(enumerate(_WEEKDAYS)), return_dtype=pl.Utf8).alias("key")
    if group_by == "date":
        return pl.from_epoch(pl.col("day").cast(pl.Int64) * 86400, time_unit="s").dt.date().cast(pl.Utf8).alias("key")
    return pl.col(group_by).fill_null("(none)").alias("key")


def summarize(df: pl.DataFrame, group_by: str, start: float, end: float, limit: int = 50) -> dict[str, Any]:
    if group_by not in GROUP_FIELDS:
        raise InvalidInput(f"cannot group by {group_by!r}; choose one of {', '.join(GROUP_FIELDS)}")
    total = df.height
    status = pl.col("status")
    groups = df.group_by(_group_expr(group_by)).agg(
        pl.len().alias("count"),
        (status == "success").sum().alias("success"), (status == "failure").sum().alias("failure"),
        (status == "denied").sum().alias("denied"), (status == "error").sum().alias("error"),
        pl.col("user_id").drop_nulls().n_unique().alias("users"),
        pl.col("source_ip").drop_nulls().n_unique().alias("sources"),
        pl.col("bytes").sum().alias("bytes"),
        pl.col("duration_ms").median().alias("duration_ms_p50"),
        pl.col("duration_ms").quantile(0.95).alias("duration_ms_p95"),
        pl.col("timestamp").min().alias("first_seen"), pl.col("timestamp").max().alias("last_seen"),
    ).with_columns(
        (pl.col("count") / max(total, 1)).round(4).alias("share"),
        ((pl.col("failure") + pl.col("denied") + pl.col("error")) / pl.col("count")).round(4).alias("failure_rate"),
    ).sort(["count", "key"], descending=[True, False])
    rows = groups.head(limit).to_dicts()
    for row in rows:
        row["first_seen_iso"], row["last_seen_iso"] = iso(row["first_seen"]), iso(row["last_seen"])
    by_status = dict(df.group_by("status").len().iter_rows()) if total else {}
    return {
        "group_by": group_by, "start": start, "end": end, "start_iso": iso(start), "end_iso": iso(end),
        "total_events": total, "distinct_groups": groups.height, "shown_groups": len(rows),
        "status_totals": {s: int(by_status.get(s, 0)) for s in ("success", *NON_SUCCESS)},
        "unique_users": int(df.get_column("user_id").drop_nulls().n_unique()) if total else 0,
        "unique_sources": int(df.get_column("source_ip").drop_nulls().n_unique()) if total else 0,
        "bytes_total": int(df.get_column("bytes").sum() or 0) if total else 0,
        "groups": rows,
    }


def _metric_expr(metric: str) -> pl.Expr:
    status = pl.col("status")
    return {
        "event_count": pl.len(),
        "failure_count": status.is_in(NON_SUCCESS).sum(),
        "failure_rate": status.is_in(NON_SUCCESS).mean(),
        "error_count": (status == "error").sum(),
        "denied_count": (status == "denied").sum(),
        "auth_failures": ((pl.col("event_type") == "authentication") & (status == "failure")).sum(),
        "unique_users": pl.col("user_id").drop_nulls().n_unique(),
        "unique_sources": pl.col("source_ip").drop_nulls().n_unique(),
        "bytes": pl.col("bytes").sum(),
        "latency_p50": pl.col("duration_ms").median(),
        "latency_p95": pl.col("duration_ms").quantile(0.95),
    }[metric].cast(pl.Float64).alias("value")


def period_seconds(period: str) -> float:
    if period not in PERIODS:
        raise InvalidInput(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    return PERIODS[period]


def trend(df: pl.DataFrame, metric: str, period: str, start: float, end: float) -> dict[str, Any]:
    if metric not in METRICS:
        raise InvalidInput(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    size = period_seconds(period)
    offset = _WEEK_OFFSET if period == "weekly" else 0.0
    first, last = int((start - offset) // size), int((end - offset) // size)
    values = df.group_by(((pl.col("timestamp") - offset) // size).cast(pl.Int64).alias("p")).agg(_metric_expr(metric))
    grid = pl.DataFrame({"p": pl.int_range(first, last + 1, eager=True).cast(pl.Int64)}).join(values, on="p", how="left")
    if metric not in ("failure_rate", "latency_p50", "latency_p95"):
        grid = grid.with_columns(pl.col("value").fill_null(0.0))
    series = []
    for p, value in grid.iter_rows():
        period_start = p * size + offset
        series.append({"period_start": period_start, "period_start_iso": iso(period_start),
                       "value": None if value is None else round(value, 6),
                       "partial": period_start + size > end or period_start < start})
    fit = [(i, s["value"]) for i, s in enumerate(series) if s["value"] is not None and not s["partial"]]
    result = {"metric": metric, "period": period, "start": start, "end": end, "start_iso": iso(start),
              "end_iso": iso(end), "series": series, **_direction(fit)}
    known = [s["value"] for s in series if s["value"] is not None]
    result.update(total=round(float(sum(known)), 6) if metric not in ("failure_rate", "latency_p50", "latency_p95")
                  else None,
                  mean=round(float(np.mean(known)), 6) if known else None,
                  peak=max((s for s in series if s["value"] is not None), key=lambda s: s["value"], default=None))
    return result


def _direction(points: list[tuple[int, float]]) -> dict[str, Any]:
    if len(points) < 2:
        return {"direction": "insufficient_data", "slope_per_period": None, "change": None, "change_pct": None,
                "fitted_start": None, "fitted_end": None, "periods_fitted": len(points)}
    x = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float)
    i, j = np.triu_indices(len(x), k=1)
    slope = float(np.median((y[j] - y[i]) / (x[j] - x[i])))
    intercept = float(np.median(y - slope * x))
    fitted_start, fitted_end = intercept + slope * x[0], intercept + slope * x[-1]
    change = fitted_end - fitted_start
    pct = None if abs(fitted_start) < 1e-12 else change / abs(fitted_start) * 100
    if pct is None:
        direction = "increasing" if change > 0 else "decreasing" if change < 0 else "stable"
    else:
        direction = "increasing" if pct >= 10 else "decreasing" if pct <= -10 else "stable"
    return {"direction": direction, "slope_per_period": round(slope, 6), "change": round(change, 6),
            "change_pct": None if pct is None else round(pct, 2), "fitted_start": round(fitted_start, 6),
            "fitted_end": round(fitted_end, 6), "periods_fitted": len(points)}
