"""Result types: plain dataclasses with ``to_dict()`` (JSON-serializable).

Times are UTC epoch seconds (floats), like the audit events themselves;
``to_dict()`` adds an ISO 8601 twin (``*_iso``) for people reading the JSON.
Item access (``pattern["confidence"]``) works too, for callers that treat
results as dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from .frame import iso

_TIME_FIELDS = ("first_seen", "last_seen", "timestamp", "end", "start")


class Result:
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = _plain(value)
            if f.name in _TIME_FIELDS and isinstance(value, int | float):
                out[f.name + "_iso"] = iso(value)
        return out

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None


def _plain(value: Any) -> Any:
    if isinstance(value, Result):
        return value.to_dict()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass
class Pattern(Result):
    """One detected behaviour pattern, with the events that show it.

    ``occurrences``: how many events show it (for ``recurring_sequence``: how many
    runs of the sequence); ``evidence``: their ids, most telling first, capped.
    """

    pattern_type: str
    description: str
    occurrences: int
    first_seen: float
    last_seen: float
    confidence: float
    affected_users: list[str]
    evidence: list[str]
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Anomaly(Result):
    """A time bucket (or run of buckets) whose value is far from its robust baseline."""

    anomaly_type: str
    severity: str
    timestamp: float
    end: float
    metric: str
    value: float
    deviation_score: float
    affected_user: str | None
    evidence: list[str]
    baseline: dict[str, Any]
    description: str


@dataclass
class Violation(Result):
    rule: str
    description: str
    severity: str
    count: int
    evidence: list[str]
    user: str | None = None
    first_seen: float | None = None
    last_seen: float | None = None


@dataclass
class RuleScore(Result):
    rule: str
    score: float
    weight: float
    checked: int
    violations: int
    status: str  # pass | fail | not_applicable
    description: str


@dataclass
class ComplianceScore(Result):
    policy: str
    overall_score: float
    grade: str
    start: float
    end: float
    rules: list[RuleScore]
    violations: list[Violation]
    recommendations: list[str]
