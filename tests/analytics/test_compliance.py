"""Compliance: the policy format, its errors, and scores that follow the log."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from ipfs_kit_py.analytics import AuditAnalytics
from ipfs_kit_py.analytics.compliance import SHIPPED_POLICIES, load_policy
from ipfs_kit_py.errors import InvalidInput
from tests.audit.conftest import LogTarget

from .conftest import END

DAY = 86400.0


@pytest.fixture(scope="module")
def baseline(analytics):
    return analytics.get_compliance_score("baseline", timedelta(days=14), end_time=END)


@pytest.mark.parametrize("name", SHIPPED_POLICIES)
def test_shipped_policies_are_valid(name):
    policy = load_policy(name)
    assert policy["name"] == name and policy["rules"]


def test_scores_follow_the_injected_incidents(scenario, baseline):
    _, key = scenario
    rules = {r.rule: r for r in baseline.rules}
    assert 0 < baseline.overall_score < 100 and baseline.grade in "ABCDF"
    assert rules["audit_integrity"].status == "pass" and rules["audit_integrity"].score == 100
    assert rules["require_tls"].status == "pass"
    by_rule: dict[str, list] = {}
    for v in baseline.violations:
        by_rule.setdefault(v.rule, []).append(v)
    # The login that followed the guessing had no second factor.
    (fts,) = key.of_type("failure_then_success")
    (mfa,) = by_rule["require_mfa"]
    assert mfa.user == fts.users[0] and set(mfa.evidence) <= set(fts.event_ids)
    # Brute-forced accounts broke the failed-login limit; their evidence is the guesses.
    (brute,) = key.of_type("brute_force")
    limit = {v.user for v in by_rule["max_failed_logins"]}
    assert {"root", "admin"} <= limit
    for v in by_rule["max_failed_logins"]:
        assert v.count > 5
    # The escalated writer ran admin-only actions; the exfiltration broke the read limit.
    (esc,) = key.of_type("privilege_escalation")
    forbidden = {v.user: v for v in by_rule["forbidden_actions"]}
    assert esc.users[0] in forbidden and set(forbidden[esc.users[0]].evidence) <= set(esc.event_ids)
    (bulk,) = key.of_type("bulk_data_read")
    (read,) = by_rule["max_bulk_read_bytes"]
    assert read.user == bulk.users[0] and set(read.evidence) <= set(bulk.event_ids)
    # A recommendation per failing rule, naming who to look at.
    assert len(baseline.recommendations) == sum(r.status == "fail" for r in baseline.rules)
    assert any(esc.users[0] in text for text in baseline.recommendations)
    json.dumps(baseline.to_dict())


def test_weights_and_overall_score(analytics, baseline):
    applicable = [r for r in baseline.rules if r.status != "not_applicable"]
    expected = sum(r.score * r.weight for r in applicable) / sum(r.weight for r in applicable)
    assert baseline.overall_score == pytest.approx(expected, abs=0.01)


def test_strict_policy_hours_and_networks(analytics, scenario):
    score = analytics.get_compliance_score("strict", timedelta(days=14), end_time=END)
    rules = {r.rule: r for r in score.rules}
    # Outsiders' addresses (192.0.2.x, 198.51.100.x, 203.0.113.x) are outside 10/8 and 192.168/16.
    outside = {v.description.split(" from ")[1].split(",")[0] for v in score.violations
               if v.rule == "allowed_networks"}
    attackers = {ip for i in scenario[1].incidents for ip in i.source_ips if not ip.startswith("10.")}
    attackers.discard("local")
    assert attackers <= outside and all(not ip.startswith("10.") for ip in outside)
    assert rules["allowed_hours"].status == "fail"
    (off,) = scenario[1].of_type("off_hours_access")
    hours = [v for v in score.violations if v.rule == "allowed_hours" and v.user == off.users[0]]
    assert any(set(v.evidence) & set(off.event_ids) for v in hours)
    assert score.overall_score < analytics.get_compliance_score("baseline", timedelta(days=14),
                                                                end_time=END).overall_score


def test_a_bare_mapping_of_rules_and_disabled_rules(analytics):
    score = analytics.get_compliance_score({"max_failed_logins": {"count": 1000},
                                            "require_mfa": {"enabled": False}}, timedelta(days=14), end_time=END)
    assert [r.rule for r in score.rules] == ["max_failed_logins"]
    assert score.overall_score == 100 and score.violations == [] and score.recommendations == []


@pytest.mark.parametrize("policy, field", [
    ({"rules": {"max_failed_login": {"count": 5}}}, "max_failed_login"),
    ({"rules": {"max_failed_logins": {"count": "five"}}}, "rules.max_failed_logins.count"),
    ({"rules": {"max_failed_logins": {"window_seconds": 60}}}, "count"),
    ({"rules": {"allowed_networks": {"networks": ["10.0.0.0/33"]}}}, "rules.allowed_networks.networks[0]"),
    ({"rules": {"allowed_hours": {"default": {"start": 9, "end": 25}}}}, "rules.allowed_hours.default.end"),
    ({"rules": {"require_mfa": {"field": "mfa"}}}, "rules.require_mfa.field"),
    ({"rules": {"audit_integrity": {"enable": True}}}, "enable"),
    ({"rules": {"retention_days": {"min_days": 400, "max_days": 30}}}, "rules.retention_days.min_days"),
    ({"rules": {}}, "rules"),
    ({"name": "x"}, "rules"),
    (["not", "a", "mapping"], "mapping"),
])
def test_bad_policies_name_the_field(analytics, policy, field):
    with pytest.raises(InvalidInput) as err:
        analytics.get_compliance_score(policy, timedelta(days=1), end_time=END)
    message = str(err.value)
    assert field in message and "\n" not in message, message


def test_policy_files_json_and_yaml(analytics, tmp_path):
    good = tmp_path / "p.yaml"
    good.write_text("name: mine\nrules:\n  max_failed_logins: {count: 3, window_seconds: 600}\n")
    assert analytics.get_compliance_score(str(good), timedelta(days=14), end_time=END).policy == "mine"
    broken = tmp_path / "p.json"
    broken.write_text('{"rules": {"require_mfa": {}},}')
    with pytest.raises(InvalidInput, match="not valid JSON"):
        analytics.get_compliance_score(str(broken), end_time=END)
    with pytest.raises(InvalidInput, match="policy file not found"):
        analytics.get_compliance_score(str(tmp_path / "missing.json"), end_time=END)


def test_audit_integrity_fails_when_a_row_is_edited(logger, tmp_path):
    logger.log_events([{"event_type": "data", "action": "content.cat", "user_id": "a", "timestamp": END - i}
                       for i in range(5)])
    victim = logger.query_events(limit=None, order="asc")[2]
    policy = {"rules": {"audit_integrity": True}}
    analytics = AuditAnalytics(logger)
    assert analytics.get_compliance_score(policy, timedelta(days=1), end_time=END).overall_score == 100
    LogTarget("sqlite", path=tmp_path / "audit.db").tamper.edit(victim.seq, "user_id", "mallory")
    score = analytics.get_compliance_score(policy, timedelta(days=1), end_time=END)
    (v,) = score.violations
    assert score.overall_score == 0 and v.rule == "audit_integrity" and v.evidence == [victim.event_id]
    assert v.severity == "critical" and "restore" in score.recommendations[0]


def test_retention_min_and_max_days(logger):
    import time

    now = time.time()  # the prune event is stamped with the real time
    logger.log_events([{"event_type": "data", "action": "content.cat", "user_id": "a", "timestamp": now - d * DAY}
                       for d in (200, 100, 50, 10, 1)])
    analytics = AuditAnalytics(logger)
    keep_long = {"rules": {"retention_days": {"max_days": 150}}}
    score = analytics.get_compliance_score(keep_long, timedelta(days=7), end_time=now)
    (v,) = score.violations
    assert v.count == 1 and "older than 150 days" in v.description
    # Pruning everything older than 60 days breaks a 90-day minimum.
    logger.prune(now - 60 * DAY)
    score = analytics.get_compliance_score({"rules": {"retention_days": {"min_days": 90}}}, timedelta(days=7),
                                           end_time=now)
    (v,) = score.violations
    assert v.rule == "retention_days" and v.severity == "critical"
    assert v.evidence == [e.event_id for e in logger.query_events(action="audit.prune")]


def test_empty_log_scores_not_applicable(logger):
    score = AuditAnalytics(logger).get_compliance_score("baseline", timedelta(days=7))
    statuses = {r.rule: r.status for r in score.rules}
    assert statuses["require_mfa"] == "not_applicable" and statuses["audit_integrity"] == "pass"
    assert score.overall_score == 100 and score.violations == []
