"""Kit content operations through the Python API: round trips, pins, GC, CAR, VFS."""

from __future__ import annotations

import io
import os

import pytest

from ipfs_kit_py.errors import Conflict, CorruptBlock, InvalidInput, NotFound
from ipfs_kit_py.kit import Kit

HELLO_CID = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
EMPTY_DIR = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"


def test_add_bytes_gives_kubo_cid_and_cat_returns_them(kit):
    result = kit.add(b"hello world\n")
    assert result.cid == HELLO_CID
    assert kit.cat(HELLO_CID) == b"hello world\n"
    assert kit.cat(f"/ipfs/{HELLO_CID}", offset=6, length=5) == b"world"
    assert kit.pin_ls("recursive")[0]["cid"] == HELLO_CID


def test_add_file_and_directory(kit, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"A" * 1000)
    (src / "sub" / "b.bin").write_bytes(os.urandom(300_000))
    (src / ".hidden").write_bytes(b"secret")
    result = kit.add(str(src), recursive=True)
    names = [e.name for e in result.entries]
    assert names == ["src/a.txt", "src/sub/b.bin", "src/sub", "src"]
    root = result.cid
    listing = {e["name"]: e for e in kit.ls(root)}
    assert set(listing) == {"a.txt", "sub"}
    assert kit.cat(f"{root}/sub/b.bin") == (src / "sub" / "b.bin").read_bytes()
    out = tmp_path / "out"
    got = kit.get(root, out)
    assert got["files"] == 2
    assert (out / "sub" / "b.bin").read_bytes() == (src / "sub" / "b.bin").read_bytes()
    assert not (out / ".hidden").exists()
    st = kit.stat(root)
    assert st["type"] == "directory"


def test_directory_without_recursive_is_refused(kit, tmp_path):
    with pytest.raises(InvalidInput, match="use -r"):
        kit.add(str(tmp_path))


def test_only_hash_stores_nothing(kit):
    result = kit.add(b"not stored", only_hash=True, pin=False)
    with pytest.raises(NotFound):
        kit.cat(result.cid)
    assert kit.content.blocks.stats().blocks == 0


def test_wrap_with_directory(kit, tmp_path):
    f = tmp_path / "hello.txt"
    f.write_bytes(b"hello world\n")
    result = kit.add(str(f), wrap_with_directory=True)
    assert result.entries[-1].name == ""
    assert kit.cat(f"{result.cid}/hello.txt") == b"hello world\n"
    assert [p["cid"] for p in kit.pin_ls("recursive")] == [result.cid]


def test_gc_removes_only_unpinned(kit):
    keep = kit.add(b"keep me" * 1000).cid
    drop = kit.add(b"drop me" * 1000, pin=False).cid
    gone = kit.gc()
    assert gone["removed_blocks"] == 1
    assert gone["freed_bytes"] > 7000
    assert kit.cat(keep) == b"keep me" * 1000
    with pytest.raises(NotFound):
        kit.cat(drop)
    kit.pin_rm(keep)
    assert kit.gc()["removed_blocks"] == 1


def test_pin_rm_unknown_is_not_found(kit):
    with pytest.raises(NotFound, match="not pinned"):
        kit.pin_rm(HELLO_CID)


def test_pin_types(kit):
    cid = kit.add(os.urandom(600_000), pin=False).cid
    kit.pin_add(cid, "direct")
    assert [p["type"] for p in kit.pin_ls("direct")] == ["direct"]
    kit.pin_add(cid)  # upgrade to recursive
    assert kit.pin_ls("direct") == []
    indirect = kit.pin_ls("indirect")
    assert len(indirect) == 3  # three 256 KiB leaves under the root
    assert kit.gc()["removed_blocks"] == 0


def test_car_round_trip_into_fresh_home(kit, tmp_path):
    src = tmp_path / "tree"
    (src / "d").mkdir(parents=True)
    (src / "d" / "x").write_bytes(os.urandom(700_000))
    (src / "y").write_bytes(b"why")
    root = kit.add(str(src), recursive=True, cid_version=1).cid
    car_path = tmp_path / "tree.car"
    exported = kit.car_export(root, car_path)
    assert exported["blocks"] >= 5
    with Kit(tmp_path / "other") as other:
        imported = other.car_import(str(car_path))
        assert imported["roots"] == [root]
        assert other.cat(f"{root}/d/x") == (src / "d" / "x").read_bytes()
        assert [p["cid"] for p in other.pin_ls("recursive")] == [root]


def test_corrupt_block_is_an_error_naming_the_cid(kit):
    cid = kit.add(b"precious data").cid
    (path,) = [p for p in kit.settings.blocks_dir.rglob("*.data")]
    path.write_bytes(b"tampered data")
    with pytest.raises(CorruptBlock, match=cid):
        kit.cat(cid)


def test_invalid_inputs(kit):
    with pytest.raises(InvalidInput, match="invalid CID"):
        kit.cat("not-a-cid")
    with pytest.raises(InvalidInput, match="chunker"):
        kit.add(b"x", chunker="rabin-1-2-3")
    with pytest.raises(NotFound):
        kit.add("/no/such/file")
    with pytest.raises(NotFound):
        kit.cat(HELLO_CID)


def test_vfs_operations(kit):
    assert kit.files_stat("/")["cid"] == EMPTY_DIR
    kit.files_mkdir("/docs/deep", parents=True)
    kit.files_write("/docs/readme.txt", io.BytesIO(b"read me"))
    assert kit.files_read("/docs/readme.txt") == b"read me"
    assert {e["name"] for e in kit.files_ls("/docs")} == {"deep", "readme.txt"}
    with pytest.raises(Conflict):
        kit.files_mkdir("/docs")
    kit.files_mv("/docs/readme.txt", "/docs/deep")
    assert kit.files_read("/docs/deep/readme.txt") == b"read me"
    hello = kit.add(b"hello world\n", pin=False).cid
    kit.files_cp(f"/ipfs/{hello}", "/hello.txt")
    assert kit.files_stat("/hello.txt")["cid"] == hello
    # VFS content survives GC although it is not pinned; only old root versions go.
    kit.gc()
    assert kit.files_read("/hello.txt") == b"hello world\n"
    assert kit.files_read("/docs/deep/readme.txt") == b"read me"
    assert kit.gc()["removed_blocks"] == 0
    with pytest.raises(InvalidInput, match="-r"):
        kit.files_rm("/docs")
    kit.files_rm("/docs", recursive=True)
    assert [e["name"] for e in kit.files_ls("/")] == ["hello.txt"]
    with pytest.raises(NotFound):
        kit.files_stat("/docs")
    with pytest.raises(InvalidInput, match="absolute"):
        kit.files_ls("relative/path")


def test_vfs_root_persists_across_kits(home):
    with Kit(home) as k:
        k.files_write("/a", io.BytesIO(b"persisted"))
        root = k.files_stat("/")["cid"]
    with Kit(home) as k:
        assert k.files_stat("/")["cid"] == root
        assert k.files_read("/a") == b"persisted"


def test_env_overrides_apply_but_are_not_persisted(home, monkeypatch):
    from ipfs_kit_py.config import Settings

    Settings.load(home).with_changes(block_cache_blocks=7).save()
    monkeypatch.setenv("IPFS_KIT_FSYNC", "always")
    assert Settings.load(home).fsync == "always"
    on_disk = Settings.load(home, env=False)
    assert on_disk.fsync == "batch" and on_disk.block_cache_blocks == 7
    on_disk.save()
    monkeypatch.delenv("IPFS_KIT_FSYNC")
    assert Settings.load(home).fsync == "batch"


def test_concurrent_adds_from_many_threads_all_succeed_and_stay_pinned(kit):
    # A server adds from many request threads at once through one Kit: its pin
    # store's one connection must not interleave their transactions.
    import threading

    barrier = threading.Barrier(16)
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def add(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            for j in range(5):
                results[i * 5 + j] = kit.add(f"payload {i} {j}".encode()).cid
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    pinned = {p["cid"] for p in kit.pin_ls()}
    assert len(results) == 80 and set(results.values()) <= pinned
    assert all(kit.cat(cid) == f"payload {n // 5} {n % 5}".encode() for n, cid in results.items())


def test_a_file_path_given_as_content_path_is_named_in_the_error(kit):
    with pytest.raises(InvalidInput, match=r"'/etc/passwd' is not a content path: give a CID"):
        kit.stat("/etc/passwd")
