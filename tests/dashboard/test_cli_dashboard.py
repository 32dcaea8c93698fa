"""`ipfs-kit dashboard ...` in real subprocesses: the seed's 7 commands and their flags."""

from __future__ import annotations

import csv
import io
import json

from tests.conftest import assert_one_line_error


def test_widgets_and_widget_data(cli, tmp_path):
    widgets = cli("dashboard", "widgets", "--json").json()
    assert [w["widget_id"] for w in widgets][:2] == ["system_status", "storage"]
    src = tmp_path / "f.txt"
    src.write_bytes(b"dashboard cli test\n")
    assert cli("add", str(src)).code == 0
    data = cli("dashboard", "widget-data", "--widget-id", "storage", "--refresh", "--json").json()
    assert data["data"]["counters"]["pins"] == 1 and data["data"]["counters"]["blocks"] == 1
    everything = cli("dashboard", "widget-data", "--json").json()
    assert len(everything["widgets"]) == 7
    bad = cli("dashboard", "widget-data", "--widget-id", "nope")
    assert_one_line_error(bad, "no widget 'nope'")


def test_chart_from_file_json_and_csv(cli, tmp_path):
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"server1": [["2024-05-01T00:01:00Z", 30], ["2024-05-01T00:00:00Z", 25]]}))
    chart = cli("dashboard", "chart", "--type", "line", "--title", "CPU Usage", "--data", str(data), "--json").json()
    assert chart["title"] == "CPU Usage" and [p["y"] for p in chart["datasets"][0]["data"]] == [25.0, 30.0]
    text = cli("dashboard", "chart", "--type", "line", "--title", "CPU", "--data", str(data), "--csv").out
    assert list(csv.reader(io.StringIO(text)))[1:] == [["server1", "2024-05-01T00:00:00Z", "25"],
                                                        ["server1", "2024-05-01T00:01:00Z", "30"]]
    ts = cli("dashboard", "chart", "--type", "timeseries", "--title", "T", "--data", str(data),
             "--interval", "1h", "--aggregation", "max", "--json").json()
    assert ts["type"] == "time_series" and ts["datasets"][0]["data"][0]["y"] == 30.0
    bad = tmp_path / "bad.json"
    bad.write_text('{"s": [[1, "high"]]}')
    assert_one_line_error(cli("dashboard", "chart", "--type", "line", "--title", "x", "--data", str(bad)),
                          "must be a number")
    assert_one_line_error(cli("dashboard", "chart", "--type", "pie", "--title", "x", "--data", str(tmp_path / "no.json")),
                          "chart data file not found")


def test_operations_filters_by_status_and_hours(cli, tmp_path):
    assert cli("cat", "QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX").code != 0
    src = tmp_path / "ok.txt"
    src.write_text("ok")
    cli("add", str(src))
    failed = cli("dashboard", "operations", "--status", "failure", "--hours", "24", "--json").json()
    assert failed["total"] == 1 and failed["operations"][0]["action"] == "content.cat"
    assert failed["operations"][0]["interface"] == "cli"
    everything = cli("dashboard", "operations", "--json").json()
    assert {"content.cat", "content.add"} <= {op["action"] for op in everything["operations"]}
    usage = cli("dashboard", "operations", "--hours", "-1")
    assert usage.code == 2 and "Invalid value for '--hours'" in usage.stderr


def test_list_wizards_and_wizard_with_template_and_answers(cli, home, tmp_path):
    wizards = cli("dashboard", "list-wizards", "--json").json()
    assert [(w["wizard_id"], w["steps"]) for w in wizards] == [
        ("backend_setup", 5), ("vfs_configuration", 4), ("monitoring_setup", 3)]
    result = cli("dashboard", "wizard", "--wizard-id", "backend_setup", "--template", "s3_production", "--json").json()
    assert result["applied"] and result["config"]["backends"]["s3"]["bucket"] == "ipfs-kit-production"
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"name": "dev", "type": "s3", "bucket": "dev-bucket",
                                   "credential_source": "inline", "access_key_id": "AK",
                                   "secret_access_key": "very-secret-1"}))
    out = cli("dashboard", "wizard", "--wizard-id", "backend_setup", "--answers", str(answers))
    assert out.code == 0, out.stderr
    assert "very-secret-1" not in out.out and "***" in out.out
    saved = json.loads((home / "config.json").read_text())
    assert set(saved["backends"]) == {"s3", "dev"}
    events = cli("dashboard", "operations", "--json").json()["operations"]
    assert sum(1 for e in events if e["action"] == "config.change") == 2
    assert_one_line_error(cli("dashboard", "wizard", "--wizard-id", "backend_setup", "--template", "nope"),
                          "no template 'nope'")
    answers.write_text(json.dumps({"type": "s3"}))
    assert_one_line_error(cli("dashboard", "wizard", "--wizard-id", "backend_setup", "--answers", str(answers)),
                          "bucket: is required")


def test_status_json_and_human(cli):
    status = cli("dashboard", "status", "--json").json()
    assert status["status"] == "ok" and status["store"]["pins"] == 0
    assert status["backends"] == {"healthy": 1, "total": 1,
                                  "backends": {"local": {"healthy": True, "kind": "embedded blockstore"}}}
    human = cli("dashboard", "status")
    assert human.code == 0 and human.out.startswith("status: ok")
