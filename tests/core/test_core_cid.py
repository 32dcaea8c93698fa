import hashlib
import os

import pytest
from multiformats import CID

from ipfs_kit_py.core.cid import (
    block_cid,
    cid_from_bytes,
    cid_from_digest,
    cid_str,
    parse_cid,
    verify_block,
)
from ipfs_kit_py.errors import CorruptBlock, InvalidInput

HELLO_V0 = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
HELLO_V1 = "bafybeicg2rebjoofv4kbyovkw7af3rpiitvnl6i7ckcywaq6xjcxnc2mby"
EMPTY_RAW = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


def test_parse_and_format_round_trip():
    for text in (HELLO_V0, HELLO_V1, EMPTY_RAW):
        cid = parse_cid(text)
        assert cid_str(cid) == text
        assert str(cid) == text


def test_parse_accepts_other_bases_and_prints_canonical_base():
    v1 = parse_cid(HELLO_V1)
    b58 = v1.encode("base58btc")
    assert b58.startswith("z")
    assert cid_str(parse_cid(b58)) == HELLO_V1
    assert parse_cid(f"  {HELLO_V0}\n") == parse_cid(HELLO_V0)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "xyz",
        "Qm123",
        "bafy",
        HELLO_V0[:-1] + "0",  # '0' is not base58
        "bafkqaaa",  # identity multihash: nothing to verify
        # blake2b-256 CIDv1 (valid CID, unsupported hash)
        CID("base32", 1, "raw", ("blake2b-256", hashlib.blake2b(b"x", digest_size=32).digest())).encode(),
    ],
)
def test_parse_rejects_bad_cids(text):
    with pytest.raises(InvalidInput) as err:
        parse_cid(text)
    assert str(err.value).startswith("invalid CID '")
    assert "\n" not in str(err.value)


def test_parse_rejects_non_strings():
    with pytest.raises(InvalidInput):
        parse_cid(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        parse_cid(b"Qm")  # type: ignore[arg-type]


def test_block_cid_matches_multiformats_public_constructor():
    for _ in range(50):
        data = os.urandom(int.from_bytes(os.urandom(1), "big"))
        digest = hashlib.sha256(data).digest()
        for version, codec in ((0, "dag-pb"), (1, "dag-pb"), (1, "raw")):
            ours = block_cid(data, version, codec)
            base = "base58btc" if version == 0 else "base32"
            reference = CID(base, version, codec, ("sha2-256", digest))
            assert ours == reference
            assert bytes(ours) == bytes(reference)
            assert cid_str(ours) == str(reference)  # fast base32/base58 vs multiformats
            assert cid_from_bytes(bytes(reference)) == reference
            assert cid_from_digest(version, ours.codec.code, digest) == reference


def test_base58_leading_zero_bytes_match_multiformats():
    # A multihash is never zero-led, but the encoder must still be right.
    from multiformats import multibase

    from ipfs_kit_py.core.cid import _b58encode

    for data in (b"\0", b"\0\0\1", b"\0\xff" * 5, b""):
        assert _b58encode(data) == multibase.encode(data, "base58btc")[1:]


def test_block_cid_rejects_bad_arguments():
    with pytest.raises(InvalidInput):
        block_cid(b"x", 0, "raw")
    with pytest.raises(InvalidInput):
        block_cid(b"x", 2, "dag-pb")
    with pytest.raises(InvalidInput):
        block_cid(b"x", 1, "dag-cbor")


def test_cid_from_bytes_rejects_garbage():
    for raw in (b"", b"\x01", b"\x01\x70\x12\x20" + b"\0" * 31, b"\x02\x70\x12\x20" + b"\0" * 32,
                b"\x01\x70\x13\x20" + b"\0" * 32, b"\x01\xff\xff\xff\x7f\x12\x20" + b"\0" * 32):
        with pytest.raises(ValueError):
            cid_from_bytes(raw)


def test_verify_block():
    block = b"\x0a\x04\x08\x02\x18\x00"
    cid = parse_cid("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH")
    verify_block(cid, block)
    with pytest.raises(CorruptBlock) as err:
        verify_block(cid, block + b"x")
    assert str(err.value) == (
        "block QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH is corrupt:"
        " its bytes do not hash to its CID"
    )
    verify_block(parse_cid(EMPTY_RAW), b"")
    with pytest.raises(CorruptBlock):
        verify_block(parse_cid(EMPTY_RAW), b"\0")
