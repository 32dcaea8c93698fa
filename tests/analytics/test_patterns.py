"""Pattern detection: every injected incident is found, with evidence pointing at its events."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ipfs_kit_py.analytics import PATTERN_TYPES, AuditAnalytics
from ipfs_kit_py.analytics.evaluation import evaluate_patterns, format_table
from ipfs_kit_py.analytics.simulate import PATTERN_INCIDENTS
from ipfs_kit_py.errors import InvalidInput

from .conftest import END

WINDOW = timedelta(days=14)


@pytest.fixture(scope="module")
def found(analytics):
    return analytics.analyze_patterns(WINDOW, confidence=0.7, end_time=END)


def test_all_twelve_pattern_types_exist():
    assert len(PATTERN_TYPES) == 12
    assert set(PATTERN_INCIDENTS) == set(PATTERN_TYPES)


@pytest.mark.parametrize("pattern_type", PATTERN_INCIDENTS)
def test_each_injected_incident_is_found_with_its_events_as_evidence(scenario, found, pattern_type):
    _, key = scenario
    (incident,) = key.of_type(pattern_type)
    injected = set(incident.event_ids)
    mine = [p for p in found if p.pattern_type == pattern_type and injected & set(p.evidence)]
    assert mine, f"{pattern_type} not found; got {[p.description for p in found if p.pattern_type == pattern_type]}"
    best = max(mine, key=lambda p: len(injected & set(p.evidence)))
    # The evidence is (almost) all injected events, and the finding names the right people.
    share = len(injected & set(best.evidence)) / len(best.evidence)
    assert share >= 0.9, (pattern_type, share, best.description)
    assert set(best.affected_users) & set(incident.users) or pattern_type == "recurring_sequence" \
        and "svc-sync" in best.affected_users
    # Its time span overlaps the incident (an episode may take in a neighbouring normal event).
    assert best.first_seen <= incident.end + 60 and best.last_seen >= incident.start - 60
    assert 0.7 <= best.confidence <= 0.99
    # occurrences counts events (runs of actions, for sequences); evidence lists at most them all.
    per_occurrence = len(best.details["sequence"]) if pattern_type == "recurring_sequence" else 1
    assert best.occurrences * per_occurrence >= len(best.evidence) >= 1


def test_precision_and_recall_per_type(scenario, found):
    scores = evaluate_patterns(found, scenario[1])
    print("\n" + format_table(scores))
    for name in PATTERN_INCIDENTS:
        assert scores[name]["recall"] == 1.0, (name, scores[name])
    false_positives = sum(row["false_positives"] for row in scores.values())
    true_positives = sum(row["true_positives"] for row in scores.values())
    assert true_positives >= 12
    assert false_positives <= 4, format_table(scores)


def test_clean_baseline_gives_few_findings(clean):
    logger, key = clean
    assert key.incidents == []
    found = AuditAnalytics(logger).analyze_patterns(WINDOW, end_time=END)
    # Only benign noise the simulator plants on purpose (a rare late evening, a second address).
    assert len(found) <= 4, [p.description for p in found]
    assert {p.pattern_type for p in found} <= {"off_hours_access", "new_source_ip"}
    late = set(next(b for b in key.background if b["types"] == ["off_hours_access"])["event_ids"])
    for p in found:
        if p.pattern_type == "off_hours_access":
            assert set(p.evidence) <= late  # exactly the planted late evenings


def test_results_are_json_ready_and_sorted_by_confidence(found):
    import json

    dicts = [p.to_dict() for p in found]
    json.dumps(dicts)
    assert [d["confidence"] for d in dicts] == sorted((d["confidence"] for d in dicts), reverse=True)
    first = dicts[0]
    assert {"pattern_type", "description", "occurrences", "first_seen", "last_seen", "confidence",
            "affected_users", "evidence", "first_seen_iso"} <= set(first)
    assert found[0]["pattern_type"] == first["pattern_type"]


def test_confidence_threshold_filters(analytics, found):
    strict = analytics.analyze_patterns(WINDOW, confidence=0.95, end_time=END)
    assert strict and all(p.confidence >= 0.95 for p in strict)
    assert len(strict) < len(found)


def test_subset_of_types_and_event_type_filter(analytics):
    only = analytics.analyze_patterns(WINDOW, pattern_types=["brute_force", "mass_deletion"], end_time=END)
    assert {p.pattern_type for p in only} == {"brute_force", "mass_deletion"}
    data_only = analytics.analyze_patterns(WINDOW, event_types=["data"], end_time=END)
    assert not {p.pattern_type for p in data_only} & {"brute_force", "password_spraying", "failure_then_success"}
    assert "mass_deletion" in {p.pattern_type for p in data_only}


def test_per_type_settings_change_the_rule(analytics):
    default = analytics.analyze_patterns(WINDOW, pattern_types=["brute_force"], end_time=END)
    assert len(default) == 1
    strict = analytics.analyze_patterns(WINDOW, pattern_types=["brute_force"], end_time=END,
                                        settings={"brute_force": {"min_failures": 500}})
    assert strict == []


def test_last_24_hours_only_sees_recent_incidents(analytics, scenario):
    recent = analytics.analyze_patterns(timedelta(hours=24), end_time=END)
    incidents = [i for i in scenario[1].incidents if i.kind == "pattern" and i.end >= END - 86400]
    # A nightly job recurs over days: one day holds one run, below the 5 sessions a sequence needs.
    expected = {i.incident_type for i in incidents} - {"recurring_sequence"}
    assert "brute_force" in expected  # the simulator always puts the brute force in the last day
    assert {p.pattern_type for p in recent} == expected
    for p in recent:
        assert p.last_seen >= END - 86400
    (brute,) = [p for p in recent if p.pattern_type == "brute_force"]
    assert brute.details["source_ip"] == scenario[1].of_type("brute_force")[0].source_ips[0]


@pytest.mark.parametrize("kwargs, fragment", [
    ({"confidence": 1.5}, "confidence"),
    ({"timeframe": -5}, "timeframe"),
    ({"pattern_types": ["telepathy"]}, "telepathy"),
    ({"settings": {"brute_force": {"min_fails": 3}}}, "brute_force"),
    ({"settings": {"nope": {}}}, "nope"),
])
def test_bad_arguments_are_one_line_errors(analytics, kwargs, fragment):
    args = {"timeframe": WINDOW, **kwargs}
    with pytest.raises(InvalidInput) as err:
        analytics.analyze_patterns(args.pop("timeframe"), end_time=END, **args)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_empty_log_gives_no_patterns(logger):
    assert AuditAnalytics(logger).analyze_patterns(timedelta(days=30)) == []
