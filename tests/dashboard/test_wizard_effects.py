"""What the VFS and monitoring wizards change in the running code, across processes.

Each test applies a wizard the way a user would (the CLI in a separate process,
or the wizard objects in this one) and checks the behaviour, not config.json:
CIDs and DAG shapes of VFS writes, pins, monitor samples, /metrics, thresholds.
A ``Kit`` built before the change stands in for a long-running server.
"""

from __future__ import annotations

import io
import json
import os
import random
import sqlite3
import time

import pytest
from fastapi.testclient import TestClient

from ipfs_kit_py.config import Settings
from ipfs_kit_py.core.cid import parse_cid
from ipfs_kit_py.core.dagpb import decode_node
from ipfs_kit_py.dashboard.providers import DEFAULT_THRESHOLDS, thresholds
from ipfs_kit_py.dashboard.wizards import WizardManager
from ipfs_kit_py.errors import InvalidInput
from ipfs_kit_py.kit import Kit
from ipfs_kit_py.web import create_app
from tests.conftest import assert_one_line_error
from tests.web.conftest import make_tokens

MIB = 1 << 20
RAW = 0x55


def _data(size: int) -> bytes:
    """Bytes with no repeated chunk (so every leaf is its own block)."""
    return random.Random(size).randbytes(size)


def _leaves(kit: Kit, cid: str) -> list:
    """The links of a file's root block (its leaves, for a one-level balanced DAG)."""
    return list(decode_node(kit.content.get_block(parse_cid(cid))).links)


def _wizard(cli, tmp_path, wizard_id: str, answers: dict | None = None,
            template: str | None = None) -> dict:
    args = ["dashboard", "wizard", "--wizard-id", wizard_id, "--json"]
    if template:
        args += ["--template", template]
    if answers is not None:
        path = tmp_path / f"{wizard_id}-answers.json"
        path.write_text(json.dumps(answers))
        args += ["--answers", str(path)]
    result = cli(*args, input=b"")
    assert result.code == 0, result.stderr
    assert result.json()["applied"] is True
    return result.json()


# ---- VFS ---------------------------------------------------------------------------------


def test_vfs_defaults_are_kubos(kit):
    """No VFS settings: CIDv0, 256 KiB chunks (dag-pb leaves), nothing pinned."""
    info = kit.files_write("/big.bin", io.BytesIO(_data(3 * MIB)))
    assert info["cid"].startswith("Qm") and "pinned" not in info
    leaves = _leaves(kit, info["cid"])
    assert len(leaves) == 12 and all(link.cid.version == 0 for link in leaves)
    assert info["cid"] == kit.add(_data(3 * MIB), only_hash=True).cid
    assert info["cid"] not in {p["cid"] for p in kit.pin_ls()}


def test_vfs_wizard_from_cli_changes_cli_writes(cli, home, tmp_path):
    src = tmp_path / "media.bin"
    src.write_bytes(_data(3 * MIB))
    _wizard(cli, tmp_path, "vfs_configuration", template="vfs_cidv1_media")

    assert cli("files", "write", "/media/a.bin", str(src)).code == 0
    stat = cli("files", "stat", "/media/a.bin", "--json").json()
    assert stat["cid"].startswith("bafy") and stat["type"] == "file" and stat["size"] == 3 * MIB
    assert stat["links"] == 3 and stat["blocks"] == 4  # 1 MiB chunks: three leaves under the root
    with Kit(home) as kit:
        leaves = _leaves(kit, stat["cid"])
        assert all(link.cid.version == 1 and link.cid.codec.code == RAW for link in leaves)
        assert [link.tsize for link in leaves] == [MIB, MIB, MIB]
        # the same CID `ipfs add --cid-version 1 --chunker size-1048576 --raw-leaves` gives
        expected = kit.add(
            src.read_bytes(), cid_version=1, chunker="size-1048576", raw_leaves=True, only_hash=True
        ).cid
        assert stat["cid"] == expected
    pins = cli("pin", "ls", "--json").json()
    assert {"cid": stat["cid"], "type": "recursive"} in [
        {k: p[k] for k in ("cid", "type")} for p in pins
    ]


def test_running_kit_sees_vfs_wizard_applied_by_another_process(kit, cli, tmp_path):
    before = kit.files_write("/before.bin", io.BytesIO(_data(3 * MIB)))
    assert before["cid"].startswith("Qm")
    settings_before = kit.services.current_settings()
    assert kit.services.current_settings() is settings_before  # unchanged file: no re-parse

    _wizard(cli, tmp_path, "vfs_configuration", template="vfs_cidv1_media")

    after = kit.files_write("/after.bin", io.BytesIO(_data(3 * MIB)))
    assert after["cid"].startswith("bafy") and after["pinned"] is True
    leaves = _leaves(kit, after["cid"])
    assert len(leaves) == 3 and all(link.cid.codec.code == RAW for link in leaves)
    assert kit.settings.vfs["chunker"] == "size-1048576"
    pinned = {p["cid"]: p["type"] for p in kit.pin_ls()}
    assert pinned[after["cid"]] == "recursive" and before["cid"] not in pinned
    # the pin is its own audited operation, a child of the write
    write = kit.audit.query_events(action="files.write", limit=1)[0]
    pin = kit.audit.query_events(action="pin.add", limit=1)[0]
    assert (pin.parent_id, pin.resource, pin.status) == (write.event_id, after["cid"], "success")
    # the directories the template names exist, and the old file is untouched
    assert {e["name"] for e in kit.files_ls("/")} >= {"media", "archive", "before.bin", "after.bin"}
    assert kit.files_stat("/before.bin")["cid"] == before["cid"]


def _memory_tier(kit: Kit) -> dict:
    return kit.cache.get_statistics()["tiers"]["memory"]


def test_block_cache_size_and_policy_reach_a_running_kit(kit, cli, tmp_path):
    small = 64 * 1024
    cid = kit.add(_data(40 * small), chunker=f"size-{small}").cid  # 40 leaves + a root
    kit.cat(cid)
    assert _memory_tier(kit)["max_entries"] == kit.settings.block_cache_blocks > 41
    assert _memory_tier(kit)["entries"] == 41

    layout = {"cid_version": "0", "chunker": "size-262144", "raw_leaves": "auto", "trickle": False,
              "directories": [], "pin_writes": False}
    _wizard(cli, tmp_path, "vfs_configuration", {**layout, "block_cache_blocks": 16, "block_cache_policy": "lru"})
    assert kit.cat(cid) == _data(40 * small)
    memory = _memory_tier(kit)
    assert (memory["policy"], memory["max_entries"]) == ("lru", 16)
    assert memory["entries"] == 16 and memory["evictions"] > 0  # the new size bounds what is kept

    _wizard(cli, tmp_path, "vfs_configuration", {**layout, "block_cache_blocks": 0, "block_cache_policy": "lru"})
    hits = kit.cache.get_statistics()["hits"]
    kit.cat(cid)
    kit.cat(cid)
    assert kit.cache.get_statistics()["hits"] == hits  # 0 turns the block cache off


def test_vfs_trickle_and_raw_leaves_off(kit):
    answers = {"cid_version": "1", "chunker": "size-65536", "raw_leaves": "no", "trickle": True}
    WizardManager(kit).create_wizard("vfs_configuration").run({**answers, "pin_writes": False})
    data = _data(1_000_000)
    info = kit.files_write("/t.bin", io.BytesIO(data))
    assert "pinned" not in info
    options = {"cid_version": 1, "chunker": "size-65536", "raw_leaves": False, "only_hash": True}
    assert info["cid"] == kit.add(data, trickle=True, **options).cid
    assert info["cid"] != kit.add(data, **options).cid  # the balanced layout gives another CID
    assert kit.files_read("/t.bin") == data


# ---- monitoring ------------------------------------------------------------------------------


def _samples(kit: Kit) -> int:
    return kit.monitor.get_statistics()["total_operations"]


def test_monitoring_disabled_by_another_process_still_audits(kit, cli, home, tmp_path):
    kit.files_write("/m1", io.BytesIO(b"one"))
    assert _samples(kit) >= 1
    answers = {"enabled": False, "prometheus": False, "latency_p95_ms": 123,
               "failed_logins_per_hour": 2}
    _wizard(cli, tmp_path, "monitoring_setup", answers)
    samples, events = _samples(kit), kit.audit.count()

    kit.files_write("/m2", io.BytesIO(b"two"))
    kit.add(b"three")
    kit.files_ls("/")

    assert kit.audit.count() == events + 3  # every operation still has its audit event
    actions = [e.action for e in kit.audit.query_events(limit=3)]
    assert actions == ["files.ls", "content.add", "files.write"]
    assert _samples(kit) == samples  # but no monitor samples
    limits = thresholds(kit)
    assert limits["latency_p95_ms"] == 123 and limits["failed_logins_per_hour"] == 2
    assert limits["cpu_percent"] == DEFAULT_THRESHOLDS["cpu_percent"]
    # a separate CLI process records nothing either
    assert cli("add", "-", input=b"cli bytes").code == 0
    assert _samples(kit) == samples

    _wizard(cli, tmp_path, "monitoring_setup", {"enabled": True})
    samples = _samples(kit)
    kit.files_ls("/")
    assert _samples(kit) == samples + 1


def test_prometheus_off_makes_metrics_404_in_a_running_server(home, cli, tmp_path):
    tokens = make_tokens(home)
    kit = Kit(home, interface="web")
    try:
        with TestClient(create_app(kit), base_url="http://127.0.0.1:8080") as client:
            ok = client.get("/metrics", headers=tokens.headers("reader"))
            assert ok.status_code == 200 and "ipfs_kit" in ok.text

            _wizard(cli, tmp_path, "monitoring_setup", {"prometheus": False})
            off = client.get("/metrics", headers=tokens.headers("reader"))
            assert off.status_code == 404
            assert off.headers["content-type"].startswith("application/json")
            message = off.json()["error"]
            assert set(off.json()) == {"error"} and "\n" not in message
            assert (
                "monitoring.prometheus is false" in message
                and "--wizard-id monitoring_setup" in message
            )
            assert client.get("/metrics").status_code == 401  # still authenticated first
            refused = kit.audit.query_events(action="http.metrics", limit=1)[0]
            assert refused.status == "failure" and refused.details["error"] == message

            _wizard(cli, tmp_path, "monitoring_setup", {"prometheus": True})
            assert client.get("/metrics", headers=tokens.headers("reader")).status_code == 200
    finally:
        kit.close()


def _stored_timestamps(home) -> list[float]:
    import numpy as np

    with sqlite3.connect(home / "metrics.db") as db:
        blocks = [row[0] for row in db.execute("SELECT ts FROM perf_blocks")]
    return sorted(float(t) for block in blocks for t in np.frombuffer(block, dtype="<f8"))


def test_retention_prunes_old_samples(kit, home):
    now = time.time()
    kit.monitor.record("old.op", 5.0, timestamp=now - 3 * 86400)
    kit.monitor.record("recent.op", 5.0, timestamp=now - 3600)
    kit.monitor.flush()
    assert "old.op" in kit.monitor.get_metrics(None, "7d")["operations"]  # default: 7 days kept
    assert len([ts for ts in _stored_timestamps(home) if ts < now - 86400]) == 1

    # Another process (here: a plain settings write) sets retention to 24h.
    Settings.load(home, env=False).with_changes(monitoring={"retention": "24h"}).save()
    kit.repo_stat()  # any operation of the running service picks the change up
    assert kit.monitor.retention_s == 86400
    kit.monitor.flush()  # the next flush (background, every second) prunes
    stored = _stored_timestamps(home)
    assert stored and min(stored) >= now - 86400  # deleted from metrics.db
    ops = kit.monitor.get_metrics(None, "7d")["operations"]
    assert "old.op" not in ops and "recent.op" in ops
    stats = kit.monitor.get_statistics()
    assert stats["retention"] == "1d"

    # A longer retention also widens the windows that can be asked for.
    Settings.load(home, env=False).with_changes(monitoring={"retention": "2w"}).save()
    assert kit.monitor.get_metrics(None, "14d")["timeframe"] == "14d"
    with pytest.raises(InvalidInput, match="longer than the 14d the monitor keeps"):
        kit.monitor.get_metrics(None, "15d")


def test_monitoring_wizard_rejects_a_bad_retention(kit):
    with pytest.raises(InvalidInput, match="retention"):
        WizardManager(kit).create_wizard("monitoring_setup").run({"retention": "0d"})
    with pytest.raises(InvalidInput, match="too long"):
        WizardManager(kit).create_wizard("monitoring_setup").run({"retention": "9999w"})
    assert not kit.settings.config_path.exists()


# ---- the reload itself ---------------------------------------------------------------------------


def test_reload_keeps_environment_and_constructor_overrides(home, monkeypatch):
    monkeypatch.setenv("IPFS_KIT_FSYNC", "always")
    with (
        Kit(home) as from_env,
        Kit(settings=Settings.load(home).with_changes(block_cache_blocks=3)) as given,
    ):
        Settings.load(home, env=False).with_changes(
            fsync="none", block_cache_blocks=99, vfs={"cid_version": 1}
        ).save()
        env_settings = from_env.services.current_settings()
        assert env_settings.vfs == {"cid_version": 1} and env_settings.fsync == "always"
        assert env_settings.block_cache_blocks == 99
        given_settings = given.services.current_settings()
        assert given_settings.vfs == {"cid_version": 1} and given_settings.block_cache_blocks == 3
        assert given_settings.fsync == "always"


def test_broken_config_keeps_the_last_good_settings(kit, home, cli, caplog):
    Settings.load(home, env=False).with_changes(vfs={"cid_version": 1}).save()
    assert kit.files_write("/a", io.BytesIO(b"a"))["cid"].startswith("bafk")
    config = home / "config.json"
    config.write_text('{"vfs": {"cid_version": 7}}')
    os.utime(config, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert kit.files_write("/b", io.BytesIO(b"b"))["cid"].startswith("bafk")  # still CIDv1
    assert "vfs.cid_version must be 0 or 1, not 7" in caplog.text
    # a new process reports the broken file as a one-line error
    assert_one_line_error(cli("files", "ls", "/"), "vfs.cid_version must be 0 or 1")
    Settings(home=home).save()
    assert kit.files_write("/c", io.BytesIO(b"c"))["cid"].startswith("Qm")


def test_refused_bad_input_does_not_count_as_the_system_failing(kit):
    # 30 cat calls with invalid CIDs are the service answering correctly, not an error rate.
    from ipfs_kit_py.errors import InvalidInput

    for i in range(30):
        with pytest.raises(InvalidInput):
            kit.cat(f"not-a-cid-{i}")
    assert kit.audit.count(action="content.cat", status="failure") == 30
    metrics = kit.services.monitor.get_metrics("content.cat", "1h")
    assert metrics["count"] == 30 and metrics["success_rate"] == 100.0
    from ipfs_kit_py.dashboard import Dashboard

    status = Dashboard(kit).status()
    assert "error rate" not in json.dumps(status) and status["performance"]["success_rate"] == 100.0, status
