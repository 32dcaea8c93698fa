"""Checkpoints: the chain head anchored as a CID, verified later against the log."""

from __future__ import annotations

from tests.audit.conftest import LogTarget
from tests.conftest import run_cli


def test_checkpoint_anchors_head_and_detects_later_tampering(home):
    assert run_cli(home, "add", "-q", "-", input=b"first").code == 0
    r = run_cli(home, "audit", "checkpoint", "--json")
    assert r.code == 0, r.stderr
    cp = r.json()
    assert cp["seq"] >= 1 and len(cp["hash"]) == 64
    # The checkpoint is content: pinned, and its bytes name the head.
    pins = run_cli(home, "pin", "ls", "--json").json()
    assert cp["cid"] in {p["cid"] for p in pins}
    # More events after the checkpoint do not disturb it.
    assert run_cli(home, "add", "-q", "-", input=b"second").code == 0
    ok = run_cli(home, "audit", "checkpoint", "--verify", cp["cid"], "--json")
    assert ok.code == 0 and ok.json()["ok"] is True
    # Rewriting an event inside the anchored range breaks it.
    LogTarget("sqlite", path=home / "audit.db").tamper.edit(1, "user_id", "mallory")
    bad = run_cli(home, "audit", "checkpoint", "--verify", cp["cid"], "--json")
    assert bad.code == 1
    assert bad.json()["ok"] is False and bad.json()["first_bad_seq"] == 1


def test_verify_checkpoint_of_non_checkpoint_is_a_clear_error(home):
    cid = run_cli(home, "add", "-q", "-", input=b"just a file").out.strip()
    r = run_cli(home, "audit", "checkpoint", "--verify", cid)
    assert r.code == 2 and r.stderr.startswith("Error: ") and "not an audit checkpoint" in r.stderr
