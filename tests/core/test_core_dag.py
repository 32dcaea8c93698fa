import pytest
from core_testlib import TREE, MemoryStore, gen_bytes, import_tree

from ipfs_kit_py.core import dag
from ipfs_kit_py.core.cid import cid_from_digest, cid_str
from ipfs_kit_py.core.dag import (
    iter_file,
    list_directory,
    read_symlink,
    resolve_path,
    stat,
    walk_blocks,
    walk_tree,
)
from ipfs_kit_py.core.dagpb import PBLink, encode_node
from ipfs_kit_py.core.hamt import bucket_index, murmur3_64
from ipfs_kit_py.core.importer import ImportOptions, import_bytes
from ipfs_kit_py.core.unixfs import DIRECTORY, FILE, HAMT_SHARD, SYMLINK, encode_unixfs
from ipfs_kit_py.errors import CorruptBlock, InvalidInput, NotFound

# --- reading what the importer wrote ---------------------------------------------


@pytest.fixture(scope="module")
def tree():
    store = MemoryStore()
    root, nodes = import_tree(TREE, ImportOptions(chunk_size=4096), store.emit)
    return store, root, nodes


def _data_of(path):
    from core_testlib import content_pieces

    entry = next(e for e in TREE if e["path"] == path)
    return b"".join(content_pieces(entry["file"]))


def test_iter_file_ranges():
    store = MemoryStore()
    data = gen_bytes(40, 200_000)
    node = import_bytes(data, ImportOptions(chunk_size=1000), store.emit)  # two levels
    assert b"".join(iter_file(store.get, node.cid)) == data
    for offset, length in ((0, 0), (0, 1), (999, 2), (1000, 1000), (173_999, 2002), (199_999, 10),
                           (200_000, 5), (500_000, None), (5, None), (0, 10**12)):
        expected = data[offset : None if length is None else offset + length]
        assert b"".join(iter_file(store.get, node.cid, offset, length)) == expected
    for bad in ({"offset": -1}, {"length": -1}, {"offset": 1.5}, {"length": "3"}):
        with pytest.raises(InvalidInput):
            list(iter_file(store.get, node.cid, **bad))


def test_iter_file_fetches_only_what_it_needs():
    store = MemoryStore()
    data = gen_bytes(41, 100_000)
    node = import_bytes(data, ImportOptions(chunk_size=1000), store.emit)
    fetched = []

    def get(cid):
        fetched.append(cid)
        return store.get(cid)

    assert b"".join(iter_file(get, node.cid, 50_500, 10)) == data[50_500:50_510]
    assert len(fetched) == 2  # the root and one leaf


def test_directory_views(tree):
    store, root, nodes = tree
    entries = list_directory(store.get, root.cid)
    names = [e.name for e in entries]
    assert names == sorted(names, key=str.encode)
    by_name = {e.name: e for e in entries}
    assert by_name["sub"].type == "directory" and by_name["sub"].size == 0
    assert by_name["ünïcödé 文件.bin"].size == 300_000
    assert by_name["ünïcödé 文件.bin"].type == "file"
    assert by_name["a.txt"].cid == nodes["a.txt"].cid
    for entry in entries:  # the link Tsize is the child's cumulative size
        assert entry.tsize == nodes[entry.name].tsize
    assert by_name["a.txt"].to_dict() == {
        "name": "a.txt", "cid": "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
        "size": 12, "type": "file", "tsize": 20}

    cid = resolve_path(store.get, root.cid, ["sub", "deeper", "😀 emoji"])
    assert b"".join(iter_file(store.get, cid)) == b"smile"
    assert resolve_path(store.get, root.cid, ["", "sub", ""]) == nodes["sub"].cid
    assert resolve_path(store.get, root.cid, []) == root.cid
    with pytest.raises(NotFound):
        resolve_path(store.get, root.cid, ["sub", "missing"])
    with pytest.raises(InvalidInput):
        resolve_path(store.get, root.cid, ["a.txt", "x"])
    for bad in ("..", ".", "a/b", "x\0"):
        with pytest.raises(InvalidInput):
            resolve_path(store.get, root.cid, [bad])

    walked = list(walk_tree(store.get, root.cid))
    assert walked[0] == ((), "directory", root.cid)
    paths = {"/".join(parts): (kind, cid) for parts, kind, cid in walked}
    assert paths["sub/empty"][0] == "directory"
    assert paths["sub/deeper/data.bin"] == ("file", nodes["sub/deeper/data.bin"].cid)
    assert {p for p in paths if p} == {e["path"] for e in TREE} | {"sub", "sub/deeper"}
    for path, (kind, cid) in paths.items():
        if kind == "file":
            assert b"".join(iter_file(store.get, cid)) == _data_of(path)
    # a directory is yielded before anything inside it
    order = [parts for parts, _, _ in walked]
    assert order.index(("sub",)) < order.index(("sub", "deeper")) < order.index(("sub", "deeper", "data.bin"))


def test_stat_and_walk_blocks(tree):
    store, root, _ = tree
    blocks = list(walk_blocks(store.get, root.cid))
    assert len(blocks) == len(set(blocks)) == len(store.blocks)
    assert blocks[0] == root.cid
    info = stat(store.get, root.cid)
    assert (info.type, info.size, info.blocks, info.cumulative_size) == (
        "directory", 0, len(store.blocks), root.tsize)
    assert info.to_dict() == {"cid": cid_str(root.cid), "type": "directory", "size": 0,
                              "cumulative_size": root.tsize, "blocks": len(store.blocks),
                              "links": 8}
    file_cid = resolve_path(store.get, root.cid, ["ünïcödé 文件.bin"])
    info = stat(store.get, file_cid)
    assert (info.type, info.size, info.links) == ("file", 300_000, 74)
    raw = import_bytes(b"raw!", ImportOptions(cid_version=1), store.emit)
    info = stat(store.get, raw.cid)
    assert (info.type, info.size, info.cumulative_size, info.blocks, info.links) == ("raw", 4, 4, 1, 0)
    assert list(walk_blocks(store.get, raw.cid)) == [raw.cid]
    with pytest.raises(InvalidInput):
        list_directory(store.get, file_cid)
    with pytest.raises(InvalidInput):
        list(iter_file(store.get, root.cid))


def test_corrupt_blocks_surface_from_get_block():
    store = MemoryStore()
    node = import_bytes(gen_bytes(42, 10_000), ImportOptions(chunk_size=1000), store.emit)
    leaf = next(c for c in store.blocks if c != node.cid)
    store.blocks[leaf] = b"tampered"
    with pytest.raises(CorruptBlock):
        list(iter_file(store.get, node.cid))


# --- hostile DAGs: get_block returns whatever it likes ------------------------------


def fake(n: int, version: int = 0, codec: int = 0x70):
    """A CID we can map to any bytes (as a hostile get_block would)."""
    return cid_from_digest(version, codec, n.to_bytes(32, "big"))


def file_block(children, data=None, filesize=None, blocksizes=None):
    sizes = [size for _, size in children] if blocksizes is None else blocksizes
    total = len(data or b"") + sum(sizes) if filesize is None else filesize
    links = [PBLink(cid, "", size + 10) for cid, size in children]
    return encode_node(links, encode_unixfs(FILE, data, total, sizes))


def dir_block(entries):
    return encode_node([PBLink(cid, name, 1) for name, cid in entries], encode_unixfs(DIRECTORY))


def getter(blocks):
    def get(cid):
        try:
            return blocks[cid]
        except KeyError:
            raise NotFound(f"block {cid} not found") from None

    return get


def leaf(data: bytes):
    return encode_node([], encode_unixfs(FILE, data, len(data)))


@pytest.mark.parametrize("name", ["..", ".", "a/b", "/etc/passwd", "nul\0x", "", None, "../../x"])
def test_bad_entry_names_are_refused(name):
    blocks = {fake(1): dir_block([(name, fake(2))]), fake(2): leaf(b"x")}
    get = getter(blocks)
    with pytest.raises(InvalidInput) as err:
        list(walk_tree(get, fake(1)))
    assert "not allowed" in str(err.value)
    with pytest.raises(InvalidInput):
        list_directory(get, fake(1))
    with pytest.raises((InvalidInput, NotFound)):
        resolve_path(get, fake(1), ["x"])


def test_duplicate_entry_names_are_refused():
    blocks = {fake(1): dir_block([("a", fake(2)), ("a", fake(2))]), fake(2): leaf(b"x")}
    with pytest.raises(InvalidInput) as err:
        list(walk_tree(getter(blocks), fake(1)))
    assert "duplicate" in str(err.value)


def test_file_cycle_fails_cleanly():
    # a node that is its own only child, sizes consistent at every level
    blocks = {fake(1): file_block([(fake(1), 5)])}
    with pytest.raises(InvalidInput) as err:
        list(iter_file(getter(blocks), fake(1)))
    assert "deeper than" in str(err.value)
    assert list(walk_blocks(getter(blocks), fake(1))) == [fake(1)]
    assert stat(getter(blocks), fake(1)).blocks == 1


def test_directory_cycle_fails_cleanly():
    blocks = {fake(1): dir_block([("loop", fake(2))]), fake(2): dir_block([("back", fake(1))])}
    with pytest.raises(InvalidInput) as err:
        list(walk_tree(getter(blocks), fake(1)))
    assert "cycle" in str(err.value)
    assert len(list(walk_blocks(getter(blocks), fake(1)))) == 2


def test_directory_diamond_blowup_is_bounded(monkeypatch):
    # level i holds two names for level i+1: 2^40 paths from 41 blocks
    blocks = {fake(100 + i): dir_block([("a", fake(101 + i)), ("b", fake(101 + i))]) for i in range(40)}
    blocks[fake(140)] = leaf(b"x")
    monkeypatch.setattr(dag, "MAX_TREE_ENTRIES", 5000)
    with pytest.raises(InvalidInput) as err:
        list(walk_tree(getter(blocks), fake(100)))
    assert "more than 5000 entries" in str(err.value)
    assert len(list(walk_blocks(getter(blocks), fake(100)))) == 41


def test_depth_limit():
    depth = dag.MAX_DEPTH + 5
    blocks = {fake(1000 + i): file_block([(fake(1001 + i), 1)]) for i in range(depth)}
    blocks[fake(1000 + depth)] = leaf(b"x")
    with pytest.raises(InvalidInput):
        list(iter_file(getter(blocks), fake(1000)))
    with pytest.raises(InvalidInput):
        list(walk_blocks(getter(blocks), fake(1000)))
    dirs = {fake(5000 + i): dir_block([("d", fake(5001 + i))]) for i in range(depth)}
    dirs[fake(5000 + depth)] = dir_block([])
    with pytest.raises(InvalidInput):
        list(walk_tree(getter(dirs), fake(5000)))
    with pytest.raises(InvalidInput):
        resolve_path(getter(dirs), fake(5000), ["d"] * depth)


def test_link_count_and_block_size_limits(monkeypatch):
    monkeypatch.setattr(dag, "MAX_LINKS_PER_NODE", 100)
    blocks = {fake(1): dir_block([(f"n{i}", fake(2)) for i in range(101)]), fake(2): leaf(b"x")}
    with pytest.raises(InvalidInput) as err:
        list_directory(getter(blocks), fake(1))
    assert "more than 100 links" in str(err.value)
    blocks = {fake(3): leaf(b"x" * (dag.MAX_BLOCK_SIZE + 1))}
    with pytest.raises(InvalidInput) as err:
        list(iter_file(getter(blocks), fake(3)))
    assert "larger than" in str(err.value)


@pytest.mark.parametrize(
    "root_block,children",
    [
        # blocksizes count differs from link count
        (file_block([(fake(2), 1)], blocksizes=[1, 1]), {fake(2): leaf(b"x")}),
        # filesize larger than the parts
        (file_block([(fake(2), 1)], filesize=10**15), {fake(2): leaf(b"x")}),
        # child holds more than its parent declares
        (file_block([(fake(2), 1)]), {fake(2): leaf(b"xxxxxxxx")}),
        # raw child shorter than declared
        (file_block([(fake(2, 1, 0x55), 100)]), {fake(2, 1, 0x55): b"short"}),
        # a directory where file data should be
        (file_block([(fake(2), 1)]), {fake(2): dir_block([])}),
        # a non-UnixFS dag-pb node inside a file
        (file_block([(fake(2), 1)]), {fake(2): encode_node([], b"\xff\xff")}),
        # a dag-cbor link
        (file_block([(fake(2, 1, 0x71), 1)]), {fake(2, 1, 0x71): b"\xa0"}),
        # garbage instead of dag-pb
        (file_block([(fake(2), 1)]), {fake(2): b"\xff\xff\xff"}),
    ],
)
def test_inconsistent_files_fail_cleanly(root_block, children):
    blocks = {fake(1): root_block, **children}
    with pytest.raises(InvalidInput) as err:
        list(iter_file(getter(blocks), fake(1)))
    assert str(err.value).startswith("invalid DAG at block ")


def test_unsupported_root_codec():
    cid = fake(9, 1, 0x71)
    with pytest.raises(InvalidInput):
        stat(getter({cid: b"\xa0"}), cid)
    with pytest.raises(InvalidInput):
        list(walk_blocks(getter({cid: b"\xa0"}), cid))


def test_symlinks():
    link_block = encode_node([], encode_unixfs(SYMLINK, b"../target"))
    blocks = {fake(1): dir_block([("ln", fake(2))]), fake(2): link_block}
    get = getter(blocks)
    assert read_symlink(get, fake(2)) == "../target"
    assert list(walk_tree(get, fake(1)))[1] == (("ln",), "symlink", fake(2))
    assert list_directory(get, fake(1))[0].size == len("../target")
    with pytest.raises(InvalidInput):
        read_symlink(get, fake(1))


# --- HAMT-sharded directories -------------------------------------------------------


def shard(links, fanout=256, hash_type=0x22):
    return encode_node(
        [PBLink(cid, name, 1) for name, cid in links],
        encode_unixfs(HAMT_SHARD, b"\x00", None, (), hash_type, fanout),
    )


def test_murmur3_x64_64_known_values():
    assert murmur3_64(b"") == 0
    assert murmur3_64(b"hello") == 0xCBD8A7B341BD9B02
    # first half of the well-known x64_128 digest 6c1b07bc7bbc4be3 47939ac4a93c437a
    assert murmur3_64(b"The quick brown fox jumps over the lazy dog") == 0xE34BBC7BBC071B6C


def test_hand_built_hamt_is_read():
    bar_hash = murmur3_64(b"bar")
    top, inner = bucket_index(bar_hash, 0, 256), bucket_index(bar_hash, 8, 256)
    foo_index = (bucket_index(murmur3_64(b"foo"), 0, 256))
    assert foo_index != top
    blocks = {
        fake(1): shard(sorted([(f"{foo_index:02X}foo", fake(3)), (f"{top:02X}", fake(2))])),
        fake(2): shard([(f"{inner:02X}bar", fake(4))]),
        fake(3): leaf(b"foo"),
        fake(4): leaf(b"bar!"),
    }
    get = getter(blocks)
    listed = [(e.name, e.size) for e in list_directory(get, fake(1))]
    assert sorted(listed) == [("bar", 4), ("foo", 3)]
    assert resolve_path(get, fake(1), ["bar"]) == fake(4)
    assert resolve_path(get, fake(1), ["foo"]) == fake(3)
    with pytest.raises(NotFound):
        resolve_path(get, fake(1), ["baz"])
    assert sorted(p for p, _, _ in walk_tree(get, fake(1))) == [(), ("bar",), ("foo",)]
    assert stat(get, fake(1)).type == "directory"


def test_hostile_hamt_lookup():
    name_hash = murmur3_64(b"x")
    label = f"{bucket_index(name_hash, 0, 256):02X}"
    # a sub-shard chain that points back at itself
    blocks = {fake(1): shard([(label, fake(1))])}
    with pytest.raises(InvalidInput):
        resolve_path(getter(blocks), fake(1), ["x"])
    # a chain of distinct sub-shards deeper than the 64-bit hash
    chain = {}
    used = 0
    for level in range(9):
        index = bucket_index(name_hash, used, 256) if used + 8 <= 64 else 0
        chain[fake(10 + level)] = shard([(f"{index:02X}", fake(11 + level))])
        used += 8
    chain[fake(19)] = shard([])
    with pytest.raises(InvalidInput):
        resolve_path(getter(chain), fake(10), ["x"])


@pytest.mark.parametrize(
    "root",
    [
        shard([("zzfoo", fake(3))]),  # not a hex index
        shard([("0afoo", fake(3))]),  # lower-case index
        shard([("0", fake(3))]),  # too short
        shard([("0Afoo", fake(3))], fanout=100),  # fanout not a power of two
        shard([("0Afoo", fake(3))], hash_type=0x12),  # unknown hash
        shard([("1B", fake(1))]),  # shard containing itself
        shard([("1B", fake(3))]),  # a file where a sub-shard should be
        shard([("0A..", fake(3))]),  # bad entry name
    ],
)
def test_hostile_hamt(root):
    blocks = {fake(1): root, fake(3): leaf(b"foo")}
    with pytest.raises(InvalidInput):
        list_directory(getter(blocks), fake(1))

