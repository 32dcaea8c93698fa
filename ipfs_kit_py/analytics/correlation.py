"""Event correlation, timelines, causation and impact, read straight from the audit log.

Correlation score of an event with a reference (both within ``time_window``
seconds): each shared trait is a piece of evidence with a weight, combined as
``1 − Π(1 − weight)`` and scaled by closeness in time (× 1 at the same
instant, × 0.5 at the edge of the window):

=====================================  ======
trait                                  weight
=====================================  ======
the reference's parent / its child     0.9
same operation_id                      0.8
same session_id                        0.6
same resource                          0.5
same user                              0.35
same source address (not local)        0.3
same backend                           0.2
related action (same family or group)  0.15
=====================================  ======

A trait counts only when *both* values are present: two events without an
operation id are not "the same operation". Related action groups: writes
(``content.add``, ``pin.add``, ``files.write``, ``car.import``), deletions
(``pin.rm``, ``files.rm``, ``content.gc``, ``audit.prune``), logins
(``auth.*``), and otherwise the family before the first dot.

Causation: explicit ``parent_id`` links first (confidence 1); without one,
the best-scoring earlier event in the window becomes an inferred cause
(confidence = its score, multiplied along the chain), with extra weight when a
failure precedes a failure (0.3) or a login / privilege / config change
precedes the event (0.2).

Impact: the event's explicit descendants, later events in the window that
correlate with it (score >= 0.3), and later failures on the backend or
resource it touched; a level from points with their reasons:
each downstream non-success +3 (<= 30), each other user affected +5 (<= 25),
each resource +1 (<= 15), each backend +5 (<= 10), the event's severity
(high +15, critical +25), a deletion / admin / config / privilege action +10,
the event failing +5. Level: 0 none, < 15 low, < 40 medium, < 70 high, else critical.
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass
from typing import Any

import polars as pl

from ..errors import InvalidInput, NotFound
from .frame import LOCAL_SOURCES, NON_SUCCESS, export_frame, iso, rows_as_events, window
from .patterns import ADMIN_ACTIONS, PRIVILEGE_ACTIONS
from .results import Result

WEIGHTS = {"parent": 0.9, "child": 0.9, "operation_id": 0.8, "session_id": 0.6, "resource": 0.5,
           "user_id": 0.35, "source_ip": 0.3, "backend": 0.2, "related_action": 0.15}
_GROUPS = {
    "write": ("content.add", "pin.add", "files.write", "car.import", "files.mkdir", "files.cp", "files.mv"),
    "delete": ("pin.rm", "files.rm", "content.gc", "audit.prune"),
}
_LABEL = {"operation_id": "same operation", "session_id": "same session", "resource": "same resource",
          "user_id": "same user", "source_ip": "same source address", "backend": "same backend"}
_DELETE_RE = r"(?:^|\.)(?:rm|remove|unpin|delete|gc|prune|purge)$"


@dataclass
class Correlation(Result):
    event: dict[str, Any]
    score: float
    reasons: list[str]
    time_offset: float          # seconds after (+) or before (−) the reference


def _action_group(action: str | None) -> str | None:
    if not action:
        return None
    for name, members in _GROUPS.items():
        if action in members:
            return name
    if action.startswith("auth."):
        return "auth"
    return action.split(".", 1)[0]


def _event_dict(event: Any) -> dict[str, Any]:
    data = event.to_dict() if hasattr(event, "to_dict") else dict(event)
    details = data.get("details")
    if isinstance(details, str):
        data["details"] = json.loads(details) if details else {}
    return data


class EventCorrelator:
    """Correlation, timelines, causation and impact over an ``AuditLogger``."""

    def __init__(self, audit_logger: Any, *, min_score: float = 0.2, max_results: int = 200):
        self._source = audit_logger
        self.min_score = min_score
        self.max_results = max_results

    # ---- helpers ------------------------------------------------------------------
    def _resolve(self, reference: Any) -> dict[str, Any]:
        """An event object, an event dict, or an event id → event dict (NotFound if unknown)."""
        if isinstance(reference, str):
            return _event_dict(self._get(reference))
        if isinstance(reference, dict):
            if "timestamp" not in reference:
                if "event_id" in reference:
                    return _event_dict(self._get(reference["event_id"]))
                raise InvalidInput("a reference event needs an event_id or a timestamp")
            return _event_dict(reference)
        if hasattr(reference, "event_id") and hasattr(reference, "timestamp"):
            return _event_dict(reference)
        raise InvalidInput(f"reference_event must be an event, an event dict or an event id, "
                           f"not {type(reference).__name__}")

    def _get(self, event_id: str) -> Any:
        if not isinstance(event_id, str) or not event_id.strip():
            raise InvalidInput(f"an event id must be a non-empty string, not {event_id!r}")
        return self._source.get_event(event_id)  # raises NotFound

    def _window(self, start: float, end: float) -> pl.DataFrame:
        return export_frame(self._source, start, end)

    def _scored(self, ref: dict[str, Any], frame: pl.DataFrame, time_window: float) -> pl.DataFrame:
        """``frame`` with a ``score`` column and one boolean column per trait shared with ``ref``."""
        traits: dict[str, pl.Expr] = {}
        ref_id = ref.get("event_id")
        traits["parent"] = pl.lit(bool(ref.get("parent_id"))) & (pl.col("event_id") == (ref.get("parent_id") or ""))
        traits["child"] = pl.lit(bool(ref_id)) & (pl.col("parent_id") == (ref_id or ""))
        for name in ("operation_id", "session_id", "resource", "user_id", "source_ip", "backend"):
            value = ref.get(name)
            present = bool(value) and not (name == "source_ip" and value in LOCAL_SOURCES)
            traits[name] = pl.lit(present) & (pl.col(name) == (value or "")).fill_null(False)
        group = _action_group(ref.get("action"))
        names = frame.get_column("action").unique().drop_nulls().to_list()
        related = [a for a in names if _action_group(a) == group] if group else []
        traits["related_action"] = pl.col("action").is_in(related)
        miss = pl.lit(1.0)
        for name, expr in traits.items():
            miss = miss * pl.when(expr.fill_null(False)).then(1 - WEIGHTS[name]).otherwise(1.0)
        offset = pl.col("timestamp") - float(ref["timestamp"])
        closeness = 1 - 0.5 * (offset.abs() / time_window).clip(0, 1)
        return frame.with_columns(*[e.fill_null(False).alias(f"t_{n}") for n, e in traits.items()],
                                  ((1 - miss) * closeness).alias("score"), offset.alias("offset"))

    @staticmethod
    def _reasons(row: dict[str, Any], ref: dict[str, Any]) -> list[str]:
        out = []
        if row["t_parent"]:
            out.append("caused the reference (its parent event)")
        if row["t_child"]:
            out.append("caused by the reference (child event)")
        for name, label in _LABEL.items():
            if row[f"t_{name}"]:
                out.append(f"{label} {ref[name]}")
        if row["t_related_action"]:
            out.append(f"related action {row['action']} ~ {ref.get('action')}")
        return out

    def _correlations(self, ref, scored: pl.DataFrame, min_score: float, limit: int) -> list[Correlation]:
        rows = scored.filter((pl.col("score") > 0) & (pl.col("score") >= min_score)
                             & (pl.col("event_id") != (ref.get("event_id") or "")))
        rows = rows.sort(["score", "timestamp"], descending=[True, False]).head(limit)
        events = rows_as_events(rows)
        out = []
        for event, row in zip(events, rows.iter_rows(named=True), strict=True):
            out.append(Correlation(event, round(row["score"], 4), self._reasons(row, ref), round(row["offset"], 3)))
        return out

    # ---- public API ---------------------------------------------------------------------
    def correlate_events(self, reference_event: Any, time_window: float = 300, *, min_score: float | None = None,
                         limit: int | None = None) -> list[Correlation]:
        """Events within ``time_window`` seconds of the reference, scored, with reasons (best first)."""
        window = _positive(time_window, "time_window")
        ref = self._resolve(reference_event)
        t = float(ref["timestamp"])
        scored = self._scored(ref, self._window(t - window, t + window), window)
        return self._correlations(ref, scored, self.min_score if min_score is None else min_score,
                                  limit or self.max_results)

    def reconstruct_timeline(self, operation_id: str) -> dict[str, Any]:
        """Every event of one operation in order, as a list and as a parent/child tree."""
        if not isinstance(operation_id, str) or not operation_id.strip():
            raise InvalidInput(f"operation_id must be a non-empty string, not {operation_id!r}")
        events = [_event_dict(e) for e in self._source.query_events(operation_id=operation_id, limit=None,
                                                                     order="asc")]
        if not events:
            raise NotFound(f"no audit events with operation id {operation_id}")
        start = events[0]["timestamp"]
        by_id = {e["event_id"]: e for e in events}
        children: dict[str | None, list[str]] = {}
        for e in events:
            parent = e.get("parent_id") if e.get("parent_id") in by_id else None
            children.setdefault(parent, []).append(e["event_id"])
        depth: dict[str, int] = {}
        queue = deque((eid, 0) for eid in children.get(None, []))
        while queue:
            eid, d = queue.popleft()
            depth[eid] = d
            queue.extend((c, d + 1) for c in children.get(eid, []))

        def tree(eid: str) -> dict[str, Any]:
            e = by_id[eid]
            return {"event_id": eid, "action": e["action"], "status": e["status"], "timestamp": e["timestamp"],
                    "children": [tree(c) for c in children.get(eid, [])]}

        for e in events:
            e["offset_ms"] = round((e["timestamp"] - start) * 1000, 3)
            e["depth"] = depth.get(e["event_id"], 0)
            e["timestamp_iso"] = iso(e["timestamp"])
        end = max(e["timestamp"] + (e.get("duration_ms") or 0) / 1000 for e in events)
        failures = [e["event_id"] for e in events if e["status"] in NON_SUCCESS]
        statuses = {e["status"] for e in events}
        outcome = next((s for s in ("error", "denied", "failure") if s in statuses), "success")
        return {
            "operation_id": operation_id, "start": start, "end": end, "start_iso": iso(start), "end_iso": iso(end),
            "duration_ms": round((end - start) * 1000, 3), "event_count": len(events), "status": outcome,
            "users": sorted({e["user_id"] for e in events if e.get("user_id")}),
            "resources": sorted({e["resource"] for e in events if e.get("resource")}),
            "backends": sorted({e["backend"] for e in events if e.get("backend")}),
            "actions": [e["action"] for e in events], "failures": failures,
            "root_event_ids": children.get(None, []), "tree": [tree(r) for r in children.get(None, [])],
            "events": events,
        }

    def analyze_causation(self, event_id: str, *, time_window: float = 300, max_depth: int = 10,
                          min_confidence: float = 0.1) -> dict[str, Any]:
        """What led to an event (explicit parents, then inferred causes) and what it caused directly.

        The inferred chain walks back from the event through the best-scoring earlier
        event, at most 5 steps, while the product of the scores stays >= ``min_confidence``.
        """
        window = _positive(time_window, "time_window")
        event = _event_dict(self._get(event_id))
        # 1. Explicit ancestors via parent_id.
        explicit = [self._link(event, "self", 1.0)]
        broken = None
        current, seen = event, {event["event_id"]}
        while current.get("parent_id") and len(explicit) <= max_depth:
            pid = current["parent_id"]
            if pid in seen:
                broken = f"parent link cycle at {pid}"
                break
            try:
                current = _event_dict(self._source.get_event(pid))
            except NotFound:
                broken = f"parent event {pid} is not in the log (pruned or never logged)"
                break
            seen.add(pid)
            explicit.append(self._link(current, "explicit", 1.0))
        explicit.reverse()
        # 2. Inferred causes: earlier events in the window, scored, for the oldest known link.
        t = float(event["timestamp"])
        frame = self._window(t - window, t + window)
        before = frame.filter((pl.col("timestamp") <= t) & ~pl.col("event_id").is_in(list(seen)))
        inferred = self._causes(event, before, window)
        chains = [{"kind": "explicit", "confidence": 1.0, "links": explicit}] if len(explicit) > 1 else []
        if inferred:
            chain, confidence, node, pool = [], 1.0, event, before
            for _ in range(min(max_depth, 5)):
                causes = self._causes(node, pool.filter(pl.col("timestamp") <= node["timestamp"]), window)
                if not causes:
                    break
                best = causes[0]
                if confidence * best.score < min_confidence:
                    break
                confidence *= best.score
                chain.append(self._link(best.event, "inferred", round(confidence, 4), best.reasons))
                node = best.event
                pool = pool.filter(pl.col("event_id") != node["event_id"])
            if chain:
                chains.append({"kind": "inferred", "confidence": round(confidence, 4),
                               "links": [*reversed(chain), self._link(event, "self", 1.0)]})
        effects = frame.filter(pl.col("parent_id") == event["event_id"]).sort("timestamp")
        return {
            "event": event, "has_explicit_parent": bool(event.get("parent_id")), "broken_link": broken,
            "explicit_chain": explicit, "inferred_causes": [c.to_dict() for c in inferred[:10]],
            "chains": chains, "direct_effects": rows_as_events(effects),
        }

    def _causes(self, event: dict[str, Any], before: pl.DataFrame, window: float) -> list[Correlation]:
        if before.is_empty():
            return []
        scored = self._scored(event, before, window)
        failing = event.get("status") in NON_SUCCESS
        state_change = (pl.col("event_type").is_in(["authentication", "config"])
                        | pl.col("action").str.contains(PRIVILEGE_ACTIONS))
        # Plausibility bonuses, only for events already related by at least one trait.
        bonus = pl.lit(0.0)
        if failing:
            bonus = bonus + pl.when(pl.col("status").is_in(NON_SUCCESS)).then(0.3).otherwise(0.0)
        bonus = bonus + pl.when(state_change).then(0.2).otherwise(0.0)
        scored = scored.with_columns(
            pl.when(pl.col("score") > 0).then(1 - (1 - pl.col("score")) * (1 - bonus)).otherwise(0.0).alias("score"),
            (pl.col("status").is_in(NON_SUCCESS) & pl.lit(failing)).alias("t_prior_failure"),
            state_change.alias("t_state_change"))
        out = self._correlations(event, scored, self.min_score, 20)
        rows = {r["event_id"]: r for r in scored.select("event_id", "t_prior_failure", "t_state_change", "action",
                                                        "status").iter_rows(named=True)}
        for c in out:
            r = rows[c.event["event_id"]]
            if r["t_prior_failure"]:
                c.reasons.append(f"earlier {r['status']} ({r['action']})")
            if r["t_state_change"]:
                c.reasons.append(f"state change before it ({r['action']})")
        return out

    @staticmethod
    def _link(event: dict[str, Any], kind: str, confidence: float, reasons: list[str] | None = None) -> dict:
        return {"event_id": event["event_id"], "timestamp": event["timestamp"], "timestamp_iso": iso(event["timestamp"]),
                "event_type": event["event_type"], "action": event["action"], "status": event["status"],
                "user_id": event.get("user_id"), "link": kind, "confidence": confidence, "reasons": reasons or []}

    def assess_impact(self, event_id: str, time_window: float = 300) -> dict[str, Any]:
        """Downstream events, who and what they touched, and an impact level with its reasons."""
        window = _positive(time_window, "time_window")
        event = _event_dict(self._get(event_id))
        t = float(event["timestamp"])
        frame = self._window(t, t + window)
        # Explicit descendants: follow parent links forward inside the window.
        descendants: list[str] = []
        frontier = {event["event_id"]}
        edges = frame.filter(pl.col("parent_id").is_not_null()).select("event_id", "parent_id")
        while frontier:
            nxt = edges.filter(pl.col("parent_id").is_in(list(frontier))).get_column("event_id").to_list()
            nxt = [e for e in nxt if e not in descendants and e != event["event_id"]]
            descendants += nxt
            frontier = set(nxt)
        scored = self._scored(event, frame.filter(pl.col("event_id") != event["event_id"]), window)
        # Failures on the backend or resource the event touched count even when little else is shared.
        touched_failure = pl.col("status").is_in(NON_SUCCESS) & (pl.col("t_backend") | pl.col("t_resource"))
        downstream = scored.filter(pl.col("event_id").is_in(descendants) | (pl.col("score") >= 0.3)
                                   | touched_failure).with_columns(
            pl.when(pl.col("event_id").is_in(descendants)).then(pl.lit("descendant")).otherwise(pl.lit("correlated"))
            .alias("relation")).sort("timestamp")
        users = sorted(set(downstream.get_column("user_id").drop_nulls().to_list()))
        resources = sorted(set(downstream.get_column("resource").drop_nulls().to_list())
                           | ({event["resource"]} if event.get("resource") else set()))
        backends = sorted(set(downstream.get_column("backend").drop_nulls().to_list())
                          | ({event["backend"]} if event.get("backend") else set()))
        by_status = dict(downstream.group_by("status").len().iter_rows()) if downstream.height else {}
        failures = sum(by_status.get(s, 0) for s in NON_SUCCESS)
        other_users = [u for u in users if u != event.get("user_id")]
        points, reasons = 0, []

        def add(value: int, reason: str) -> None:
            nonlocal points
            if value > 0:
                points += value
                reasons.append(f"{reason} (+{value})")

        add(min(30, 3 * failures), f"{failures} downstream non-success event(s)")
        add(min(25, 5 * len(other_users)), f"{len(other_users)} other user(s) affected")
        add(min(15, len(resources)), f"{len(resources)} resource(s) involved")
        add(min(10, 5 * len(backends)), f"{len(backends)} backend(s) involved")
        add({"high": 15, "critical": 25}.get(event.get("severity"), 0), f"event severity {event.get('severity')}")
        action = event.get("action") or ""
        if re.search(_DELETE_RE, action) or re.search(ADMIN_ACTIONS, action) or re.search(PRIVILEGE_ACTIONS, action) \
                or event.get("event_type") in ("admin", "config"):
            add(10, f"{action} changes data, configuration or rights")
        if event.get("status") in NON_SUCCESS:
            add(5, f"the event itself ended in {event['status']}")
        level = "none" if points == 0 else "low" if points < 15 else "medium" if points < 40 else \
            "high" if points < 70 else "critical"
        items = []
        for e, row in zip(rows_as_events(downstream.head(self.max_results)),
                          downstream.head(self.max_results).iter_rows(named=True), strict=True):
            items.append({"event_id": e["event_id"], "timestamp": e["timestamp"], "action": e["action"],
                          "status": e["status"], "user_id": e.get("user_id"), "resource": e.get("resource"),
                          "backend": e.get("backend"), "relation": row["relation"], "score": round(row["score"], 4),
                          "reasons": self._reasons(row, event)})
        return {
            "event": event, "time_window": window, "impact_level": level, "impact_score": min(points, 100),
            "reasons": reasons, "downstream_count": downstream.height, "descendant_count": len(descendants),
            "status_counts": {s: int(by_status.get(s, 0)) for s in ("success", *NON_SUCCESS)},
            "affected_users": users, "affected_resources": resources, "affected_backends": backends,
            "downstream_events": items,
        }


def _positive(value: Any, name: str) -> float:
    """A window in seconds (the shared analytics check: finite, > 0, at most 100 years)."""
    return window(value, name, 1.0)
