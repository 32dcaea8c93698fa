"""CLI failures the user causes (paths, arguments, answers) are one `Error:` line, and apply nothing.

Tests run as root, so unwritable paths are ones no one can write: a path under a
regular file (NotADirectoryError) or a new name in /proc (FileNotFoundError).
"""

from __future__ import annotations

import json
import os
import stat

import pytest

from ipfs_kit_py.cli.main import _os_error_text
from tests.conftest import assert_one_line_error

INTERNAL_ERROR_EXIT = 70


@pytest.fixture
def tree(tmp_path):
    """src/{a.txt, sub/b.txt, z.txt}: `get` visits a.txt, sub, sub/b.txt, z.txt in that order."""
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"a\n")
    (src / "sub" / "b.txt").write_bytes(b"b\n")
    (src / "z.txt").write_bytes(b"z\n")
    return src


def _add(cli, *args: str) -> str:
    r = cli("add", "-q", *args)
    assert r.code == 0, r.stderr
    return r.out.split()[-1]


def _user_error(result, *fragments: str) -> None:
    assert_one_line_error(result, *fragments)
    assert result.code != INTERNAL_ERROR_EXIT and "internal error" not in result.stderr


def test_unwritable_output_paths_are_one_line_errors(cli, tmp_path, tree):
    file_cid = _add(cli, str(tree / "a.txt"))
    dir_cid = _add(cli, "-r", str(tree))
    regular = tmp_path / "regular"
    regular.write_bytes(b"not a directory")

    _user_error(cli("get", file_cid, "-o", str(regular / "x")), f"cannot write {regular / 'x'}", "not a directory")
    _user_error(cli("get", dir_cid, "-o", str(regular / "d")), f"cannot write {regular / 'd'}", "Not a directory")
    _user_error(cli("car", "export", file_cid, "-o", str(regular / "x.car")), "cannot write", "not a directory")
    _user_error(cli("get", file_cid, "-o", "/proc/ipfs-kit-no-such"), "cannot write /proc/ipfs-kit-no-such",
                "No such file or directory")
    assert regular.read_bytes() == b"not a directory"


def test_os_errors_outside_our_writers_are_one_line_not_internal(cli, tmp_path):
    # The audit report writer and the adder's walk let plain OSErrors out (today); the CLI's
    # last resort names the path instead of calling them internal errors.
    regular = tmp_path / "regular"
    regular.write_bytes(b"x")
    _user_error(cli("audit-analytics", "report", "--output", str(regular / "r.html")), str(regular))
    # Listing /proc/self/fd includes the listing's own descriptor, gone by the time it is read.
    _user_error(cli("add", "-r", "/proc/self/fd"), "/proc/self/fd")


def test_os_error_text_is_strerror_and_path():
    assert _os_error_text(FileNotFoundError(2, "No such file or directory", "/proc/x")) == \
        "No such file or directory: /proc/x"
    assert _os_error_text(IsADirectoryError(21, "Is a directory", "/o/.tmp", None, "/o/a")) == \
        "Is a directory: /o/.tmp -> /o/a"
    assert _os_error_text(OSError("no errno")) == "no errno"


def test_get_into_a_conflicting_directory_writes_nothing(cli, tmp_path, tree):
    dir_cid = _add(cli, "-r", str(tree))

    out1 = tmp_path / "out1"
    (out1 / "a.txt").mkdir(parents=True)
    _user_error(cli("get", dir_cid, "-o", str(out1)), f"{out1 / 'a.txt'} exists and is a directory")
    assert sorted(p.name for p in out1.rglob("*")) == ["a.txt"]

    out3 = tmp_path / "out3"
    out3.mkdir()
    (out3 / "sub").write_bytes(b"")
    _user_error(cli("get", dir_cid, "-o", str(out3)), f"{out3 / 'sub'} exists and is not a directory")
    assert sorted(p.name for p in out3.iterdir()) == ["sub"]  # a.txt, before the conflict, not written

    # Without conflicts the same get merges into the existing directory.
    (out3 / "sub").unlink()
    assert cli("get", dir_cid, "-o", str(out3)).code == 0
    assert (out3 / "sub" / "b.txt").read_bytes() == b"b\n"


def test_written_files_get_the_umask_mode_not_0600(cli, tmp_path, tree):
    file_cid = _add(cli, str(tree / "a.txt"))
    dir_cid = _add(cli, "-r", str(tree))
    old = os.umask(0o002)  # inherited by the CLI process
    try:
        assert cli("get", file_cid, "-o", str(tmp_path / "f")).code == 0
        assert cli("get", dir_cid, "-o", str(tmp_path / "d")).code == 0
        assert cli("car", "export", file_cid, "-o", str(tmp_path / "f.car")).code == 0
    finally:
        os.umask(old)
    for path in (tmp_path / "f", tmp_path / "d" / "sub" / "b.txt", tmp_path / "f.car"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o664, path
    assert not [p for p in tmp_path.rglob(".ipfs-kit-tmp-*")]


def test_car_export_dash_writes_stdout(cli, tmp_path, tree, monkeypatch):
    file_cid = _add(cli, str(tree / "a.txt"))
    assert cli("car", "export", file_cid, "-o", str(tmp_path / "f.car")).code == 0
    monkeypatch.chdir(tmp_path)  # the CLI runs here: a file named "-" would appear here
    r = cli("car", "export", file_cid, "-o", "-")
    assert r.code == 0, r.stderr
    assert r.stdout == (tmp_path / "f.car").read_bytes()
    assert not (tmp_path / "-").exists()
    # --json would mix the document into the CAR.
    _user_error(cli("car", "export", file_cid, "-o", "-", "--json"), "--json")


def _recursive_pins(cli) -> set[str]:
    return {row["cid"] for row in cli("pin", "ls", "--type", "recursive", "--json").json()}


def test_pin_with_one_bad_argument_applies_none(cli, tree):
    pinned = _add(cli, str(tree / "a.txt"))
    unpinned = _add(cli, "--no-pin", str(tree / "z.txt"))
    before = _recursive_pins(cli)
    assert pinned in before and unpinned not in before

    _user_error(cli("pin", "rm", pinned, unpinned), f"{unpinned} is not pinned")
    _user_error(cli("pin", "add", unpinned, "notacid"), "invalid CID 'notacid'")
    assert _recursive_pins(cli) == before

    # A CID given twice is unpinned once, not "not pinned" the second time.
    r = cli("pin", "rm", pinned, pinned, "--json")
    assert r.code == 0, r.stderr
    assert [row["cid"] for row in r.json()] == [pinned]


def test_add_json_of_an_undecodable_file_name_is_valid_utf8(cli, tmp_path):
    raw = os.fsencode(tmp_path) + b"/bad\xff\xfename"
    with open(raw, "wb") as fh:
        fh.write(b"x")
    r = cli("add", "--json", os.fsdecode(raw))
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout.decode("utf-8"))  # strict: raises on the raw bytes
    assert doc["entries"][0]["name"] == "bad\ufffd\ufffdname"


@pytest.mark.parametrize("args, fragments", [
    (("add", "--cid-version", "2", "f"), ("--cid-version", "(see 'ipfs-kit add --help')")),
    (("pin", "ls", "--type", "bogus"), ("'bogus'", "(see 'ipfs-kit pin ls --help')")),
    (("no-such-command",), ("No such command", "(see 'ipfs-kit --help')")),
])
def test_usage_errors_are_one_line(cli, args, fragments):
    r = cli(*args)
    _user_error(r, *fragments)
    assert r.code == 2


def test_prune_without_yes_and_without_a_terminal_fails_at_once(cli):
    r = cli("audit", "prune", "--before", "90d", input=b"y\n")  # piped stdin is not an answer
    _user_error(r, "audit prune deletes events; pass --yes to confirm")
    assert r.code != 130


def test_messages_name_what_the_user_gave(cli, tmp_path):
    r = cli("files", "write", "/a/x", str(tmp_path))
    _user_error(r, f"{tmp_path} is a directory; files write takes a file")
    assert "use -r" not in r.stderr
    _user_error(cli("cat", "/ipns/k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8"),
                "IPNS names are not supported", "/ipfs/<cid>")
    assert cli("files", "mkdir", "/dir").code == 0
    _user_error(cli("files", "read", "/dir"), "/dir is a directory, not a file")


def test_a_failing_command_in_a_home_that_cannot_save_stats_prints_one_line(cli, home, tree):
    _add(cli, str(tree / "a.txt"))
    lock = home / "cache-stats.json.lock"  # the stats file's lock: unusable even for root
    lock.unlink()
    lock.mkdir()
    _user_error(cli("cat", "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"), "not in the local store")


def test_float_options_refuse_nan_and_infinity(cli):
    # click's FloatRange lets NaN through (every comparison with it is false).
    for args in (["audit", "tail", "-f", "--max-seconds", "nan"], ["audit", "tail", "-f", "--interval", "nan"],
                 ["audit", "tail", "-f", "--max-seconds", "1e400"], ["backend", "sync", "--wait", "nan"]):
        r = cli(*args)
        assert_one_line_error(r, "is not a finite number")
        assert r.code == 2


def test_outputs_never_replace_a_fifo_or_a_symlink_or_make_directories(cli, tmp_path):
    import stat as stat_mod

    cid = cli("add", "-q", "-", input=b"to some output\n").out.strip()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for args in (["car", "export", cid, "-o", str(fifo)], ["get", cid, "-o", str(fifo)],
                 ["audit", "export", "-o", str(fifo)]):
        assert_one_line_error(cli(*args), "is not a regular file")
        assert stat_mod.S_ISFIFO(os.lstat(fifo).st_mode), args
    real, link = tmp_path / "real.jsonl", tmp_path / "link.jsonl"
    real.write_text("old\n")
    link.symlink_to(real)
    assert cli("audit", "export", "-o", str(link)).code == 0
    assert link.is_symlink() and real.read_text().startswith("{")
    r = cli("audit", "export", "-o", str(tmp_path / "missing" / "x.jsonl"))
    assert_one_line_error(r, "does not exist")
    assert not (tmp_path / "missing").exists()


def test_a_too_deep_vfs_path_is_refused_before_anything_changes(cli):
    assert cli("files", "write", "/keep.txt", "-", input=b"keep\n").code == 0
    root = cli("files", "stat", "/", "--json").json()["cid"]
    deep = "/deep" + "/d" * 600
    for args in (["files", "mkdir", "-p", deep], ["files", "write", "-p", deep + "/f", "-"]):
        assert_one_line_error(cli(*args, input=b"x"), "at most 256 levels deep")
    assert cli("files", "stat", "/", "--json").json()["cid"] == root
    assert cli("gc").code == 0 and cli("files", "read", "/keep.txt").out == "keep\n"


def test_control_characters_in_stored_text_are_shown_escaped(cli, tmp_path):
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_text('{"event_type":"authentication","action":"auth.login","status":"failure","timestamp":1700000000.0,'
                       '"user_id":"evil\\u001b[2J\\nfake line\\r"}\n')
    assert cli("audit", "import", str(hostile), "--format", "jsonl").code == 0
    for args in (["audit", "query", "-u", "evil\x1b[2J\nfake line\r"], ["audit", "tail", "-n", "5"]):
        r = cli(*args)
        assert r.code == 0, r.stderr
        assert "\x1b" not in r.out and "\r" not in r.out and "evil\\x1b[2J\\x0afake line\\x0d" in r.out


def test_an_empty_checkpoint_to_verify_is_an_error_not_a_new_checkpoint(cli):
    assert_one_line_error(cli("audit", "checkpoint", "--verify", ""), "a CID or CID/path is required")
    assert cli("audit", "query", "-a", "audit.checkpoint", "--json").json()["events"] == []
