"""Scoring findings against a scenario's answer key: precision and recall per type.

Patterns: a finding is a **true positive** when its evidence shares an event
with an injected incident whose type (or one of whose ``also`` types) is the
finding's type; **background** when it instead points at activity the scenario
planted as benign but genuinely of that kind (a recurring workflow, a late
evening of work): neither right nor wrong, reported separately; otherwise a
**false positive**. Recall: the share of incidents of that type with at least
one true-positive finding of that type.

Anomalies are about time, not single events (an outage has no events): an
anomaly is a true positive when its time span overlaps an incident's span
(one bucket of slack either side) and, for per-user anomalies, the incident
involves that user. Recall per anomaly type: the share of incidents expecting
that type (``anomaly_types``) that got an overlapping anomaly of that type.
"""

from __future__ import annotations

from typing import Any

from .simulate import AnswerKey

SLACK = 3600.0


def _get(item: Any, name: str) -> Any:
    return item[name] if isinstance(item, dict) else getattr(item, name)


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def evaluate_patterns(patterns: list[Any], key: AnswerKey) -> dict[str, dict[str, Any]]:
    """Per pattern type: expected, found, true/false positives, background, precision, recall."""
    incidents = [i for i in key.incidents if i.kind == "pattern"]
    id_sets = [(inc, set(inc.event_ids)) for inc in incidents]
    background = [(set(b["types"]), set(b["event_ids"])) for b in key.background]
    types = sorted({i.incident_type for i in incidents} | {_get(p, "pattern_type") for p in patterns})
    out: dict[str, dict[str, Any]] = {
        t: {"expected": 0, "detected": 0, "findings": 0, "true_positives": 0, "false_positives": 0,
            "background": 0, "missed": []} for t in types}
    found: set[str] = set()
    for p in patterns:
        ptype, evidence = _get(p, "pattern_type"), set(_get(p, "evidence"))
        row = out[ptype]
        row["findings"] += 1
        hits = [inc for inc, ids in id_sets if evidence & ids and (ptype == inc.incident_type or ptype in inc.also)]
        if hits:
            row["true_positives"] += 1
            found.update(inc.incident_id for inc in hits if inc.incident_type == ptype)
        elif any(ptype in btypes and evidence & bids for btypes, bids in background):
            row["background"] += 1
        else:
            row["false_positives"] += 1
    for inc in incidents:
        row = out[inc.incident_type]
        row["expected"] += 1
        if inc.incident_id in found:
            row["detected"] += 1
        else:
            row["missed"].append(inc.incident_id)
    for row in out.values():
        row["precision"] = _ratio(row["true_positives"], row["true_positives"] + row["false_positives"])
        row["recall"] = _ratio(row["detected"], row["expected"])
    return out


def evaluate_anomalies(anomalies: list[Any], key: AnswerKey) -> dict[str, dict[str, Any]]:
    """Per anomaly type: findings, true/false positives, expected, detected, precision, recall."""
    types = sorted({_get(a, "anomaly_type") for a in anomalies} | {t for i in key.incidents for t in i.anomaly_types})
    out: dict[str, dict[str, Any]] = {
        t: {"expected": 0, "detected": 0, "findings": 0, "true_positives": 0, "false_positives": 0, "missed": []}
        for t in types}

    def overlaps(a: Any, inc) -> bool:
        user = _get(a, "affected_user")
        if user is not None and user not in inc.users:
            return False
        return _get(a, "timestamp") <= inc.end + SLACK and _get(a, "end") >= inc.start - SLACK

    for a in anomalies:
        row = out[_get(a, "anomaly_type")]
        row["findings"] += 1
        if any(overlaps(a, inc) for inc in key.incidents):
            row["true_positives"] += 1
        else:
            row["false_positives"] += 1
    for inc in key.incidents:
        for t in inc.anomaly_types:
            row = out[t]
            row["expected"] += 1
            if any(_get(a, "anomaly_type") == t and overlaps(a, inc) for a in anomalies):
                row["detected"] += 1
            else:
                row["missed"].append(inc.incident_id)
    for row in out.values():
        row["precision"] = _ratio(row["true_positives"], row["true_positives"] + row["false_positives"])
        row["recall"] = _ratio(row["detected"], row["expected"])
    return out


def format_table(scores: dict[str, dict[str, Any]]) -> str:
    """A plain-text table of a score dict (for benchmark output and closing notes)."""
    lines = [f"{'type':24} {'exp':>4} {'det':>4} {'find':>5} {'TP':>4} {'FP':>4} {'bg':>4} {'prec':>6} {'recall':>6}"]
    for name, row in scores.items():
        prec = "-" if row["precision"] is None else f"{row['precision']:.2f}"
        rec = "-" if row["recall"] is None else f"{row['recall']:.2f}"
        lines.append(f"{name:24} {row['expected']:>4} {row['detected']:>4} {row['findings']:>5} "
                     f"{row['true_positives']:>4} {row['false_positives']:>4} {row.get('background', 0):>4} "
                     f"{prec:>6} {rec:>6}")
    return "\n".join(lines)
