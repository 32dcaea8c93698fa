"""Importing external logs (JSONL, sshd), exporting, and API tokens with roles."""

from __future__ import annotations

import json

import pytest

from ipfs_kit_py.audit.auth import TokenStore, require_role
from ipfs_kit_py.errors import InvalidInput, PermissionDenied, Unauthenticated
from tests.conftest import run_cli

SSHD = """\
Mar  3 10:00:01 host sshd[100]: Failed password for root from 203.0.113.9 port 5000 ssh2
Mar  3 10:00:03 host sshd[100]: Failed password for invalid user admin from 203.0.113.9 port 5001 ssh2
Mar  3 10:00:05 host sshd[101]: Invalid user test from 203.0.113.9 port 5002
Mar  3 10:01:00 host sshd[102]: Accepted publickey for alice from 192.0.2.10 port 6000 ssh2: ED25519 SHA256:abc
Mar  3 10:02:00 host CRON[200]: pam_unix(cron:session): session opened for user root
"""


def test_sshd_lines_become_authentication_events(log, tmp_path):
    path = tmp_path / "auth.log"
    path.write_text(SSHD)
    report = log.import_events(path, "sshd", year=2026, tz="UTC")
    assert report.imported == 4 and report.ignored == 1 and report.skipped == []
    events = log.query_events(event_types=["authentication"], order="asc", limit=10)
    assert [(e.user_id, e.source_ip, e.status) for e in events] == [
        ("root", "203.0.113.9", "failure"),
        ("admin", "203.0.113.9", "failure"),
        ("test", "203.0.113.9", "failure"),
        ("alice", "192.0.2.10", "success"),
    ]
    # Original times are kept: 2026-03-03 10:00:01 UTC.
    assert events[0].timestamp == 1772532001.0
    assert log.verify().ok


def test_jsonl_round_trip_and_bad_lines(log, tmp_path):
    good = {"event_type": "data", "action": "content.add", "user_id": "bob", "timestamp": 1700000000.5,
            "resource": "QmX", "bytes": 12, "details": {"k": "v"}}
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join([
        json.dumps(good),
        "{not json",
        json.dumps({"action": "missing type"}),
        json.dumps({**good, "user_id": "carol", "status": "bogus"}),
        json.dumps({**good, "user_id": "dave"}),
    ]) + "\n")
    report = log.import_events(path, "jsonl")
    assert report.imported == 2
    assert [s.line for s in report.skipped] == [2, 3, 4]
    users = sorted(e.user_id for e in log.query_events(event_types=["data"], limit=10))
    assert users == ["bob", "dave"]
    ev = log.query_events(user_id="bob")[0]
    assert ev.timestamp == 1700000000.5 and ev.details == {"k": "v"} and ev.bytes == 12


def test_strict_import_writes_nothing(log, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"event_type": "data", "action": "a", "timestamp": 1.0}) + "\n{broken\n")
    with pytest.raises(InvalidInput, match="line 2"):
        log.import_events(path, "jsonl", strict=True)
    assert log.count() == 0


def test_cli_import_export(home, tmp_path):
    path = tmp_path / "auth.log"
    path.write_text(SSHD)
    r = run_cli(home, "audit", "import", str(path), "--format", "sshd", "--year", "2026", "--tz", "UTC", "--json")
    assert r.code == 0, r.stderr
    assert r.json()["imported"] == 4
    out = tmp_path / "events.csv"
    r = run_cli(home, "audit", "export", "--format", "csv", "-o", str(out), "--json")
    assert r.code == 0 and r.json()["count"] >= 4
    assert "203.0.113.9" in out.read_text()
    r = run_cli(home, "audit", "import", str(tmp_path / "missing.log"))
    assert r.code != 0 and r.stderr.startswith("Error: ") and len(r.stderr.strip().splitlines()) == 1


def test_tokens_hashed_roles_and_audit(log, tmp_path):
    store = TokenStore(tmp_path / "auth.db", log)
    token, info = store.create("alice", "writer", expires="30d")
    assert token not in (tmp_path / "auth.db").read_bytes().decode("latin-1")  # stored hashed
    principal = store.authenticate(token, "127.0.0.1")
    assert (principal.user_id, principal.role) == ("alice", "writer")
    require_role(principal, "reader", "content.cat")
    with pytest.raises(PermissionDenied):
        require_role(principal, "admin", "content.gc", log)
    with pytest.raises(Unauthenticated):
        store.authenticate("ipk_wrong", "10.0.0.1")
    store.revoke(info.token_id)
    with pytest.raises(Unauthenticated, match="revoked"):
        store.authenticate(token)
    actions = [(e.action, e.status) for e in log.query_events(order="asc", limit=50)]
    assert ("auth.token.create", "success") in actions
    assert ("auth.token", "success") in actions and ("auth.token", "failure") in actions
    assert any(status == "denied" for _a, status in actions)
    assert any(a == "auth.token.revoke" for a, _s in actions)
    with pytest.raises(InvalidInput):
        store.create("bob", "superuser")


def test_cli_tokens(home):
    r = run_cli(home, "auth", "token", "create", "--user", "ops", "--role", "reader", "--json")
    assert r.code == 0, r.stderr
    doc = r.json()
    token_id = doc["token_id"] if "token_id" in doc else doc["info"]["token_id"]
    listed = run_cli(home, "auth", "token", "list", "--json").json()
    assert any(t["token_id"] == token_id for t in listed)
    assert run_cli(home, "auth", "token", "revoke", token_id).code == 0
    r = run_cli(home, "auth", "token", "create", "--user", "ops", "--role", "root")
    assert r.code != 0
