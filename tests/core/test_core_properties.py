"""Property tests: whatever the importer writes, the reader gives back."""

import io

from core_testlib import MemoryStore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipfs_kit_py.core.car import read_car, write_car
from ipfs_kit_py.core.cid import cid_from_digest
from ipfs_kit_py.core.dag import (
    iter_file,
    list_directory,
    resolve_path,
    stat,
    walk_blocks,
    walk_tree,
)
from ipfs_kit_py.core.dagpb import PBLink, encode_node
from ipfs_kit_py.core.importer import FileImporter, ImportOptions
from ipfs_kit_py.core.unixfs import DIRECTORY, FILE, HAMT_SHARD, SYMLINK, encode_unixfs
from ipfs_kit_py.errors import IpfsKitError

options_strategy = st.builds(
    ImportOptions,
    cid_version=st.sampled_from([0, 1]),
    chunk_size=st.sampled_from([1, 7, 256, 1000, 4096, 65_536, 262_144]),
    raw_leaves=st.sampled_from([None, True, False]),
    trickle=st.booleans(),
)


@st.composite
def content(draw):
    """Up to ~600 KiB, cheap to draw: a random seed block repeated with a twist."""
    size = draw(st.one_of(st.integers(0, 4096), st.integers(0, 600 * 1024)))
    seed = draw(st.binary(min_size=1, max_size=64))
    reps = size // len(seed) + 1
    data = bytearray((seed * reps)[:size])
    for i in range(0, size, 997):  # break the period so leaves differ
        data[i] = (i // 997) & 0xFF
    return bytes(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=content(), options=options_strategy, piece=st.integers(1, 300_000), rnd=st.randoms())
def test_import_then_read_back(data, options, piece, rnd):
    if options.chunk_size < 256 and len(data) > 50_000:
        data = data[:50_000]  # keep tiny-chunk cases fast
    store = MemoryStore()
    importer = FileImporter(options, store.emit)
    for i in range(0, len(data), piece):
        importer.write(data[i : i + piece])
    node = importer.finish()

    assert node.size == len(data)
    assert b"".join(iter_file(store.get, node.cid)) == data
    if data:
        start = rnd.randrange(len(data))
        length = rnd.randrange(len(data) - start + 1)
        assert b"".join(iter_file(store.get, node.cid, start, length)) == data[start : start + length]

    info = stat(store.get, node.cid)
    assert info.size == len(data)
    assert info.cumulative_size == node.tsize
    assert info.blocks == len(store.blocks) == store.puts  # each block emitted once
    assert set(walk_blocks(store.get, node.cid)) == set(store.blocks)


@settings(max_examples=25, deadline=None)
@given(data=content(), options=options_strategy)
def test_import_to_car_and_back(data, options):
    if options.chunk_size < 256:
        data = data[:20_000]
    store = MemoryStore()
    node = FileImporter(options, store.emit)
    node.write(data)
    root = node.finish()
    out = io.BytesIO()
    write_car(out, [root.cid], ((cid, store.blocks[cid]) for cid in walk_blocks(store.get, root.cid)))
    out.seek(0)
    roots, blocks = read_car(out)
    copy = MemoryStore()
    for cid, block in blocks:
        copy.emit(cid, block)
    assert roots == [root.cid]
    assert b"".join(iter_file(copy.get, root.cid)) == data


# --- hostile DAGs from a small universe of CIDs ----------------------------------

UNIVERSE = [cid_from_digest(0, 0x70, bytes([i]) * 32) for i in range(5)] + [
    cid_from_digest(1, 0x55, bytes([9]) * 32)
]
names = st.sampled_from(["a", "b", "", ".", "..", "x/y", "n\0", "é", "0A", "1Bz"])


@st.composite
def hostile_block(draw):
    kind = draw(st.sampled_from(["file", "dir", "hamt", "symlink", "garbage", "leaf"]))
    targets = draw(st.lists(st.sampled_from(UNIVERSE), max_size=4))
    if kind == "garbage":
        return draw(st.binary(max_size=40))
    if kind == "leaf":
        data = draw(st.binary(max_size=20))
        return encode_node([], encode_unixfs(FILE, data, draw(st.sampled_from([len(data), len(data) + 1]))))
    if kind == "symlink":
        return encode_node([], encode_unixfs(SYMLINK, draw(st.binary(max_size=10))))
    if kind == "file":
        sizes = draw(st.lists(st.integers(0, 50), min_size=len(targets), max_size=len(targets) + 1))
        data = draw(st.binary(max_size=5))
        filesize = draw(st.sampled_from([None, len(data) + sum(sizes), 7]))
        links = [PBLink(t, "", 3) for t in targets]
        return encode_node(links, encode_unixfs(FILE, data, filesize, sizes))
    links = [PBLink(t, draw(names), 1) for t in targets]
    if kind == "dir":
        return encode_node(links, encode_unixfs(DIRECTORY))
    return encode_node(links, encode_unixfs(HAMT_SHARD, b"\0", None, (), 0x22, draw(st.sampled_from([256, 3]))))


@settings(max_examples=300, deadline=None)
@given(st.lists(hostile_block(), min_size=len(UNIVERSE), max_size=len(UNIVERSE)), st.integers(0, 30))
def test_readers_fail_cleanly_on_hostile_dags(blocks, offset):
    table = dict(zip(UNIVERSE, blocks, strict=True))

    def get(cid):
        return table[cid]

    root = UNIVERSE[0]
    operations = [
        lambda: list(iter_file(get, root, offset)),
        lambda: list_directory(get, root),
        lambda: list(walk_tree(get, root)),
        lambda: resolve_path(get, root, ["a", "b"]),
        lambda: stat(get, root),
        lambda: list(walk_blocks(get, root)),
    ]
    for operation in operations:
        try:
            operation()
        except IpfsKitError:
            pass
