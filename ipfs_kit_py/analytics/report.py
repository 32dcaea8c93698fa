"""Reports: a JSON-ready document of sections, rendered as a self-contained HTML page.

Report types: ``summary`` (activity, trends, patterns at a glance), ``security``
(patterns, anomalies, failures), ``compliance`` (a policy's scores, violations,
recommendations), ``activity`` (who did what and when). A report is
``{"type", "title", "generated_at", "start", "end", "sections": [...], "data": {...}}``;
each section is ``kpis`` (label/value cards), ``table`` (columns + rows),
``chart`` (bar / line / pie / heatmap data from ``AuditVisualizer``) or
``list``. The HTML page inlines its CSS and draws charts as inline SVG: no
scripts, no network, fine to mail or archive. Files are written atomically
(temporary file, then rename), so a failed write never leaves half a report.
"""

from __future__ import annotations

import html
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from .frame import DAY, iso
from .visualization import PALETTE, AuditVisualizer

REPORT_TYPES = ("summary", "security", "compliance", "activity")


def _kpis(*items: tuple[str, Any]) -> dict[str, Any]:
    return {"kind": "kpis", "items": [{"label": k, "value": v} for k, v in items]}


def _table(title: str, columns: list[str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": "table", "title": title, "columns": columns, "rows": rows}


def _chart(title: str, chart: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "chart", "title": title, "chart": chart}


def _trend_chart(trend: dict[str, Any], label: str) -> dict[str, Any]:
    return {"type": "line", "labels": [s["period_start_iso"][:10] if trend["period"] != "hourly"
                                       else s["period_start_iso"][5:16] for s in trend["series"]],
            "datasets": [{"label": label, "data": [s["value"] or 0 for s in trend["series"]], "color": PALETTE[0]}]}


def _pattern_rows(patterns: list) -> list[dict[str, Any]]:
    return [{"type": p.pattern_type, "confidence": p.confidence, "first_seen": iso(p.first_seen),
             "users": ", ".join(p.affected_users[:3]), "events": p.occurrences, "description": p.description}
            for p in patterns]


def _anomaly_rows(anomalies: list) -> list[dict[str, Any]]:
    return [{"type": a.anomaly_type, "severity": a.severity, "start": iso(a.timestamp), "user": a.affected_user or "",
             "score": a.deviation_score, "description": a.description} for a in anomalies]


def build_report(analytics: Any, report_type: str, *, timeframe: float, policy: Any, end: float) -> dict[str, Any]:
    if report_type not in REPORT_TYPES:
        raise InvalidInput(f"report type must be one of {', '.join(REPORT_TYPES)}, not {report_type!r}")
    start = end - timeframe
    days = max(timeframe / DAY, 1 / 24)
    period = "hourly" if timeframe <= 2 * DAY else "daily"
    vis = AuditVisualizer(analytics.audit_logger)
    sections: list[dict[str, Any]] = []
    data: dict[str, Any] = {}
    title = f"ipfs-kit audit {report_type} report"

    if report_type in ("summary", "activity", "security"):
        stats = analytics.generate_statistics("event_type", timeframe, end_time=end)
        status = stats["status_totals"]
        failures = sum(v for k, v in status.items() if k != "success")
        data["statistics"] = stats
    if report_type in ("summary", "security"):
        patterns = analytics.analyze_patterns(timeframe, confidence=0.7, end_time=end)
        anomalies = analytics.detect_anomalies(days=days, end_time=end)
        data["patterns"] = [p.to_dict() for p in patterns]
        data["anomalies"] = [a.to_dict() for a in anomalies]

    if report_type == "summary":
        trend = analytics.analyze_trends("event_count", period, days, end_time=end)
        users = analytics.generate_statistics("user_id", timeframe, end_time=end, limit=10)
        data.update(trend=trend, users=users)
        sections += [
            _kpis(("events", stats["total_events"]), ("users", stats["unique_users"]),
                  ("failure rate", f"{failures / max(stats['total_events'], 1):.1%}"),
                  ("patterns", len(patterns)), ("anomalies", len(anomalies)),
                  ("trend", f"{trend['direction']} ({_pct(trend['change_pct'])})")),
            _chart(f"events per {period[:-2] if period == 'hourly' else 'day'}", _trend_chart(trend, "events")),
            _chart("events by type", vis.generate_chart_data("bar", analytics.frame(start, end), field="event_type")),
            _table("most active users", ["key", "count", "failure_rate", "bytes"], users["groups"]),
            _table("patterns", ["type", "confidence", "first_seen", "users", "events", "description"],
                   _pattern_rows(patterns)),
            _chart("weekly rhythm (events by weekday and hour, UTC)",
                   {"type": "heatmap", **vis.generate_heatmap_data(analytics.frame(start, end), "weekly")}),
        ]
    elif report_type == "security":
        fails = analytics.analyze_trends("failure_count", period, days, end_time=end)
        sources = analytics.generate_statistics("source_ip", timeframe, end_time=end, limit=10)
        by_type: dict[str, int] = {}
        for p in patterns:
            by_type[p.pattern_type] = by_type.get(p.pattern_type, 0) + 1
        data.update(failure_trend=fails, sources=sources)
        sections += [
            _kpis(("patterns", len(patterns)), ("anomalies", len(anomalies)),
                  ("critical anomalies", sum(a.severity == "critical" for a in anomalies)),
                  ("non-success events", failures), ("failure trend", fails["direction"])),
            _chart("patterns by type", {"type": "bar", "labels": list(by_type),
                                        "datasets": [{"label": "findings", "data": list(by_type.values())}]}),
            _table("patterns", ["type", "confidence", "first_seen", "users", "events", "description"],
                   _pattern_rows(patterns)),
            _table("anomalies", ["type", "severity", "start", "user", "score", "description"], _anomaly_rows(anomalies)),
            _chart("non-success events over time", _trend_chart(fails, "non-success")),
            _table("sources", ["key", "count", "failure_rate", "users"],
                   sorted(sources["groups"], key=lambda g: -g["failure_rate"])),
        ]
    elif report_type == "compliance":
        score = analytics.get_compliance_score(policy, timeframe, end_time=end)
        dash = vis.generate_compliance_dashboard(score)
        data.update(compliance=score.to_dict(), dashboard=dash)
        title = f"ipfs-kit compliance report — policy {score.policy}"
        sections += [
            _kpis(("overall score", score.overall_score), ("grade", score.grade), ("rules passed", dash["passed"]),
                  ("rules failed", dash["failed"]), ("violations", len(score.violations))),
            _chart("score per rule", dash["rule_chart"]),
            _table("rules", ["rule", "score", "status", "checked", "violations", "description"],
                   [r.to_dict() for r in score.rules]),
            _table("violations", ["rule", "severity", "user", "count", "description"],
                   [v.to_dict() for v in score.violations[:200]]),
            {"kind": "list", "title": "recommendations", "items": score.recommendations},
        ]
    else:  # activity
        frame = analytics.frame(start, end)
        users = analytics.generate_statistics("user_id", timeframe, end_time=end, limit=20)
        actions = analytics.generate_statistics("action", timeframe, end_time=end, limit=20)
        summary = vis.generate_activity_summary(frame)
        trend = analytics.analyze_trends("event_count", period, days, end_time=end)
        data.update(users=users, actions=actions, summary=summary, trend=trend)
        sections += [
            _kpis(("events", summary["total_events"]), ("users", summary["unique_users"]),
                  ("sources", summary["unique_sources"]), ("bytes", summary["bytes"]),
                  ("busiest hour", (summary["busiest_hour"] or {}).get("start_iso"))),
            _chart("events over time", _trend_chart(trend, "events")),
            _chart("actions", vis.generate_chart_data("pie", frame, field="action", limit=8)),
            _table("users", ["key", "count", "success", "failure", "denied", "error", "bytes"], users["groups"]),
            _table("actions", ["key", "count", "users", "failure_rate", "duration_ms_p95"], actions["groups"]),
            _chart("activity by date and hour (UTC)", {"type": "heatmap", **vis.generate_heatmap_data(frame, "hourly")}),
        ]
    return {"type": report_type, "title": title, "generated_at": time.time(), "generated_at_iso": iso(time.time()),
            "start": start, "end": end, "start_iso": iso(start), "end_iso": iso(end), "sections": sections,
            "data": data}


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


# ---- writing -------------------------------------------------------------------------------

def write_report(report: dict[str, Any], output: str | os.PathLike, format: str | None = None) -> dict[str, Any]:
    path = Path(output)
    fmt = format or ("html" if path.suffix.lower() in (".html", ".htm") else "json")
    if fmt not in ("html", "json"):
        raise InvalidInput(f"report format must be html or json, not {fmt!r}")
    if path.exists() and path.is_dir():
        raise InvalidInput(f"report output {path} is a directory; give a file name like report.html")
    if not path.parent.exists():
        raise InvalidInput(f"report directory {path.parent} does not exist")
    text = render_html(report) if fmt == "html" else json.dumps(report, indent=2, ensure_ascii=False, default=str)
    data = text.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=".report-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InvalidInput(f"cannot write report to {path}: {exc}") from None
    return {"path": str(path), "format": fmt, "type": report["type"], "bytes": len(data),
            "sections": len(report["sections"])}


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
.meta{color:#666}.kpis{display:flex;flex-wrap:wrap;gap:.8rem}.kpi{border:1px solid #ddd;border-radius:6px;
padding:.6rem 1rem;min-width:120px}.kpi b{display:block;font-size:1.3rem}table{border-collapse:collapse;width:100%;
font-size:13px}th,td{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f6f6f6}svg text{font:11px system-ui,sans-serif;fill:#333}.empty{color:#888;font-style:italic}
"""


def render_html(report: dict[str, Any]) -> str:
    esc = html.escape
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{esc(report['title'])}</title>"
             f"<style>{_CSS}</style></head><body><h1>{esc(report['title'])}</h1>"
             f"<p class=meta>{esc(str(report['start_iso']))} — {esc(str(report['end_iso']))}; generated "
             f"{esc(str(report['generated_at_iso']))}</p>"]
    for section in report["sections"]:
        kind = section["kind"]
        if section.get("title"):
            parts.append(f"<h2>{esc(section['title'])}</h2>")
        if kind == "kpis":
            parts.append("<div class=kpis>" + "".join(
                f"<div class=kpi>{esc(str(i['label']))}<b>{esc(_fmt(i['value']))}</b></div>"
                for i in section["items"]) + "</div>")
        elif kind == "table":
            parts.append(_html_table(section["columns"], section["rows"]))
        elif kind == "list":
            items = section["items"]
            parts.append("<ul>" + "".join(f"<li>{esc(x)}</li>" for x in items) + "</ul>" if items
                         else "<p class=empty>none</p>")
        elif kind == "chart":
            parts.append(svg_chart(section["chart"]))
    parts.append("</body></html>")
    return "\n".join(parts)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def _html_table(columns: list[str], rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p class=empty>nothing to show</p>"
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{esc(_fmt(r.get(c)))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ---- inline SVG charts -----------------------------------------------------------------------

def svg_chart(chart: dict[str, Any]) -> str:
    kind = chart.get("type")
    if kind == "heatmap":
        return _svg_heatmap(chart)
    if not chart.get("datasets") or not chart.get("labels") and kind != "scatter":
        return "<p class=empty>no data</p>"
    if kind == "bar":
        return _svg_bar(chart)
    if kind == "line":
        return _svg_line(chart)
    if kind == "pie":
        return _svg_pie(chart)
    raise InvalidInput(f"cannot draw a {kind!r} chart")


def _svg_bar(chart: dict[str, Any]) -> str:
    esc = html.escape
    labels, ds = chart["labels"], chart["datasets"][0]
    values = [float(v or 0) for v in ds["data"]]
    colors = ds.get("colors") or [PALETTE[0]] * len(values)
    peak = max(values + [1e-9])
    row, left, width = 22, 170, 560
    height = row * len(labels) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 80}" height="{height}" role="img">']
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 5 + i * row
        w = width * value / peak
        out.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{esc(str(label))[:28]}</text>'
                   f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" fill="{colors[i % len(colors)]}"/>'
                   f'<text x="{left + w + 4:.1f}" y="{y + 14}">{esc(_fmt(value))}</text>')
    out.append("</svg>")
    return "".join(out)


def _svg_line(chart: dict[str, Any]) -> str:
    esc = html.escape
    labels = chart["labels"]
    width, height, left, bottom = 760, 240, 50, 40
    series = [[float(v or 0) for v in ds["data"]] for ds in chart["datasets"]]
    peak = max([max(s) for s in series if s] + [1e-9])
    n = max(len(labels), 2)
    plot_w, plot_h = width - left - 10, height - bottom - 10

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + plot_w * i / (n - 1), 10 + plot_h * (1 - v / peak)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
           f'<line x1="{left}" y1="{10 + plot_h}" x2="{width - 10}" y2="{10 + plot_h}" stroke="#999"/>',
           f'<text x="{left - 6}" y="16" text-anchor="end">{esc(_fmt(peak))}</text>',
           f'<text x="{left - 6}" y="{10 + plot_h}" text-anchor="end">0</text>']
    step = max(1, len(labels) // 8)
    for i in range(0, len(labels), step):
        x, _ = xy(i, 0)
        out.append(f'<text x="{x:.1f}" y="{height - 22}" text-anchor="middle">{esc(str(labels[i]))}</text>')
    for k, (ds, values) in enumerate(zip(chart["datasets"], series, strict=True)):
        color = ds.get("color") or PALETTE[k % len(PALETTE)]
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in enumerate(values)))
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>'
                   f'<text x="{left + 10 + 110 * k}" y="{height - 4}" fill="{color}">■ {esc(ds["label"])}</text>')
    out.append("</svg>")
    return "".join(out)


def _svg_pie(chart: dict[str, Any]) -> str:
    esc = html.escape
    ds = chart["datasets"][0]
    values = [float(v or 0) for v in ds["data"]]
    total = sum(values)
    if total <= 0:
        return "<p class=empty>no data</p>"
    colors = ds.get("colors") or PALETTE
    cx, cy, r = 110, 110, 100
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="520" height="{max(230, 20 * len(values) + 20)}" role="img">']
    angle = -math.pi / 2
    for i, (label, value) in enumerate(zip(chart["labels"], values, strict=True)):
        sweep = 2 * math.pi * value / total
        color = colors[i % len(colors)]
        if value >= total:
            out.append(f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="{color}"/>')
        elif value > 0:
            x1, y1 = cx + r * math.cos(angle), cy + r * math.sin(angle)
            x2, y2 = cx + r * math.cos(angle + sweep), cy + r * math.sin(angle + sweep)
            large = 1 if sweep > math.pi else 0
            out.append(f'<path d="M{cx},{cy} L{x1:.2f},{y1:.2f} A{r},{r} 0 {large} 1 {x2:.2f},{y2:.2f} Z" '
                       f'fill="{color}"/>')
        angle += sweep
        out.append(f'<text x="240" y="{20 + 20 * i}" fill="{color}">■</text>'
                   f'<text x="256" y="{20 + 20 * i}">{esc(str(label))} — {esc(_fmt(value))} '
                   f'({value / total:.0%})</text>')
    out.append("</svg>")
    return "".join(out)


def _svg_heatmap(chart: dict[str, Any]) -> str:
    esc = html.escape
    rows, cols, values = chart.get("y_labels", []), chart.get("x_labels", []), chart.get("values", [])
    if not rows or not cols:
        return "<p class=empty>no data</p>"
    peak = max(chart.get("max") or 0, 1)
    cell, left, top = 22, 110, 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + cell * len(cols) + 10}" '
           f'height="{top + cell * len(rows) + 10}" role="img">']
    for j, label in enumerate(cols):
        out.append(f'<text x="{left + j * cell + cell / 2}" y="14" text-anchor="middle">{esc(str(label))}</text>')
    for i, label in enumerate(rows):
        y = top + i * cell
        out.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{esc(str(label))}</text>')
        for j, value in enumerate(values[i]):
            shade = 0.08 + 0.92 * (value / peak) if value else 0.0
            out.append(f'<rect x="{left + j * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                       f'fill="#1e88e5" fill-opacity="{shade:.3f}" stroke="#eee"><title>{esc(str(label))} '
                       f'{esc(str(cols[j]))}: {value}</title></rect>')
    out.append("</svg>")
    return "".join(out)
