"""Tamper evidence, crash safety and concurrent writers, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.audit.conftest import LogTarget
from tests.conftest import run_cli


def _fill(log, n=10, layout="tail"):
    """Events logged one call each: left in the open tail, or then sealed into a block."""
    ids = [log.log_event("data", "content.add", user_id=f"u{i}", resource=f"r{i}").event_id for i in range(n)]
    if layout == "block":
        _seal(log)
    return ids


def _seal(log):
    with log.store.write() as tx:
        tx.seal()


LAYOUTS = pytest.mark.parametrize("layout", ["tail", "block"])


def _blocks(target):
    return target.raw_query("SELECT first_seq, last_seq FROM audit_blocks ORDER BY first_seq")


@LAYOUTS
def test_untouched_chain_verifies(target, log, layout):
    _fill(log, layout=layout)
    assert _blocks(target) == ([(1, 10)] if layout == "block" else [])
    result = log.verify()
    assert result.ok and result.checked == 10


@LAYOUTS
def test_edited_row_is_detected_with_its_event_id(target, log, layout):
    ids = _fill(log, layout=layout)
    target.tamper.edit(5, "user_id", "mallory")
    result = log.verify()
    assert not result.ok
    assert result.first_bad_event_id == ids[4] and result.first_bad_seq == 5 and result.problem == "edited"


def test_a_deleted_block_is_detected(target, log):
    ids = []
    for _ in range(3):
        ids += _fill(log, n=3, layout="block")
    assert _blocks(target) == [(1, 3), (4, 6), (7, 9)]
    target.raw_execute("DELETE FROM audit_blocks WHERE first_seq = 4")
    result = log.verify()
    assert not result.ok
    # The first broken link is the event after the hole; the reason names the hole.
    assert result.first_bad_seq == 7 and result.first_bad_event_id == ids[6]
    assert result.problem == "deleted" and "seq 4..6 missing" in result.reason


@LAYOUTS
def test_an_event_deleted_from_inside_a_block_or_the_tail_is_detected(target, log, layout):
    ids = _fill(log, layout=layout)
    target.tamper.delete(7)  # the line and its link removed (a block is relabelled 1..9)
    result = log.verify()
    assert not result.ok
    # The event after the hole now sits at seq 7 and links to an event that is gone.
    assert result.first_bad_event_id == ids[7] and result.problem == "deleted"


def test_an_event_removed_without_relabelling_its_block_is_detected(target, log):
    ids = _fill(log, layout="block")
    bodies, links = target.raw_query("SELECT bodies, links FROM audit_blocks WHERE first_seq = 1")[0]
    lines = bytes(bodies).split(b"\n")
    target.raw_execute("UPDATE audit_blocks SET bodies = ?, links = ? WHERE first_seq = 1",
                       (b"\n".join(lines[:-1]), links[:-128]))
    result = log.verify()
    # The block holds fewer events than its label says.
    assert not result.ok and result.problem == "deleted" and result.first_bad_event_id == ids[0]
    assert "holds 9 events" in result.reason


@LAYOUTS
def test_deleted_last_event_is_detected(target, log, layout):
    _fill(log, layout=layout)
    target.tamper.delete(10)
    assert not log.verify().ok


@LAYOUTS
def test_a_rewound_or_deleted_chain_head_is_detected(target, log, layout):
    ids = _fill(log, layout=layout)
    head_hash = log.get_event(ids[2]).hash
    target.raw_execute("UPDATE audit_chain SET head_seq = 3, head_hash = ?", (head_hash,))
    result = log.verify()
    assert not result.ok and result.problem == "head" and result.first_bad_event_id == ids[3]
    anchored = log.get_event(ids[-1])  # what `audit checkpoint` anchors
    # Deleted outright: the next open makes an empty head. Events in blocks still show; the open
    # tail lives in the chain row and goes with it, as truncation that a checkpoint reveals.
    target.raw_execute("DELETE FROM audit_chain")
    with target.open() as reopened:
        if layout == "block":
            result = reopened.verify()
            assert not result.ok and result.first_bad_seq == 1 and result.first_bad_event_id == ids[0]
        result = reopened.verify(end_seq=anchored.seq, expect_hash=anchored.hash)
        assert not result.ok and result.problem == "deleted" and result.first_bad_seq == 1
        assert "before the anchored seq 10" in result.reason


@pytest.mark.parametrize("wipe", ["tail_first_seq = NULL, tail_bodies = NULL, tail_links = NULL",
                                  "tail_bodies = ?, tail_links = ''"])
def test_a_wiped_tail_is_detected(target, log, wipe):
    _fill(log)
    target.raw_execute(f"UPDATE audit_chain SET {wipe}", (b"",) if "?" in wipe else ())
    with target.open() as reopened:
        result = reopened.verify()
        assert not result.ok and result.problem == "deleted" and "head is seq 10" in result.reason
        # The log stays writable; the loss stays visible.
        reopened.log_event("data", "content.add")
        assert not reopened.verify().ok


def test_values_of_the_wrong_type_are_reported_as_edits(target, log):
    ids = []
    for _ in range(3):
        ids += _fill(log, n=1, layout="block")
    target.tamper.edit(3, "bytes", "x")
    result = log.verify()
    assert not result.ok and result.problem == "edited" and result.first_bad_event_id == ids[2]
    # Bytes that are not JSON at all: still an edit at that event, named from the id index.
    target.raw_execute("UPDATE audit_blocks SET bodies = ? WHERE first_seq = 2", (b"\x00garbage",))
    result = log.verify()
    assert not result.ok and result.problem == "edited" and result.first_bad_event_id == ids[1]


@LAYOUTS
def test_swapped_rows_are_detected(target, log, layout):
    ids = _fill(log, layout=layout)
    target.tamper.swap(3, 4)  # content, ids and hashes of seq 3 and seq 4 exchanged
    result = log.verify()
    assert not result.ok
    assert result.first_bad_event_id == ids[3] and result.first_bad_seq == 3


def test_a_block_time_range_edited_to_hide_events_is_detected(target, log):
    ids = _fill(log, layout="block")
    # Queries trust the block's time range: moving it hides the events from a time query.
    target.raw_execute("UPDATE audit_blocks SET min_ts = 1, max_ts = 2")
    assert log.count(start_time=time.time() - 60) == 0
    result = log.verify()
    assert not result.ok and result.problem == "edited" and result.first_bad_event_id == ids[0]
    assert "time range" in result.reason


def test_cli_verify_fails_on_tampering(home):
    assert run_cli(home, "add", "-q", "-", input=b"a").code == 0
    assert run_cli(home, "add", "-q", "-", input=b"b").code == 0
    assert run_cli(home, "audit", "verify").code == 0

    LogTarget("sqlite", path=home / "audit.db").tamper.edit(2, "bytes", 999)
    r = run_cli(home, "audit", "verify", "--json")
    assert r.code != 0
    assert r.json()["first_bad_seq"] == 2


_WRITER = """
import sys
from ipfs_kit_py.audit.logger import AuditLogger
log = AuditLogger(path=sys.argv[1])
tag = sys.argv[2]
i = 0
while True:
    ev = log.log_event("data", "bench.write", user_id=tag, details={"i": i})
    print(ev.event_id, flush=True)
    i += 1
    if len(sys.argv) > 3 and i >= int(sys.argv[3]):
        break
"""


def test_sigkill_loses_no_committed_event(tmp_path):
    path = tmp_path / "audit.db"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path), "w"], stdout=subprocess.PIPE, text=True)
    committed = []
    deadline = time.monotonic() + 20
    while len(committed) < 300 and time.monotonic() < deadline:
        committed.append(proc.stdout.readline().strip())
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    from ipfs_kit_py.audit.logger import AuditLogger

    with AuditLogger(path=path) as log:
        stored = {e.event_id for e in log.query_events(limit=100000)}
        assert set(committed) <= stored
        assert log.verify().ok


def test_four_processes_log_concurrently(tmp_path):
    path = tmp_path / "audit.db"
    from ipfs_kit_py.audit.logger import AuditLogger

    AuditLogger(path=path).close()  # create the schema once
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), f"w{n}", "150"],
                              stdout=subprocess.PIPE, text=True) for n in range(4)]
    printed = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        printed += out.split()
    assert len(printed) == 600 and len(set(printed)) == 600
    with AuditLogger(path=path) as log:
        events = log.query_events(limit=100000, order="asc")
        assert sorted(e.event_id for e in events) == sorted(printed)
        assert sorted(e.seq for e in events) == list(range(1, 601))  # no gaps, no forks
        assert log.verify().ok
    assert os.path.getsize(path) > 0


_IMPORTER = """
import sys
from ipfs_kit_py.audit.logger import AuditLogger
url, path, file = sys.argv[1] or None, sys.argv[2] or None, sys.argv[3]
with AuditLogger(url, path=path) as log:
    report = log.import_events(file, "jsonl")
print(report.imported, report.duplicates)
"""


def test_parallel_imports_of_one_file_import_each_event_once(target, tmp_path):
    lines = [json.dumps({"event_id": f"imp-{i}", "event_type": "data", "action": "x.y", "status": "success",
                         "timestamp": 1_700_000_000.0 + i}) for i in range(5000)]
    path = tmp_path / "same.jsonl"
    path.write_text("\n".join(lines) + "\n")
    target.open().close()  # the schema exists before the race
    procs = [subprocess.Popen([sys.executable, "-c", _IMPORTER, target.url or "", str(target.path or ""), str(path)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    reports = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        reports.append(tuple(map(int, out.split())))
    assert sum(r[0] for r in reports) == 5000 and sum(r[1] for r in reports) == 15000
    with target.open() as log:
        assert log.count(action="x.y") == 5000 and log.verify().ok


def test_block_keys_edited_to_hide_events_are_detected(target, log):
    ids = _fill(log, layout="block")
    assert [e.event_id for e in log.query_events(resource="r3")] == [ids[3]]
    # Lookups trust a block's value keys: emptying them hides its events from exact lookups.
    target.raw_execute("UPDATE audit_blocks SET keys = ?", (b"",))
    assert log.query_events(resource="r3") == []
    result = log.verify()
    assert not result.ok and result.problem == "edited" and "value keys" in result.reason


def test_logging_goes_on_after_the_open_tail_was_damaged(target, log):
    ids = _fill(log, n=3)
    target.raw_execute("UPDATE audit_chain SET tail_bodies = ?", (b"garbage\nmore\njunk",))
    # Enough events to seal the tail: the damaged events are kept in a block of their own.
    later = [log.log_event("data", "content.cat", user_id="u", resource=f"x{i}").event_id for i in range(40)]
    assert [e.event_id for e in log.query_events(start_time=time.time() - 3600, limit=None, order="asc")] == later
    assert log.get_event(later[-1]).seq == 43
    result = log.verify()
    assert not result.ok and result.problem == "edited" and result.first_bad_seq == 1
    assert result.first_bad_event_id is None or result.first_bad_event_id == ids[0]
