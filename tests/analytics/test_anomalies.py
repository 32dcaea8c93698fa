"""Anomaly detection: robust, seasonal baselines with empty buckets; per user and global."""

from __future__ import annotations

import pytest

from ipfs_kit_py.analytics import AuditAnalytics
from ipfs_kit_py.analytics.evaluation import evaluate_anomalies, format_table
from ipfs_kit_py.errors import InvalidInput

from .conftest import END

HOUR = 3600.0


@pytest.fixture(scope="module")
def found(analytics):
    return analytics.detect_anomalies(threshold=2.0, days=14, end_time=END)


def _overlapping(anomalies, incident, anomaly_type):
    return [a for a in anomalies if a.anomaly_type == anomaly_type
            and a.timestamp <= incident.end and a.end >= incident.start]


@pytest.mark.parametrize("incident_type, anomaly_type", [
    ("volume_spike", "volume_spike"),
    ("error_spike", "error_spike"),
    ("error_spike", "latency_spike"),
    ("volume_drop", "volume_drop"),
])
def test_injected_global_anomalies_are_found(scenario, found, incident_type, anomaly_type):
    (incident,) = scenario[1].of_type(incident_type)
    hits = _overlapping(found, incident, anomaly_type)
    assert hits, f"{anomaly_type} for {incident.description} not found"
    a = hits[0]
    assert a.affected_user is None and a.severity in ("medium", "high", "critical")
    assert a.baseline["samples"] >= 3 and a.baseline["bucket_seconds"] == 3600
    if anomaly_type == "volume_drop":
        # An outage has no events: only counting empty hours as 0 makes it visible.
        assert a.value < a.baseline["median"] / 2 and a.deviation_score <= -2.0 and a.evidence == []
    else:
        assert a.value >= 2 * a.baseline["median"] and a.deviation_score >= 2.0
        assert len(set(a.evidence) & set(incident.event_ids)) >= 0.9 * len(a.evidence) > 0


@pytest.mark.parametrize("incident_type, anomaly_type", [
    ("high_frequency", "user_volume_spike"),
    ("bulk_data_read", "user_bytes_spike"),
    ("brute_force", "user_error_spike"),
])
def test_injected_per_user_anomalies_are_found(scenario, found, incident_type, anomaly_type):
    (incident,) = scenario[1].of_type(incident_type)
    hits = [a for a in _overlapping(found, incident, anomaly_type) if a.affected_user in incident.users]
    assert hits, [a.description for a in found if a.anomaly_type == anomaly_type]
    a = hits[0]
    assert a.baseline["bucket_seconds"] == 86400 and a.baseline["scale"] == "log1p"
    # The evidence is the injected events (busiest hour / biggest reads / failures first).
    assert len(set(a.evidence) & set(incident.event_ids)) >= 0.9 * len(a.evidence)


def test_precision_and_recall(scenario, found):
    scores = evaluate_anomalies(found, scenario[1])
    print("\n" + format_table(scores))
    for name, row in scores.items():
        if row["expected"]:
            assert row["recall"] == 1.0, (name, row)
    false_positives = sum(r["false_positives"] for r in scores.values())
    assert false_positives <= 6, format_table(scores)


def test_clean_baseline_gives_few_anomalies(clean, found):
    analytics = AuditAnalytics(clean[0])
    # At the seed's default threshold (2 robust deviations) a clean fortnight of bursty human
    # activity still has a few mild outliers; none is severe, and a stricter threshold leaves ~none.
    mild = analytics.detect_anomalies(threshold=2.0, days=14, end_time=END)
    assert len(mild) <= 15 and len(mild) < len(found) / 2, [a.description for a in mild]
    assert all(a.severity in ("low", "medium", "high") for a in mild), [a.description for a in mild]
    strict = analytics.detect_anomalies(threshold=4.0, days=14, end_time=END)
    assert len(strict) <= 3, [a.description for a in strict]


def test_higher_threshold_finds_a_subset(analytics, found):
    strict = analytics.detect_anomalies(threshold=5.0, days=14, end_time=END)
    keys = {(a.anomaly_type, a.timestamp, a.affected_user) for a in found}
    assert strict and {(a.anomaly_type, a.timestamp, a.affected_user) for a in strict} <= keys
    assert all(abs(a.deviation_score) >= 5.0 for a in strict)


def test_days_limits_the_window(analytics, scenario):
    recent = analytics.detect_anomalies(days=1, end_time=END)
    assert all(a.end > END - 86400 - 86400 for a in recent)  # day buckets may start before the window


def test_isolation_forest_behind_a_flag(analytics, scenario):
    plain = analytics.detect_anomalies(days=14, end_time=END)
    assert not any(a.anomaly_type == "multivariate_outlier" for a in plain)
    mixed = analytics.detect_anomalies(days=14, end_time=END, multivariate=True)
    forest = [a for a in mixed if a.anomaly_type == "multivariate_outlier"]
    assert forest
    # The scripted burst is among the forest's outliers, with its events as evidence.
    (burst,) = scenario[1].of_type("high_frequency")
    assert any(a.affected_user in burst.users and set(a.evidence) & set(burst.event_ids) for a in forest)
    assert {"events", "errors", "deletes", "hour_share"} <= set(forest[0].baseline["features"])


def test_results_are_json_ready(found):
    import json

    doc = json.loads(json.dumps([a.to_dict() for a in found]))
    assert {"anomaly_type", "severity", "timestamp", "deviation_score", "affected_user", "evidence", "baseline",
            "timestamp_iso"} <= set(doc[0])


@pytest.mark.parametrize("kwargs", [{"threshold": 0}, {"threshold": -1}, {"days": 0}, {"min_ratio": 0.5},
                                    {"threshold": "high"}])
def test_bad_arguments(analytics, kwargs):
    with pytest.raises(InvalidInput):
        analytics.detect_anomalies(end_time=END, **kwargs)


def test_empty_and_tiny_logs(logger):
    analytics = AuditAnalytics(logger)
    assert analytics.detect_anomalies() == []
    logger.log_event("data", "content.cat", user_id="a", timestamp=END - 100)
    assert analytics.detect_anomalies(end_time=END) == []  # one day of history: no baseline yet
