"""Replication to a real S3 server (moto) and a real kubo node, and reads back from each alone."""

from __future__ import annotations

import os
import shutil

import httpx
import pytest

from ipfs_kit_py.config import Settings
from ipfs_kit_py.errors import CorruptBlock, InvalidInput, NotFound
from ipfs_kit_py.kit import Kit


def configure(home, backends: dict, **replication) -> None:
    settings = Settings.load(home, env=False)
    settings.with_changes(backends=backends, replication=replication).save()


def kubo_pins(api_url: str) -> set[str]:
    answer = httpx.post(f"{api_url}/api/v0/pin/ls", params={"type": "recursive"}, timeout=30).json()
    return set(answer.get("Keys", {}))


def s3_keys(server, bucket: str) -> set[str]:
    listing = server.client().list_objects_v2(Bucket=bucket)
    return {item["Key"] for item in listing.get("Contents", [])}


def drop_local_copy(kit: Kit, cid: str) -> None:
    kit.pin_rm(cid)
    kit.gc()
    with pytest.raises(NotFound):
        kit.content.blocks.get(kit.content.resolve(cid))


def read_alone(tmp_path, name: str, conf: dict, cid: str) -> bytes:
    """A fresh home that knows only this backend reads ``cid`` through it."""
    home = tmp_path / f"only-{name}"
    home.mkdir()
    configure(home, {name: conf})
    with Kit(home) as alone:
        assert alone.content.blocks.stats().blocks == 0
        return alone.cat(cid)


@pytest.fixture
def both(tmp_path, s3_server, kubo_node):
    bucket = s3_server.bucket()
    confs = {"s3": s3_server.conf(bucket), "kubo": {"type": "kubo", "api_url": kubo_node.api_url,
                                                     "timeout_seconds": 60}}
    home = tmp_path / "home"
    home.mkdir()
    configure(home, confs, replicas=3, targets=["s3", "kubo"], read_order=["s3", "kubo"])
    with Kit(home) as kit:
        yield kit, confs, bucket


def test_added_content_is_replicated_and_readable_from_each_backend_alone(tmp_path, both, s3_server, kubo_node):
    kit, confs, bucket = both
    data = os.urandom(1_500_000)  # 6 chunks under a root: a real DAG, not one block
    result = kit.add(data)
    cid = result.cid
    assert result.replication == {cid: {"s3": "pinned", "kubo": "pinned"}}

    status = kit.backend_status(cid)
    assert status["summary"]["pinned"] == 2
    by_backend = {row["backend"]: row for row in status["items"]}
    assert by_backend["s3"]["method"] == "car" and by_backend["s3"]["blocks"] == 7
    assert by_backend["kubo"]["method"] == "re-add"  # the test node has no dag/import
    assert {f"ipfs/dags/{cid}.car", f"ipfs/dags/{cid}.idx"} <= s3_keys(s3_server, bucket)
    assert cid in kubo_pins(kubo_node.api_url)

    drop_local_copy(kit, cid)
    for name in ("s3", "kubo"):
        assert read_alone(tmp_path, name, confs[name], cid) == data
    # The original home reads it back too, and keeps the verified blocks it fetched.
    assert kit.cat(cid) == data
    assert kit.stat(cid)["cid"] == cid


def test_a_directory_reaches_kubo_with_the_same_cid(tmp_path, both, kubo_node):
    kit, confs, _ = both
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_bytes(b"alpha\n" * 1000)
    (tree / "sub" / "b.bin").write_bytes(os.urandom(600_000))
    result = kit.add(str(tree), recursive=True)
    assert result.replication[result.cid] == {"s3": "pinned", "kubo": "pinned"}
    assert result.cid in kubo_pins(kubo_node.api_url)
    drop_local_copy(kit, result.cid)
    home = tmp_path / "only-kubo-dir"
    home.mkdir()
    configure(home, {"kubo": confs["kubo"]})
    with Kit(home) as alone:
        assert alone.cat(f"{result.cid}/sub/b.bin") == (tree / "sub" / "b.bin").read_bytes()
        assert [e["name"] for e in alone.ls(result.cid)] == ["a.txt", "sub"]


def test_content_kubo_cannot_rebuild_fails_cleanly_and_s3_still_gets_it(both, kubo_node):
    kit, _, _ = both
    result = kit.add(os.urandom(700_000), cid_version=1)  # raw leaves: the test node only adds CIDv0
    states = result.replication[result.cid]
    assert states == {"s3": "pinned", "kubo": "failed"}
    [row] = kit.backend_status(result.cid, backend="kubo")["items"]
    assert "dag/import" in row["last_error"] and result.cid in row["last_error"]
    # The wrong CID kubo produced was unpinned again: nothing claims to hold what it does not.
    assert result.cid not in kubo_pins(kubo_node.api_url)
    assert all(not pin.startswith("bafy") or pin == result.cid for pin in kubo_pins(kubo_node.api_url))


def test_a_corrupt_copy_is_detected_by_hash_and_the_next_backend_is_used(tmp_path, both, s3_server):
    kit, confs, bucket = both
    data = os.urandom(400_000)
    cid = kit.add(data).cid
    # Flip one byte inside the S3 copy of the root's first leaf: same length, wrong hash.
    client = s3_server.client()
    key = f"ipfs/dags/{cid}.car"
    car = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    car[-100] ^= 0xFF
    client.put_object(Bucket=bucket, Key=key, Body=bytes(car))
    drop_local_copy(kit, cid)

    # Only S3: the corrupt block is refused, with the CID and the reason.
    with pytest.raises(NotFound) as refused:
        read_alone(tmp_path, "s3", confs["s3"], cid)
    assert "corrupt copy rejected" in str(refused.value)

    # S3 first, then kubo: S3's corrupt block is rejected, kubo's is used.
    assert kit.cat(cid) == data
    events = kit.audit.query_events(action="backend.get_block", limit=100)
    refused = [e for e in events if e.backend == "s3" and e.status != "success"]
    assert refused and "corrupt" in refused[0].details.get("error", "")
    assert not kit.audit.query_events(action="backend.verify")  # one event per block read, not two


def test_a_local_directory_backend_round_trips_and_rejects_corruption(tmp_path, kit):
    target = tmp_path / "nas"
    kit.backend_add("nas", "local", path=str(target), replicate=True, replicas=2)
    data = os.urandom(300_000)
    cid = kit.add(data).cid
    assert kit.backend_status(cid)["items"][0]["status"] == "pinned"
    assert cid in kit.backend_stored("nas")
    drop_local_copy(kit, cid)
    assert kit.cat(cid) == data
    # Corrupt every block file on the backend, drop the local copy again: refused.
    kit.gc()
    for path in (target / "blocks").rglob("*.data"):
        path.write_bytes(b"not the block")
    with pytest.raises(NotFound, match="corrupt copy rejected"):
        kit.cat(cid)


def test_backend_calls_are_timed_and_audited(both):
    kit, _, _ = both
    cid = kit.add(os.urandom(50_000)).cid
    puts = kit.audit.query_events(event_types="backend", action="backend.put_dag", limit=100)
    assert {e.backend for e in puts} == {"s3", "kubo"}
    for event in puts:
        assert event.resource == cid and event.status == "success"
        assert event.bytes >= 50_000 and event.duration_ms > 0
        assert event.parent_id is not None  # a child of the content.add that caused it
    timings = kit.monitor.get_metrics()["operations"]
    for name in ("backend.put_dag@s3", "backend.put_dag@kubo"):
        assert timings[name]["count"] == 1 and timings[name]["success_rate"] == 100.0


def test_pins_made_before_a_backend_existed_reach_it_on_sync(tmp_path, s3_server, kit):
    old = [kit.add(os.urandom(20_000)).cid for _ in range(3)]
    bucket = s3_server.bucket()
    conf = s3_server.conf(bucket)
    conf.pop("type")
    kit.backend_add("s3", "s3", replicate=True, replicas=2, **conf)
    result = kit.backend_sync()
    assert result["queued"] == 3 and result["pinned"] == 3 and result["pending"] == 0
    assert set(kit.backend_stored("s3")) == set(old)
    assert kit.backend_sync()["attempted"] == 0  # nothing left to do


def test_backend_unpin_removes_the_remote_copy_only(both, s3_server, kubo_node):
    kit, _, bucket = both
    cid = kit.add(os.urandom(30_000)).cid
    assert kit.backend_unpin(cid) == {"kubo": "removed", "s3": "removed"}
    assert not any(cid in key for key in s3_keys(s3_server, bucket))
    assert cid not in kubo_pins(kubo_node.api_url)
    assert kit.backend_status(cid)["items"] == []
    assert any(p["cid"] == cid for p in kit.pin_ls("recursive"))  # the local pin stays


def test_unknown_backend_and_bad_status_are_clear_errors(kit):
    from ipfs_kit_py.errors import InvalidInput

    with pytest.raises(NotFound, match="no backend named 'nope'"):
        kit.backend_test("nope")
    with pytest.raises(InvalidInput, match="status must be one of"):
        kit.backend_status(status="done")
    shutil.rmtree(kit.settings.home / "blocks", ignore_errors=True)


def test_a_large_dag_goes_to_s3_as_a_multipart_upload(tmp_path, s3_server, kit):
    bucket = s3_server.bucket()
    conf = s3_server.conf(bucket)
    conf.pop("type")
    kit.backend_add("s3", "s3", **conf)
    data = os.urandom(9 * 1024 * 1024)  # above the 8 MiB multipart threshold
    cid = kit.add(data).cid
    assert kit.replicate(cid, ["s3"]) == {"s3": "pinned"}
    head = s3_server.client().head_object(Bucket=bucket, Key=f"ipfs/dags/{cid}.car")
    assert head["ETag"].strip('"').endswith("-2")  # two parts
    drop_local_copy(kit, cid)
    assert kit.cat(cid) == data


def test_the_kubo_backend_speaks_the_rpc_api(kubo_node):
    import anyio

    from ipfs_kit_py.backends.kubo import KuboBackend
    from ipfs_kit_py.core.cid import block_cid, parse_cid

    async def main():
        node = KuboBackend("node", {"api_url": kubo_node.api_url})
        try:
            files = {"file": ("a.txt", b"spoken over RPC\n")}
            added = httpx.post(f"{kubo_node.api_url}/api/v0/add", files=files, timeout=30).json()
            cid = parse_cid(added["Hash"])
            assert await node.cat(cid) == b"spoken over RPC\n"
            assert await node.cat(cid, offset=7, length=4) == b"over"
            assert await node.has(cid) and cid_str_in(await node.list(), cid)
            block = await node.get_block(cid)
            assert block_cid(block) == cid
            missing = block_cid(b"\x0a\x02\x08\x01never added")
            assert not await node.has(missing)
            await node.delete(cid)
            assert not cid_str_in(await node.list(), cid)
            info = await node.health()
            assert info["healthy"] and info["version"] == "0.22.0"
        finally:
            await node.aclose()

    anyio.run(main)


def cid_str_in(names: list[str], cid) -> bool:
    from ipfs_kit_py.core.cid import cid_str

    return cid_str(cid) in names


def test_a_backend_on_the_home_blockstore_or_a_relative_path_is_refused_as_a_replica(kit, tmp_path):
    cid = kit.add(b"one copy only\n").cid
    # No path: the home's own blocks/. Fine to list; a copy "there" would be no replica.
    kit.backend_add("here", "local", test=False)
    with pytest.raises(InvalidInput, match="home's own blockstore"):
        kit.replicate(cid, backends=["here"])
    assert kit.backend_status(cid)["items"] == []
    with pytest.raises(InvalidInput, match="no replica"):
        kit.backend_add("here2", "local", replicate=True, test=False)
    with pytest.raises(InvalidInput, match="must be an absolute directory"):
        kit.backend_add("rel", "local", path="relative/dir", test=False)
    assert "here2" not in kit.settings.backends and "rel" not in kit.settings.backends


def test_a_lost_copy_is_copied_again_and_a_moved_backend_forgets_its_records(kit, tmp_path):
    kit.backend_add("nas", "local", path=str(tmp_path / "nas"), replicate=True)
    cid = kit.add(b"keep two copies\n").cid
    assert kit.backend_status(cid, "nas")["items"][0]["status"] == "pinned"
    shutil.rmtree(tmp_path / "nas")  # the disk was wiped behind our back
    assert kit.replicate(cid, backends=["nas"]) == {"nas": "pinned"}
    assert cid in kit.backend_stored("nas")
    # Same name, another directory: the old records do not describe it.
    kit.backend_add("nas", "local", path=str(tmp_path / "nas2"), replicate=True)
    assert kit.backend_status(cid, "nas")["items"] == []
    # A second target raises the replica count so it gets copies too.
    kit.backend_add("nas3", "local", path=str(tmp_path / "nas3"), replicate=True)
    assert sorted(kit.backends.targets()) == ["nas", "nas3"]


def test_calls_refused_by_an_open_circuit_are_not_counted_as_attempts(kit):
    from tests.conftest import free_port

    Settings.load(kit.settings.home, env=False).with_changes(
        backends={"gone": {"type": "kubo", "api_url": f"http://127.0.0.1:{free_port()}", "max_retries": 0}},
        replication={"replicas": 2, "targets": ["gone"], "circuit_threshold": 1,
                     "circuit_cooldown_seconds": 30}).save()
    kit.services.reload_settings()
    cid = kit.add(b"nowhere to go\n").cid
    [row] = kit.backend_status(cid, "gone")["items"]
    assert row["status"] == "failed" and row["attempts"] == 1  # the one real try opened the circuit
    kit.backend_sync(force=True)
    [row] = kit.backend_status(cid, "gone")["items"]
    assert row["attempts"] == 1 and "circuit open" in row["last_error"]
    assert row["next_attempt"] >= kit.backends.state.breaker("gone")["open_until"] - 1


def test_a_damaged_local_block_is_repaired_from_a_backend_or_a_car(kit, tmp_path):
    kit.backend_add("nas", "local", path=str(tmp_path / "nas"), replicate=True)
    data = os.urandom(600_000)
    cid = kit.add(data).cid
    car_path = tmp_path / "copy.car"
    kit.car_export(cid, str(car_path))
    stored = sorted((kit.settings.home / "blocks").rglob("*.data"), key=lambda p: p.stat().st_size)[-1]
    good = stored.read_bytes()
    stored.write_bytes(bytes([good[0] ^ 0xFF]) + good[1:])  # same size, wrong bytes
    home = kit.settings.home
    with Kit(home) as fresh:  # no block cache holding the good bytes
        assert fresh.cat(cid) == data  # read from the backend's copy, and the local one rewritten
    assert stored.read_bytes() == good
    # With no backend: a CAR import of a good copy repairs it too.
    kit.backend_rm("nas")
    stored.write_bytes(bytes([good[0] ^ 0xFF]) + good[1:])
    with Kit(home) as fresh:
        with pytest.raises(CorruptBlock):
            fresh.cat(cid)
        fresh.car_import(str(car_path))
    assert stored.read_bytes() == good
    with Kit(home) as fresh:
        assert fresh.cat(cid) == data
