import base64
import json
import subprocess
import tracemalloc

import pytest
from core_testlib import (
    AT_THRESHOLD,
    OVER_THRESHOLD,
    VECTORS,
    MemoryStore,
    gen_bytes,
    gen_pieces,
    python_results,
    reference_cases,
)
from multiformats import CID

from ipfs_kit_py.core.cid import cid_str
from ipfs_kit_py.core.dag import iter_file, list_directory, resolve_path, stat, walk_tree
from ipfs_kit_py.core.dagpb import decode_node
from ipfs_kit_py.core.importer import (
    FileImporter,
    ImportedNode,
    ImportOptions,
    build_directory,
    import_bytes,
    parse_chunker,
)
from ipfs_kit_py.core.unixfs import decode_unixfs
from ipfs_kit_py.errors import InvalidInput, NotFound

EMPTY_FILE = "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
HELLO = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
EMPTY_DIR = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"


# --- well-known constants ----------------------------------------------------


def test_well_known_cids():
    assert cid_str(import_bytes(b"").cid) == EMPTY_FILE
    assert cid_str(import_bytes(b"hello world\n").cid) == HELLO
    assert cid_str(build_directory([]).cid) == EMPTY_DIR
    # raw leaves: a one-chunk file is the raw block itself
    assert cid_str(import_bytes(b"", ImportOptions(cid_version=1)).cid) == (
        "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    )
    assert cid_str(import_bytes(b"hello world\n", ImportOptions(cid_version=1, raw_leaves=False)).cid) == (
        "bafybeicg2rebjoofv4kbyovkw7af3rpiitvnl6i7ckcywaq6xjcxnc2mby"
    )
    # trickle keeps a root above the (empty) leaf layer: same bytes as the empty file
    assert cid_str(import_bytes(b"", ImportOptions(trickle=True)).cid) == EMPTY_FILE


def test_single_chunk_leaf_shapes():
    store = MemoryStore()
    node = import_bytes(b"hello world\n", ImportOptions(), store.emit)
    assert (node.size, node.tsize) == (12, 20)
    block = store.blocks[node.cid]
    pb = decode_node(block)
    assert pb.links == ()
    fs = decode_unixfs(pb.data)
    assert (fs.type_name, fs.data, fs.filesize) == ("file", b"hello world\n", 12)

    store = MemoryStore()
    node = import_bytes(b"hello world\n", ImportOptions(cid_version=1), store.emit)
    assert node.cid.codec.name == "raw" and node.cid.version == 1
    assert store.blocks == {node.cid: b"hello world\n"}

    # raw leaves with CIDv0: leaves are CIDv1 raw, the root above them is v0
    store = MemoryStore()
    node = import_bytes(b"x" * 300, ImportOptions(chunk_size=100, raw_leaves=True), store.emit)
    assert node.cid.version == 0
    children = decode_node(store.blocks[node.cid]).links
    assert [c.cid.codec.name for c in children] == ["raw"] * 3
    assert len({c.cid for c in children}) == 1  # three equal chunks, one block
    assert len(store.blocks) == 2


def test_import_options_defaults_and_validation():
    assert ImportOptions().leaves_are_raw is False
    assert ImportOptions(cid_version=1).leaves_are_raw is True
    assert ImportOptions(cid_version=1, raw_leaves=False).leaves_are_raw is False
    assert ImportOptions(raw_leaves=True).leaves_are_raw is True
    for bad in ({"cid_version": 2}, {"chunk_size": 0}, {"chunk_size": 1048577}, {"chunk_size": 1.5},
                {"chunk_size": True}):
        with pytest.raises(InvalidInput):
            ImportOptions(**bad)


def test_parse_chunker():
    assert parse_chunker("size-262144") == 262144
    assert parse_chunker("size-1") == 1
    assert parse_chunker("size-1048576") == 1048576
    for bad in ("size-0", "size-1048577", "size--1", "size-", "size-1k", "rabin", "buzhash",
                "", "262144", "size-١٢", None):
        with pytest.raises(InvalidInput) as err:
            parse_chunker(bad)
        assert "chunker" in str(err.value)


# --- against the independent references ---------------------------------------


def test_vectors_json_matches_python():
    """Offline check: the committed JS outputs equal what we compute."""
    committed = json.loads(VECTORS.read_text(encoding="utf-8"))["results"]
    cases = reference_cases()
    assert set(committed) == {c["id"] for c in cases}
    ours = python_results(cases)
    for case_id, expected in committed.items():
        assert ours[case_id]["cid"] == expected["cid"], case_id
        for path, cid in expected["entries"].items():
            assert ours[case_id]["entries"][path] == cid, (case_id, path)


def test_js_importer_agrees(js_results):
    """Live check: run the JS importer now and compare every root and entry."""
    ours = python_results(reference_cases())
    assert set(js_results) == set(ours)
    for case_id, expected in js_results.items():
        assert ours[case_id]["cid"] == expected["cid"], case_id
        assert expected["entries"].keys() <= ours[case_id]["entries"].keys(), case_id
        for path, cid in expected["entries"].items():
            assert ours[case_id]["entries"][path] == cid, (case_id, path)
    # and the committed vectors are what the JS importer says today
    committed = json.loads(VECTORS.read_text("utf-8"))["results"]
    assert {k: v["cid"] for k, v in committed.items()} == {k: v["cid"] for k, v in js_results.items()}


@pytest.mark.parametrize("seed,size", [(0, 0), (1, 1), (2, 262144), (3, 262145), (4, 1048576 * 3 + 17),
                                       (7, 175 * 262144 + 1)])
def test_debian_ipfs_cid_agrees(ipfs_cid_bin, tmp_path, seed, size):
    data = gen_bytes(seed, size)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    proc = subprocess.run([ipfs_cid_bin, str(path)], capture_output=True, timeout=120, check=True)
    reported = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    ours = import_bytes(data).cid
    assert reported["CIDv0"] == cid_str(ours)
    # ipfs_cid's "CIDv1" is the same DAG named as CIDv1, not kubo --cid-version=1
    assert reported["CIDv1"] == cid_str(CID("base32", 1, "dag-pb", ours.digest))


# --- streaming behaviour -------------------------------------------------------


@pytest.mark.parametrize("trickle", [False, True])
@pytest.mark.parametrize("raw", [False, True])
def test_piece_sizes_do_not_change_the_result(trickle, raw):
    data = gen_bytes(21, 50_000)
    options = ImportOptions(chunk_size=1000, raw_leaves=raw, trickle=trickle)
    expected = import_bytes(data, options)
    for piece in (1, 7, 999, 1000, 1001, 4096, 49_999):
        importer = FileImporter(options)
        for i in range(0, len(data), piece):
            importer.write(data[i : i + piece])
        assert importer.finish() == expected
    # memoryview, bytearray and non-byte buffers are accepted too
    importer = FileImporter(options)
    importer.write(memoryview(data)[:10_000])
    importer.write(bytearray(data[10_000:20_000]))
    importer.write(memoryview(data[20_000:]).cast("H") if len(data[20_000:]) % 2 == 0 else data[20_000:])
    assert importer.finish() == expected


def test_mutable_input_is_not_read_after_write_returns():
    # Callers reuse their read buffer: the importer must have taken what it needs.
    data = gen_bytes(22, 2 * 1024 * 1024)
    options = ImportOptions(chunk_size=262144)
    expected = import_bytes(data, options)
    importer = FileImporter(options)
    buf = bytearray(262144 * 2)
    for i in range(0, len(data), len(buf)):
        buf[:] = data[i : i + len(buf)]
        importer.write(buf)
        buf[:] = b"\xff" * len(buf)  # scribble over it
    assert importer.finish() == expected


def test_emit_once_children_first_and_complete(store):
    data = b"\0" * (262144 * 400)  # identical leaves: one leaf block, many links
    node = import_bytes(data, ImportOptions(), store.emit)
    assert store.puts == len(store.blocks)  # nothing emitted twice
    assert b"".join(iter_file(store.get, node.cid)) == data
    info = stat(store.get, node.cid)
    assert info.blocks == len(store.blocks) == 4  # leaf, full node of 174, node of 52, root
    assert info.cumulative_size == node.tsize

    order = []
    import_bytes(gen_bytes(23, 200 * 1024), ImportOptions(chunk_size=1024), lambda c, b: order.append((c, b)))
    seen = set()
    for cid, block in order:
        if cid.codec.name == "dag-pb":
            for link in decode_node(block).links:
                assert link.cid in seen  # every child came before its parent
        seen.add(cid)


def test_only_hash_gives_same_cid_without_blocks():
    data = gen_bytes(24, 3 * 262144 + 5)
    for options in (ImportOptions(), ImportOptions(cid_version=1), ImportOptions(trickle=True)):
        store = MemoryStore()
        assert import_bytes(data, options).cid == import_bytes(data, options, store.emit).cid


def test_finish_and_write_after_finish():
    importer = FileImporter()
    importer.write(b"abc")
    importer.finish()
    with pytest.raises(InvalidInput):
        importer.write(b"more")
    with pytest.raises(InvalidInput):
        importer.finish()


def test_memory_stays_flat_for_a_large_stream():
    """64 MiB through the importer must not grow memory with the file."""
    options = ImportOptions()
    importer = FileImporter(options)
    piece = next(gen_pieces(25, 1 << 20))
    tracemalloc.start()
    try:
        for i in range(64):
            importer.write(piece[i:] + piece[:i])  # distinct data, 1 MiB writes
            if i == 8:
                base = tracemalloc.get_traced_memory()[0]
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    importer.finish()
    # in flight: a few 256 KiB chunks plus the caller's piece; never the file
    assert current - base < 2 * 1024 * 1024
    assert peak < 12 * 1024 * 1024


# --- directories ----------------------------------------------------------------


def test_directory_sorting_and_sizes(store):
    a = import_bytes(b"a", ImportOptions(), store.emit)
    b = import_bytes(b"bb", ImportOptions(), store.emit)
    names = ["z", "é", "B", "a", "a.b", "a-b", "文件"]
    node = build_directory([(n, a if i % 2 else b) for i, n in enumerate(names)], ImportOptions(), store.emit)
    links = decode_node(store.blocks[node.cid]).links
    assert [link.name for link in links] == sorted(names, key=lambda n: n.encode())
    assert [link.name for link in links] == ["B", "a", "a-b", "a.b", "z", "é", "文件"]
    assert node.size == 4 * 2 + 3 * 1  # content bytes of the entries
    assert node.tsize == len(store.blocks[node.cid]) + sum(link.tsize for link in links)
    assert decode_unixfs(decode_node(store.blocks[node.cid]).data).type_name == "directory"


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "/abs", "nul\0", "\udcff"])
def test_directory_rejects_bad_names(name):
    child = import_bytes(b"x")
    with pytest.raises(InvalidInput):
        build_directory([(name, child)])


def test_directory_rejects_duplicates():
    child = import_bytes(b"x")
    with pytest.raises(InvalidInput) as err:
        build_directory([("a", child), ("a", child)])
    assert "duplicate" in str(err.value)


def _as_entries(tree_entries, store):
    return [(e["path"], import_bytes(base64.b64decode(e["file"]["b64"]), ImportOptions(), store.emit))
            for e in tree_entries]


def test_large_directories_become_hamt_shards_exactly_over_the_threshold():
    store = MemoryStore()
    flat = build_directory(_as_entries(AT_THRESHOLD, store), ImportOptions(), store.emit)
    assert decode_unixfs(decode_node(store.blocks[flat.cid]).data).type_name == "directory"

    store = MemoryStore()
    entries = _as_entries(OVER_THRESHOLD, store)
    node = build_directory(entries, ImportOptions(), store.emit)
    root = decode_node(store.blocks[node.cid])
    fs = decode_unixfs(root.data)
    assert (fs.type_name, fs.fanout, fs.hash_type) == ("hamt-sharded-directory", 256, 0x22)
    assert any(len(link.name) == 2 for link in root.links)  # some buckets are sub-shards
    assert node.size == sum(child.size for _, child in entries)

    # and it reads back: listing, lookups by hash, walks, stats
    listed = {e.name: e.cid for e in list_directory(store.get, node.cid)}
    assert listed == {name: child.cid for name, child in entries}
    for name, child in entries[::97]:
        assert resolve_path(store.get, node.cid, [name]) == child.cid
    with pytest.raises(NotFound):
        resolve_path(store.get, node.cid, ["not-there"])
    assert len(list(walk_tree(store.get, node.cid))) == len(entries) + 1
    info = stat(store.get, node.cid)
    assert (info.type, info.blocks, info.cumulative_size) == ("directory", len(store.blocks), node.tsize)


def test_directory_cid_version_follows_options():
    child = import_bytes(b"x", ImportOptions(cid_version=1))
    node = build_directory([("x", child)], ImportOptions(cid_version=1))
    assert node.cid.version == 1 and node.cid.codec.name == "dag-pb"
    assert isinstance(node, ImportedNode)


def test_importer_works_in_a_forked_child():
    import os

    data = gen_bytes(26, 1 << 20)
    expected = cid_str(import_bytes(data).cid)  # the parent's pool exists now
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: must not hang on the parent's pool
        try:
            os.write(write_fd, cid_str(import_bytes(data).cid).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        got = pipe.read().decode()
    os.waitpid(pid, 0)
    assert got == expected


def test_symlinks_are_imported_and_read_back(store):
    from ipfs_kit_py.core.dag import read_symlink
    from ipfs_kit_py.core.importer import import_symlink

    node = import_symlink("../a.txt", ImportOptions(), store.emit)
    assert (node.size, node.tsize) == (8, len(store.blocks[node.cid]))
    assert read_symlink(store.get, node.cid) == "../a.txt"
    for bad in ("", "a\0b", "\udcff", None):
        with pytest.raises(InvalidInput):
            import_symlink(bad)
