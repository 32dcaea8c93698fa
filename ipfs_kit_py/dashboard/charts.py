"""Chart data: line, bar, pie, scatter (with a trendline) and aggregated time series.

A chart is data only: ``Chart.to_dict()`` is JSON that the web dashboard draws
with Chart.js (datasets of ``{x, y}`` points, or labels + values) and that the
CLI and MCP tools return as is. Inputs are checked here, so a bad series is a
one-line ``InvalidInput`` rather than a broken chart in the browser.

Times may be given as epoch seconds, timezone-aware ``datetime`` objects or
ISO 8601 strings; they are stored as UTC epoch seconds and exported to CSV as
ISO 8601, in time order (never lexical order).
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import InvalidInput

CHART_TYPES = ("line", "bar", "pie", "scatter", "time_series")
MAX_FILLED_BUCKETS = 100_000  # buckets one filled time series may have
AGGREGATIONS = ("avg", "sum", "min", "max", "count", "last", "p50", "p95", "p99")
_TYPE_ALIASES = {"timeseries": "time_series", "time-series": "time_series"}


def normalize_chart_type(chart_type: str) -> str:
    name = _TYPE_ALIASES.get(str(chart_type).lower(), str(chart_type).lower())
    if name not in CHART_TYPES:
        raise InvalidInput(f"chart type must be one of {', '.join(CHART_TYPES)}, not {chart_type!r}")
    return name


@dataclass
class ChartConfig:
    chart_id: str
    chart_type: str
    title: str
    x_label: str | None = None
    y_label: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.chart_id, str) or not self.chart_id.strip():
            raise InvalidInput("chart_id must be a non-empty string")
        if not isinstance(self.title, str):
            raise InvalidInput("chart title must be a string")
        self.chart_type = normalize_chart_type(self.chart_type)


@dataclass
class Dataset:
    label: str
    # Point charts: [{"x": number, "y": number}], sorted by x. Bar/pie: values
    # aligned with Chart.labels.
    data: list[Any]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "data": self.data, **self.extra}


@dataclass
class Chart:
    chart_id: str
    chart_type: str
    title: str
    x_label: str | None
    y_label: str | None
    x_type: str  # "time" (epoch seconds), "number" or "category"
    datasets: list[Dataset]
    labels: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    generated_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chart_id": self.chart_id,
            "type": self.chart_type,
            "title": self.title,
            "x_label": self.x_label,
            "y_label": self.y_label,
            "x_type": self.x_type,
            "labels": list(self.labels),
            "datasets": [d.to_dict() for d in self.datasets],
            "meta": self.meta,
            "generated_at": self.generated_at,
        }


# ---- input normalisation ----------------------------------------------------

def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            value = float(value) if isinstance(value, str) else None
        except ValueError:
            value = None
        if value is None:
            raise InvalidInput(f"{what} must be a number")
    try:
        value = float(value)
    except OverflowError:  # an int beyond the float range
        value = math.inf
    if not math.isfinite(value):
        raise InvalidInput(f"{what} must be a finite number")
    return value


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond the float range
        return False


def _x_value(value: Any, what: str) -> tuple[float, bool]:
    """(numeric x, whether it was a time)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp(), True
    if isinstance(value, str):
        try:
            return _number(value, what), False
        except InvalidInput:
            pass
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"{what} must be a number, a datetime or an ISO 8601 time, not {value!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp(), True
    return _number(value, what), False


def _pairs(points: Any, series: str) -> Iterable[tuple[Any, Any]]:
    if isinstance(points, Mapping):
        return points.items()
    if isinstance(points, str | bytes) or not isinstance(points, Iterable):
        raise InvalidInput(f"series {series!r} must be a list of [x, y] pairs")
    pairs = []
    for item in points:
        if isinstance(item, Mapping) and "x" in item and "y" in item:
            pairs.append((item["x"], item["y"]))
        elif isinstance(item, list | tuple) and len(item) == 2:
            pairs.append((item[0], item[1]))
        else:
            raise InvalidInput(f"series {series!r}: each point must be [x, y] or {{'x': .., 'y': ..}}, not {item!r}")
    return pairs


def _is_points(value: Any) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, str | bytes)


def _is_x(key: Any) -> bool:
    try:
        _x_value(key, "x")
    except InvalidInput:
        return False
    return True


def _series(data: Any, default_name: str) -> dict[str, Any]:
    """``{name: points}``: a mapping of series, or one unnamed series of points.

    A mapping whose values are all lists is named series; one whose keys are
    all x values (numbers, times) is a single series ``{x: y}``. Anything else
    is named series with a bad one, reported by name.
    """
    if isinstance(data, Mapping):
        if not data:
            raise InvalidInput("chart data is empty")
        if all(_is_points(v) for v in data.values()):
            return {str(k): v for k, v in data.items()}
        if not all(_is_x(k) for k in data):
            for k, v in data.items():
                if not _is_points(v):
                    raise InvalidInput(f"series {_short(str(k))!r} must be a list of [x, y] points, "
                                       f"not {type(v).__name__} {_short(repr(v))}")
    return {default_name: data}


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _point_series(data: Any, default_name: str) -> tuple[dict[str, list[tuple[float, float]]], bool]:
    """Series of (x, y) sorted by x, and whether x values are times."""
    named = _series(data, default_name)
    result: dict[str, list[tuple[float, float]]] = {}
    saw_time = saw_number = False
    for name, points in named.items():
        rows = []
        for x, y in _pairs(points, name):
            xv, is_time = _x_value(x, f"series {name!r}: x")
            saw_time |= is_time
            saw_number |= not is_time
            rows.append((xv, _number(y, f"series {name!r}: y value at x={x!r}")))
        rows.sort(key=lambda p: p[0])
        result[name] = rows
    if saw_time and saw_number:
        raise InvalidInput("x values mix times and plain numbers; use one kind")
    if not any(result.values()):
        raise InvalidInput("chart data has no points")
    return result, saw_time


def _category_values(data: Any, what: str) -> dict[str, float]:
    if isinstance(data, Mapping):
        items = data.items()
    elif isinstance(data, Iterable) and not isinstance(data, str | bytes):
        items = []
        for item in data:
            if not (isinstance(item, list | tuple) and len(item) == 2):
                raise InvalidInput(f"{what}: each entry must be [label, value], not {item!r}")
            items.append(item)
    else:
        raise InvalidInput(f"{what} must map labels to numbers")
    values = {str(k): _number(v, f"{what}: value of {k!r}") for k, v in items}
    if not values:
        raise InvalidInput(f"{what} is empty")
    return values


def _order_labels(labels: list[str]) -> list[str]:
    """Numeric labels in numeric order ("2" before "10"); others as given."""
    try:
        return sorted(labels, key=float)
    except ValueError:
        return labels


def _percentile(sorted_values: list[float], q: float) -> float:
    # Linear interpolation between closest ranks (numpy's default).
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    a, b, frac = sorted_values[lo], sorted_values[hi], pos - lo
    gap = b - a
    if math.isfinite(gap):
        return a + gap * frac
    return a * (1 - frac) + b * frac  # a and b near opposite ends of the float range


def _mean(values: list[float]) -> float:
    """The mean, also when the plain sum would overflow (every value is finite)."""
    n = len(values)
    total = sum(values)
    if math.isfinite(total):
        return total / n
    return math.fsum(v / n for v in values)


def _finite_result(value: float, how: str) -> float:
    if not math.isfinite(value):
        raise InvalidInput(f"the {how} of the values is out of range (values too large)")
    return value


def aggregate(values: list[float], how: str) -> float:
    if how == "avg":
        return _mean(values)
    if how == "sum":
        total = sum(values)
        if not math.isfinite(total):
            # Exactly, on values scaled down by a power of two: [1e308, 1e308, -1e308] sums to 1e308.
            shift = len(values).bit_length()
            total = _unscale(math.fsum(math.ldexp(v, -shift) for v in values), shift)
        return _finite_result(total, "sum")
    if how == "min":
        return min(values)
    if how == "max":
        return max(values)
    if how == "count":
        return float(len(values))
    if how == "last":
        return values[-1]
    return _percentile(sorted(values), int(how[1:]) / 100.0)


def _scale(values: Iterable[float]) -> int:
    """e such that every value / 2**e is in [-2, 2] (0 when all are 0); scaling by 2**e is exact."""
    top = max((abs(v) for v in values), default=0.0)
    return 0 if top == 0 else math.frexp(top)[1] - 1


def _unscale(value: float, exponent: int) -> float:
    try:
        return math.ldexp(value, exponent)
    except OverflowError:
        return math.inf


def linear_fit(points: list[tuple[float, float]]) -> dict[str, float]:
    """Least-squares line y = slope * x + intercept, with r^2.

    Computed on x and y scaled by powers of two into [-1, 1], so values near
    the ends of the float range do not overflow the sums; a slope or intercept
    that is itself beyond the float range is an ``InvalidInput``.
    """
    n = len(points)
    if n < 2:
        raise InvalidInput("a trendline needs at least two points")
    ex, ey = _scale(p[0] for p in points), _scale(p[1] for p in points)
    xs = [math.ldexp(p[0], -ex) for p in points]
    ys = [math.ldexp(p[1], -ey) for p in points]
    mean_x = sum(xs) / n
    mean_y = sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        raise InvalidInput("a trendline needs points with at least two different x values")
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    syy = sum((y - mean_y) ** 2 for y in ys)
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    r2 = 1.0 if syy == 0 else (sxy * sxy) / (sxx * syy)
    fit = {"slope": _unscale(slope, ey - ex), "intercept": _unscale(intercept, ey), "r2": r2}
    if not all(math.isfinite(v) for v in fit.values()):
        raise InvalidInput("values out of range for a trendline: its slope or intercept is beyond the float range")
    fit["_scaled"] = (slope, intercept, ex, ey)
    return fit


def _fit_at(fit: dict[str, Any], x: float) -> float:
    """The trendline's y at ``x``, computed in the scaled space (no overflow on the way)."""
    slope, intercept, ex, ey = fit["_scaled"]
    y = _unscale(slope * math.ldexp(x, -ex) + intercept, ey)
    if not math.isfinite(y):
        raise InvalidInput("values out of range for a trendline: it leaves the float range within the data")
    return y


# ---- the generator ------------------------------------------------------------

class ChartGenerator:
    """Builds ``Chart`` objects from plain Python data and exports them."""

    def generate(self, config: ChartConfig, data: Any, **options: Any) -> Chart:
        """Dispatch on ``config.chart_type``; extra options go to the type's method."""
        method = {
            "line": self.generate_line_chart,
            "bar": self.generate_bar_chart,
            "pie": self.generate_pie_chart,
            "scatter": self.generate_scatter_chart,
            "time_series": self.generate_time_series_chart,
        }[config.chart_type]
        merged = {**config.options, **options}
        return method(config, data, **merged) if merged else method(config, data)

    def _chart(self, config: ChartConfig, chart_type: str, x_type: str, datasets: list[Dataset],
               labels: list[str] | None = None, **meta: Any) -> Chart:
        return Chart(config.chart_id, chart_type, config.title, config.x_label, config.y_label,
                     x_type, datasets, labels or [], {k: v for k, v in meta.items() if v is not None})

    def generate_line_chart(self, config: ChartConfig, data: Any) -> Chart:
        """``data``: ``{series: [(x, y), ...]}`` (or one list of pairs)."""
        series, is_time = _point_series(data, config.title or "series")
        datasets = [Dataset(name, [{"x": x, "y": y} for x, y in pts]) for name, pts in series.items()]
        return self._chart(config, "line", "time" if is_time else "number", datasets)

    def generate_scatter_chart(self, config: ChartConfig, data: Any, trendline: bool = False) -> Chart:
        """Points per series; with ``trendline=True`` each series gets its least-squares line."""
        series, is_time = _point_series(data, config.title or "series")
        datasets = []
        fits = {}
        for name, pts in series.items():
            extra: dict[str, Any] = {}
            if trendline:
                lo, hi = pts[0][0], pts[-1][0]
                try:
                    fit = linear_fit(pts)
                    ends = [{"x": lo, "y": _fit_at(fit, lo)}, {"x": hi, "y": _fit_at(fit, hi)}]
                except InvalidInput as exc:
                    raise InvalidInput(f"series {_short(name)!r}: {exc}") from None
                fit.pop("_scaled")
                fits[name] = fit
                extra["trendline"] = {**fit, "points": ends}
            datasets.append(Dataset(name, [{"x": x, "y": y} for x, y in pts], extra))
        return self._chart(config, "scatter", "time" if is_time else "number", datasets,
                           trendline=bool(trendline))

    def generate_bar_chart(self, config: ChartConfig, data: Any) -> Chart:
        """``{category: value}`` for one series, or ``{series: {category: value}}``."""
        if isinstance(data, Mapping) and data and all(isinstance(v, Mapping) for v in data.values()):
            grouped = {str(name): _category_values(values, f"series {name!r}") for name, values in data.items()}
        else:
            grouped = {config.title or "value": _category_values(data, "bar chart data")}
        labels: list[str] = []
        for values in grouped.values():
            labels.extend(k for k in values if k not in labels)
        labels = _order_labels(labels)
        datasets = [Dataset(name, [values.get(label, 0.0) for label in labels]) for name, values in grouped.items()]
        return self._chart(config, "bar", "category", datasets, labels)

    def generate_pie_chart(self, config: ChartConfig, data: Any) -> Chart:
        """``{slice: value}`` with values >= 0 and a positive total."""
        values = _category_values(data, "pie chart data")
        negative = [k for k, v in values.items() if v < 0]
        if negative:
            raise InvalidInput(f"pie slices cannot be negative: {', '.join(negative)}")
        total = sum(values.values())
        if total <= 0:
            raise InvalidInput("pie chart values add up to zero; nothing to show")
        if not math.isfinite(total):
            raise InvalidInput("pie chart values add up to more than the largest number; scale them down")
        labels = list(values)
        percents = [round(100.0 * (values[k] / total), 4) for k in labels]
        dataset = Dataset(config.title or "value", [values[k] for k in labels], {"percent": percents})
        return self._chart(config, "pie", "category", [dataset], labels, total=total)

    def generate_time_series_chart(self, config: ChartConfig, data: Any, interval: Any = 60,
                                   aggregation: str = "avg", fill: float | None = None) -> Chart:
        """Bucket ``{series: [(time, value), ...]}`` into ``interval`` and aggregate each bucket.

        ``interval`` is seconds or a duration like ``"5m"``; ``aggregation`` is one
        of avg, sum, min, max, count, last, p50, p95, p99. With ``fill`` set, empty
        buckets between the first and last get that value instead of a gap.
        """
        from ..audit.timeparse import parse_duration

        if isinstance(interval, int | float) and not isinstance(interval, bool) and not (
                _finite(interval) and interval > 0):
            raise InvalidInput(f"interval must be a finite number > 0 (seconds) or a duration like 5m, "
                               f"not {_short(repr(interval))}")
        step = parse_duration(interval)
        if aggregation not in AGGREGATIONS:
            raise InvalidInput(f"aggregation must be one of {', '.join(AGGREGATIONS)}, not {aggregation!r}")
        series, _ = _point_series(data, config.title or "series")
        datasets = []
        for name, pts in series.items():
            buckets: dict[int, list[float]] = {}  # bucket number -> values; bucket starts at number * step
            for t, v in pts:
                index = t / step
                if not math.isfinite(index):
                    raise InvalidInput(f"interval {step:g} s is too small for x values like {t:g}")
                buckets.setdefault(math.floor(index), []).append(v)
            try:
                rows = [{"x": index * step, "y": aggregate(vals, aggregation), "n": len(vals)}
                        for index, vals in sorted(buckets.items())]
            except InvalidInput as exc:
                raise InvalidInput(f"series {_short(name)!r}: {exc}") from None
            if fill is not None and rows:
                first, last = min(buckets), max(buckets)
                if last - first + 1 > MAX_FILLED_BUCKETS:
                    raise InvalidInput(f"fill would make {float(last - first + 1):.3g} buckets in series"
                                       f" {_short(name)!r} (at most {MAX_FILLED_BUCKETS:,}); use a larger interval")
                gap = _number(fill, "fill")
                by_index = dict(zip(sorted(buckets), rows, strict=True))
                rows = [by_index.get(i) or {"x": i * step, "y": gap, "n": 0} for i in range(first, last + 1)]
            datasets.append(Dataset(name, rows))
        return self._chart(config, "time_series", "time", datasets, interval=step, aggregation=aggregation)

    # ---- export ---------------------------------------------------------------

    def export_to_json(self, chart: Chart, indent: int | None = None) -> str:
        return json.dumps(chart.to_dict(), indent=indent, allow_nan=False)

    def export_to_csv(self, chart: Chart) -> str:
        """CSV text. Point charts: ``series,x,y`` rows in x (time) order; bar:
        ``category,<series>...``; pie: ``label,value,percent``."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        if chart.chart_type in ("line", "scatter", "time_series"):
            writer.writerow(["series", chart.x_label or "x", chart.y_label or "y"])
            rows = [(p["x"], i, d.label, p["y"]) for i, d in enumerate(chart.datasets) for p in d.data]
            rows.sort(key=lambda r: (r[0], r[1]))
            for x, _, label, y in rows:
                writer.writerow([label, _format_x(x, chart.x_type), _format_number(y)])
        elif chart.chart_type == "bar":
            writer.writerow([chart.x_label or "category", *[d.label for d in chart.datasets]])
            for i, label in enumerate(chart.labels):
                writer.writerow([label, *[_format_number(d.data[i]) for d in chart.datasets]])
        else:
            writer.writerow(["label", "value", "percent"])
            dataset = chart.datasets[0]
            for i, label in enumerate(chart.labels):
                writer.writerow([label, _format_number(dataset.data[i]), _format_number(dataset.extra["percent"][i])])
        return out.getvalue()


def _format_x(x: float, x_type: str) -> str:
    if x_type == "time":
        return datetime.fromtimestamp(x, UTC).isoformat().replace("+00:00", "Z")
    return _format_number(x)


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))
