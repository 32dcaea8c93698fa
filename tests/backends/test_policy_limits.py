"""Replication policy numbers: finite, > 0, at most a sane maximum, checked before config.json
is written; a damaged value already in config.json falls back to its default (valid JSON out)."""

from __future__ import annotations

import json
import math

import pytest

from ipfs_kit_py.backends import policy
from ipfs_kit_py.config import Settings
from ipfs_kit_py.errors import InvalidInput
from tests.conftest import assert_one_line_error, run_cli


@pytest.mark.parametrize("key, value", [
    ("sync_interval_seconds", math.nan), ("retry_max_seconds", math.inf), ("circuit_cooldown_seconds", math.nan),
    ("retry_base_seconds", -math.inf), ("sync_interval_seconds", 1e308), ("circuit_threshold", 10 ** 30),
    ("circuit_threshold", math.inf), ("circuit_threshold", 2.5), ("concurrency", 0), ("replicas", 11),
    ("replicas", True), ("retry_base_seconds", "soon"),
])
def test_bad_numbers_are_refused_and_nothing_is_written(kit, home, key, value):
    before = (home / "config.json").read_bytes() if (home / "config.json").exists() else None
    with pytest.raises(InvalidInput, match=f"{key} must be"):
        kit.backend_policy(**{key: value})
    after = (home / "config.json").read_bytes() if (home / "config.json").exists() else None
    assert after == before


def test_good_numbers_are_kept(kit):
    shown = kit.backend_policy(sync_interval_seconds=0.5, retry_max_seconds=3600, circuit_threshold=100)
    assert shown["sync_interval_seconds"] == 0.5 and shown["retry_max_seconds"] == 3600.0
    assert shown["circuit_threshold"] == 100


def test_damaged_config_values_fall_back_to_defaults(home):
    Settings(home=home, replication={"sync_interval_seconds": 30.0}).save()
    path = home / "config.json"
    doc = json.loads(path.read_text())
    doc["replication"] = {"sync_interval_seconds": math.nan, "retry_max_seconds": math.inf, "concurrency": "x",
                          "retry_base_seconds": 2.0}
    path.write_text(json.dumps(doc))  # NaN / Infinity: what an old version could write
    effective = policy.effective(Settings.load(home, env=False))
    assert effective["sync_interval_seconds"] == policy.DEFAULTS["sync_interval_seconds"]
    assert effective["retry_max_seconds"] == policy.DEFAULTS["retry_max_seconds"]
    assert effective["concurrency"] == policy.DEFAULTS["concurrency"]
    assert effective["retry_base_seconds"] == 2.0
    r = run_cli(home, "backend", "policy", "--json")
    assert r.code == 0, r.stderr
    shown = json.loads(r.out, parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}"))
    assert shown["sync_interval_seconds"] == policy.DEFAULTS["sync_interval_seconds"]


def test_cli_policy_refuses_non_finite_numbers(home):
    for option, value in (("--sync-interval", "nan"), ("--retry-max", "inf"), ("--circuit-cooldown", "nan"),
                          ("--circuit-threshold", "99999999999999999999999")):
        r = run_cli(home, "backend", "policy", option, value)
        assert_one_line_error(r, "must be")
        assert r.code == 2
    assert not (home / "config.json").exists() or "NaN" not in (home / "config.json").read_text()
    r = run_cli(home, "backend", "policy", "--json")
    assert r.code == 0 and json.loads(r.out)["sync_interval_seconds"] == 60.0


def test_repairing_a_damaged_value_records_the_change(home):
    Settings(home=home, replication={"sync_interval_seconds": 30.0}).save()
    path = home / "config.json"
    doc = json.loads(path.read_text())
    doc["replication"]["retry_base_seconds"] = math.nan
    path.write_text(json.dumps(doc))
    r = run_cli(home, "backend", "policy", "--retry-base", "2", "--json")
    assert r.code == 0, r.stderr
    assert json.loads(path.read_text())["replication"]["retry_base_seconds"] == 2.0
    from ipfs_kit_py.kit import Kit

    with Kit(home) as kit:
        [event] = kit.audit.query_events(action="config.change", limit=1)
        [change] = [c for c in event.details["changes"] if c["path"] == "replication.retry_base_seconds"]
        assert (change["old"], change["new"]) == ("nan", 2.0)
