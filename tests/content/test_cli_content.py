"""The content commands through a real `ipfs-kit` process."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time

from ipfs_kit_py.content.blockstore import key_multihash
from tests.conftest import assert_one_line_error

HELLO_CID = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"


def test_version_and_help(cli):
    r = cli("--version")
    assert r.code == 0 and "ipfs-kit" in r.out
    r = cli("--help")
    assert r.code == 0
    for group in ("add", "cat", "pin", "car", "files", "gc"):
        assert group in r.out


def test_add_cat_pin_car_tour(cli, tmp_path):
    f = tmp_path / "hello.txt"
    f.write_bytes(b"hello world\n")
    r = cli("add", str(f))
    assert r.code == 0, r.stderr
    assert r.out.strip() == f"added {HELLO_CID} hello.txt"
    r = cli("add", "--quiet", "-", input=b"hello world\n")
    assert r.out.strip() == HELLO_CID
    r = cli("cat", HELLO_CID)
    assert r.stdout == b"hello world\n"
    r = cli("pin", "ls", "--json")
    assert r.json()[0]["cid"] == HELLO_CID
    r = cli("stat", HELLO_CID, "--json")
    assert r.json()["size"] == 12
    car = tmp_path / "h.car"
    r = cli("car", "export", HELLO_CID, "-o", str(car), "--json")
    assert r.code == 0 and r.json()["blocks"] == 1
    r = cli("pin", "rm", HELLO_CID)
    assert r.code == 0
    r = cli("gc", "--json")
    assert r.json()["removed_blocks"] == 1
    r = cli("car", "import", str(car), "--json")
    assert r.json()["roots"] == [HELLO_CID]
    assert cli("cat", HELLO_CID).stdout == b"hello world\n"


def test_json_output_is_only_json(cli, tmp_path):
    f = tmp_path / "x"
    f.write_bytes(os.urandom(10_000_000))
    r = cli("add", "--json", str(f))
    assert r.code == 0
    doc = r.json()
    assert doc["bytes"] == 10_000_000 and doc["pinned"] is True


def test_add_options_are_applied(cli):
    r = cli("add", "-q", "--cid-version", "1", "-", input=b"hello world\n")
    assert r.out.strip().startswith("bafk")  # raw leaf, CIDv1
    r = cli("add", "-q", "--cid-version", "1", "--no-raw-leaves", "-", input=b"hello world\n")
    assert r.out.strip().startswith("bafy")


def test_bad_input_errors_are_one_line(cli, tmp_path):
    assert_one_line_error(cli("add", str(tmp_path / "missing")), "no such file")
    assert_one_line_error(cli("cat", "QmNotACid"), "invalid CID")
    assert_one_line_error(cli("add", "--chunker", "size-abc", "-", input=b"x"), "chunker")
    assert_one_line_error(cli("cat", HELLO_CID), "not in the local store")
    bad_car = tmp_path / "bad.car"
    bad_car.write_bytes(b"\x05hello this is not a car")
    assert_one_line_error(cli("car", "import", str(bad_car)), "CAR")
    assert_one_line_error(cli("files", "ls", "/nope"), "no such VFS path")
    unreadable = tmp_path / "unreadable"
    unreadable.write_bytes(b"x")
    unreadable.chmod(0)
    if os.geteuid() != 0:  # root reads anything
        assert_one_line_error(cli("add", str(unreadable)), "permission denied")
    # Nothing was stored by any of the failures.
    assert not list((tmp_path / "home" / "blocks").rglob("*.data"))


def test_files_commands(cli, tmp_path):
    src = tmp_path / "note.txt"
    src.write_bytes(b"a note")
    assert cli("files", "mkdir", "-p", "/notes/2026").code == 0
    assert cli("files", "write", "/notes/2026/n.txt", str(src)).code == 0
    assert cli("files", "read", "/notes/2026/n.txt").stdout == b"a note"
    r = cli("files", "ls", "/notes/2026", "--json")
    assert [e["name"] for e in r.json()] == ["n.txt"]
    assert cli("files", "cp", "/notes", "/copy").code == 0
    assert cli("files", "mv", "/copy", "/moved").code == 0
    r = cli("files", "stat", "/", "--json")
    assert r.json()["type"] == "directory"
    assert cli("files", "rm", "-r", "/moved", "--json").json()["path"] == "/moved"


def _all_blocks_verify(blocks_dir) -> int:
    count = 0
    for path in blocks_dir.rglob("*.data"):
        mh = key_multihash(path.name[:-5])
        assert mh[2:] == hashlib.sha256(path.read_bytes()).digest(), f"corrupt block {path}"
        count += 1
    return count


def test_sigkill_mid_add_leaves_no_partial_block(home, tmp_path):
    data = os.urandom(64 * 262144)
    env = {**os.environ, "IPFS_KIT_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "ipfs_kit_py.cli.main", "add", "-q", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdin.write(data[: 20 * 262144])
    proc.stdin.flush()
    blocks_dir = home / "blocks"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(list(blocks_dir.rglob("*.data"))) < 10:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    stored = _all_blocks_verify(blocks_dir)
    assert 10 <= stored < 64
    r = subprocess.run([sys.executable, "-m", "ipfs_kit_py.cli.main", "add", "-q", "-"],
                       input=data, capture_output=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    cid = r.stdout.decode().strip()
    _all_blocks_verify(blocks_dir)
    r = subprocess.run([sys.executable, "-m", "ipfs_kit_py.cli.main", "cat", cid],
                       capture_output=True, env=env, timeout=60)
    assert r.stdout == data


def test_corrupt_block_cat_fails_naming_the_cid(cli, home):
    cid = cli("add", "-q", "-", input=b"important bytes").out.strip()
    (block,) = list((home / "blocks").rglob("*.data"))
    block.write_bytes(b"Important bytes")
    assert_one_line_error(cli("cat", cid), cid, "corrupt")
