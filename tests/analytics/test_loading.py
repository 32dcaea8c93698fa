"""Loading shortcuts give the analyses exactly what the slow path gives.

- the column snapshot (``audit.columns``) vs SQL: same findings;
- ``normalize`` skipping the sort for rows already in time order vs sorting;
- ``dormant_reactivation`` without look-ups when the loaded history is the whole log.
"""

from __future__ import annotations

import json
from datetime import timedelta

import polars as pl

from ipfs_kit_py.analytics import AuditAnalytics
from ipfs_kit_py.analytics.frame import DAY, EVENT_COLUMNS, normalize
from ipfs_kit_py.analytics.patterns import PatternContext, dormant_reactivation
from ipfs_kit_py.audit import columns as colmod

from .conftest import END


def _canon(items) -> list[str]:
    return sorted(json.dumps(i.to_dict(), sort_keys=True, default=str) for i in items)


def _analyses(logger) -> dict:
    a = AuditAnalytics(logger)
    return {
        "patterns": _canon(a.analyze_patterns(timedelta(days=14), confidence=0.0, end_time=END)),
        "anomalies": _canon(a.detect_anomalies(days=14, end_time=END)),
        "auth_only": _canon(a.analyze_patterns(timedelta(days=3), confidence=0.0, end_time=END,
                                               event_types=["authentication"])),
    }


def test_snapshot_gives_the_same_findings_as_sql(scenario, monkeypatch):
    logger, _ = scenario
    monkeypatch.setattr(colmod, "SNAPSHOT_MIN_ROWS", 10**12)  # SQL only
    want = _analyses(logger)
    assert want["patterns"] and want["anomalies"]
    monkeypatch.setattr(colmod, "SNAPSHOT_MIN_ROWS", 100)
    built = _analyses(logger)  # builds the snapshot
    assert (colmod.snapshot_dir(logger.path) / "manifest.json").exists()
    colmod._LOADED.clear()  # as a new process would: segments read from disk and checked
    assert built == want
    assert _analyses(logger) == want


def test_normalize_skips_the_sort_only_when_rows_are_in_time_order(scenario):
    logger, _ = scenario
    raw = logger.export_columns(start_time=END - 5 * DAY, columns=list(EVENT_COLUMNS))
    in_order = normalize(raw)
    assert in_order.equals(normalize(raw.reverse()))
    assert in_order.equals(normalize(raw.sample(fraction=1.0, shuffle=True, seed=3)))
    # Equal timestamps are ordered by seq.
    tied = raw.head(50).with_columns(pl.lit(END).alias("timestamp"))
    assert normalize(tied.reverse())["seq"].to_list() == sorted(tied["seq"].to_list())
    assert normalize(tied)["seq"].to_list() == sorted(tied["seq"].to_list())


def test_dormant_reactivation_needs_no_lookups_when_history_is_complete(scenario):
    logger, key = scenario
    start = END - 14 * DAY
    df = AuditAnalytics(logger).frame(None, END)
    assert df.height == logger.count()
    looked_up = dormant_reactivation(PatternContext(df, start, END, 200, logger))
    complete = dormant_reactivation(PatternContext(df, start, END, 200, logger, history_complete=True))
    assert _canon(complete) == _canon(looked_up)
    assert any(set(p.evidence) & set(key.of_type("dormant_reactivation")[0].event_ids) for p in complete)
