"""Statistical anomalies: time series against robust baselines, empty buckets included.

Global series, one value per UTC hour:

=====================  ======================================  ============
anomaly_type           value per hour                          min_delta
=====================  ======================================  ============
volume_spike           events                                  20 events
volume_drop            events (falling far below normal)       20 events
error_spike            failure + denied + error events         10 events
latency_spike          p95 of duration_ms (hours with 10+)     100 ms
bytes_spike            bytes moved                             100 MiB
=====================  ======================================  ============

Baseline of an hour: the same hour-of-day on the other days of the loaded
range (the ``days`` analysed plus ``baseline_days`` before), weekdays and
weekends separately (people work to a weekly rhythm). Location = median,
spread = 1.4826 × MAD, floored at sqrt(median + 1) for counts (a count cannot
be steadier than Poisson noise) and at 10% of the median for bytes and
latency. ``deviation_score`` = (value − median) / spread, a robust z-score.

Per-user series, one value per user per UTC day (a person's activity comes
in sessions, so most of their hours are empty and an hourly median would be
0): ``user_volume_spike`` (events, min_delta 20), ``user_error_spike``
(non-success events, 10), ``user_bytes_spike`` (bytes, 100 MiB). Baseline:
all the user's days in the range, empty days as 0; scored on log(1 + value)
because personal volumes are heavy-tailed, spread floored at
1 / sqrt(median + 1) for counts (Poisson noise on the log scale) and 0.25 for bytes.

A bucket is anomalous when ``|deviation_score| >= threshold`` (statistically
unusual) **and** it is practically large: ``value >= min_ratio × median`` (for
drops ``value <= median / min_ratio``) and ``|value − median| >= min_delta``.
Adjacent anomalous buckets of one series are merged into one anomaly (its
score is the largest). Severity by score: < 3 low, < 5 medium, < 10 high,
else critical.

``multivariate=True`` adds ``multivariate_outlier``: an Isolation Forest
(scikit-learn, imported only then) over per-user-hour feature vectors
(events, non-success, log bytes, distinct actions, distinct source IPs,
deletions, how unusual the hour is for the user), fitted on every active
user-hour of the loaded range; a bucket is reported when the forest puts it in
its most isolated 1% (``contamination``) and its anomaly score is >=
``threshold`` robust deviations above the typical bucket.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from ..errors import InvalidInput
from .frame import DELETE_ACTIONS, NON_SUCCESS, is_present
from .results import Anomaly

HOUR = 3600.0
DAY = 86400.0
MIB = 1024 * 1024


class _Series:
    """How one metric is bucketed and scored."""

    def __init__(self, metric: str, anomaly_type: str, per_user: bool, kind: str, min_delta: float):
        self.metric, self.anomaly_type, self.per_user = metric, anomaly_type, per_user
        self.kind, self.min_delta = kind, min_delta
        self.bucket_seconds = DAY if per_user else HOUR


SERIES = (
    _Series("events", "volume_spike", False, "count", 20),
    _Series("errors", "error_spike", False, "count", 10),
    _Series("latency_p95", "latency_spike", False, "amount", 100.0),
    _Series("bytes", "bytes_spike", False, "amount", 100 * MIB),
    _Series("user_events", "user_volume_spike", True, "count", 20),
    _Series("user_errors", "user_error_spike", True, "count", 10),
    _Series("user_bytes", "user_bytes_spike", True, "amount", 100 * MIB),
)
ANOMALY_TYPES = tuple(x.anomaly_type for x in SERIES) + ("volume_drop", "multivariate_outlier")


def severity_for(score: float) -> str:
    score = abs(score)
    if score < 3:
        return "low"
    if score < 5:
        return "medium"
    if score < 10:
        return "high"
    return "critical"


def detect(df: pl.DataFrame, window_start: float, window_end: float, *, threshold: float = 2.0,
           min_ratio: float = 2.0, max_evidence: int = 100, multivariate: bool = False) -> list[Anomaly]:
    """Anomalies in buckets overlapping ``[window_start, window_end]``; ``df`` also holds the baseline days."""
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold) \
            or threshold <= 0:
        raise InvalidInput(f"threshold must be a positive number, not {threshold!r}")
    if df.is_empty():
        return []
    df = df.with_columns((pl.col("timestamp") // HOUR).cast(pl.Int64).alias("bucket"),
                         pl.col("day").cast(pl.Int64).alias("dbucket"))
    first_day, last_day = int(df.get_column("dbucket").min()), int(window_end // DAY)
    if last_day - first_day + 1 < 3:
        return []  # fewer than three days: no baseline to speak of
    nonsuccess = pl.col("status").is_in(NON_SUCCESS)
    out: list[Anomaly] = []

    hours = pl.DataFrame({"bucket": pl.int_range(int(df.get_column("bucket").min()), int(window_end // HOUR) + 1,
                                                 eager=True).cast(pl.Int64)})
    hours = hours.with_columns((pl.col("bucket") // 24).alias("day"), (pl.col("bucket") % 24).alias("hod"))
    hours = hours.with_columns((((pl.col("day") + 3) % 7) >= 5).alias("weekend"))  # 1970-01-01 was a Thursday
    glob = df.group_by("bucket").agg(
        pl.len().alias("events"), nonsuccess.sum().alias("errors"),
        # A p95 of a handful of calls is noise: score latency only in hours with 10+ timed events.
        pl.when(pl.col("duration_ms").count() >= 10).then(pl.col("duration_ms").quantile(0.95)).alias("latency_p95"),
        pl.col("bytes").sum().alias("bytes"))
    glob = hours.join(glob, on="bucket", how="left").with_columns(pl.col("events", "errors", "bytes").fill_null(0))
    win_hour = int(window_start // HOUR)
    for series in SERIES[:4]:
        out += _anomalies(df, glob, series, win_hour, window_end, threshold, min_ratio, max_evidence)
    out += _anomalies(df, glob, SERIES[0], win_hour, window_end, threshold, min_ratio, max_evidence, drops=True)

    users = df.filter(is_present("user_id"))
    if not users.is_empty():
        per_user = users.group_by("user_id", pl.col("dbucket").alias("bucket")).agg(
            pl.len().alias("user_events"), nonsuccess.sum().alias("user_errors"),
            pl.col("bytes").sum().alias("user_bytes"))
        days = pl.DataFrame({"bucket": pl.int_range(first_day, last_day + 1, eager=True).cast(pl.Int64)})
        grid = per_user.select("user_id").unique().join(days, how="cross").join(
            per_user, on=["user_id", "bucket"], how="left").with_columns(
            pl.col("user_events", "user_errors", "user_bytes").fill_null(0))
        win_day = int(window_start // DAY)
        for series in SERIES[4:]:
            out += _anomalies(users, grid, series, win_day, window_end, threshold, min_ratio, max_evidence)
        if multivariate:
            out += _isolation_forest(users, win_hour, threshold, max_evidence)
    out.sort(key=lambda a: (-abs(a.deviation_score), a.timestamp))
    return out


def _anomalies(events: pl.DataFrame, grid: pl.DataFrame, series: _Series, first_bucket: int, window_end: float,
               threshold: float, min_ratio: float, max_evidence: int, *, drops: bool = False) -> list[Anomaly]:
    metric, per_user = series.metric, series.per_user
    keys = ["user_id"] if per_user else []
    group = keys if per_user else ["hod", "weekend"]
    value = pl.col(metric).cast(pl.Float64)
    s = grid.filter(pl.col(metric).is_not_null())
    if per_user:
        # Heavy-tailed personal volumes: robust z on log(1 + value).
        s = s.with_columns(value.log1p().alias("x"))
    else:
        s = s.with_columns(value.alias("x"))
    s = s.with_columns(pl.col("x").median().over(group).alias("mx"), value.median().over(group).alias("median"),
                       pl.len().over(group).alias("samples"))
    s = s.with_columns((pl.col("x") - pl.col("mx")).abs().median().over(group).alias("mad"))
    if per_user:
        floor = 1 / (pl.col("median") + 1).sqrt() if series.kind == "count" else pl.lit(0.25)
    elif series.kind == "count":
        floor = (pl.col("median") + 1).sqrt()
    else:
        floor = pl.max_horizontal(pl.col("median") * 0.1, pl.lit(1.0))
    s = s.with_columns(pl.max_horizontal(pl.col("mad") * 1.4826, floor).alias("scale"))
    s = s.with_columns(((pl.col("x") - pl.col("mx")) / pl.col("scale")).alias("z")).filter(
        (pl.col("bucket") >= first_bucket) & (pl.col("samples") >= 3))
    if drops:
        # The current bucket is still filling up: never call it a drop.
        s = s.filter(((pl.col("bucket") + 1) * series.bucket_seconds <= window_end) & (pl.col("z") <= -threshold)
                     & (value * min_ratio <= pl.col("median")) & (pl.col("median") - value >= series.min_delta))
    else:
        s = s.filter((pl.col("z") >= threshold) & (value >= min_ratio * pl.col("median"))
                     & (value - pl.col("median") >= series.min_delta))
    if s.is_empty():
        return []
    step = pl.col("bucket").diff()
    if keys:
        step = step.over(keys)
    s = s.sort(*keys, "bucket").with_columns((step.fill_null(2) != 1).cum_sum().alias("run"))
    strongest = pl.col("z").abs().arg_max()
    runs = s.group_by(*keys, "run").agg(
        pl.col("bucket").min().alias("lo"), pl.col("bucket").max().alias("hi"),
        *[pl.col(c).get(strongest) for c in ("z", metric, "median", "mad", "scale", "bucket")],
        pl.col("samples").max(), pl.col("bucket").alias("buckets"))
    evidence = {} if drops else _evidence(events, runs, series, max_evidence)
    anomaly_type = "volume_drop" if drops else series.anomaly_type
    out = []
    for r in runs.iter_rows(named=True):
        who = r["user_id"] if per_user else None
        size = series.bucket_seconds
        start, end = r["lo"] * size, (r["hi"] + 1) * size
        n = r["hi"] - r["lo"] + 1
        if per_user:
            unit, normal = "day", "their median day"
            baseline = {"median": r["median"], "log_mad": round(r["mad"], 4), "log_scale": round(r["scale"], 4),
                        "samples": r["samples"], "bucket_seconds": int(size), "scale": "log1p"}
        else:
            hod = int(r["bucket"] % 24)
            weekend = ((r["bucket"] // 24) + 3) % 7 >= 5
            unit = "hour"
            normal = f"normal for {hod:02d}h UTC on {'weekends' if weekend else 'weekdays'}"
            baseline = {"median": r["median"], "mad": r["mad"], "scale": round(r["scale"], 3),
                        "samples": r["samples"], "hour_of_day": hod, "weekend": weekend, "bucket_seconds": int(size)}
        description = (f"{who + ': ' if who else ''}{_value_text(metric, r[metric])} in a {unit}"
                       f"{f' (run of {n} {unit}s)' if n > 1 else ''}; {normal} is {_value_text(metric, r['median'])}")
        out.append(Anomaly(anomaly_type, severity_for(r["z"]), start, end, metric, float(r[metric]),
                           round(float(r["z"]), 3), who, evidence.get((who, r["lo"]), []), baseline, description))
    return out


def _value_text(metric: str, value: float) -> str:
    if metric.endswith("bytes"):
        return f"{value / MIB:.1f} MiB"
    if metric == "latency_p95":
        return f"p95 latency {value:.0f} ms"
    noun = "non-success events" if metric.endswith("errors") else "events"
    return f"{value:.0f} {noun}"


def _evidence(events: pl.DataFrame, runs: pl.DataFrame, series: _Series, max_evidence: int) -> dict[tuple, list[str]]:
    """The events behind each anomaly: failures, the biggest transfers, the slowest calls, the densest stretch."""
    keys = ["user_id"] if series.per_user else []
    bucket = "dbucket" if series.per_user else "bucket"
    spans = runs.select(*keys, "lo", "buckets").explode("buckets").rename({"buckets": bucket})
    ev = events.join(spans, on=[*keys, bucket])
    metric = series.metric
    if metric.endswith("errors"):
        ev = ev.filter(pl.col("status").is_in(NON_SUCCESS)).sort("timestamp")
    elif metric.endswith("bytes"):
        ev = ev.filter(pl.col("bytes") > 0).sort("bytes", descending=True)
    elif metric == "latency_p95":
        ev = ev.filter(pl.col("duration_ms").is_not_null()).sort("duration_ms", descending=True)
    else:
        # Volume: the events of the densest stretch first (busiest hour of a day, busiest minute of an hour).
        slot = (pl.col("timestamp") // (HOUR if series.per_user else 60.0)).alias("slot")
        ev = ev.with_columns(slot).with_columns(pl.len().over(*keys, "lo", "slot").alias("dense")).sort(
            "dense", "timestamp", descending=[True, False])
    grouped = ev.group_by(*keys, "lo").agg(pl.col("event_id").head(max_evidence))
    return {((row["user_id"] if keys else None), row["lo"]): row["event_id"] for row in grouped.iter_rows(named=True)}


def _isolation_forest(users: pl.DataFrame, win_lo: int, threshold: float, max_evidence: int,
                      contamination: float = 0.01) -> list[Anomaly]:
    try:
        from sklearn.ensemble import IsolationForest
    except ImportError:
        raise InvalidInput("multivariate anomaly detection needs scikit-learn: pip install 'ipfs-kit[ml]'") from None
    deletes = pl.col("action").str.contains(DELETE_ACTIONS)
    feats = users.group_by("user_id", "bucket").agg(
        pl.len().alias("events"), pl.col("status").is_in(NON_SUCCESS).sum().alias("errors"),
        (pl.col("bytes").sum() + 1).log().alias("log_bytes"), pl.col("action").n_unique().alias("actions"),
        pl.col("source_ip").n_unique().alias("sources"), deletes.sum().alias("deletes"),
        pl.col("event_id").head(max_evidence).alias("ids"))
    if feats.height < 50:
        return []
    # The forest samples rows by position: a fixed order keeps results reproducible.
    feats = feats.sort("user_id", "bucket")
    # How unusual this hour of day is for the user: share of their active buckets at that hour.
    feats = feats.with_columns((pl.col("bucket") % 24).alias("hod"))
    feats = feats.with_columns((pl.len().over("user_id", "hod") / pl.len().over("user_id")).alias("hour_share"))
    columns = ["events", "errors", "log_bytes", "actions", "sources", "deletes", "hour_share"]
    matrix = feats.select(pl.col(columns).cast(pl.Float64)).to_numpy()
    forest = IsolationForest(n_estimators=100, random_state=0, contamination=contamination).fit(matrix)
    score = -forest.score_samples(matrix)
    outlier = forest.predict(matrix) == -1
    med = float(np.median(score))
    scale = max(float(np.median(np.abs(score - med))) * 1.4826, 1e-9)
    z = (score - med) / scale
    feats = feats.with_columns(pl.Series("score", score), pl.Series("z", z), pl.Series("outlier", outlier)).filter(
        pl.col("outlier") & (pl.col("z") >= threshold) & (pl.col("bucket") >= win_lo))
    out = []
    for r in feats.iter_rows(named=True):
        vector = {c: r[c] for c in columns}
        out.append(Anomaly(
            "multivariate_outlier", severity_for(r["z"]), r["bucket"] * HOUR, (r["bucket"] + 1) * HOUR,
            "user_hour_features", round(float(r["score"]), 4), round(float(r["z"]), 3), r["user_id"],
            r["ids"], {"features": vector, "score_median": round(med, 4), "score_scale": round(scale, 4)},
            f"{r['user_id']}: unusual combination in one hour ({r['events']} events, {r['errors']} non-success, "
            f"{r['actions']} actions, {r['sources']} sources, {r['deletes']} deletions)",
        ))
    return out
