"""Every MCP tool over stdio (and HTTP): valid calls validate against their output schema and match the CLI.

One server subprocess (`ipfs-kit --home H mcp serve`) per test, driven by the
SDK's stdio client. For each case the tool is called, its structured content is
validated (jsonschema) against the tool's advertised output schema, and the
same operation is run through the CLI with `--json` and compared: exactly,
or - for values that are per-process or per-moment by nature (memory tier
entries, CPU rates, timestamps) - key by key with those values left out.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from ipfs_kit_py.mcp.tools import all_specs

from .conftest import (
    Home,
    cli_json,
    cli_run,
    error_text,
    http_session,
    stdio_session,
    validate_output,
)

pytestmark = pytest.mark.anyio

SEED_TOOLS = {
    "audit_analytics_get_patterns", "audit_analytics_detect_anomalies", "audit_analytics_correlate_events",
    "audit_analytics_reconstruct_timeline", "audit_analytics_analyze_causation", "audit_analytics_assess_impact",
    "audit_analytics_get_compliance_score", "audit_analytics_get_statistics", "audit_analytics_analyze_trends",
    "audit_analytics_generate_report",
    "performance_get_cache_stats", "performance_clear_cache", "performance_invalidate_cache",
    "performance_get_metrics", "performance_get_bottlenecks", "performance_get_resource_usage",
    "performance_set_baseline", "performance_start_operation", "performance_end_operation",
    "performance_get_monitor_stats", "performance_get_batch_stats", "performance_reset_cache_stats",
    "performance_get_summary",
    "dashboard_get_widget_data", "dashboard_get_chart_data", "dashboard_get_operations_history",
    "dashboard_run_wizard", "dashboard_get_status_summary", "dashboard_list_widgets", "dashboard_list_wizards",
}
CONTENT_TOOLS = {
    "content_add", "content_cat", "content_ls", "content_stat", "pin_add", "pin_rm", "pin_ls", "repo_gc",
    "repo_stat", "car_export", "car_import", "files_mkdir", "files_write", "files_read", "files_ls",
    "files_stat", "files_rm", "files_mv", "files_cp", "audit_query", "audit_verify", "backend_list",
    "backend_status",
}


@dataclass
class Case:
    tool: str
    args: dict[str, Any]
    cli: list[str] | None = None  # the same operation on the CLI (--json added unless raw)
    key: str | None = None  # MCP wraps the CLI's JSON list in this key
    ignore: tuple[str, ...] = ()  # top-level values that differ by nature (paths written, times)
    shape_only: bool = False  # per-process or per-moment data: compare keys, not values
    raw: bool = False  # the CLI prints the bytes (cat, files read): compare with the decoded data
    cli_input: bytes | None = None
    before: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # MCP calls before the tool
    between: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # MCP calls before the CLI's
    exact: tuple[tuple[str, ...], ...] = ()  # nested values compared exactly despite ignore/shape_only
    normalize: Any = None  # applied to both sides before an exact comparison
    check: Any = None  # extra assertions on the structured result


def same_shape(a: Any, b: Any, path: str = "") -> None:
    """Same keys at every level (dicts), lists both lists; values may differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert set(a) == set(b), (path, sorted(set(a) ^ set(b)))
        for k in a:
            same_shape(a[k], b[k], f"{path}.{k}")
    else:
        assert isinstance(a, list) == isinstance(b, list), path


def _drop(value: Any, keys: tuple[str, ...]) -> Any:
    """``value`` without ``keys`` (a dict, or each dict of a list)."""
    if isinstance(value, list):
        return [_drop(v, keys) for v in value]
    return {k: v for k, v in value.items() if k not in keys}


def _at(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def compare(case: Case, structured: dict, cli_out: Any) -> None:
    if case.raw:
        data = structured["data"]
        got = base64.b64decode(data) if structured["encoding"] == "base64" else data.encode()
        assert got == cli_out
        return
    mine = structured[case.key] if case.key else structured
    for path in case.exact:
        assert _at(mine, path) == _at(cli_out, path), path
    if case.shape_only or case.ignore:
        mine, cli_out = _without_own_call(mine, case.tool), _without_own_call(cli_out, case.tool)
    if case.shape_only:
        same_shape(mine, cli_out)
        return
    if case.ignore:
        same_shape(mine, cli_out)
        mine, cli_out = _drop(mine, case.ignore), _drop(cli_out, case.ignore)
    if case.normalize is not None:
        mine, cli_out = case.normalize(mine), case.normalize(cli_out)
    assert mine == cli_out


def _without_own_call(value: Any, tool: str) -> Any:
    """``value`` with the tool call's own metrics (``mcp.<tool>``) removed wherever they appear.

    The monitor flushes every second, so whether the CLI, run right after the
    tool, already sees the tool's own sample is a matter of timing.
    """
    own = f"mcp.{tool}"
    if isinstance(value, dict):
        return {k: _without_own_call(v, tool) for k, v in value.items() if k != own}
    if isinstance(value, list):
        return [_without_own_call(v, tool) for v in value
                if not (isinstance(v, dict) and v.get("operation") == own)]
    return value


def content_cases(home: Home) -> list[Case]:
    f = home.facts
    r = str(home.root)
    text = "an added text\n"
    blob = bytes(range(256)) * 3
    return [
        Case("content_add", {"path": f["docs"], "recursive": True}, ["add", "-r", f["docs"]]),
        Case("content_add", {"text": text}, ["add", "-"], cli_input=text.encode()),
        Case("content_add", {"data_base64": base64.b64encode(blob).decode(), "cid_version": 1},
             ["add", "--cid-version", "1", "-"], cli_input=blob),
        Case("content_cat", {"path": f["text_cid"]}, ["cat", f["text_cid"]], raw=True,
             check=lambda s: s["encoding"] == "text" and not s["truncated"]),
        Case("content_cat", {"path": f["data_cid"], "max_bytes": 1000, "encoding": "base64"},
             ["cat", "--length", "1000", f["data_cid"]], raw=True,
             check=lambda s: s["truncated"] and s["next_offset"] == 1000 and s["bytes"] == 1000),
        Case("content_cat", {"path": f["data_cid"], "offset": 256, "length": 10, "encoding": "base64"},
             ["cat", "--offset", "256", "--length", "10", f["data_cid"]], raw=True,
             check=lambda s: not s["truncated"] and s["bytes"] == 10 and s["next_offset"] is None),
        Case("content_ls", {"path": f["dir_cid"]}, ["ls", f["dir_cid"]], key="entries"),
        Case("content_stat", {"path": f["dir_cid"]}, ["stat", f["dir_cid"]]),
        Case("pin_add", {"paths": [f["text_cid"]]}, ["pin", "add", f["text_cid"]], key="pins"),
        Case("pin_ls", {}, ["pin", "ls"], key="pins"),
        Case("pin_rm", {"paths": [f["readme_cid"]]}, ["pin", "rm", f["readme_cid"]], key="pins",
             before=[("pin_add", {"paths": [f["readme_cid"]], "pin_type": "direct"})],
             between=[("pin_add", {"paths": [f["readme_cid"]], "pin_type": "direct"})],
             ignore=("created",), check=lambda s: s["pins"][0]["cid"] == f["readme_cid"]),
        Case("repo_stat", {}, ["repo", "stat"]),
        # The first gc clears what earlier cases left; then both collect the same garbage block.
        Case("repo_gc", {}, ["gc"],
             before=[("repo_gc", {}), ("content_add", {"text": "garbage to collect", "pin": False})],
             between=[("content_add", {"text": "garbage to collect", "pin": False})],
             check=lambda s: s["removed_blocks"] == 1 and len(s["removed"]) == 1),
        Case("car_export", {"path": f["dir_cid"], "output": f"{r}/out-mcp.car"},
             ["car", "export", f["dir_cid"], "-o", f"{r}/out-cli.car"], ignore=("output",)),
        Case("car_import", {"path": f["car"]}, ["car", "import", f["car"]]),
        Case("car_import", {"data_base64": f["car_b64"], "pin": False}, ["car", "import", "--no-pin", f["car"]]),
        Case("files_mkdir", {"path": "/made/by/mcp", "parents": True},
             ["files", "mkdir", "-p", "/made/by/cli"], ignore=("path",)),
        Case("files_write", {"path": "/w/mcp.txt", "text": "written\n", "parents": True},
             ["files", "write", "-p", "/w/cli.txt", "-"], cli_input=b"written\n", ignore=("path",)),
        Case("files_read", {"path": "/notes/a.txt"}, ["files", "read", "/notes/a.txt"], raw=True),
        Case("files_ls", {"path": "/notes"}, ["files", "ls", "/notes"], key="entries"),
        Case("files_stat", {"path": "/notes/a.txt"}, ["files", "stat", "/notes/a.txt"]),
        Case("files_cp", {"source": f"/ipfs/{f['text_cid']}", "dest": "/cp-mcp"},
             ["files", "cp", f"/ipfs/{f['text_cid']}", "/cp-cli"], ignore=("path",)),
        Case("files_mv", {"source": "/cp-mcp", "dest": "/mv-mcp"}, ["files", "mv", "/cp-cli", "/mv-cli"],
             ignore=("path",)),
        Case("files_rm", {"path": "/mv-mcp"}, ["files", "rm", "/mv-cli"], ignore=("path", "root")),
        Case("audit_query", {"event_types": ["data"], "limit": 20}, ["audit", "query", "-t", "data", "-n", "20"],
             check=lambda s: len(s["events"]) == 20 and s["next_cursor"]),
        Case("audit_query", {"status": ["denied"], "order": "asc"}, ["audit", "query", "-s", "denied", "--order", "asc"],
             check=lambda s: s["events"] and all(e["status"] == "denied" for e in s["events"])),
        Case("audit_verify", {"start_seq": 1, "end_seq": 10}, ["audit", "verify", "--start-seq", "1", "--end-seq", "10"],
             check=lambda s: s["ok"] and s["checked"] == 10),
        Case("audit_verify", {}, check=lambda s: s["ok"] and s["checked"] > 10),
    ]


def performance_cases(home: Home) -> list[Case]:
    stat_op = "content.stat"
    return [
        Case("performance_get_cache_stats", {}, ["performance", "cache-stats"], shape_only=True),
        Case("performance_clear_cache", {"tier": "memory"}, ["performance", "cache-clear", "--tier", "memory"],
             shape_only=True, check=lambda s: s["tier"] == "memory" and set(s["removed"]) == {"memory"}),
        Case("performance_invalidate_cache", {"pattern": "no-such-key:*"},
             ["performance", "cache-invalidate", "--pattern", "no-such-key:*"]),
        Case("performance_reset_cache_stats", {}, check=lambda s: s["hits"] == 0 and s["misses"] == 0),
        Case("performance_get_metrics", {"operation": stat_op, "timeframe": "1h"},
             ["performance", "metrics", "--operation", stat_op, "--timeframe", "1h"],
             check=lambda s: s["count"] >= 25),
        Case("performance_get_metrics", {}, ["performance", "metrics"], shape_only=True),
        Case("performance_get_bottlenecks", {"cpu_threshold": 99.9, "memory_threshold": 99.9},
             ["performance", "bottlenecks", "--cpu-threshold", "99.9", "--memory-threshold", "99.9"],
             key="bottlenecks", shape_only=True),
        Case("performance_get_resource_usage", {}, ["performance", "resources"], shape_only=True),
        Case("performance_set_baseline", {"operation": stat_op},
             ["performance", "baseline", "--operation", stat_op], ignore=("set_at",)),
        Case("performance_start_operation", {"name": "agent.task"},
             check=lambda s: s["operation_id"] >= 1 and s["name"] == "agent.task"),
        Case("performance_get_monitor_stats", {}, ["performance", "monitor-stats"], shape_only=True,
             check=lambda s: stat_op in s["baselines"]),
        Case("performance_get_batch_stats", {}, ["performance", "batch-stats"]),
        Case("performance_get_summary", {"timeframe": "1h"}, ["performance", "summary", "--timeframe", "1h"],
             shape_only=True),
    ]


def dashboard_cases(home: Home) -> list[Case]:
    chart_data = {"cpu": [[1700000000, 20.5], [1700000060, 31.0], [1700000120, 25.25]]}
    chart_file = home.root / "chart.json"
    chart_file.write_text(json.dumps(chart_data))
    return [
        Case("dashboard_list_widgets", {}, ["dashboard", "widgets"], key="widgets"),
        Case("dashboard_get_widget_data", {"widget_id": "storage", "refresh": True},
             ["dashboard", "widget-data", "--widget-id", "storage", "--refresh"],
             ignore=("updated_at", "data"), exact=(("data", "counters"),),
             check=lambda s: s["error"] is None and s["data"]["counters"]["pins"] >= 1),
        Case("dashboard_get_widget_data", {}, ["dashboard", "widget-data"], shape_only=True),
        Case("dashboard_get_chart_data", {"chart_type": "time_series", "title": "CPU", "data": chart_data,
                                          "interval": "2m", "aggregation": "max"},
             ["dashboard", "chart", "--type", "time_series", "--title", "CPU", "--data", str(chart_file),
              "--interval", "2m", "--aggregation", "max"], ignore=("generated_at",)),
        Case("dashboard_get_operations_history", {"status": "denied", "hours": 24, "limit": 10},
             ["dashboard", "operations", "--status", "denied", "--hours", "24", "--limit", "10"],
             check=lambda s: s["total"] >= 1),
        Case("dashboard_list_wizards", {}, ["dashboard", "list-wizards"], key="wizards"),
        Case("dashboard_run_wizard", {"wizard_id": "monitoring_setup", "apply": False},
             ["dashboard", "wizard", "--wizard-id", "monitoring_setup", "--no-apply"],
             check=lambda s: s["applied"] is False and "monitoring" in s["config"]),
        Case("dashboard_get_status_summary", {}, ["dashboard", "status"], shape_only=True,
             check=lambda s: s["status"] in ("ok", "warning", "critical")),
    ]


def analytics_cases(home: Home) -> list[Case]:
    f = home.facts
    brute, deletion = f["brute_force"], f["mass_deletion"]
    settled = time.time() - 2 * 3600  # anomalies ending before this cannot change during the test

    def settled_only(result: Any) -> Any:
        return [a for a in result if a["end"] < settled]

    timeless = ("start", "end", "start_iso", "end_iso")
    policy_file = home.root / "policy.json"
    policy_file.write_text(json.dumps({"name": "tight", "rules": {
        "max_failed_logins": {"count": 3, "window_seconds": 600}, "audit_integrity": {"enabled": True}}}))
    return [
        Case("audit_analytics_get_patterns", {"hours": 24, "pattern_types": ["brute_force"]},
             ["audit-analytics", "patterns", "--hours", "24", "--type", "brute_force"], key="patterns",
             check=lambda s: s["patterns"] and set(s["patterns"][0]["evidence"]) <= set(brute.event_ids)),
        Case("audit_analytics_detect_anomalies", {"threshold": 2.0, "days": 7},
             ["audit-analytics", "anomalies", "--threshold", "2", "--days", "7"], key="anomalies",
             normalize=settled_only,
             check=lambda s: any(a["anomaly_type"] == "volume_spike" for a in s["anomalies"])),
        Case("audit_analytics_correlate_events", {"event_id": brute.event_ids[0], "window": 300},
             ["audit-analytics", "correlate", "--event-id", brute.event_ids[0], "--window", "300"],
             key="correlations", check=lambda s: s["correlations"] and s["correlations"][0]["reasons"]),
        Case("audit_analytics_reconstruct_timeline", {"operation_id": f["nested_operation"]},
             ["audit-analytics", "timeline", "--operation-id", f["nested_operation"]],
             check=lambda s: s["event_count"] >= 2 and s["tree"][0]["children"]),
        Case("audit_analytics_analyze_causation", {"event_id": f["nested_event"]},
             ["audit-analytics", "causation", "--event-id", f["nested_event"]],
             check=lambda s: s["has_explicit_parent"] and s["explicit_chain"]),
        Case("audit_analytics_assess_impact", {"event_id": deletion.event_ids[0], "window": 600},
             ["audit-analytics", "impact", "--event-id", deletion.event_ids[0], "--window", "600"],
             check=lambda s: s["downstream_count"] >= 1 and s["impact_level"] != "none"),
        Case("audit_analytics_get_compliance_score", {"policy": "baseline", "days": 7},
             ["audit-analytics", "compliance", "--policy", "baseline", "--days", "7"], shape_only=True,
             exact=(("policy",),), check=lambda s: 0 <= s["overall_score"] <= 100),
        Case("audit_analytics_get_compliance_score", {"policy": str(policy_file), "days": 7},
             ["audit-analytics", "compliance", "--policy", str(policy_file), "--days", "7"], shape_only=True,
             exact=(("policy",),), check=lambda s: {r["rule"] for r in s["rules"]} >= {"max_failed_logins"}),
        Case("audit_analytics_get_compliance_score", {"policy_rules": {"name": "inline", "rules": {
            "max_failed_logins": {"count": 3, "window_seconds": 600}}}, "days": 7},
             check=lambda s: s["policy"] == "inline" and s["violations"]),
        Case("audit_analytics_get_statistics", {"group_by": "user_id", "hours": 24},
             ["audit-analytics", "stats", "--group-by", "user_id", "--hours", "24"], shape_only=True,
             check=lambda s: s["total_events"] > 0 and s["groups"]),
        Case("audit_analytics_analyze_trends", {"metric": "auth_failures", "period": "daily", "days": 7},
             ["audit-analytics", "trends", "--metric", "auth_failures", "--period", "daily", "--days", "7"],
             ignore=timeless, check=lambda s: s["total"] >= len(brute.event_ids) - 1),
        Case("audit_analytics_generate_report", {"report_type": "security", "days": 7},
             ["audit-analytics", "report", "--type", "security", "--days", "7"], shape_only=True,
             exact=(("type",), ("title",)), check=lambda s: {x["kind"] for x in s["sections"]} >= {"kpis", "table"}),
        Case("audit_analytics_generate_report", {"report_type": "compliance", "format": "html"},
             check=lambda s: s["html"].lower().startswith("<!doctype html>") and "<svg" in s["html"]),
    ]


def backend_cases(home: Home) -> list[Case]:
    return [
        Case("backend_list", {}, check=lambda s: s["backends"] == [] and s["blockstore"].endswith("blocks")),
        # the same facts as the backends section of `ipfs-kit dashboard status --json`
        Case("backend_status", {}, ["dashboard", "status"], normalize=lambda r: r["backends"] if "version" in r else r,
             check=lambda s: s["backends"]["local"]["healthy"] and s["healthy"] == s["total"]),
        # An agent adds a backend (a directory) with the wizard, tests it and copies content to it.
        Case("backend_test", {"name": "nas"}, ["backend", "test", "nas"], ignore=("latency_ms", "free_bytes"),
             before=[("dashboard_run_wizard", {"wizard_id": "backend_setup", "answers": {
                 "name": "nas", "type": "local", "path": str(home.root / "nas"), "replicate": False}})],
             check=lambda s: s["healthy"] and s["kind"] == "local" and s["path"].endswith("nas")),
        Case("backend_replicate", {"cid": home.facts["dir_cid"], "backends": ["nas"]},
             check=lambda s: s == {"cid": home.facts["dir_cid"], "backends": {"nas": "pinned"}}),
        Case("backend_replication_status", {"backend": "nas"}, ["backend", "status", "--backend", "nas"],
             check=lambda s: s["summary"]["pinned"] == 1 and s["items"][0]["method"] == "blocks"),
        Case("backend_sync", {}, ["backend", "sync"], check=lambda s: s["failed"] == 0 and s["pending"] == 0),
    ]


def all_cases(home: Home) -> list[Case]:
    return (content_cases(home) + performance_cases(home) + dashboard_cases(home) + analytics_cases(home)
            + backend_cases(home))


async def run_case(session, tools, home: Home, case: Case) -> dict:
    for name, args in case.before:
        before = await session.call_tool(name, args)
        assert not before.is_error, (name, before.content[0].text)
    result = await session.call_tool(case.tool, case.args)
    assert not result.is_error, (case.tool, case.args, result.content[0].text)
    structured = result.structured_content
    validate_output(tools[case.tool], structured)
    if case.check is not None:
        assert case.check(structured), (case.tool, structured)
    for name, args in case.between:
        between = await session.call_tool(name, args)
        assert not between.is_error, (name, between.content[0].text)
    if case.cli is not None:
        if case.raw:
            cli_out = cli_run(home, *case.cli)
        else:
            cli_out = cli_json(home, *case.cli, input=case.cli_input)
        compare(case, structured, cli_out)
    return structured


async def test_tools_list_has_every_tool_with_schemas(home):
    async with stdio_session(home) as session:
        tools = (await session.list_tools()).tools
    names = {t.name for t in tools}
    assert names == {s.name for s in all_specs()}
    assert SEED_TOOLS | CONTENT_TOOLS <= names, sorted((SEED_TOOLS | CONTENT_TOOLS) - names)
    for tool in tools:
        assert tool.description and len(tool.description) > 30, tool.name
        assert tool.input_schema["type"] == "object" and tool.input_schema["additionalProperties"] is False
        assert tool.output_schema and tool.output_schema["type"] == "object", tool.name
        hints = tool.annotations
        assert hints is not None and hints.read_only_hint is not None and hints.destructive_hint is not None
        assert hints.idempotent_hint is not None, tool.name


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_every_tool_validates_and_matches_the_cli(rich_home, transport, request):
    home = rich_home
    cases = all_cases(home)
    if transport == "stdio":
        opened = stdio_session(home)
    else:
        opened = http_session(request.getfixturevalue("http_server"), home.tokens["admin"])
    async with opened as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        called = set()
        for case in cases:
            await run_case(session, tools, home, case)
            called.add(case.tool)
        # start/end pair: the id from one call feeds the other
        started = await session.call_tool("performance_start_operation", {"name": "agent.pair"})
        ended = await session.call_tool("performance_end_operation",
                                        {"operation_id": started.structured_content["operation_id"],
                                         "success": False})
        assert not ended.is_error, ended.content
        validate_output(tools["performance_end_operation"], ended.structured_content)
        assert ended.structured_content["duration_ms"] >= 0 and ended.structured_content["success"] is False
        called.add("performance_end_operation")
    untested = set(tools) - called
    assert not untested, f"tools never called: {sorted(untested)}"
    # both export paths wrote the same CAR
    assert (home.root / "out-mcp.car").read_bytes() == (home.root / "out-cli.car").read_bytes()


async def test_progress_notifications_for_long_operations(home):
    data = "x" * (3 * 1024 * 1024)
    seen: dict[str, list[tuple[float, float | None]]] = {}

    def recorder(name):
        async def record(progress, total, message):
            seen.setdefault(name, []).append((progress, total))
        return record

    async with stdio_session(home) as session:
        added = await session.call_tool("content_add", {"text": data}, progress_callback=recorder("add"))
        assert not added.is_error
        imported = await session.call_tool("car_import", {"path": home.facts["car"]},
                                           progress_callback=recorder("car"))
        assert not imported.is_error
        gc = await session.call_tool("repo_gc", {}, progress_callback=recorder("gc"))
        assert not gc.is_error
    add = seen["add"]
    assert add[0] == (0, len(data)) and add[-1] == (len(data), len(data))
    assert [p for p, _ in add] == sorted(p for p, _ in add)
    car_size = (home.root / "export.car").stat().st_size
    assert seen["car"][0] == (0, 2 * car_size) and seen["car"][-1] == (2 * car_size, 2 * car_size)
    assert seen["gc"][0][0] == 0 and seen["gc"][-1][0] == seen["gc"][-1][1]


INVALID = [
    ("audit_verify", {"prev_hash": "0" * 64}, "prev_hash applies only with file"),
    ("content_add", {"text": "a", "pin": "yes"}, "pin: must be of type boolean, not \"yes\""),
    ("content_add", {"text": "a", "cid_version": True}, "cid_version: must be one of 0, 1, not true"),
    ("dashboard_run_wizard", {"wizard_id": "monitoring_setup", "apply": "no"},
     "apply: must be of type boolean or of type null, not \"no\""),
    ("content_cat", {"path": 123}, "invalid arguments for content_cat: path"),
    ("content_cat", {"path": "QmNotACid"}, "invalid CID"),
    ("content_cat", {}, "invalid arguments for content_cat: path: Field required"),
    ("content_cat", {"path": "x", "max_bytes": 0}, "max_bytes"),
    ("content_cat", {"path": "x", "extra": 1}, "unknown argument(s) for content_cat: extra"),
    ("audit_query", {"limit": 5000}, "limit"),
    ("audit_query", {"offset": -1}, "offset"),
    ("audit_query", {"status": ["bogus"]}, "status"),
    ("audit_query", {"cursor": "01NOSUCHEVENT"}, "cursor"),
    ("pin_ls", {"pin_type": "sideways"}, "pin_type"),
    ("pin_rm", {"paths": []}, "paths"),
    ("pin_rm", {"paths": ["QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"]}, "is not pinned"),
    ("files_stat", {"path": "relative/path"}, "path"),
    ("files_read", {"path": "/no/such/file"}, "no such VFS path"),
    ("content_add", {}, "give exactly one of text, data_base64 or path"),
    ("content_add", {"text": "a", "data_base64": "YQ=="}, "not both"),
    ("content_add", {"data_base64": "not base64!"}, "not valid base64"),
    ("performance_end_operation", {"operation_id": 999999}, "unknown operation id"),
    ("performance_get_metrics", {"timeframe": "1y"}, "timeframe"),
    ("performance_get_metrics", {"timeframe": "30d"}, "longer than the 7d"),
    ("performance_get_bottlenecks", {"cpu_threshold": 150}, "cpu_threshold"),
    ("performance_clear_cache", {"tier": "disk"}, "no disk tier"),
    ("dashboard_get_widget_data", {"widget_id": "no_such_widget"}, "no widget 'no_such_widget'"),
    ("dashboard_run_wizard", {"wizard_id": "no_such_wizard"}, "no wizard 'no_such_wizard'"),
    ("backend_test", {"name": "nope"}, "no backend named 'nope'"),
    ("backend_test", {"name": ""}, "name"),
    ("backend_sync", {"wait": 1000}, "wait"),
    ("backend_replicate", {"cid": "QmNotACid"}, "invalid CID"),
    ("backend_replication_status", {"status": "done"}, "status"),
    ("dashboard_get_chart_data", {"chart_type": "radar", "title": "t", "data": {}}, "chart_type"),
    ("dashboard_get_operations_history", {"hours": 0}, "hours"),
    ("audit_analytics_correlate_events", {"event_id": "01NOSUCHEVENT"}, "no audit event with id 01NOSUCHEVENT"),
    ("audit_analytics_correlate_events", {"event_id": "x", "window": 0}, "window"),
    ("audit_analytics_reconstruct_timeline", {"operation_id": "no-such-op"}, "no audit events with operation id"),
    ("audit_analytics_analyze_causation", {"event_id": "01NOSUCHEVENT"}, "no audit event with id"),
    ("audit_analytics_assess_impact", {"event_id": "01NOSUCHEVENT"}, "no audit event with id"),
    ("audit_analytics_get_patterns", {"confidence": 2}, "confidence"),
    ("audit_analytics_get_patterns", {"pattern_types": ["alien_landing"]}, "pattern_types"),
    ("audit_analytics_detect_anomalies", {"days": -1}, "days"),
    ("audit_analytics_get_compliance_score", {"policy": "lenient"}, "unknown policy 'lenient'"),
    ("audit_analytics_get_compliance_score", {"policy": "/etc/passwd.json"}, "outside the allowed roots"),
    ("audit_analytics_get_compliance_score", {"policy_rules": {"rules": {"no_such_rule": {}}}}, "invalid policy field rules"),
    ("audit_analytics_get_statistics", {"group_by": "shoe_size"}, "group_by"),
    ("audit_analytics_analyze_trends", {"metric": "happiness"}, "metric"),
    ("audit_analytics_generate_report", {"report_type": "poem"}, "report_type"),
    ("no_such_tool", {}, "Unknown tool"),
]


async def test_invalid_arguments_are_one_line_tool_errors(home):
    async with stdio_session(home) as session:
        for name, args, fragment in INVALID:
            if name != "no_such_tool" and name not in {s.name for s in all_specs()}:
                continue
            result = await session.call_tool(name, args)
            assert fragment in error_text(result), (name, args, result.content[0].text)


async def test_server_side_paths_only_under_allowed_roots(home):
    outside = str(home.outside / "secret.txt")
    async with stdio_session(home) as session:
        for name, args in [
            ("content_add", {"path": outside}),
            ("content_add", {"path": f"{home.root}/../outside/secret.txt"}),
            ("files_write", {"path": "/x", "source_path": outside}),
            ("car_import", {"path": outside}),
            ("car_export", {"path": home.facts["text_cid"], "output": str(home.outside / "o.car")}),
            ("dashboard_run_wizard", {"wizard_id": "backend_setup", "answers": {
                "name": "evil", "type": "local", "path": str(home.outside / "evil")}}),
        ]:
            text = error_text(await session.call_tool(name, args))
            assert "outside the allowed roots" in text, (name, text)
        relative = error_text(await session.call_tool("content_add", {"path": "docs/readme.txt"}))
        assert "must be absolute" in relative
    assert not (home.outside / "o.car").exists() and not (home.outside / "evil").exists()
    with home.kit() as kit:
        assert "evil" not in kit.settings.backends


async def test_calls_are_audit_events_with_children(home):
    async with stdio_session(home) as session:
        ok = await session.call_tool("content_stat", {"path": home.facts["text_cid"]})
        assert not ok.is_error
        bad = await session.call_tool("content_stat", {"path": "QmNotACid"})
        assert bad.is_error
        invalid = await session.call_tool("content_stat", {"path": 5})
        assert invalid.is_error
        unknown = await session.call_tool("no_such_tool", {})
        assert unknown.is_error
    with home.kit() as kit:
        events = kit.audit.query_events(event_types=["mcp"], order="asc", limit=None)
        assert [e.action for e in events] == ["mcp.content_stat"] * 3 + ["mcp.unknown_tool"]
        assert [e.status for e in events] == ["success", "failure", "failure", "failure"]
        import getpass

        for e in events:
            assert e.user_id == getpass.getuser() and e.source_ip == "local"
            assert e.duration_ms is not None and e.duration_ms >= 0
            assert e.details["transport"] == "stdio" and e.details["interface"] == "mcp"
            assert e.session_id == events[0].session_id is not None
        assert "invalid CID" in events[1].details["error"]
        assert "invalid arguments for content_stat" in events[2].details["error"]
        assert events[3].details["tool"] == "no_such_tool"
        children = kit.audit.query_events(operation_id=events[0].event_id, event_types=["data"], limit=None)
        assert [(c.action, c.parent_id, c.status) for c in children] == [
            ("content.stat", events[0].event_id, "success")]
        assert children[0].resource == home.facts["text_cid"]
        failed_child = kit.audit.query_events(operation_id=events[1].event_id, event_types=["data"], limit=None)
        assert [(c.action, c.status) for c in failed_child] == [("content.stat", "failure")]


async def test_backend_list_redacts_secrets(home):
    from ipfs_kit_py.config import Settings

    settings = Settings.load(home.path)
    settings.with_changes(
        backends={"archive": {"type": "s3", "bucket": "ipfs-archive", "region": "eu-west-1",
                              "credential_source": "inline", "access_key_id": "AKIAEXAMPLE",
                              "secret_access_key": "very-secret-value"}},
        replication={"replicas": 2, "targets": ["archive"]},
    ).save()
    async with stdio_session(home) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        result = await session.call_tool("backend_list", {})
    assert not result.is_error, result.content
    validate_output(tools["backend_list"], result.structured_content)
    [archive] = result.structured_content["backends"]
    assert archive["name"] == "archive" and archive["type"] == "s3" and archive["replication_target"]
    assert archive["config"]["bucket"] == "ipfs-archive"
    assert archive["config"]["secret_access_key"] == "***"
    assert "very-secret-value" not in result.content[0].text
    assert result.structured_content["replication"] == {"replicas": 2, "targets": ["archive"]}


def test_every_request_line_gets_an_answer_even_when_it_cannot_be_parsed(home):
    # The SDK drops lines it cannot validate; a client would wait forever for their ids.
    import subprocess

    from .conftest import server_command, server_env

    proc = subprocess.Popen(server_command(home, "mcp", "serve"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=server_env(home), text=True)
    try:
        def ask(line: str) -> dict:
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
            return json.loads(proc.stdout.readline())

        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}
        assert ask(json.dumps(init))["id"] == 1
        proc.stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        lone = ('{"jsonrpc":"2.0","id":8,"method":"tools/call",'
                '"params":{"name":"files_mkdir","arguments":{"path":"/\\ud800"}}}')
        answer = ask(lone)
        assert answer["id"] == 8 and answer["error"]["code"] == -32602
        assert "unpaired UTF-16 surrogate" in answer["error"]["message"]
        answer = ask('{"jsonrpc": "2.0", "id": 9, "method": ')
        assert answer["id"] is None and answer["error"]["code"] == -32700
        # and the server goes on serving
        call = {"jsonrpc": "2.0", "id": 10, "method": "tools/call",
                "params": {"name": "content_stat", "arguments": {"path": home.facts["text_cid"]}}}
        answer = ask(json.dumps(call))
        assert answer["id"] == 10 and not answer["result"]["isError"]
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.returncode == 0
