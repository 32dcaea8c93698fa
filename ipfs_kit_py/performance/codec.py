"""How cache values are written to the disk and Redis tiers: never with pickle.

A stored value is a *payload* (from a value codec) plus a 24-byte *header*:
magic, format version, codec tag, payload length, XXH3-64 checksum of the
payload and the absolute expiry time. (XXH3 rather than CRC-32: on a 64 KiB
block zlib's crc32 cost as much as the whole diskcache read; XXH3 is ~10x
faster and as good at catching a damaged file.) Reading checks all of them, so a truncated,
overwritten or foreign entry is detected and dropped as corrupt instead of
being returned -- or, as pickle would, executed.

The default ``SafeCodec`` stores ``bytes`` raw (the block cache's case, zero
copies), ``str`` as UTF-8 and everything JSON can represent as JSON. JSON
round-trips give JSON types back (a tuple comes back as a list).
"""

from __future__ import annotations

import json
import struct
from typing import Any, Protocol

import xxhash

from ..errors import InvalidInput

_HEADER = struct.Struct(">3sBcIQd")  # magic, version, tag, length, xxh3_64, expires_at
HEADER_SIZE = _HEADER.size
_MAGIC = b"IKC"
_VERSION = 2  # 1 had a CRC-32: such entries read as foreign (a miss), never as data
_NO_EXPIRY = 0.0


class CorruptEntry(Exception):
    """A stored cache entry failed validation; the caller drops it as a miss."""


class ValueCodec(Protocol):
    """Turns values into (tag, bytes) and back. Tags are single ASCII bytes."""

    def encode(self, value: Any) -> tuple[bytes, bytes]: ...

    def decode(self, tag: bytes, payload: bytes) -> Any: ...


class SafeCodec:
    """bytes raw (tag ``b``), str as UTF-8 (``s``), other JSON-able values as JSON (``j``)."""

    def encode(self, value: Any) -> tuple[bytes, bytes]:
        kind = type(value)
        if kind is bytes:
            return b"b", value
        if kind is bytearray or kind is memoryview:
            return b"b", bytes(value)
        if kind is str:
            return b"s", value.encode("utf-8")
        try:
            return b"j", json.dumps(value, separators=(",", ":"), allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise InvalidInput(
                f"cannot store a {kind.__name__} in the disk/redis cache tier: "
                "use bytes, str or JSON-compatible values, or pass value_codec="
            ) from exc

    def decode(self, tag: bytes, payload: bytes) -> Any:
        if tag == b"b":
            return payload
        try:
            if tag == b"s":
                return payload.decode("utf-8")
            if tag == b"j":
                return json.loads(payload)
        except (UnicodeDecodeError, ValueError) as exc:
            raise CorruptEntry(f"payload does not decode: {exc}") from exc
        raise CorruptEntry(f"unknown codec tag {tag!r}")


def pack_header(tag: bytes, payload: bytes, expires_at: float | None) -> bytes:
    return _HEADER.pack(_MAGIC, _VERSION, tag, len(payload), xxhash.xxh3_64_intdigest(payload),
                        _NO_EXPIRY if expires_at is None else float(expires_at))


def unpack_header(header: Any, payload: bytes) -> tuple[bytes, float | None]:
    """Validate ``header`` against ``payload``; return (codec tag, expires_at)."""
    if type(header) is not bytes or len(header) != HEADER_SIZE:
        raise CorruptEntry("missing or malformed header")
    magic, version, tag, length, checksum, expires_at = _HEADER.unpack(header)
    if magic != _MAGIC or version != _VERSION:
        raise CorruptEntry("not an ipfs-kit cache entry")
    if len(payload) != length:
        raise CorruptEntry(f"payload is {len(payload)} bytes, header says {length}")
    if xxhash.xxh3_64_intdigest(payload) != checksum:
        raise CorruptEntry("payload checksum mismatch")
    return tag, (None if expires_at == _NO_EXPIRY else expires_at)


def join_entry(header: bytes, payload: bytes) -> bytes:
    """Header and payload in one value (Redis stores one string per key)."""
    return header + payload


def split_entry(blob: Any) -> tuple[bytes, bytes]:
    if type(blob) is not bytes or len(blob) < HEADER_SIZE:
        raise CorruptEntry("entry shorter than its header")
    return blob[:HEADER_SIZE], blob[HEADER_SIZE:]
