"""Protobuf wire format primitives shared by dag-pb, UnixFS and CAR.

Decoding is strict and bounded: varints longer than 10 bytes or wider than
64 bits, truncated fields and lengths running past the buffer all raise
``ValueError`` with a short reason; the callers turn that into the
``IpfsKitError`` that fits their context.
"""

from __future__ import annotations

from collections.abc import Iterator

VARINT = 0
FIXED64 = 1
LEN = 2
FIXED32 = 5

_MAX_U64 = (1 << 64) - 1
# Small varints are by far the most common (tags, lengths of CIDs, names):
# precomputed so encoding them is a lookup.
_SMALL = [bytes([n]) for n in range(128)]


def uvarint(n: int) -> bytes:
    """Unsigned LEB128 varint."""
    if n < 128:
        if n < 0:
            raise ValueError("varint must not be negative")
        return _SMALL[n]
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_uvarint(
    buf, pos: int, end: int | None = None, *, minimal: bool = False
) -> tuple[int, int]:
    """Read a varint from ``buf[pos:end]``; return ``(value, new_pos)``.

    ``minimal`` rejects padded encodings, as the multiformats unsigned-varint
    spec (CAR) requires; protobuf itself tolerates them.
    """
    if end is None:
        end = len(buf)
    value = 0
    shift = 0
    while True:
        if pos >= end:
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        if shift == 63 and b > 1:
            raise ValueError("varint overflows 64 bits")
        value |= (b & 0x7F) << shift
        if b < 0x80:
            if minimal and b == 0 and shift:
                raise ValueError("non-minimal varint")
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def iter_fields(buf, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int, object]]:
    """Yield ``(field_number, wire_type, value)`` for each field in ``buf[start:end]``.

    ``value`` is an int for varint/fixed fields and a ``memoryview`` slice
    for length-delimited ones (no copy). Groups (wire types 3/4) are not
    used by any format we read and are rejected.
    """
    mv = buf if isinstance(buf, memoryview) else memoryview(buf)
    if end is None:
        end = len(mv)
    pos = start
    while pos < end:
        key, pos = read_uvarint(mv, pos, end)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise ValueError("field number 0")
        if wire == VARINT:
            value, pos = read_uvarint(mv, pos, end)
        elif wire == LEN:
            length, pos = read_uvarint(mv, pos, end)
            if length > end - pos:
                raise ValueError("length-delimited field runs past the end")
            value = mv[pos : pos + length]
            pos += length
        elif wire == FIXED32:
            if end - pos < 4:
                raise ValueError("truncated fixed32")
            value = int.from_bytes(mv[pos : pos + 4], "little")
            pos += 4
        elif wire == FIXED64:
            if end - pos < 8:
                raise ValueError("truncated fixed64")
            value = int.from_bytes(mv[pos : pos + 8], "little")
            pos += 8
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield field, wire, value


def key(field: int, wire: int) -> bytes:
    return uvarint((field << 3) | wire)


def len_field(field: int, payload: bytes) -> bytes:
    return key(field, LEN) + uvarint(len(payload)) + payload


def varint_field(field: int, value: int) -> bytes:
    if value < 0:
        # proto int64 negatives are 10-byte two's complement varints
        value &= _MAX_U64
    return key(field, VARINT) + uvarint(value)
