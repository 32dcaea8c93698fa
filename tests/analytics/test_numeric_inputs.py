"""Analysis windows (hours, days, timeframe, time_window) go through one check:
finite, > 0, at most 100 years; the same one-line InvalidInput from every entry point."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from ipfs_kit_py.analytics import (
    AuditAnalytics,
    AuditVisualizer,
    EventCorrelator,
    generate_scenario,
)
from ipfs_kit_py.errors import InvalidInput
from tests.analytics.conftest import END
from tests.conftest import assert_one_line_error, run_cli

BAD = [math.inf, math.nan, -math.inf, 1e308, 0, -1, 10 ** 400, "24"]


def _entry_points(a: AuditAnalytics, bad):
    return [
        lambda: a.analyze_patterns(hours=bad, end_time=END),
        lambda: a.analyze_patterns(days=bad, end_time=END),
        lambda: a.generate_statistics("event_type", hours=bad, end_time=END),
        lambda: a.get_compliance_score("baseline", days=bad, end_time=END),
        lambda: a.generate_report("summary", days=bad, end_time=END),
        lambda: a.detect_anomalies(days=bad, end_time=END),
        lambda: a.analyze_trends("event_count", "daily", bad, end_time=END),
    ]


@pytest.mark.parametrize("bad", BAD, ids=repr)
def test_every_window_argument_is_checked_the_same_way(analytics, bad):
    for call in _entry_points(analytics, bad):
        with pytest.raises(InvalidInput) as err:
            call()
        message = str(err.value)
        assert "must be a number > 0 and at most" in message and "(100 years)" in message, message
        assert "\n" not in message


@pytest.mark.parametrize("timeframe", [timedelta(days=999999999), timedelta(0), math.nan, 1e308])
def test_timeframes_are_checked_too(analytics, timeframe):
    for call in (lambda: analytics.analyze_patterns(timeframe, end_time=END),
                 lambda: analytics.generate_statistics("user_id", timeframe, end_time=END),
                 lambda: analytics.get_compliance_score("baseline", timeframe, end_time=END),
                 lambda: analytics.generate_report("summary", timeframe=timeframe, end_time=END)):
        with pytest.raises(InvalidInput, match="timeframe must be a number > 0"):
            call()


def test_hours_and_days_keywords_mean_the_same_window(analytics):
    by_hours = analytics.generate_statistics("event_type", hours=48, end_time=END)
    by_days = analytics.generate_statistics("event_type", days=2, end_time=END)
    by_timeframe = analytics.generate_statistics("event_type", timedelta(hours=48), end_time=END)
    assert by_hours == by_days == by_timeframe and by_hours["total_events"] > 0
    with pytest.raises(InvalidInput, match="only one of"):
        analytics.analyze_patterns(timedelta(hours=1), hours=2)


def test_a_100_year_window_works(analytics):
    score = analytics.get_compliance_score("baseline", days=36525, end_time=END)
    assert score.end - score.start == 36525 * 86400 and 0 <= score.overall_score <= 100
    with pytest.raises(InvalidInput, match="100 years"):
        analytics.get_compliance_score("baseline", days=36526, end_time=END)


def test_other_windows_share_the_check(scenario):
    logger, _key = scenario
    with pytest.raises(InvalidInput, match="time_window must be a number > 0"):
        EventCorrelator(logger).correlate_events({"timestamp": END - 100}, math.inf)
    with pytest.raises(InvalidInput, match="hours must be a number > 0"):
        AuditVisualizer(logger).generate_timeline_data(hours=math.nan)
    with pytest.raises(InvalidInput, match="baseline_days"):
        AuditAnalytics(logger).detect_anomalies(baseline_days=1e308, end_time=END)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"days": 99999999}, "days must be an integer from 1 to"),
    ({"days": 10 ** 30}, "days must be an integer from 1 to"),
    ({"days": 10, "end_time": 0}, "end_time"),
    ({"days": 3, "end_time": math.nan}, "end_time"),
    ({"days": 3, "end_time": 1e300}, "end_time"),
])
def test_simulate_has_its_own_bounds(kwargs, fragment):
    with pytest.raises(InvalidInput, match=fragment):
        generate_scenario(**kwargs)


def test_cli_windows_and_simulate(home):
    for args in (["anomalies", "--days", "1e308"], ["trends", "--days", "1e308"], ["anomalies", "--days", "nan"],
                 ["compliance", "--days", "inf"], ["report", "--days", "nan"]):
        r = run_cli(home, "audit-analytics", *args)
        assert_one_line_error(r, "days must be a number > 0")
        assert r.code == 2
    for args in (["patterns", "--hours", "inf"], ["stats", "--hours", "nan"], ["patterns", "--hours", "1e308"]):
        r = run_cli(home, "audit-analytics", *args)
        assert_one_line_error(r, "hours must be a number > 0")
        assert r.code == 2
    r = run_cli(home, "audit-analytics", "simulate", "--days", "99999999")
    assert_one_line_error(r, "days must be an integer from 1 to")
    assert r.code == 2
    events = run_cli(home, "audit", "query", "-n", "1000", "--json").json()["events"]
    assert not any(e["action"].startswith(("content.", "auth.")) for e in events)  # nothing simulated
