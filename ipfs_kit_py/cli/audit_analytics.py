"""`ipfs-kit audit-analytics`: patterns, anomalies, correlation, timelines, causation, impact,
compliance, statistics, trends, reports (and a scenario simulator).

Each command calls one method of ``kit.analytics`` / ``kit.correlator``; the
human renderers here only lay results out as tables.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from .common import emit, json_option, pass_kit, print_table


def _time(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _short(text: str | None, width: int = 90) -> str:
    text = text or ""
    return text if len(text) <= width else text[: width - 1] + "…"


@click.group("audit-analytics")
def audit_analytics() -> None:
    """Find patterns, anomalies and compliance gaps in the audit log."""


@audit_analytics.command()
@click.option("--hours", type=click.FloatRange(min=0, min_open=True), default=24.0, show_default=True,
              help="Analyse the last N hours.")
@click.option("--confidence", type=click.FloatRange(0, 1), default=0.7, show_default=True,
              help="Minimum confidence of a reported pattern.")
@click.option("--type", "pattern_types", multiple=True, help="Only these pattern types (repeatable).")
@json_option
@pass_kit
def patterns(kit, hours, confidence, pattern_types, as_json):
    """Behaviour patterns (brute force, spraying, exfiltration, ...) with their evidence."""
    result = kit.analytics.analyze_patterns(hours=hours, confidence=confidence,
                                            pattern_types=list(pattern_types) or None)

    def human(items):
        print_table([{"type": p.pattern_type, "confidence": p.confidence, "first seen": _time(p.first_seen),
                      "last seen": _time(p.last_seen), "events": p.occurrences,
                      "users": ", ".join(p.affected_users[:3]), "description": _short(p.description)}
                     for p in items], ["type", "confidence", "first seen", "last seen", "events", "users",
                                       "description"], title=f"{len(items)} pattern(s) in the last {hours:g}h")

    emit(result, as_json, human)


@audit_analytics.command()
@click.option("--threshold", type=click.FloatRange(min=0, min_open=True), default=2.0, show_default=True,
              help="Robust z-score a bucket must reach.")
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=7.0, show_default=True,
              help="Look for anomalies in the last N days.")
@click.option("--multivariate", is_flag=True, help="Also run an Isolation Forest (needs scikit-learn).")
@json_option
@pass_kit
def anomalies(kit, threshold, days, multivariate, as_json):
    """Hours and days far from their robust baseline (volume, errors, latency, bytes)."""
    result = kit.analytics.detect_anomalies(threshold=threshold, days=days, multivariate=multivariate)

    def human(items):
        print_table([{"type": a.anomaly_type, "severity": a.severity, "start": _time(a.timestamp),
                      "user": a.affected_user or "", "score": a.deviation_score,
                      "description": _short(a.description)} for a in items],
                    ["type", "severity", "start", "user", "score", "description"],
                    title=f"{len(items)} anomal{'y' if len(items) == 1 else 'ies'} in the last {days:g} day(s)")

    emit(result, as_json, human)


@audit_analytics.command()
@click.option("--event-id", required=True, help="The reference event.")
@click.option("--window", type=click.FloatRange(min=0, min_open=True), default=300.0, show_default=True,
              help="Seconds before and after the event.")
@json_option
@pass_kit
def correlate(kit, event_id, window, as_json):
    """Events related to one event, scored, with the reasons."""
    result = kit.correlator.correlate_events(event_id, time_window=window)

    def human(items):
        print_table([{"score": c.score, "offset s": c.time_offset, "event": c.event["event_id"],
                      "action": c.event["action"], "status": c.event["status"], "user": c.event.get("user_id"),
                      "reasons": _short("; ".join(c.reasons), 80)} for c in items],
                    ["score", "offset s", "event", "action", "status", "user", "reasons"],
                    title=f"{len(items)} related event(s)")

    emit(result, as_json, human)


@audit_analytics.command()
@click.option("--operation-id", required=True, help="The operation to reconstruct.")
@json_option
@pass_kit
def timeline(kit, operation_id, as_json):
    """Every event of one operation, in order, with its nesting."""
    result = kit.correlator.reconstruct_timeline(operation_id)

    def human(t):
        print_table([{"+ms": e["offset_ms"], "event": "  " * e["depth"] + e["event_id"], "action": e["action"],
                      "status": e["status"], "user": e.get("user_id"), "resource": _short(e.get("resource"), 50)}
                     for e in t["events"]], ["+ms", "event", "action", "status", "user", "resource"],
                    title=f"operation {operation_id}: {t['event_count']} event(s), {t['status']}, "
                          f"{t['duration_ms']:.1f} ms")

    emit(result, as_json, human)


@audit_analytics.command()
@click.option("--event-id", required=True, help="The event whose causes to trace.")
@json_option
@pass_kit
def causation(kit, event_id, as_json):
    """What led to an event: explicit parent links first, then inferred causes."""
    result = kit.correlator.analyze_causation(event_id)

    def human(r):
        rows = []
        for chain in r["chains"]:
            for link in chain["links"]:
                rows.append({"chain": chain["kind"], "link": link["link"], "confidence": link["confidence"],
                             "time": _time(link["timestamp"]), "event": link["event_id"], "action": link["action"],
                             "status": link["status"], "reasons": _short("; ".join(link["reasons"]), 60)})
        print_table(rows, ["chain", "link", "confidence", "time", "event", "action", "status", "reasons"],
                    title=f"causes of {event_id}" + (f" ({r['broken_link']})" if r["broken_link"] else ""))

    emit(result, as_json, human)


@audit_analytics.command()
@click.option("--event-id", required=True, help="The event whose impact to assess.")
@click.option("--window", type=click.FloatRange(min=0, min_open=True), default=300.0, show_default=True,
              help="Seconds after the event to look at.")
@json_option
@pass_kit
def impact(kit, event_id, window, as_json):
    """Downstream events, affected users/resources/backends, and an impact level."""
    result = kit.correlator.assess_impact(event_id, time_window=window)

    def human(r):
        print_table([{"field": "impact level", "value": f"{r['impact_level']} ({r['impact_score']})"},
                     {"field": "reasons", "value": "; ".join(r["reasons"]) or "none"},
                     {"field": "downstream events", "value": r["downstream_count"]},
                     {"field": "affected users", "value": ", ".join(r["affected_users"])},
                     {"field": "affected resources", "value": len(r["affected_resources"])},
                     {"field": "affected backends", "value": ", ".join(r["affected_backends"])}],
                    ["field", "value"], title=f"impact of {event_id}")

    emit(result, as_json, human)


@audit_analytics.command()
@click.option("--policy", default="baseline", show_default=True,
              help="Policy file (JSON/YAML) or a shipped policy: baseline, strict.")
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=7.0, show_default=True,
              help="Score the last N days.")
@json_option
@pass_kit
def compliance(kit, policy, days, as_json):
    """Score the log against a policy: per-rule scores, violations, recommendations."""
    result = kit.analytics.get_compliance_score(policy, days=days)

    def human(s):
        print_table([{"rule": r.rule, "score": r.score, "status": r.status, "checked": r.checked,
                      "violations": r.violations, "description": _short(r.description, 70)} for r in s.rules],
                    ["rule", "score", "status", "checked", "violations", "description"],
                    title=f"policy {s.policy}: {s.overall_score} ({s.grade})")
        if s.violations:
            print_table([{"rule": v.rule, "severity": v.severity, "user": v.user, "count": v.count,
                          "description": _short(v.description)} for v in s.violations[:50]],
                        ["rule", "severity", "user", "count", "description"], title="violations")
        for line in s.recommendations:
            click.echo(f"- {line}")

    emit(result, as_json, human)


@audit_analytics.command()
@click.option("--group-by", default="event_type", show_default=True,
              help="event_type, action, status, user_id, source_ip, resource, backend, hour_of_day, ...")
@click.option("--hours", type=click.FloatRange(min=0, min_open=True), default=24.0, show_default=True,
              help="Summarise the last N hours.")
@json_option
@pass_kit
def stats(kit, group_by, hours, as_json):
    """Counts, outcomes, users and bytes per group."""
    result = kit.analytics.generate_statistics(group_by, hours=hours)

    def human(r):
        print_table(r["groups"], ["key", "count", "share", "success", "failure", "denied", "error", "users",
                                  "bytes"], title=f"{r['total_events']} events by {group_by} (last {hours:g}h)")

    emit(result, as_json, human)


@audit_analytics.command()
@click.option("--metric", default="event_count", show_default=True,
              help="event_count, failure_count, failure_rate, error_count, denied_count, auth_failures, "
                   "unique_users, unique_sources, bytes, latency_p50, latency_p95")
@click.option("--period", type=click.Choice(["hourly", "daily", "weekly"]), default="daily", show_default=True)
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              help="Over the last N days.")
@json_option
@pass_kit
def trends(kit, metric, period, days, as_json):
    """A metric per period, with its direction and change."""
    result = kit.analytics.analyze_trends(metric, period, days)

    def human(r):
        print_table([{"period": s["period_start_iso"], "value": s["value"], "partial": "yes" if s["partial"] else ""}
                     for s in r["series"]], ["period", "value", "partial"],
                    title=f"{metric} {period}: {r['direction']}"
                          + (f" ({r['change_pct']:+.1f}%)" if r["change_pct"] is not None else ""))

    emit(result, as_json, human)


@audit_analytics.command()
@click.option("--type", "report_type", type=click.Choice(["summary", "security", "compliance", "activity"]),
              default="summary", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="Write to this file: .html (self-contained, with charts) or .json. Default: JSON on stdout.")
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=7.0, show_default=True,
              help="Cover the last N days.")
@click.option("--policy", default="baseline", show_default=True, help="Policy for compliance reports.")
@json_option
@pass_kit
def report(kit, report_type, output, days, policy, as_json):
    """Generate a report (HTML with charts, or JSON)."""
    if output is None:
        emit(kit.analytics.generate_report(report_type, days=days, policy=policy), True)
        return
    result = kit.analytics.export_report(report_type, output, days=days, policy=policy)
    emit(result, as_json, lambda r: click.echo(f"wrote {r['type']} report ({r['format']}, {r['bytes']:,} bytes) "
                                               f"to {r['path']}"))


@audit_analytics.command()
@click.option("--days", type=click.IntRange(min=1), default=21, show_default=True, help="Days of activity.")
@click.option("--users", type=click.IntRange(min=3), default=30, show_default=True, help="Simulated users.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same scenario).")
@click.option("--incidents", default="all", show_default=True,
              help="Comma-separated incident types to inject, 'all' or 'none'.")
@click.option("--answer-key", type=click.Path(dir_okay=False), default=None, help="Write the answer key (JSON) here.")
@json_option
@pass_kit
def simulate(kit, days, users, seed, incidents, answer_key, as_json):
    """Write weeks of simulated activity with injected incidents into the log (for demos and tests)."""
    key = kit.analytics.simulate(days=days, users=users, seed=seed, incidents=incidents, answer_key_path=answer_key)

    def human(k):
        click.echo(f"logged {k.event_count:,} events for {len(k.users)} users over {k.days} days")
        print_table([{"incident": i.incident_id, "type": i.incident_type, "start": _time(i.start),
                      "events": len(i.event_ids), "description": _short(i.description)} for i in k.incidents],
                    ["incident", "type", "start", "events", "description"], title="injected incidents")

    emit(key, as_json, human)


def register(cli: click.Group) -> None:
    cli.add_command(audit_analytics)
