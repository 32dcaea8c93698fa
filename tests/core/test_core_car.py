import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipfs_kit_py.core.car import (
    MAX_SECTION_SIZE,
    decode_header,
    encode_header,
    read_car,
    write_car,
)
from ipfs_kit_py.core.cid import block_cid, parse_cid
from ipfs_kit_py.core.importer import ImportOptions, import_bytes
from ipfs_kit_py.core.wire import uvarint
from ipfs_kit_py.errors import CorruptBlock, InvalidInput

HELLO = parse_cid("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o")


def _car(roots, blocks) -> bytes:
    out = io.BytesIO()
    written = write_car(out, roots, blocks)
    assert written == len(out.getvalue())
    return out.getvalue()


def _read_all(data: bytes):
    roots, blocks = read_car(io.BytesIO(data))
    return roots, list(blocks)


def test_header_bytes_match_the_spec_example_shape():
    # {"roots": [CID], "version": 1} in canonical dag-cbor
    header = encode_header([HELLO])
    raw = b"\x00" + bytes(HELLO)
    assert header == b"\xa2eroots\x81\xd8\x2a\x58" + bytes([len(raw)]) + raw + b"gversion\x01"
    assert decode_header(header) == [HELLO]
    assert decode_header(encode_header([])) == []


def test_round_trip_of_an_imported_dag():
    kept = []
    node = import_bytes(bytes(range(256)) * 5000, ImportOptions(chunk_size=10_000, cid_version=1),
                        lambda cid, block: kept.append((cid, block)))
    data = _car([node.cid], kept)
    roots, blocks = _read_all(data)
    assert roots == [node.cid]
    assert blocks == kept
    # v0 CIDs in sections are written bare, as go-car does
    v0_node = import_bytes(b"hello world\n")
    roots, blocks = _read_all(_car([v0_node.cid], [(v0_node.cid, b"\x0a\x12\x08\x02\x12\x0chello world\n\x18\x0c")]))
    assert blocks[0][0] == HELLO


def test_blocks_are_read_lazily_and_verified():
    good = (block_cid(b"one", 1, "raw"), b"one")
    data = _car([good[0]], [good, (block_cid(b"two", 1, "raw"), b"tw0")])
    roots, blocks = read_car(io.BytesIO(data))
    assert next(blocks) == good
    with pytest.raises(CorruptBlock) as err:
        next(blocks)
    assert "is corrupt: its bytes do not hash to its CID" in str(err.value)


def _header(obj: bytes) -> bytes:
    return uvarint(len(obj)) + obj


GOOD_HEADER = _header(encode_header([HELLO]))
RAW_CID = block_cid(b"x", 1, "raw")


@pytest.mark.parametrize(
    "data,reason",
    [
        (b"", "empty input"),
        (b"\x00", "out of range"),
        (uvarint(2 * 1024 * 1024), "out of range"),
        (b"\x80", "truncated header length"),
        (b"\x0a\xa2", "truncated header"),
        (_header(b"\xa1gversion\x02"), "version 2 is not supported"),
        (_header(b"\xa1gversion\x01"), "no roots"),
        (_header(b"\xa2eroots\x80gversion\x01\x00"), "trailing bytes"),
        (_header(b"\x82\x01\x02"), "not a map"),
        (_header(b"\xa2eroots\x80eroots\x80"), "duplicate header key"),
        (_header(b"\xa2eroots\x81\x01gversion\x01"), "tag 42"),
        (_header(b"\xa2eroots\x81\xd8\x2a\x43\x01\x02\x03gversion\x01"), "0x00 prefix"),
        (_header(b"\xa2eroots\x81\xd8\x2a\x43\x00\x02\x03gversion\x01"), "not usable"),
        (_header(b"\xa2eroots\x80gversion\x18\x01"), "non-canonical"),
        (_header(b"\xa2eroots\x9fgversion\x01"), "indefinite"),
        (_header(b"\xa2eroots\x80fextras\x01"), "unexpected header key"),
        (_header(b"\xa2eroots\x80gversion\x20"), "not an unsigned integer"),
        (GOOD_HEADER + b"\x05\x01\x55", "truncated section"),
        (GOOD_HEADER + uvarint(MAX_SECTION_SIZE + 1), "out of range"),
        (GOOD_HEADER + b"\x00", "out of range"),
        (GOOD_HEADER + b"\x80\x00", "non-minimal"),
        (GOOD_HEADER + b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "too long"),
        (GOOD_HEADER + b"\x03\x01\x55\x12", "CID in section"),
        (GOOD_HEADER + b"\x05\x01\x55\x12\x20\x00", "truncated CID"),
        (GOOD_HEADER + uvarint(40) + b"\x01\x55\x13\x20" + b"\0" * 36, "not usable"),
        (GOOD_HEADER + uvarint(40) + b"\x02\x55\x12\x20" + b"\0" * 36, "not usable"),
    ],
)
def test_malformed_cars(data, reason):
    with pytest.raises(InvalidInput) as err:
        _read_all(data)
    assert str(err.value).startswith("malformed CAR: ")
    assert reason in str(err.value)


def test_truncated_block_at_the_end():
    data = _car([RAW_CID], [(RAW_CID, b"x")])
    with pytest.raises(InvalidInput):
        _read_all(data[:-1])
    assert _read_all(data)[1] == [(RAW_CID, b"x")]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(max_size=3000), max_size=8), st.integers(0, 2))
def test_car_round_trip_property(payloads, root_count):
    blocks = [(block_cid(p, 1, "raw"), p) for p in payloads]
    blocks += [(block_cid(p, 0, "dag-pb"), p) for p in payloads[:2]]
    roots = [cid for cid, _ in blocks[:root_count]]
    assert _read_all(_car(roots, blocks)) == (roots, blocks)


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_reader_only_raises_our_errors_on_garbage(data):
    try:
        _read_all(data)
    except (InvalidInput, CorruptBlock):
        pass


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_reader_on_garbage_after_a_valid_header(data):
    try:
        _read_all(GOOD_HEADER + data)
    except (InvalidInput, CorruptBlock):
        pass
