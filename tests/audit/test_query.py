"""Queries, counts, paging, columnar export, tail and follow — on both stores."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import polars as pl
import pytest

from ipfs_kit_py.errors import InvalidInput

T0 = 1_700_000_000.0
USERS = ("alice", "bob", "carol")
TYPES = ("data", "authentication", "backend")
STATUSES = ("success", "success", "failure", "denied", "error")


def _populate(log, n: int = 60, layout: str = "batch") -> list:
    """n events one minute apart, with fields cycling through known values.

    ``layout``: one ``log_events`` call (one block), one ``log_event`` each
    (the open tail, sealed blocks and merged blocks), or batches of 7.
    """
    batch = []
    for i in range(n):
        batch.append(dict(
            event_type=TYPES[i % 3], action=("content.add", "content.cat", "pin.rm", "auth.login")[i % 4],
            status=STATUSES[i % 5], user_id=USERS[i % 3], resource=f"Qm{i % 7}",
            operation_id=f"op{i // 10}", session_id=f"s{i % 2}", source_ip=f"10.0.0.{i % 4}",
            timestamp=T0 + 60 * i, bytes=i,
        ))
    if layout == "batch":
        ids = log.log_events(batch)
    elif layout == "singles":
        ids = [log.log_event(**b).event_id for b in batch]
    else:
        ids = [i for k in range(0, n, 7) for i in log.log_events(batch[k:k + 7])]
    return list(zip(ids, batch, strict=True))


def _expected(rows, pred, reverse=True):
    chosen = [(b["timestamp"], i) for i, b in rows if pred(b)]
    return [i for _, i in sorted(chosen, reverse=reverse)]


@pytest.mark.parametrize(
    ("filters", "pred"),
    [
        ({}, lambda b: True),
        ({"event_types": "data"}, lambda b: b["event_type"] == "data"),
        ({"event_types": ["data", "backend"]}, lambda b: b["event_type"] in ("data", "backend")),
        ({"user_id": "bob"}, lambda b: b["user_id"] == "bob"),
        ({"status": "failure"}, lambda b: b["status"] == "failure"),
        ({"status": ["denied", "error"]}, lambda b: b["status"] in ("denied", "error")),
        ({"action": "pin.rm"}, lambda b: b["action"] == "pin.rm"),
        ({"action": "content.*"}, lambda b: b["action"].startswith("content.")),
        ({"resource": "Qm3"}, lambda b: b["resource"] == "Qm3"),
        ({"operation_id": "op2"}, lambda b: b["operation_id"] == "op2"),
        ({"session_id": "s1"}, lambda b: b["session_id"] == "s1"),
        ({"source_ip": "10.0.0.3"}, lambda b: b["source_ip"] == "10.0.0.3"),
        ({"start_time": T0 + 600, "end_time": T0 + 1200}, lambda b: T0 + 600 <= b["timestamp"] < T0 + 1200),
        ({"start_time": datetime.fromtimestamp(T0 + 3000, UTC)}, lambda b: b["timestamp"] >= T0 + 3000),
        ({"end_time": "2023-11-14T22:20:00Z"}, lambda b: b["timestamp"] < 1_699_999_200 + 1200),
        ({"user_id": "alice", "status": "success", "event_types": "data"},
         lambda b: b["user_id"] == "alice" and b["status"] == "success" and b["event_type"] == "data"),
    ],
)
@pytest.mark.parametrize("layout", ["batch", "singles", "batches"])
def test_filters_match_and_count_agrees(log, filters, pred, layout):
    rows = _populate(log, 200 if layout == "singles" else 60, layout)
    want = _expected(rows, pred)
    got = log.query_events(**filters, limit=None)
    assert [e.event_id for e in got] == want
    assert log.count(**filters) == len(want)
    assert [e.event_id for e in log.query_events(**filters, limit=None, order="asc")] == want[::-1]
    assert all(pred(b) for b in (e.to_dict() for e in got))


def test_limit_offset_paging_covers_everything_once(log):
    rows = _populate(log, 47)
    want = _expected(rows, lambda b: True)
    pages = [log.query_events(limit=10, offset=k) for k in range(0, 50, 10)]
    assert [len(p) for p in pages] == [10, 10, 10, 10, 7]
    assert [e.event_id for p in pages for e in p] == want
    assert log.query_events(limit=0) == []


def test_cursor_paging_is_stable_while_events_arrive(log):
    rows = _populate(log, 35)
    want = _expected(rows, lambda b: True)
    seen, cursor = [], None
    while True:
        page = log.query_page(limit=8, cursor=cursor)
        seen += [e.event_id for e in page.events]
        # Newer events logged mid-paging must not shift later pages.
        log.log_event("data", "content.add", timestamp=T0 + 10_000_000)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == want
    asc = log.query_page(limit=5, order="asc", user_id="alice")
    nxt = log.query_page(limit=5, order="asc", user_id="alice", cursor=asc.next_cursor)
    alice = _expected(rows, lambda b: b["user_id"] == "alice", reverse=False)
    assert [e.event_id for e in asc.events + nxt.events] == alice[:10]


def test_bad_query_arguments(log):
    _populate(log, 3)
    with pytest.raises(InvalidInput, match="cursor"):
        log.query_events(cursor="01HNOTANEVENT")
    with pytest.raises(InvalidInput, match="unknown filter"):
        log.query_events(colour="red")
    with pytest.raises(InvalidInput, match="order"):
        log.query_events(order="sideways")
    with pytest.raises(InvalidInput, match="limit"):
        log.query_events(limit=-1)
    with pytest.raises(InvalidInput, match="invalid time"):
        log.count(start_time="last tuesday")


def test_export_columns(log):
    rows = _populate(log, 30)
    frame = log.export_columns()
    assert frame.height == 30
    assert frame.schema["timestamp"] == pl.Float64 and frame.schema["bytes"] == pl.Int64
    assert frame["seq"].to_list() == list(range(1, 31))
    assert frame["event_id"].to_list() == [i for i, _ in rows]
    assert frame["user_id"].to_list() == [b["user_id"] for _, b in rows]
    assert frame["parent_id"].null_count() == 30
    window = log.export_columns(T0 + 300, T0 + 900, ["data", "backend"])
    want = [i for i, b in rows if T0 + 300 <= b["timestamp"] < T0 + 900 and b["event_type"] != "authentication"]
    assert window["event_id"].to_list() == want
    only_bob = log.export_columns(user_id="bob", status="success")
    assert only_bob.height == log.count(user_id="bob", status="success") > 0
    empty = log.export_columns(T0 - 100, T0 - 50)
    assert empty.height == 0 and empty.schema == frame.schema


def test_tail_and_follow(log):
    rows = _populate(log, 12)
    assert [e.event_id for e in log.tail(5)] == [i for i, _ in rows[-5:]]
    assert log.tail(0) == []

    def writer():
        for k in range(3):
            log.log_event("system", f"later.{k}")

    thread = threading.Timer(0.2, writer)
    thread.start()
    followed = list(log.follow(poll_interval=0.05, max_seconds=20, count=3))
    thread.join()
    assert [e.action for e in followed] == ["later.0", "later.1", "later.2"]
    assert [e.seq for e in followed] == [13, 14, 15]
    # A time bound ends an idle follow.
    assert list(log.follow(poll_interval=0.05, max_seconds=0.2)) == []
    assert [e.seq for e in log.follow(after_seq=10, max_seconds=0)] == [11, 12, 13, 14, 15]
