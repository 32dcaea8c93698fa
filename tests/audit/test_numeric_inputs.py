"""Numbers and text at the edges: non-finite and huge times, durations, counts and sizes,
control characters in names. Bad input is a one-line InvalidInput and nothing is written."""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import timedelta

import pytest

from ipfs_kit_py.audit.auth import TokenStore
from ipfs_kit_py.audit.events import prepare_row
from ipfs_kit_py.audit.timeparse import format_time, parse_duration, parse_time
from ipfs_kit_py.errors import InvalidInput
from tests.conftest import assert_one_line_error, run_cli

HUGE_INT = 99999999999999999999999


# ---- durations and times ------------------------------------------------------------


@pytest.mark.parametrize("value", ["99999999999999d", "100000000w", "9999999999999999999999999", "36526d",
                                   math.inf, math.nan, 1e308, 10 ** 400, timedelta(days=999999999)])
def test_durations_must_be_finite_and_at_most_100_years(value):
    with pytest.raises(InvalidInput) as err:
        parse_duration(value)
    assert "\n" not in str(err.value) and len(str(err.value)) < 200


def test_longest_duration_is_100_years():
    assert parse_duration("36525d") == 36525 * 86400
    assert parse_duration("30d") == 30 * 86400


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "NaN", math.nan, math.inf, 1e300, 10 ** 400,
                                   "0001-01-01T00:00:00+01:00"])
def test_times_must_be_finite_and_representable(value):
    with pytest.raises(InvalidInput, match="time"):
        parse_time(value)


def test_ordinary_times_still_parse():
    assert parse_time("1700000000.5") == 1700000000.5
    assert parse_time("2024-05-01") == 1714521600.0
    assert parse_time("24h", now=1_000_000.0) == 1_000_000.0 - 86400


@pytest.mark.parametrize("value", [8.64e18, -1e300, math.inf, math.nan])
def test_format_time_never_fails(value):
    text = format_time(value)
    assert "out of range" in text and "\n" not in text


def test_query_rejects_non_finite_times(log):
    log.log_event("data", "content.add")
    for bad in ("nan", "inf", "1e400"):
        with pytest.raises(InvalidInput, match="invalid time"):
            log.query_events(start_time=bad)


# ---- tokens ---------------------------------------------------------------------------


def test_token_with_too_long_expiry_is_not_stored(tmp_path):
    store = TokenStore(tmp_path / "auth.db")
    for expires in ("99999999999999d", "100000000w", "9999999999999999999999999", math.inf):
        with pytest.raises(InvalidInput, match="duration"):
            store.create("a", "reader", expires)
    assert store.list() == []
    store.close()


@pytest.mark.parametrize("user", ["a\nb", "a\tb", "a\x00b", "a\x1bb", "a\u2028b"])
def test_token_user_names_refuse_control_characters(tmp_path, user):
    store = TokenStore(tmp_path / "auth.db")
    with pytest.raises(InvalidInput, match="control characters"):
        store.create(user, "reader")
    assert store.list() == []
    store.close()


def test_a_damaged_token_row_does_not_break_listing(home):
    TokenStore(home / "auth.db").close()
    with sqlite3.connect(home / "auth.db") as conn:  # rows written before expiry was bounded
        conn.execute("INSERT INTO tokens (token_id, token_hash, user_id, role, created_at, expires_at)"
                     " VALUES ('tok_aaaaaaaaaaaa', 'h1', 'a', 'reader', 1.7e9, 8.64e18)")
        conn.execute("INSERT INTO tokens (token_id, token_hash, user_id, role, created_at, expires_at)"
                     " VALUES ('tok_bbbbbbbbbbbb', 'h2', 'b', 'reader', 1.7e9, 9e999)")
    r = run_cli(home, "auth", "token", "list")
    assert r.code == 0, r.stderr
    assert "tok_aaaaaaaaaaaa" in r.out and "tok_bbbbbbbbbbbb" in r.out
    listed = run_cli(home, "auth", "token", "list", "--json").json()  # valid JSON: no Infinity
    assert {t["token_id"]: t["expires_at"] for t in listed} == {"tok_aaaaaaaaaaaa": 8.64e18,
                                                                "tok_bbbbbbbbbbbb": None}


def test_cli_token_with_huge_expiry_is_refused_and_listing_keeps_working(home):
    for expires in ("99999999999999d", "100000000w", "9999999999999999999999999"):
        r = run_cli(home, "auth", "token", "create", "--user", "a", "--role", "reader", "--expires", expires)
        assert_one_line_error(r, "100 years")
        assert r.code == 2 and r.out == ""
    r = run_cli(home, "auth", "token", "create", "--user", "a\nb", "--role", "reader")
    assert_one_line_error(r, "control characters")
    listed = run_cli(home, "auth", "token", "list", "--json")
    assert listed.code == 0 and listed.json() == []


# ---- events: action, bytes, timestamps ----------------------------------------------------


@pytest.mark.parametrize("action", ["\u0000", "a\nb", "content.\x7fadd", "x\u0085y"])
def test_actions_refuse_control_characters(action):
    with pytest.raises(InvalidInput, match="control characters"):
        prepare_row("data", action)


def test_bytes_must_fit_a_64_bit_integer(log):
    assert prepare_row("data", "content.add", bytes=(1 << 63) - 1)[14] == (1 << 63) - 1
    for size in (1 << 63, HUGE_INT):
        with pytest.raises(InvalidInput, match="bytes must be an integer"):
            log.log_event("data", "content.add", bytes=size)
    assert log.count() == 0
    assert log.log_event("data", "content.add", bytes=(1 << 63) - 1).bytes == (1 << 63) - 1


@pytest.mark.parametrize("kwargs", [{"timestamp": 10 ** 400}, {"duration_ms": 10 ** 400},
                                    {"timestamp": math.nan}, {"duration_ms": math.inf}])
def test_huge_and_non_finite_numbers_are_invalid_input(kwargs):
    with pytest.raises(InvalidInput):
        prepare_row("data", "content.add", **kwargs)


# ---- import: bad numbers are bad lines ----------------------------------------------------

BAD_LINES = [
    '{"event_type": "data", "action": "a", "timestamp": 1e400}',
    '{"event_type": "data", "action": "a", "timestamp": NaN}',
    '{"event_type": "data", "action": "a", "timestamp": 1700000000, "bytes": 99999999999999999999999}',
    '{"event_type": "data", "action": "\\u0000", "timestamp": 1700000000}',
]


def _import_file(tmp_path):
    good = json.dumps({"event_type": "data", "action": "content.add", "timestamp": 1700000000.0})
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join([good, *BAD_LINES]) + "\n")
    return path


def test_import_reports_bad_numbers_per_line(log, tmp_path):
    report = log.import_events(_import_file(tmp_path), "jsonl")
    assert report.imported == 1
    assert [s.line for s in report.skipped] == [2, 3, 4, 5]
    reasons = [s.reason for s in report.skipped]
    assert "timestamp" in reasons[0] and "timestamp" in reasons[1]
    assert "bytes" in reasons[2] and "control characters" in reasons[3]
    assert log.verify().ok


def test_strict_import_of_bad_numbers_writes_nothing(log, tmp_path):
    with pytest.raises(InvalidInput, match="4 bad line"):
        log.import_events(_import_file(tmp_path), "jsonl", strict=True)
    assert log.count() == 0


def test_cli_import_of_bad_numbers(home, tmp_path):
    path = _import_file(tmp_path)
    r = run_cli(home, "audit", "import", str(path), "--strict")
    assert_one_line_error(r, "bad line")
    assert r.code == 2
    r = run_cli(home, "audit", "import", str(path), "--json")
    assert r.code == 0, r.stderr
    assert r.json()["imported"] == 1 and len(r.json()["skipped"]) == 4


# ---- limits and offsets -----------------------------------------------------------------------


def test_limit_offset_and_tail_are_bounded(log):
    log.log_event("data", "content.add")
    for kwargs in ({"limit": HUGE_INT}, {"offset": HUGE_INT}, {"limit": 1 << 63}, {"limit": -1}):
        with pytest.raises(InvalidInput, match="from 0 to"):
            log.query_events(**kwargs)
    with pytest.raises(InvalidInput, match="from 0 to"):
        log.tail(HUGE_INT)
    with pytest.raises(InvalidInput, match="from 0 to"):
        next(log.follow(after_seq=HUGE_INT, max_seconds=0))
    assert len(log.query_events(limit=(1 << 63) - 1, offset=(1 << 63) - 1)) == 0
    assert len(log.tail((1 << 63) - 1)) == 1


def test_cli_query_and_tail_with_huge_counts(home):
    assert_one_line_error(run_cli(home, "audit", "query", "-n", str(HUGE_INT)), "limit must be an integer")
    assert_one_line_error(run_cli(home, "audit", "query", "--offset", str(HUGE_INT)), "offset must be an integer")
    assert_one_line_error(run_cli(home, "audit", "tail", "-n", str(HUGE_INT)), "tail count")
    for bad in ("nan", "inf", "1e400"):
        r = run_cli(home, "audit", "query", "--since", bad)
        assert_one_line_error(r, "invalid time")
        assert r.code == 2


def test_one_unstorable_line_is_reported_and_the_rest_imported(tmp_path):
    from ipfs_kit_py.audit.logger import AuditLogger

    good = '{"event_type":"data","action":"x.y","status":"success","timestamp":1700000000.0}'
    nested = '{"event_type":"data","action":"x.y","status":"success","details":' + '{"a":' * 3000 + '1' + '}' * 3001
    lone = '{"event_type":"data","action":"surrogate \\ud800","status":"success"}'
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([good, nested, lone]) + "\n")
    sshd = tmp_path / "auth.log"
    sshd.write_text("Nov 10 08:00:00 host sshd[1]: Failed password for " + "u" * 5000
                    + " from 10.0.0.1 port 22 ssh2\n"
                    "Nov 10 08:00:01 host sshd[1]: Accepted password for bob from 10.0.0.2 port 22 ssh2\n")
    with AuditLogger(path=tmp_path / "audit.db") as log:
        result = log.import_events(path, "jsonl")
        assert result.imported == 1 and [s.line for s in result.skipped] == [2, 3]
        result = log.import_events(sshd, "sshd", tz="UTC")
        assert result.imported == 1 and [s.line for s in result.skipped] == [1]
        assert log.verify().ok


def test_prune_refuses_a_time_in_the_future(tmp_path):
    from ipfs_kit_py.audit.logger import AuditLogger

    with AuditLogger(path=tmp_path / "audit.db") as log:
        log.log_event("data", "content.add")
        with pytest.raises(InvalidInput, match="in the future"):
            log.prune("2099-01-01")
        assert log.count() == 1


def test_verify_arguments_that_are_typos_are_errors_not_tampering(tmp_path):
    from ipfs_kit_py.audit.chain import verify_export_file
    from ipfs_kit_py.audit.logger import AuditLogger

    with AuditLogger(path=tmp_path / "audit.db") as log:
        ids = [log.log_event("data", "content.add").event_id for _ in range(3)]
        with pytest.raises(InvalidInput, match="must be a chain hash"):
            log.verify(expect_hash="zz")
        with pytest.raises(InvalidInput, match="comes after the end"):
            log.verify(start_event_id=ids[2], end_event_id=ids[1])
        log.export(tmp_path / "x.jsonl")
    with pytest.raises(InvalidInput, match="prev_hash must be a chain hash"):
        verify_export_file(str(tmp_path / "x.jsonl"), prev_hash="xyz")


def test_a_byte_order_mark_is_not_part_of_the_first_line(tmp_path):
    from ipfs_kit_py.audit.chain import verify_export_file
    from ipfs_kit_py.audit.logger import AuditLogger

    good = '{"event_type":"data","action":"x.y","status":"success","timestamp":1700000000.0}\n'
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + good.encode())
    with AuditLogger(path=tmp_path / "audit.db") as log:
        assert log.import_events(tmp_path / "bom.jsonl").imported == 1  # auto-detected as JSONL
        log.export(tmp_path / "out.jsonl")
    (tmp_path / "bom-out.jsonl").write_bytes(b"\xef\xbb\xbf" + (tmp_path / "out.jsonl").read_bytes())
    assert verify_export_file(str(tmp_path / "bom-out.jsonl")).ok


def test_a_failed_public_key_login_is_imported():
    from ipfs_kit_py.audit.importers import parse_sshd

    parsed = parse_sshd(["Nov 28 08:15:09 host sshd[1239]: Failed publickey for dave from 192.0.2.4 port 1 ssh2: "
                         "ED25519 SHA256:xyz"], tz="UTC", year=2026)
    [row] = parsed.rows
    assert (row[3], row[4], row[5], row[6]) == ("auth.login", "failure", "dave", "192.0.2.4")
    assert '"key":"ED25519 SHA256:xyz"' in row[16] and '"method":"publickey"' in row[16]


def test_a_time_filtered_export_with_a_gap_says_why_it_does_not_check(tmp_path):
    import time as time_mod

    from ipfs_kit_py.audit.chain import verify_export_file
    from ipfs_kit_py.audit.logger import AuditLogger

    with AuditLogger(path=tmp_path / "audit.db") as log:
        log.log_event("data", "content.add")
        log.log_event("data", "content.add", timestamp=time_mod.time() - 30 * 86400)  # an old imported event
        log.log_event("data", "content.add")
        log.export(tmp_path / "week.jsonl", since="7d")
    result = verify_export_file(str(tmp_path / "week.jsonl"))
    assert not result.ok and result.problem == "deleted" and "--since/--until" in result.reason


def test_an_event_id_reused_for_other_content_is_a_bad_line_not_a_duplicate(tmp_path):
    from ipfs_kit_py.audit.logger import AuditLogger

    one = {"event_id": "e1", "event_type": "data", "action": "x.y", "status": "success", "timestamp": 1700000000.0}
    path = tmp_path / "ids.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (one, one, {**one, "status": "failure"})) + "\n")
    with AuditLogger(path=tmp_path / "audit.db") as log:
        report = log.import_events(path, "jsonl")
        assert (report.imported, report.duplicates) == (1, 1)
        assert [(s.line, s.reason) for s in report.skipped] == [(3, "event_id e1 is already used by a different event")]
        again = log.import_events(path, "jsonl")
        assert (again.imported, again.duplicates, len(again.skipped)) == (0, 2, 1)
        with pytest.raises(InvalidInput, match="line 3: event_id e1 is already used"):
            log.import_events(path, "jsonl", strict=True)
        assert log.count(action="x.y") == 1
