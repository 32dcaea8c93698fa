"""CIDs: parsing, formatting, computing and verifying (sha2-256 only).

``CID`` is ``multiformats.CID``. multiformats validates every argument through
a generic runtime type checker, which costs ~150 us per ``CID(...)``,
``CID.decode(...)`` or ``str(cid)`` (measured): at thousands of blocks per
second that would cost more than hashing the blocks. So:

* parsing user text goes through multiformats (``parse_cid``), it is rare;
* CIDs made from a digest we just computed, or decoded from link bytes,
  are built with multiformats' own unvalidated constructor (``_new_instance``)
  with pre-resolved codec objects (~5 us), falling back to the public
  constructor should a future multiformats drop it;
* text formatting (``cid_str``) encodes base32 / base58btc with the
  standard library (a few us) instead of multiformats' pure-Python bases.

Tests check all three fast paths against multiformats' public API.
"""

from __future__ import annotations

import base64
import hashlib

from multiformats import CID, multibase, multicodec, multihash

from ipfs_kit_py.errors import CorruptBlock, InvalidInput

__all__ = [
    "CID",
    "DAG_PB",
    "RAW",
    "SHA2_256",
    "block_cid",
    "cid_from_bytes",
    "cid_from_digest",
    "cid_str",
    "parse_cid",
    "verify_block",
]

DAG_PB = 0x70
RAW = 0x55
SHA2_256 = 0x12
_DIGEST_LEN = 32

_CODEC_NAMES = {"dag-pb": DAG_PB, "raw": RAW}
_MH_SHA2_256 = multihash.get(code=SHA2_256)
_BASE58 = multibase.get("base58btc")
_BASE32 = multibase.get("base32")
# Codecs we can meet in links or CAR files; others are looked up on demand.
_codec_cache = {code: multicodec.get(code=code) for code in (DAG_PB, RAW, 0x71, 0x0129)}

# Binary CID prefixes (before the 32-byte digest) for the shapes we build.
_PREFIX = {
    (0, DAG_PB): b"\x12\x20",
    (1, DAG_PB): b"\x01\x70\x12\x20",
    (1, RAW): b"\x01\x55\x12\x20",
}

_B58_ALPHABET = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _new(version: int, codec_code: int, mh: bytes) -> CID:
    codec = _codec_cache.get(codec_code)
    if codec is None:
        codec = _codec_cache[codec_code] = multicodec.get(code=codec_code)
    base = _BASE58 if version == 0 else _BASE32
    try:
        return CID._new_instance(CID, base, version, codec, _MH_SHA2_256, mh)
    except AttributeError:  # pragma: no cover - only if multiformats drops the helper
        return CID(base.name, version, codec.name, mh)


def cid_from_digest(version: int, codec: int, digest: bytes) -> CID:
    """The CID of a block whose sha2-256 digest is ``digest`` (no validation)."""
    return _new(version, codec, b"\x12\x20" + digest)


def cid_prefix(version: int, codec: int) -> bytes:
    """Binary CID bytes that precede the 32-byte sha2-256 digest."""
    try:
        return _PREFIX[(version, codec)]
    except KeyError:
        raise InvalidInput(f"unsupported CID version/codec: v{version} {codec:#x}") from None


def _read_uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 56:
            raise ValueError("truncated or overlong varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def cid_from_bytes(data: bytes) -> CID:
    """Decode a binary CID (as found in dag-pb links and CAR sections).

    Only sha2-256 CIDs are accepted because only those can be verified.
    Raises ``ValueError`` with a short reason; callers wrap it in the error
    that fits their context (bad link vs. bad CAR vs. bad argument).
    """
    data = bytes(data)
    if len(data) == 34 and data[0] == 0x12 and data[1] == 0x20:
        return _new(0, DAG_PB, data)
    version, pos = _read_uvarint(data, 0)
    if version != 1:
        raise ValueError(f"unsupported CID version {version}")
    codec, pos = _read_uvarint(data, pos)
    mh_code, pos = _read_uvarint(data, pos)
    mh_len, pos = _read_uvarint(data, pos)
    if mh_code != SHA2_256:
        raise ValueError(f"unsupported hash function {mh_code:#x} (only sha2-256)")
    if mh_len != _DIGEST_LEN or len(data) - pos != _DIGEST_LEN:
        raise ValueError("wrong digest length")
    if codec not in _codec_cache:
        try:
            _codec_cache[codec] = multicodec.get(code=codec)
        except KeyError:
            raise ValueError(f"unknown codec {codec:#x}") from None
    return _new(1, codec, data[pos - 2 :])


def parse_cid(text: str) -> CID:
    """Parse a CID given by a user (any multibase multiformats knows)."""
    shown = text if isinstance(text, str) and len(text) <= 100 else f"{str(text)[:100]}..."
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"invalid CID '{shown}': empty")
    try:
        cid = CID.decode(text.strip())
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInput(f"invalid CID '{shown}': {reason}") from None
    if cid.hashfun.code != SHA2_256 or len(cid.raw_digest) != _DIGEST_LEN:
        raise InvalidInput(
            f"invalid CID '{shown}': hash function {cid.hashfun.name} is not supported"
            " (only sha2-256 can be verified)"
        )
    # Re-home it on the canonical base so equal CIDs print the same way.
    return _new(cid.version, cid.codec.code, cid.digest)


def _b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = bytearray()
    while n:
        n, rem = divmod(n, 58)
        out.append(_B58_ALPHABET[rem])
    zeros = len(data) - len(data.lstrip(b"\0"))
    out.extend(b"1" * zeros)
    out.reverse()
    return out.decode("ascii")


def cid_str(cid: CID) -> str:
    """Canonical text: CIDv0 in base58btc, CIDv1 in base32 (as kubo prints)."""
    raw = bytes(cid)
    if cid.version == 0:
        return _b58encode(raw)
    return "b" + base64.b32encode(raw).decode("ascii").lower().rstrip("=")


def block_cid(data: bytes, version: int = 0, codec: str | int = "dag-pb") -> CID:
    """The sha2-256 CID of ``data`` as a block of ``codec`` ('dag-pb' or 'raw')."""
    code = _CODEC_NAMES.get(codec, codec) if isinstance(codec, str) else codec
    if code not in (DAG_PB, RAW):
        raise InvalidInput(f"unsupported codec {codec!r}: use 'dag-pb' or 'raw'")
    if version not in (0, 1):
        raise InvalidInput(f"unsupported CID version {version!r}: use 0 or 1")
    if version == 0 and code != DAG_PB:
        raise InvalidInput("CIDv0 can only name dag-pb blocks: use CID version 1 for raw")
    return cid_from_digest(version, code, hashlib.sha256(data).digest())


def verify_block(cid: CID, data: bytes) -> None:
    """Raise ``CorruptBlock`` unless ``data`` hashes to ``cid``."""
    mh = cid.digest
    if (
        cid.hashfun.code != SHA2_256
        or len(mh) != 2 + _DIGEST_LEN
        or hashlib.sha256(data).digest() != mh[2:]
    ):
        raise CorruptBlock(f"block {cid_str(cid)} is corrupt: its bytes do not hash to its CID")
