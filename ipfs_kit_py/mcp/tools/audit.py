"""Audit tools: query and verify the tamper-evident log, and the ten ``audit_analytics_*`` tools.

``audit_query``/``audit_verify`` call the same ``kit.audit`` methods as
``ipfs-kit audit query|verify``; the analytics tools call ``kit.analytics``,
``kit.correlator`` and ``kit.visualizer`` as ``ipfs-kit audit-analytics`` does.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal, NotRequired

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field, WithJsonSchema
from typing_extensions import TypedDict

from ...analytics.compliance import SHIPPED_POLICIES
from ...analytics.patterns import PATTERN_TYPES
from ...analytics.report import REPORT_TYPES
from ...analytics.statistics import GROUP_FIELDS, METRICS, PERIODS
from ...errors import InvalidInput
from .common import Progress, caller, server_path, structured, tool


@cache
def event_json_schema() -> dict[str, Any]:
    """The audit engineer's event schema (audit/event_schema.json), as a sub-schema."""
    text = resources.files("ipfs_kit_py.audit").joinpath("event_schema.json").read_text("utf-8")
    schema = json.loads(text)
    schema.pop("$schema", None)
    schema.pop("$id", None)
    return schema


# One audit event, described by the log's own JSON Schema.
AuditEvent = Annotated[dict[str, Any], WithJsonSchema(event_json_schema())]

TimeArg = Annotated[str, Field(
    min_length=1, max_length=64,
    description="ISO 8601 date/time, epoch seconds, or an age such as 30m, 24h, 7d.",
)]
EventType = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]
Status = Literal["success", "failure", "denied", "error"]
Text = Annotated[str, Field(min_length=1, max_length=4096)]
Seq = Annotated[int, Field(ge=1)]
Hash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="A chain hash (64 hex digits).")]


class EventPage(TypedDict):
    """Events newest first (or oldest first with order=asc); next_cursor continues the search."""

    events: list[AuditEvent]
    next_cursor: Annotated[str | None, Field(description="Pass as cursor for the next page; null at the end.")]


class VerifyResult(TypedDict):
    """ok=false names the first bad event and why (edited, deleted, reordered, head)."""

    ok: bool
    checked: Annotated[int, Field(ge=0)]
    start_seq: int | None
    end_seq: int | None
    last_hash: str | None
    first_bad_seq: int | None
    first_bad_event_id: str | None
    problem: Annotated[str | None, Field(description="edited | deleted | reordered | head, when broken.")]
    reason: str | None


@tool(title="Search the audit log", role="admin", read_only=True)
def audit_query(
    since: TimeArg | None = None,
    until: TimeArg | None = None,
    event_types: Annotated[list[EventType] | None, Field(
        max_length=20, description="e.g. data, mcp, authentication, authorization, admin, config.")] = None,
    user_id: Text | None = None,
    status: Annotated[list[Status] | None, Field(max_length=4)] = None,
    action: Annotated[Text | None, Field(description="Exact action, or a prefix ending in * (content.*).")] = None,
    resource: Annotated[Text | None, Field(description="CID or path.")] = None,
    operation_id: Text | None = None,
    session_id: Text | None = None,
    source_ip: Text | None = None,
    limit: Annotated[int, Field(ge=0, le=1000)] = 50,
    offset: Annotated[int, Field(ge=0)] = 0,
    cursor: Annotated[Text | None, Field(description="next_cursor of the previous page.")] = None,
    order: Literal["desc", "asc"] = "desc",
) -> Annotated[CallToolResult, EventPage]:
    """Search audit events by time, type, user, status, action, resource (as `ipfs-kit audit query --json`).

    Newest first by default; page with `cursor` (the previous page's next_cursor).
    """
    page = caller().audit.query_page(
        since, until, event_types, user_id, status, action, resource, operation_id, limit, order,
        offset=offset, cursor=cursor, session_id=session_id, source_ip=source_ip,
    )
    return structured(page)


@tool(title="Verify the audit hash chain", role="admin", read_only=True)
async def audit_verify(
    ctx: Context,
    start_seq: Seq | None = None,
    end_seq: Seq | None = None,
    start_event_id: Text | None = None,
    end_event_id: Text | None = None,
    expect_hash: Annotated[Hash | None, Field(
        description="Hash the last checked event must have, e.g. a checkpoint's head.")] = None,
    file: Annotated[str | None, Field(
        max_length=4096, description="Verify this exported JSONL file (server path under allowed_roots) "
                                     "instead of the log.")] = None,
    prev_hash: Annotated[Hash | None, Field(description="With file: hash the first event must link to.")] = None,
) -> Annotated[CallToolResult, VerifyResult]:
    """Check the audit log's hash chain, whole or a range (as `ipfs-kit audit verify --json`).

    A broken chain is a normal result with ok=false naming the first bad
    event, not a tool error.
    """
    kit = caller()
    if file is None and prev_hash is not None:
        raise InvalidInput("prev_hash applies only with file (an exported JSONL file)")
    if file is not None and any(v is not None for v in (start_seq, end_seq, start_event_id, end_event_id)):
        raise InvalidInput("a file is verified whole: start_seq, end_seq, start_event_id and end_event_id "
                           "apply to the log, not with file")
    if file is not None:
        from ...audit.chain import verify_export_file

        path = server_path(kit, file, "file")
        work = lambda _advance: verify_export_file(path, prev_hash, expect_hash)  # noqa: E731
    else:
        work = lambda _advance: kit.audit.verify(  # noqa: E731
            start_seq, end_seq, start_event_id=start_event_id, end_event_id=end_event_id,
            expect_hash=expect_hash)
    return structured(await Progress(ctx, None, "verifying the audit chain").run(work))


# ---- audit analytics (the seed's ten tools) -----------------------------------------------------------
# Enums come from the analytics package itself, so the schemas follow it.
PatternType = Literal[PATTERN_TYPES]  # type: ignore[valid-type]
GroupField = Literal[GROUP_FIELDS]  # type: ignore[valid-type]
Metric = Literal[METRICS]  # type: ignore[valid-type]
Period = Literal[tuple(PERIODS)]  # type: ignore[valid-type]
ReportType = Literal[REPORT_TYPES]  # type: ignore[valid-type]

EventId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^\S+$", description="An audit event id.")]
Window = Annotated[float, Field(gt=0, le=7 * 86400, description="Seconds around (or after) the event.")]
HoursBack = Annotated[float, Field(gt=0, le=24 * 366, description="Look back this many hours.")]
DaysBack = Annotated[float, Field(gt=0, le=366, description="Look back this many days.")]
PolicyName = Annotated[str, Field(min_length=1, max_length=4096, description=(
    f"A shipped policy ({', '.join(SHIPPED_POLICIES)}) or a JSON/YAML policy file on the server under "
    "allowed_roots."))]


def _inline_refs(schema: Any, defs: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """``schema`` with local ``#/$defs/...`` references replaced by their definitions.

    A sub-schema embedded in a tool's input schema cannot keep its own
    ``$defs``: its references would resolve against the tool's root.
    """
    if defs is None and isinstance(schema, dict):
        defs = schema.get("$defs", {})
    if depth > 20:
        return {}
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            merged = {**defs[ref.removeprefix("#/$defs/")], **{k: v for k, v in schema.items() if k != "$ref"}}
            return _inline_refs(merged, defs, depth + 1)
        return {k: _inline_refs(v, defs, depth + 1) for k, v in schema.items()
                if k not in ("$defs", "$schema", "$id")}
    if isinstance(schema, list):
        return [_inline_refs(v, defs, depth + 1) for v in schema]
    return schema


@cache
def policy_json_schema() -> dict[str, Any]:
    """The analytics engineer's policy schema (analytics/policies/policy_schema.json), inlined."""
    text = resources.files("ipfs_kit_py.analytics").joinpath("policies/policy_schema.json").read_text("utf-8")
    return _inline_refs(json.loads(text))


PolicyRules = Annotated[dict[str, Any], WithJsonSchema(policy_json_schema())]


def _policy(kit, policy: str, policy_rules: dict[str, Any] | None) -> Any:
    if policy_rules is not None:
        return policy_rules
    if policy in SHIPPED_POLICIES:
        return policy
    if "/" not in policy and not policy.endswith((".json", ".yaml", ".yml")):
        raise InvalidInput(f"unknown policy {policy!r}; use a shipped policy ({', '.join(SHIPPED_POLICIES)}), "
                           "policy_rules, or the path of a policy file under allowed_roots")
    return server_path(kit, policy, "policy file")


class Pattern(TypedDict):
    """A behaviour pattern with the ids of the events that show it (evidence)."""

    pattern_type: str
    description: str
    occurrences: int
    first_seen: float
    first_seen_iso: str
    last_seen: float
    last_seen_iso: str
    confidence: Annotated[float, Field(ge=0, le=1)]
    affected_users: list[str]
    evidence: list[str]
    details: dict[str, Any]


class Patterns(TypedDict):
    """Patterns, most confident first (as `ipfs-kit audit-analytics patterns --json`)."""

    patterns: list[Pattern]


class Anomaly(TypedDict):
    anomaly_type: str
    severity: Literal["low", "medium", "high", "critical"]
    timestamp: float
    timestamp_iso: str
    end: float
    end_iso: str
    metric: str
    value: float
    deviation_score: Annotated[float, Field(description="Robust z-score: (value - median) / spread.")]
    affected_user: str | None
    evidence: list[str]
    baseline: Annotated[dict[str, Any], Field(description="What was normal: median, spread, samples.")]
    description: str


class Anomalies(TypedDict):
    anomalies: list[Anomaly]


class Correlation(TypedDict):
    event: dict[str, Any]
    score: Annotated[float, Field(ge=0, le=1)]
    reasons: list[str]
    time_offset: Annotated[float, Field(description="Seconds after (+) or before (-) the reference event.")]


class Correlations(TypedDict):
    """Related events, best first, each with why it is related."""

    correlations: list[Correlation]


class Timeline(TypedDict):
    """Every event of one operation in order (events) and as a parent/child tree."""

    operation_id: str
    start: float
    end: float
    start_iso: str
    end_iso: str
    duration_ms: float
    event_count: int
    status: str
    users: list[str]
    resources: list[str]
    backends: list[str]
    actions: list[str]
    failures: list[str]
    root_event_ids: list[str]
    tree: list[dict[str, Any]]
    events: list[dict[str, Any]]


class Causation(TypedDict):
    """What led to the event: its explicit parent chain, then inferred causes; and its direct effects."""

    event: dict[str, Any]
    has_explicit_parent: bool
    broken_link: str | None
    explicit_chain: list[dict[str, Any]]
    inferred_causes: list[dict[str, Any]]
    chains: list[dict[str, Any]]
    direct_effects: list[dict[str, Any]]


class Impact(TypedDict):
    """Downstream events, who and what they touched, and an impact level with its reasons."""

    event: dict[str, Any]
    time_window: float
    impact_level: Literal["none", "low", "medium", "high", "critical"]
    impact_score: Annotated[float, Field(ge=0, le=100)]
    reasons: list[str]
    downstream_count: int
    descendant_count: int
    status_counts: dict[str, int]
    affected_users: list[str]
    affected_resources: list[str]
    affected_backends: list[str]
    downstream_events: list[dict[str, Any]]


class RuleScore(TypedDict):
    rule: str
    score: float
    weight: float
    checked: int
    violations: int
    status: Literal["pass", "fail", "not_applicable"]
    description: str


class Violation(TypedDict):
    rule: str
    description: str
    severity: str
    count: int
    evidence: list[str]
    user: str | None
    first_seen: float | None
    first_seen_iso: NotRequired[str]
    last_seen: float | None
    last_seen_iso: NotRequired[str]


class ComplianceScore(TypedDict):
    """Overall score 0-100 and grade, per-rule scores, violations with evidence, recommendations."""

    policy: str
    overall_score: Annotated[float, Field(ge=0, le=100)]
    grade: str
    start: float
    start_iso: str
    end: float
    end_iso: str
    rules: list[RuleScore]
    violations: list[Violation]
    recommendations: list[str]


class Statistics(TypedDict):
    """Counts, outcomes, users, sources, bytes and durations per group (largest first)."""

    group_by: str
    start: float
    end: float
    start_iso: str
    end_iso: str
    total_events: int
    distinct_groups: int
    shown_groups: int
    status_totals: dict[str, int]
    unique_users: int
    unique_sources: int
    bytes_total: int
    groups: list[dict[str, Any]]


class TrendPoint(TypedDict):
    period_start: float
    period_start_iso: str
    value: float | None
    partial: bool


class Trend(TypedDict):
    """The metric per period, with a robust (Theil-Sen) direction and change."""

    metric: str
    period: str
    start: float
    end: float
    start_iso: str
    end_iso: str
    series: list[TrendPoint]
    direction: str
    slope_per_period: float | None
    change: float | None
    change_pct: float | None
    fitted_start: float | None
    fitted_end: float | None
    periods_fitted: int
    total: float | None
    mean: float | None
    peak: TrendPoint | None


class Report(TypedDict):
    """A report: KPI, chart and table sections plus the data behind them; html when format=html."""

    type: str
    title: str
    generated_at: float
    generated_at_iso: str
    start: float
    end: float
    start_iso: str
    end_iso: str
    sections: Annotated[list[dict[str, Any]], Field(description="{kind: kpis|chart|table|list, ...} in order.")]
    data: dict[str, Any]
    html: NotRequired[Annotated[str, Field(description="The self-contained HTML page (format=html).")]]


@tool(title="Behaviour patterns", role="admin", read_only=True)
def audit_analytics_get_patterns(
    hours: HoursBack = 24.0,
    confidence: Annotated[float, Field(ge=0, le=1, description="Minimum confidence of a reported pattern.")] = 0.7,
    pattern_types: Annotated[list[PatternType] | None, Field(
        min_length=1, description="Only these pattern types (default: all).")] = None,
) -> Annotated[CallToolResult, Patterns]:
    """Detect behaviour patterns in the audit log of the last `hours` - brute force, password spraying,
    failure-then-success, off-hours access, new source IP, privilege escalation, mass deletion, bulk data
    read, permission denials, high frequency, recurring sequences, dormant reactivation - each with its
    evidence event ids (as `ipfs-kit audit-analytics patterns --json`)."""
    found = caller().analytics.analyze_patterns(hours=hours, confidence=confidence,
                                                pattern_types=pattern_types)
    return structured(found, key="patterns")


@tool(title="Detect anomalies", role="admin", read_only=True)
def audit_analytics_detect_anomalies(
    threshold: Annotated[float, Field(gt=0, le=100, description="Robust z-score a bucket must reach.")] = 2.0,
    days: DaysBack = 7.0,
    multivariate: Annotated[bool, Field(description="Also run an Isolation Forest (needs scikit-learn).")] = False,
) -> Annotated[CallToolResult, Anomalies]:
    """Hours far from their robust seasonal baseline - volume spikes and drops, error, latency and bytes
    spikes, per user and overall - in the last `days` days, with the baseline and evidence
    (as `ipfs-kit audit-analytics anomalies --json`)."""
    found = caller().analytics.detect_anomalies(threshold=threshold, days=days, multivariate=multivariate)
    return structured(found, key="anomalies")


@tool(title="Correlate events", role="admin", read_only=True)
def audit_analytics_correlate_events(event_id: EventId, window: Window = 300.0) -> Annotated[CallToolResult, Correlations]:
    """Events within `window` seconds of one event, scored by what they share (parent/child, operation,
    session, resource, user, source address, related action), with reasons
    (as `ipfs-kit audit-analytics correlate --json`). Unknown event ids are an error."""
    return structured(caller().correlator.correlate_events(event_id, time_window=window), key="correlations")


@tool(title="Reconstruct an operation timeline", role="admin", read_only=True)
def audit_analytics_reconstruct_timeline(
    operation_id: Annotated[str, Field(min_length=1, max_length=128, description="An operation id.")],
) -> Annotated[CallToolResult, Timeline]:
    """Every event of one operation in order, with offsets and nesting, its outcome, users and resources
    (as `ipfs-kit audit-analytics timeline --json`). Unknown operation ids are an error."""
    return structured(caller().correlator.reconstruct_timeline(operation_id))


@tool(title="Analyze causation", role="admin", read_only=True)
def audit_analytics_analyze_causation(event_id: EventId) -> Annotated[CallToolResult, Causation]:
    """What led to an event: the explicit parent chain first, then inferred causes with confidence
    and reasons, plus its direct effects (as `ipfs-kit audit-analytics causation --json`)."""
    return structured(caller().correlator.analyze_causation(event_id))


@tool(title="Assess impact", role="admin", read_only=True)
def audit_analytics_assess_impact(event_id: EventId, window: Window = 300.0) -> Annotated[CallToolResult, Impact]:
    """Downstream events within `window` seconds after an event, the users, resources and backends
    they touched, and an impact level with reasons (as `ipfs-kit audit-analytics impact --json`)."""
    return structured(caller().correlator.assess_impact(event_id, time_window=window))


@tool(title="Compliance score", role="admin", read_only=True)
def audit_analytics_get_compliance_score(
    policy: PolicyName = "baseline",
    policy_rules: Annotated[PolicyRules | None, Field(
        description="An inline policy document instead of `policy`.")] = None,
    days: DaysBack = 7.0,
) -> Annotated[CallToolResult, ComplianceScore]:
    """Score the last `days` days of the audit log against a policy: overall score and grade, per-rule
    scores, violations with evidence, recommendations (as `ipfs-kit audit-analytics compliance --json`)."""
    kit = caller()
    return structured(kit.analytics.get_compliance_score(_policy(kit, policy, policy_rules), days=days))


@tool(title="Audit statistics", role="admin", read_only=True)
def audit_analytics_get_statistics(
    group_by: Annotated[GroupField, Field(description="What to group the events by.")] = "event_type",
    hours: HoursBack = 24.0,
) -> Annotated[CallToolResult, Statistics]:
    """Counts, outcomes, users, sources, bytes and durations per group over the last `hours`
    (as `ipfs-kit audit-analytics stats --json`)."""
    return structured(caller().analytics.generate_statistics(group_by, hours=hours))


@tool(title="Analyze trends", role="admin", read_only=True)
def audit_analytics_analyze_trends(
    metric: Metric = "event_count",
    period: Period = "daily",
    days: DaysBack = 30.0,
) -> Annotated[CallToolResult, Trend]:
    """A metric per hour/day/week over the last `days` days, with its direction (rising, falling,
    stable) and change (as `ipfs-kit audit-analytics trends --json`)."""
    return structured(caller().analytics.analyze_trends(metric, period, days))


@tool(title="Generate a report", role="admin", read_only=True)
async def audit_analytics_generate_report(
    ctx: Context,
    report_type: ReportType = "summary",
    days: DaysBack = 7.0,
    policy: PolicyName = "baseline",
    format: Annotated[Literal["json", "html"], Field(
        description="html also returns the self-contained page with SVG charts.")] = "json",
) -> Annotated[CallToolResult, Report]:
    """A summary, security, compliance or activity report over the last `days` days: KPIs, charts and
    tables with the data behind them (as `ipfs-kit audit-analytics report --type T`, which prints this
    JSON). Reports progress at start and end."""
    from ...analytics.report import render_html

    kit = caller()
    rules = _policy(kit, policy, None)
    report = await Progress(ctx, None, f"building the {report_type} report").run(
        lambda _advance: kit.analytics.generate_report(report_type, days=days, policy=rules))
    if format == "html":
        report = {**report, "html": render_html(report)}
        return structured(report, text=report["html"])
    return structured(report)
