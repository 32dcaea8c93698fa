"""Charts: values per type, trendlines, time-series aggregation, JSON and CSV export."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import numpy as np
import pytest

from ipfs_kit_py.dashboard_charts import ChartConfig, ChartGenerator
from ipfs_kit_py.errors import InvalidInput

gen = ChartGenerator()


def cfg(chart_type: str, title: str = "T") -> ChartConfig:
    return ChartConfig(chart_id="c1", chart_type=chart_type, title=title)


def test_line_chart_sorts_points_and_detects_time_axis():
    t1 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    t2 = datetime(2024, 5, 1, 12, 5, tzinfo=UTC)
    chart = gen.generate_line_chart(cfg("line"), {"server1": [(t2, 30.0), (t1, 25.0)], "server2": [(t1, 1)]})
    data = chart.to_dict()
    assert data["type"] == "line" and data["x_type"] == "time"
    assert data["datasets"][0] == {"label": "server1", "data": [{"x": t1.timestamp(), "y": 25.0},
                                                                {"x": t2.timestamp(), "y": 30.0}]}
    assert data["datasets"][1]["data"] == [{"x": t1.timestamp(), "y": 1.0}]


def test_line_chart_accepts_iso_strings_and_numbers_but_not_a_mix():
    chart = gen.generate_line_chart(cfg("line"), [("2024-05-01T00:00:00Z", 1), ("2024-05-01T00:01:00+00:00", 2)])
    assert [p["x"] for p in chart.datasets[0].data] == [1714521600.0, 1714521660.0]
    with pytest.raises(InvalidInput, match="mix times"):
        gen.generate_line_chart(cfg("line"), {"a": [("2024-05-01", 1), (5, 2)]})


@pytest.mark.parametrize("bad, message", [
    ({"a": [(1, "x")]}, "must be a number"),
    ({"a": [(1, float("nan"))]}, "finite"),
    ({"a": [(1, 2, 3)]}, r"\[x, y\]"),
    ({}, "empty"),
    ({"a": []}, "no points"),
    ({"a": [("yesterday", 1)]}, "ISO 8601"),
])
def test_line_chart_rejects_bad_points(bad, message):
    with pytest.raises(InvalidInput, match=message):
        gen.generate_line_chart(cfg("line"), bad)


def test_bar_chart_single_and_grouped_with_numeric_label_order():
    single = gen.generate_bar_chart(cfg("bar"), {"10": 1, "2": 5, "1": 3})
    assert single.labels == ["1", "2", "10"]
    assert single.datasets[0].data == [3.0, 5.0, 1.0]
    grouped = gen.generate_bar_chart(cfg("bar"), {"reads": {"mon": 3, "tue": 4}, "writes": {"tue": 1, "wed": 2}})
    assert grouped.labels == ["mon", "tue", "wed"]
    assert [d.data for d in grouped.datasets] == [[3.0, 4.0, 0.0], [0.0, 1.0, 2.0]]


def test_pie_chart_percentages_and_validation():
    chart = gen.generate_pie_chart(cfg("pie"), {"data": 3, "config": 1})
    assert chart.datasets[0].extra["percent"] == [75.0, 25.0]
    assert chart.meta["total"] == 4.0
    with pytest.raises(InvalidInput, match="negative"):
        gen.generate_pie_chart(cfg("pie"), {"a": -1, "b": 2})
    with pytest.raises(InvalidInput, match="zero"):
        gen.generate_pie_chart(cfg("pie"), {"a": 0})


def test_scatter_trendline_matches_numpy_least_squares():
    rng = np.random.default_rng(7)
    xs = rng.uniform(0, 100, 50)
    ys = 3.5 * xs - 2 + rng.normal(0, 5, 50)
    chart = gen.generate_scatter_chart(cfg("scatter"), {"s": list(zip(xs.tolist(), ys.tolist(), strict=True))},
                                       trendline=True)
    fit = chart.datasets[0].extra["trendline"]
    slope, intercept = np.polyfit(xs, ys, 1)
    r = np.corrcoef(xs, ys)[0, 1]
    assert fit["slope"] == pytest.approx(slope, rel=1e-9)
    assert fit["intercept"] == pytest.approx(intercept, rel=1e-9)
    assert fit["r2"] == pytest.approx(r * r, rel=1e-9)
    assert fit["points"][0]["x"] == pytest.approx(xs.min())
    with pytest.raises(InvalidInput, match="two different x"):
        gen.generate_scatter_chart(cfg("scatter"), [(1, 2), (1, 3)], trendline=True)


def test_time_series_buckets_and_aggregations():
    base = 1_700_000_000.0  # divisible by 60? keep buckets explicit below
    start = base - base % 60
    points = [(start + 1, 10), (start + 20, 30), (start + 61, 5), (start + 250, 7)]
    avg = gen.generate_time_series_chart(cfg("time_series"), {"lat": points}, interval=60)
    assert avg.chart_type == "time_series" and avg.meta == {"interval": 60.0, "aggregation": "avg"}
    assert [(p["x"], p["y"], p["n"]) for p in avg.datasets[0].data] == [
        (start, 20.0, 2), (start + 60, 5.0, 1), (start + 240, 7.0, 1)]
    total = gen.generate_time_series_chart(cfg("time_series"), {"lat": points}, interval="1m", aggregation="sum",
                                           fill=0)
    assert [p["y"] for p in total.datasets[0].data] == [40.0, 5.0, 0.0, 0.0, 7.0]
    p95 = gen.generate_time_series_chart(cfg("time_series"), [(start + i, float(i)) for i in range(60)],
                                         interval=60, aggregation="p95")
    assert p95.datasets[0].data[0]["y"] == pytest.approx(np.percentile(np.arange(60.0), 95))
    with pytest.raises(InvalidInput, match="aggregation"):
        gen.generate_time_series_chart(cfg("time_series"), points, aggregation="median")
    with pytest.raises(InvalidInput, match="duration"):
        gen.generate_time_series_chart(cfg("time_series"), points, interval="soon")


def test_generate_dispatches_on_config_type_and_rejects_unknown_types():
    chart = gen.generate(ChartConfig("x", "timeseries", "T", options={"interval": 10}), [(0, 1), (15, 2)])
    assert chart.chart_type == "time_series" and len(chart.datasets[0].data) == 2
    with pytest.raises(InvalidInput, match="chart type"):
        ChartConfig("x", "radar", "T")


def test_export_json_round_trips():
    chart = gen.generate_pie_chart(cfg("pie", "Share"), {"a": 1, "b": 1})
    doc = json.loads(gen.export_to_json(chart))
    assert doc["title"] == "Share" and doc["labels"] == ["a", "b"] and doc["datasets"][0]["data"] == [1.0, 1.0]


def test_csv_rows_are_in_time_order_not_lexical_order():
    # As text, "9" sorts after "10" and ISO times across a day boundary can
    # mislead a lexical sort of mixed formats; rows must follow the numbers.
    chart = gen.generate_line_chart(ChartConfig("c", "line", "T", x_label="time", y_label="cpu"),
                                    {"b": [("2024-05-01T00:01:00Z", 2.5), ("2024-05-01T00:00:00Z", 9)],
                                     "a": [(datetime(2024, 5, 1, 0, 0, 30, tzinfo=UTC), 10)]})
    rows = list(csv.reader(io.StringIO(gen.export_to_csv(chart))))
    assert rows[0] == ["series", "time", "cpu"]
    assert rows[1:] == [["b", "2024-05-01T00:00:00Z", "9"], ["a", "2024-05-01T00:00:30Z", "10"],
                        ["b", "2024-05-01T00:01:00Z", "2.5"]]
    numeric = gen.generate_scatter_chart(cfg("scatter"), [(10, 1), (9, 2), (100, 3)])
    xs = [r[1] for r in csv.reader(io.StringIO(gen.export_to_csv(numeric)))][1:]
    assert xs == ["9", "10", "100"]


def test_csv_for_bar_and_pie():
    bar = gen.generate_bar_chart(cfg("bar"), {"r": {"10": 1, "9": 2}, "w": {"9": 3}})
    assert gen.export_to_csv(bar).splitlines() == ["category,r,w", "9,2,3", "10,1,0"]
    pie = gen.generate_pie_chart(cfg("pie"), {"x": 1, "y": 3})
    assert gen.export_to_csv(pie).splitlines() == ["label,value,percent", "x,1,25", "y,3,75"]
