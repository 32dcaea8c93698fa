import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipfs_kit_py.core.cid import block_cid, parse_cid
from ipfs_kit_py.core.dagpb import PBLink, PBNode, decode_node, encode_link, encode_node
from ipfs_kit_py.core.unixfs import (
    DIRECTORY,
    FILE,
    HAMT_SHARD,
    RAW,
    SYMLINK,
    decode_unixfs,
    encode_unixfs,
    file_leaf_parts,
)
from ipfs_kit_py.core.wire import read_uvarint, uvarint
from ipfs_kit_py.errors import CorruptBlock, InvalidInput

CID_A = block_cid(b"a")
CID_RAW = block_cid(b"b", 1, "raw")


# --- varints -------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=(1 << 64) - 1))
def test_varint_round_trip(n):
    raw = uvarint(n)
    assert read_uvarint(raw, 0) == (n, len(raw))
    assert read_uvarint(raw, 0, minimal=True) == (n, len(raw))


def test_varint_rejections():
    for raw in (b"", b"\x80", b"\xff" * 10 + b"\x01", b"\xff" * 9 + b"\x02"):
        with pytest.raises(ValueError):
            read_uvarint(raw, 0)
    assert read_uvarint(b"\x81\x00", 0) == (1, 2)  # protobuf tolerates padding
    with pytest.raises(ValueError):
        read_uvarint(b"\x81\x00", 0, minimal=True)  # multiformats does not
    with pytest.raises(ValueError):
        uvarint(-1)


# --- dag-pb ----------------------------------------------------------------------


def test_dagpb_canonical_encoding_links_before_data():
    node = encode_node([PBLink(CID_A, "x", 5), PBLink(CID_RAW, None, None)], b"\x08\x01")
    cid_a, cid_raw = bytes(CID_A), bytes(CID_RAW)
    link1 = b"\x0a" + bytes([len(cid_a)]) + cid_a + b"\x12\x01x\x18\x05"
    link2 = b"\x0a" + bytes([len(cid_raw)]) + cid_raw
    assert node == (
        b"\x12" + bytes([len(link1)]) + link1 + b"\x12" + bytes([len(link2)]) + link2 + b"\x0a\x02\x08\x01"
    )
    assert decode_node(node) == PBNode(
        (PBLink(CID_A, "x", 5), PBLink(CID_RAW, None, None)), b"\x08\x01"
    )
    assert encode_link(cid_a, b"", 0) == b"\x12" + bytes([len(cid_a) + 6]) + b"\x0a\x22" + cid_a + b"\x12\x00\x18\x00"


def test_dagpb_known_blocks():
    empty_dir = decode_node(b"\x0a\x02\x08\x01")
    assert empty_dir == PBNode((), b"\x08\x01")
    assert decode_node(b"") == PBNode((), None)  # the zero-length block is valid
    assert block_cid(b"") == parse_cid("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")


def test_dagpb_accepts_data_before_links():
    link = encode_link(bytes(CID_A), b"n", 1)
    assert decode_node(b"\x0a\x01Z" + link).links[0].name == "n"


def _link_body(*fields: bytes) -> bytes:
    body = b"".join(fields)
    return b"\x12" + uvarint(len(body)) + body


HASH = b"\x0a\x22" + bytes(CID_A)


@pytest.mark.parametrize(
    "block,reason",
    [
        (b"\x0a", "truncated"),
        (b"\x0a\x05ab", "past the end"),
        (b"\x0a\x00\x0a\x00", "duplicate Data"),
        (b"\x08\x01", "unexpected PBNode field"),  # Data as varint
        (b"\x1a\x00", "unexpected PBNode field"),  # unknown field 3
        (b"\x12\x00", "without Hash"),
        (_link_body(b"\x12\x00"), "without Hash"),
        (_link_body(b"\x12\x00", HASH), "out of order"),
        (_link_body(HASH, b"\x18\x01\x12\x00"), "out of order"),
        (_link_body(HASH, HASH), "out of order"),
        (_link_body(HASH, b"\x22\x00"), "unexpected PBLink field"),
        (_link_body(HASH, b"\x10\x01"), "unexpected PBLink field"),  # Name as varint
        (_link_body(b"\x0a\x03abc"), "not a usable CID"),
        (_link_body(HASH, b"\x12\x01\xff"), "UTF-8"),
        (_link_body(HASH) + b"\x0a\x00" + _link_body(HASH), "between Links"),
        (b"\x0d\x00\x00\x00\x00", "wire type"),
        (b"\x0b", "wire type"),  # group start
        (b"\x02\x00", "field number 0"),
    ],
)
def test_dagpb_rejects_malformed(block, reason):
    with pytest.raises(InvalidInput) as err:
        decode_node(block)
    assert str(err.value).startswith("malformed dag-pb block: ")
    assert reason in str(err.value)


def test_dagpb_link_limit():
    link = encode_link(bytes(CID_A), b"", 1)
    with pytest.raises(InvalidInput):
        decode_node(link * 11, max_links=10)
    assert len(decode_node(link * 10, max_links=10).links) == 10


@settings(max_examples=400)
@given(st.binary(max_size=300))
def test_dagpb_decoder_only_raises_invalid_input(data):
    try:
        node = decode_node(data)
    except InvalidInput:
        return
    # anything accepted re-encodes to something that decodes the same
    assert decode_node(encode_node(node.links, node.data)) == node


@settings(max_examples=200)
@given(st.lists(st.tuples(st.sampled_from([CID_A, CID_RAW]), st.none() | st.text(max_size=10),
                          st.none() | st.integers(0, 1 << 63)), max_size=5),
       st.none() | st.binary(max_size=50))
def test_dagpb_round_trip(links, data):
    node = PBNode(tuple(PBLink(*link) for link in links), data)
    assert decode_node(encode_node(node.links, node.data)) == node


# --- UnixFS ------------------------------------------------------------------------


def test_unixfs_known_encodings():
    assert encode_unixfs(FILE, filesize=0) == b"\x08\x02\x18\x00"
    assert encode_unixfs(DIRECTORY) == b"\x08\x01"
    assert encode_unixfs(FILE, b"hi", 2) == b"\x08\x02\x12\x02hi\x18\x02"
    assert encode_unixfs(FILE, filesize=3, blocksizes=[1, 2]) == b"\x08\x02\x18\x03\x20\x01\x20\x02"
    full = encode_unixfs(HAMT_SHARD, b"\x01", None, (), 0x22, 256, 0o755, (-5, 7))
    decoded = decode_unixfs(full)
    assert (decoded.type_name, decoded.data, decoded.hash_type, decoded.fanout, decoded.mode, decoded.mtime) == (
        "hamt-sharded-directory", b"\x01", 0x22, 256, 0o755, (-5, 7))


def test_file_leaf_parts_build_the_same_block_as_encode():
    for size in (0, 1, 127, 128, 262144, 1048576):
        for kind in (FILE, RAW):
            chunk = b"\x07" * size
            prefix, suffix = file_leaf_parts(size, kind)
            expected = encode_node([], encode_unixfs(kind, chunk, size))
            assert prefix + chunk + suffix == expected


def test_unixfs_accepts_packed_blocksizes_and_skips_unknown_fields():
    packed = b"\x08\x02\x18\x03\x22\x02\x01\x02"
    assert decode_unixfs(packed).blocksizes == (1, 2)
    assert decode_unixfs(b"\x08\x04\x12\x01x\x48\x05\x52\x00").type_name == "symlink"


@pytest.mark.parametrize(
    "raw",
    [
        b"",  # no Type
        b"\x08\x09",  # unknown Type
        b"\x0a\x00",  # Type with wrong wire type
        b"\x08\x02\x1a\x00",  # filesize as bytes
        b"\x08\x02\x25\x00\x00\x00\x00",  # blocksizes as fixed32
        b"\x08\x02\x42\x02\x10\x01",  # mtime without seconds (nanos as varint)
        b"\x08\x02\x42\x07\x08\x01\x15\x00\x00\x00\x00",  # nanos = 0 must be omitted
        b"\x08\x02\x42\x07\x08\x01\x15\xff\xff\xff\xff",  # nanos > 999999999
        b"\x08\x02\x38\xff\xff\xff\xff\x1f",  # mode wider than 32 bits
        b"\x08\x02\x12\x05ab",  # truncated data
    ],
)
def test_unixfs_rejects_malformed(raw):
    with pytest.raises(InvalidInput) as err:
        decode_unixfs(raw)
    assert str(err.value).startswith("malformed UnixFS data: ")


@settings(max_examples=400)
@given(st.binary(max_size=200))
def test_unixfs_decoder_only_raises_invalid_input(data):
    try:
        decoded = decode_unixfs(data)
    except (InvalidInput, CorruptBlock):
        return
    assert decoded.type in (RAW, DIRECTORY, FILE, 3, SYMLINK, HAMT_SHARD)
