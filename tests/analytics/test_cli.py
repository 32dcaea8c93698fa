"""`ipfs-kit audit-analytics`: the seed's ten commands (+ simulate), as real subprocesses."""

from __future__ import annotations

import json

import pytest

from tests.conftest import assert_one_line_error, run_cli

COMMANDS = ("patterns", "anomalies", "correlate", "timeline", "causation", "impact", "compliance", "stats",
            "trends", "report", "simulate")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A home whose audit log holds a simulated scenario ending now; the answer key beside it."""
    path = tmp_path_factory.mktemp("cli-home")
    key_file = path / "key.json"
    result = run_cli(path, "audit-analytics", "simulate", "--days", "21", "--users", "20", "--seed", "3",
                     "--answer-key", str(key_file), "--json")
    assert result.code == 0, result.stderr
    assert result.json()["event_count"] > 10000
    return path, json.loads(key_file.read_text())


def _json(home, *args):
    result = run_cli(home, "audit-analytics", *args, "--json")
    assert result.code == 0, result.stderr
    return result.json()


def test_help_lists_every_command(home):
    result = run_cli(home[0], "audit-analytics", "--help")
    for command in COMMANDS:
        assert command in result.out


def test_patterns_and_anomalies(home):
    path, key = home
    patterns = _json(path, "patterns", "--hours", "336", "--confidence", "0.7")
    found = {p["pattern_type"] for p in patterns}
    expected = {i["incident_type"] for i in key["incidents"] if i["kind"] == "pattern"}
    assert expected <= found
    assert all(p["confidence"] >= 0.7 and p["evidence"] for p in patterns)
    only = _json(path, "patterns", "--hours", "336", "--type", "mass_deletion")
    assert {p["pattern_type"] for p in only} == {"mass_deletion"}
    anomalies = _json(path, "anomalies", "--threshold", "2.0", "--days", "14")
    assert {"volume_spike", "error_spike", "volume_drop"} <= {a["anomaly_type"] for a in anomalies}


def test_correlation_commands(home):
    path, key = home
    brute = next(i for i in key["incidents"] if i["incident_type"] == "brute_force")
    first = brute["event_ids"][0]
    related = _json(path, "correlate", "--event-id", first, "--window", "300")
    assert len({r["event"]["event_id"] for r in related} & set(brute["event_ids"])) >= 10
    causes = _json(path, "causation", "--event-id", brute["event_ids"][5])
    assert causes["event"]["event_id"] == brute["event_ids"][5]
    impact = _json(path, "impact", "--event-id", first, "--window", "600")
    assert impact["impact_level"] in ("low", "medium", "high", "critical") and impact["downstream_count"] > 0
    write = next(e for e in _json(path, "correlate", "--event-id", key["background"][0]["event_ids"][0])
                 if "caused" in " ".join(e["reasons"]))
    timeline = _json(path, "timeline", "--operation-id", write["event"]["operation_id"])
    assert timeline["event_count"] == 2 and timeline["tree"][0]["children"]


def test_compliance_stats_trends(home, tmp_path):
    path, _ = home
    score = _json(path, "compliance", "--policy", "strict", "--days", "14")
    assert score["policy"] == "strict" and 0 < score["overall_score"] < 100 and score["violations"]
    policy = tmp_path / "rules.json"
    policy.write_text(json.dumps({"rules": {"max_failed_logins": {"count": 3, "window_seconds": 600}}}))
    mine = _json(path, "compliance", "--policy", str(policy), "--days", "30")
    assert [r["rule"] for r in mine["rules"]] == ["max_failed_logins"]
    stats = _json(path, "stats", "--group-by", "user_id", "--hours", "24")
    assert sum(g["count"] for g in stats["groups"]) == stats["total_events"] > 0
    trends = _json(path, "trends", "--metric", "event_count", "--period", "daily")
    assert trends["direction"] in ("increasing", "decreasing", "stable") and len(trends["series"]) >= 30


def test_human_output_is_a_table(home):
    result = run_cli(home[0], "audit-analytics", "patterns", "--hours", "336")
    assert result.code == 0
    lines = [line.split("\t") for line in result.out.splitlines()]
    assert len(lines) >= 12 and all(len(cols) == 7 for cols in lines)
    assert {cols[0] for cols in lines} >= {"brute_force", "mass_deletion", "privilege_escalation"}
    result = run_cli(home[0], "audit-analytics", "compliance")
    assert "max_failed_logins" in result.out and result.out.count("\t") > 10


def test_report_html_and_json(home, tmp_path):
    path, _ = home
    html_file = tmp_path / "report.html"
    done = _json(path, "report", "--type", "security", "--output", str(html_file))
    assert done["format"] == "html" and "<svg" in html_file.read_text()
    json_file = tmp_path / "report.json"
    result = run_cli(path, "audit-analytics", "report", "--type", "compliance", "--output", str(json_file))
    assert result.code == 0 and "wrote compliance report" in result.out
    assert json.loads(json_file.read_text())["type"] == "compliance"
    stdout = _json(path, "report", "--type", "activity")
    assert stdout["type"] == "activity"


@pytest.mark.parametrize("args, fragments, code", [
    (("correlate", "--event-id", "nope"), ("no audit event with id nope",), 1),
    (("causation", "--event-id", "nope"), ("nope",), 1),
    (("impact", "--event-id", "nope"), ("nope",), 1),
    (("timeline", "--operation-id", "op-x"), ("no audit events with operation id op-x",), 1),
    (("compliance", "--policy", "missing.yaml"), ("policy file not found",), 2),
    (("stats", "--group-by", "colour"), ("colour",), 2),
    (("trends", "--metric", "mood"), ("mood",), 2),
])
def test_errors_are_one_line(home, args, fragments, code):
    result = run_cli(home[0], "audit-analytics", *args)
    assert_one_line_error(result, *fragments)
    assert result.code == code


def test_bad_policy_file_names_the_field(home, tmp_path):
    policy = tmp_path / "bad.yaml"
    policy.write_text("rules:\n  max_failed_logins:\n    count: lots\n")
    result = run_cli(home[0], "audit-analytics", "compliance", "--policy", str(policy))
    assert_one_line_error(result, "rules.max_failed_logins.count")
    assert result.code == 2


def test_empty_log(tmp_path):
    home = tmp_path / "empty"
    home.mkdir()
    assert _json(home, "patterns") == []
    assert _json(home, "anomalies") == []
    assert _json(home, "stats")["total_events"] == 0
