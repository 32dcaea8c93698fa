"""Charts at the ends of the float range: no overflow, no null points, a one-line InvalidInput
when a result truly cannot be represented. Library, HTTP (POST /api/charts) and CLI-free."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from fastapi.testclient import TestClient

from ipfs_kit_py.dashboard_charts import ChartConfig, ChartGenerator
from ipfs_kit_py.errors import InvalidInput
from ipfs_kit_py.kit import Kit
from ipfs_kit_py.web import create_app
from tests.web.conftest import make_tokens

gen = ChartGenerator()


def chart(chart_type: str, data, **options) -> dict:
    built = gen.generate(ChartConfig("c", chart_type, "t"), data, **options)
    text = gen.export_to_json(built)  # allow_nan=False: raises on any NaN/inf left in the chart
    return json.loads(text)


# ---- trendlines ---------------------------------------------------------------------


@pytest.mark.parametrize("points, slope", [
    ([[1e308, 1e308], [-1e308, -1e308]], 1.0),
    ([[1e308, -1e308], [-1e308, 1e308]], -1.0),
    ([[0, 1e200], [1, -1e200], [2, 5]], -5e199),
])
def test_trendline_of_huge_values_is_computed_without_overflow(points, slope):
    fit = chart("scatter", {"s": points}, trendline=True)["datasets"][0]["trendline"]
    assert fit["slope"] == pytest.approx(slope)
    assert all(math.isfinite(p["y"]) for p in fit["points"])


@pytest.mark.parametrize("points", [[[0, 1e308], [1, -1e308]], [[0, 1], [5e-324, 2]]])
def test_trendline_beyond_the_float_range_is_invalid_input(points):
    with pytest.raises(InvalidInput, match="series 's': values out of range for a trendline"):
        chart("scatter", {"s": points}, trendline=True)


def test_trendline_of_ordinary_values_still_matches_numpy():
    rng = np.random.default_rng(3)
    xs, ys = rng.uniform(1.7e9, 1.8e9, 40), rng.normal(0, 1e6, 40)
    fit = chart("scatter", {"s": list(zip(xs.tolist(), ys.tolist(), strict=True))},
                trendline=True)["datasets"][0]["trendline"]
    slope, intercept = np.polyfit(xs, ys, 1)
    assert fit["slope"] == pytest.approx(slope, rel=1e-6) and fit["intercept"] == pytest.approx(intercept, rel=1e-6)


# ---- time series: interval and aggregation ---------------------------------------------


@pytest.mark.parametrize("interval", [math.inf, -math.inf, math.nan, 10 ** 400, 0, -5])
def test_interval_must_be_a_finite_number_above_zero(interval):
    with pytest.raises(InvalidInput, match="interval must be a finite number > 0"):
        chart("time_series", {"s": [[0, 1], [100, 2]]}, interval=interval)


def test_tiny_intervals_cannot_hang_or_overflow():
    with pytest.raises(InvalidInput, match="buckets"):
        chart("time_series", {"s": [[0, 1], [100, 2]]}, interval=1e-300, fill=0)
    with pytest.raises(InvalidInput, match="too small"):
        chart("time_series", {"s": [[1e308, 1]]}, interval=1e-10)
    one = chart("time_series", {"s": [[1e9, 1], [1e9, 3]]}, interval=1e-9, fill=0)  # used to loop forever
    assert [p["n"] for p in one["datasets"][0]["data"]] == [2]


def test_avg_and_percentiles_of_huge_values_do_not_overflow():
    avg = chart("time_series", {"s": [[0, 1e308], [1, 1e308]]}, interval=60, aggregation="avg")
    assert avg["datasets"][0]["data"][0]["y"] == pytest.approx(1e308)
    p50 = chart("time_series", {"s": [[0, 1e308], [1, -1e308]]}, interval=60, aggregation="p50")
    assert p50["datasets"][0]["data"][0]["y"] == 0.0
    cancel = chart("time_series", {"s": [[0, 1e308], [1, 1e308], [2, -1e308]]}, interval=60, aggregation="sum")
    assert cancel["datasets"][0]["data"][0]["y"] == pytest.approx(1e308)
    with pytest.raises(InvalidInput, match="sum of the values is out of range"):
        chart("time_series", {"s": [[0, 1e308], [1, 1e308]]}, interval=60, aggregation="sum")


def test_filled_buckets_line_up_with_data_buckets():
    data = chart("time_series", {"s": [[0, 1], [100, 2], [300, 3]]}, interval=60, fill=0)["datasets"][0]["data"]
    assert [(p["x"], p["y"], p["n"]) for p in data] == [(0, 1, 1), (60, 2, 1), (120, 0, 0), (180, 0, 0),
                                                         (240, 0, 0), (300, 3, 1)]


# ---- pie ---------------------------------------------------------------------------------------


def test_pie_percentages_of_huge_values():
    pie = chart("pie", {"a": 1e308, "b": 1e307})
    assert pie["datasets"][0]["percent"] == [90.9091, 9.0909] and pie["meta"]["total"] == pytest.approx(1.1e308)
    with pytest.raises(InvalidInput, match="pie chart values add up to more than"):
        chart("pie", {"a": 1e308, "b": 1e308})


# ---- series shapes -----------------------------------------------------------------------------


@pytest.mark.parametrize("data, message", [
    ({"s": "notalist"}, "series 's' must be a list of [x, y] points, not str"),
    ({"s": [[1, 2]], "t": 5}, "series 't' must be a list of [x, y] points, not int"),
])
def test_a_series_that_is_not_a_list_is_named(data, message):
    with pytest.raises(InvalidInput) as err:
        chart("line", data)
    assert message in str(err.value)


def test_a_single_series_as_a_mapping_still_works():
    assert chart("line", {"1": 2, "2": 3})["datasets"][0]["data"] == [{"x": 1.0, "y": 2.0}, {"x": 2.0, "y": 3.0}]
    with pytest.raises(InvalidInput, match="y value at x='2'"):
        chart("line", {"1": 2, "2": "abc"})


# ---- through HTTP ----------------------------------------------------------------------------------


@pytest.fixture
def client(home):
    tokens = make_tokens(home)
    kit = Kit(home, interface="web")
    with TestClient(create_app(kit), base_url="http://127.0.0.1:8080") as c:
        c.headers.update(tokens.headers("reader"))
        yield c
    kit.close()


@pytest.mark.parametrize("body, fragment", [
    ('{"type": "scatter", "title": "t", "data": {"s": [[0, 1e308], [1, -1e308]]}, "options": {"trendline": true}}',
     "values out of range"),
    ('{"type": "time_series", "title": "t", "data": {"s": [[0, 1], [60, 2]]}, "options": {"interval": 1e400}}',
     "interval must be a finite number > 0"),
    ('{"type": "pie", "title": "t", "data": {"a": 1e308, "b": 1e308}}', "add up to more than"),
    ('{"type": "line", "title": "t", "data": {"s": "notalist"}}', "series 's' must be a list"),
])
def test_http_charts_answer_400_with_one_line(client, body, fragment):
    r = client.post("/api/charts", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert fragment in r.json()["error"] and "\n" not in r.json()["error"]


def test_http_avg_of_huge_values_is_not_null(client):
    r = client.post("/api/charts", json={"type": "time_series", "title": "t", "data": {"s": [[0, 1e308], [1, 1e308]]},
                                         "options": {"interval": 60, "aggregation": "avg"}})
    assert r.status_code == 200 and r.json()["datasets"][0]["data"][0]["y"] == pytest.approx(1e308)
