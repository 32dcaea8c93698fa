"""AuditVisualizer data shapes and the HTML / JSON reports."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import polars as pl
import pytest

from ipfs_kit_py.audit_visualization import AuditVisualizer
from ipfs_kit_py.errors import InvalidInput

from .conftest import END

WEEK = timedelta(days=7)


@pytest.fixture(scope="module")
def week(analytics):
    return analytics.frame(END - 7 * 86400, END)


@pytest.fixture(scope="module")
def vis(scenario):
    return AuditVisualizer(scenario[0])


def test_heatmaps_cover_every_event_with_empty_cells(vis, week):
    weekly = vis.generate_heatmap_data(week, "weekly")
    assert weekly["y_labels"] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert len(weekly["x_labels"]) == 24 and all(len(row) == 24 for row in weekly["values"])
    assert weekly["total"] == week.height and weekly["max"] == max(map(max, weekly["values"]))
    hourly = vis.generate_heatmap_data(week, "hourly")
    assert len(hourly["y_labels"]) in (7, 8) and hourly["total"] == week.height
    assert any(0 in row for row in hourly["values"])  # quiet hours are there as zeros
    daily = vis.generate_heatmap_data(week, "daily")
    assert all(label.startswith("week of ") for label in daily["y_labels"]) and daily["total"] == week.height
    failures = vis.generate_heatmap_data(week, "weekly", value="failures")
    assert failures["total"] == week.filter(pl.col("status") != "success").height


def test_heatmap_from_event_objects_and_dicts(scenario, vis):
    events = scenario[0].query_events(limit=50)
    from_objects = vis.generate_heatmap_data(events, "weekly")
    from_dicts = vis.generate_heatmap_data([e.to_dict() for e in events], "weekly")
    assert from_objects == from_dicts and from_objects["total"] == 50


def test_timeline_chart_and_summary_data(vis, week):
    timeline = vis.generate_timeline_data(week)
    assert timeline["total"] == week.height and timeline["truncated"] is True
    assert len(timeline["events"]) == 2000 and {"id", "time", "group", "label", "color"} <= set(timeline["events"][0])
    assert sum(d["count"] for d in timeline["density"]) == week.height
    bar = vis.generate_chart_data("bar", week, field="status")
    assert bar["labels"][0] == "success" and sum(bar["datasets"][0]["data"]) == week.height
    pie = vis.generate_chart_data("pie", week, field="action", limit=3)
    assert pie["labels"][-1] == "other" and sum(pie["datasets"][0]["data"]) == week.height
    line = vis.generate_chart_data("line", week, period="daily")
    assert sum(line["datasets"][0]["data"]) + sum(line["datasets"][1]["data"]) == week.height
    scatter = vis.generate_chart_data("scatter", week)
    assert {d["label"] for d in scatter["datasets"]} <= {"success", "failure", "denied", "error"}
    summary = vis.generate_activity_summary(week)
    assert summary["total_events"] == week.height and len(summary["top_users"]) == 5
    assert summary["status"]["success"] + sum(v for k, v in summary["status"].items() if k != "success") == week.height
    json.dumps([timeline, bar, pie, line, scatter, summary])


def test_compliance_dashboard(analytics, vis):
    score = analytics.get_compliance_score("baseline", timedelta(days=14), end_time=END)
    dash = vis.generate_compliance_dashboard(score)
    assert dash["overall"]["score"] == score.overall_score and dash["overall"]["grade"] == score.grade
    assert [g["rule"] for g in dash["gauges"]] == [r.rule for r in score.rules]
    assert dash["failed"] == sum(r.status == "fail" for r in score.rules)
    assert len(dash["violations"]) == len(score.violations)
    assert vis.generate_compliance_dashboard(score.to_dict()) == dash


@pytest.mark.parametrize("call", [
    lambda v: v.generate_heatmap_data([], "monthly"),
    lambda v: v.generate_chart_data("radar", []),
    lambda v: v.generate_chart_data("bar", [], field="details"),
    lambda v: v.generate_compliance_dashboard({"score": 3}),
    lambda v: v.generate_timeline_data("not events"),
])
def test_bad_input(vis, call):
    with pytest.raises(InvalidInput):
        call(vis)


def test_empty_input_gives_empty_data(vis):
    assert vis.generate_heatmap_data([], "hourly")["values"] == []
    assert vis.generate_heatmap_data([], "weekly")["total"] == 0
    assert vis.generate_timeline_data([])["events"] == []
    assert vis.generate_activity_summary([])["total_events"] == 0
    assert vis.generate_chart_data("line", [])["datasets"] == []


@pytest.mark.parametrize("report_type", ["summary", "security", "compliance", "activity"])
def test_html_report_is_self_contained(analytics, tmp_path, report_type):
    out = tmp_path / f"{report_type}.html"
    result = analytics.export_report(report_type, str(out), timeframe=timedelta(days=14), end_time=END)
    text = out.read_text("utf-8")
    assert result["format"] == "html" and result["bytes"] == len(text.encode())
    assert text.startswith("<!doctype html>") and text.rstrip().endswith("</html>")
    assert "<svg" in text and "<script" not in text.lower()
    # Nothing loaded from the network: the only URL is the SVG namespace.
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) <= {"http://www.w3.org/2000/svg"}
    assert not list(tmp_path.glob(".report-*"))


def test_json_report_matches_generate_report(analytics, tmp_path, scenario):
    out = tmp_path / "security.json"
    analytics.export_report("security", str(out), timeframe=timedelta(days=14), end_time=END)
    doc = json.loads(out.read_text())
    assert doc["type"] == "security" and doc["end"] == END
    kinds = [s["kind"] for s in doc["sections"]]
    assert kinds[0] == "kpis" and "table" in kinds and "chart" in kinds
    found = {p["pattern_type"] for p in doc["data"]["patterns"]}
    assert {"brute_force", "bulk_data_read", "mass_deletion"} <= found


def test_report_errors_leave_no_file(analytics, tmp_path):
    with pytest.raises(InvalidInput, match="does not exist"):
        analytics.export_report("summary", str(tmp_path / "missing" / "r.html"), end_time=END)
    with pytest.raises(InvalidInput, match="report type"):
        analytics.generate_report("weekly-digest", end_time=END)
    with pytest.raises(InvalidInput, match="directory"):
        analytics.export_report("summary", str(tmp_path), end_time=END)
    assert list(tmp_path.iterdir()) == []
