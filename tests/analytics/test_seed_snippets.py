"""The seed's Phase 8 snippets, run as written against a populated log (simulated up to now)."""

from __future__ import annotations

import json
import textwrap
from datetime import timedelta

import pytest

from ipfs_kit_py.analytics import simulate
from ipfs_kit_py.audit import AuditLogger
from ipfs_kit_py.cli.common import to_jsonable

ANALYTICS = """
from ipfs_kit_py.audit_analytics import AuditAnalytics

# Initialize
analytics = AuditAnalytics(audit_logger)

# Analyze patterns
patterns = analytics.analyze_patterns(timedelta(hours=24), confidence=0.7)

# Detect anomalies
anomalies = analytics.detect_anomalies(threshold=2.0)

# Get compliance score
score = analytics.get_compliance_score(policy_rules, timedelta(days=7))
"""

CORRELATION = """
from ipfs_kit_py.audit_correlation import EventCorrelator

# Initialize
correlator = EventCorrelator(audit_logger)

# Correlate events
related = correlator.correlate_events(reference_event, time_window=300)

# Reconstruct timeline
timeline = correlator.reconstruct_timeline(operation_id)

# Analyze causation
chains = correlator.analyze_causation(event_id)

# Assess impact
impact = correlator.assess_impact(event_id, time_window=300)
"""

VISUALIZATION = """
from ipfs_kit_py.audit_visualization import AuditVisualizer

# Initialize
visualizer = AuditVisualizer(audit_logger)

# Generate timeline
timeline_data = visualizer.generate_timeline_data(events)

# Generate heat map
heatmap = visualizer.generate_heatmap_data(events, granularity='hourly')

# Generate compliance dashboard
dashboard = visualizer.generate_compliance_dashboard(compliance_score)
"""

QUICK_START = """
from ipfs_kit_py.audit_analytics import AuditAnalytics
analytics = AuditAnalytics(audit_logger)
patterns = analytics.analyze_patterns(timedelta(hours=24))
"""


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    logger = AuditLogger(path=tmp_path_factory.mktemp("seed") / "audit.db")
    key = simulate(logger, days=21, users=20, seed=5)  # ends now
    yield logger, key
    logger.close()


def test_seed_snippets_run_as_written(populated):
    audit_logger, key = populated
    (brute,) = key.of_type("brute_force")
    nested = audit_logger.query_events(action="files.write", limit=1)[0]
    scope = {"audit_logger": audit_logger, "timedelta": timedelta, "policy_rules": "baseline",
             "reference_event": audit_logger.get_event(brute.event_ids[0]), "operation_id": nested.operation_id,
             "event_id": nested.event_id}
    exec(textwrap.dedent(ANALYTICS), scope)
    assert "brute_force" in {p.pattern_type for p in scope["patterns"]}  # injected in the last 24 hours
    assert any(a.anomaly_type == "user_error_spike" for a in scope["anomalies"])
    assert 0 <= scope["score"].overall_score <= 100

    exec(textwrap.dedent(CORRELATION), scope)
    assert {c.event["event_id"] for c in scope["related"]} & set(brute.event_ids)
    assert scope["timeline"]["event_count"] == 2  # files.write and its nested content.add
    assert scope["chains"]["event"]["event_id"] == nested.event_id
    assert scope["impact"]["impact_level"] in ("none", "low", "medium", "high", "critical")

    scope["events"] = audit_logger.query_events(limit=500)
    scope["compliance_score"] = scope["score"]
    exec(textwrap.dedent(VISUALIZATION), scope)
    assert scope["heatmap"]["total"] == 500 and scope["timeline_data"]["total"] == 500
    assert scope["dashboard"]["overall"]["score"] == scope["score"].overall_score

    exec(textwrap.dedent(QUICK_START), scope)
    # Every result is JSON-serializable.
    names = ("patterns", "anomalies", "score", "related", "timeline", "chains", "impact", "timeline_data",
             "heatmap", "dashboard")
    json.dumps(to_jsonable({name: scope[name] for name in names}))
