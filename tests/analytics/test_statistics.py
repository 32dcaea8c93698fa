"""Statistics and trends, against counts computed straight from the events."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from ipfs_kit_py.analytics import AuditAnalytics
from ipfs_kit_py.errors import InvalidInput

from .conftest import END

DAY = 86400.0


def test_statistics_by_user_match_the_log(analytics, scenario):
    stats = analytics.generate_statistics("user_id", timedelta(hours=48), end_time=END, limit=1000)
    events = scenario[0].query_events(start_time=END - 2 * DAY, end_time=END, limit=None)
    counts = Counter(e.user_id or "(none)" for e in events)
    assert stats["total_events"] == len(events)
    assert {g["key"]: g["count"] for g in stats["groups"]} == dict(counts)
    top = stats["groups"][0]
    assert top["count"] == max(counts.values()) and top["share"] == round(top["count"] / len(events), 4)
    failures = Counter(e.user_id or "(none)" for e in events if e.status == "failure")
    assert all(g["failure"] == failures.get(g["key"], 0) for g in stats["groups"])
    assert stats["status_totals"]["success"] == sum(e.status == "success" for e in events)


@pytest.mark.parametrize("group_by", ["event_type", "action", "status", "source_ip", "backend", "hour_of_day",
                                      "weekday", "date"])
def test_every_grouping_adds_up(analytics, group_by):
    stats = analytics.generate_statistics(group_by, timedelta(days=3), end_time=END, limit=1000)
    assert sum(g["count"] for g in stats["groups"]) == stats["total_events"] > 0


def test_trends_direction_and_change(logger):
    # Daily volume growing 10/day for two weeks, with a steady 10% failure rate.
    events = []
    for day in range(14):
        for i in range(20 + 10 * day):
            events.append({"event_type": "data", "action": "content.cat", "timestamp": END - (14 - day) * DAY + i,
                           "status": "failure" if i % 10 == 0 else "success"})
    logger.log_events(events)
    analytics = AuditAnalytics(logger)
    trend = analytics.analyze_trends("event_count", "daily", 14, end_time=END)
    assert trend["direction"] == "increasing" and trend["slope_per_period"] == pytest.approx(10.0)
    assert trend["change_pct"] > 100 and trend["peak"]["value"] == 150
    # The first period started before the window: shown (20) but marked partial and not fitted.
    assert trend["series"][0]["value"] == 20 and trend["series"][0]["partial"]
    assert [s["value"] for s in trend["series"] if not s["partial"]][:3] == [30.0, 40.0, 50.0]
    rate = analytics.analyze_trends("failure_rate", "daily", 14, end_time=END)
    assert rate["direction"] == "stable" and rate["mean"] == pytest.approx(0.1, abs=0.01)
    weekly = analytics.analyze_trends("event_count", "weekly", 14, end_time=END)
    assert weekly["total"] == len(events)
    assert all(s["period_start"] % DAY == 0 for s in weekly["series"])


def test_trend_empty_periods_are_zero(analytics):
    hourly = analytics.analyze_trends("auth_failures", "hourly", 2, end_time=END)
    assert len(hourly["series"]) in (48, 49) and any(s["value"] == 0 for s in hourly["series"])


@pytest.mark.parametrize("call, fragment", [
    (lambda a: a.generate_statistics("favourite_colour"), "favourite_colour"),
    (lambda a: a.analyze_trends("happiness"), "happiness"),
    (lambda a: a.analyze_trends("event_count", "monthly"), "monthly"),
    (lambda a: a.analyze_trends("event_count", "daily", 0), "days"),
])
def test_bad_arguments(analytics, call, fragment):
    with pytest.raises(InvalidInput, match=fragment):
        call(analytics)


def test_empty_log(logger):
    analytics = AuditAnalytics(logger)
    stats = analytics.generate_statistics("user_id", timedelta(hours=24))
    assert stats["total_events"] == 0 and stats["groups"] == []
    trend = analytics.analyze_trends("event_count", "daily", 7)
    assert trend["direction"] == "stable" and trend["total"] == 0
    assert analytics.generate_report("summary")["sections"]
