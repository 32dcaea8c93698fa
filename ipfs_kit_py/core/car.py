"""CAR v1 archives: write, and read with every block's hash verified.

Layout: ``varint(len) header`` then sections ``varint(len) CID block``.
The header is the dag-cbor map ``{"roots": [CID, ...], "version": 1}``.

The header is encoded and decoded by hand instead of depending on a
dag-cbor package: it is one fixed shape (a two-key map, an array of
tag-42 CIDs, a small int), and a strict reader for exactly that shape is
shorter than the checks we would have to add around a general decoder,
which would also accept floats, nesting and huge allocations we have no
use for. Anything outside the shape is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from ipfs_kit_py.errors import CorruptBlock, InvalidInput

from .cid import CID, cid_from_bytes, cid_str
from .wire import read_uvarint, uvarint

__all__ = ["MAX_HEADER_SIZE", "MAX_ROOTS", "MAX_SECTION_SIZE", "read_car", "write_car"]

MAX_HEADER_SIZE = 1024 * 1024
MAX_ROOTS = 10_000
# A section is CID + block; blocks are at most 2 MiB (see dag.MAX_BLOCK_SIZE)
# and a sha2-256 CID at most 36 bytes: anything bigger is not a block we
# could use, and a hostile length must not make us allocate gigabytes.
MAX_SECTION_SIZE = 2 * 1024 * 1024 + 64


def _malformed(reason: str) -> InvalidInput:
    return InvalidInput(f"malformed CAR: {reason}")


# --- header (a tiny strict dag-cbor subset) --------------------------------


def _cbor_head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([major << 5 | value])
    if value < 0x100:
        return bytes([major << 5 | 24, value])
    if value < 0x10000:
        return bytes([major << 5 | 25]) + value.to_bytes(2, "big")
    if value < 0x1_0000_0000:
        return bytes([major << 5 | 26]) + value.to_bytes(4, "big")
    return bytes([major << 5 | 27]) + value.to_bytes(8, "big")


def encode_header(roots: Iterable[CID]) -> bytes:
    items = []
    for root in roots:
        raw = b"\x00" + bytes(root)  # tag-42 CIDs carry a 0x00 multibase prefix
        items.append(b"\xd8\x2a" + _cbor_head(2, len(raw)) + raw)
    # dag-cbor sorts map keys by length first: "roots" before "version".
    return (
        b"\xa2\x65roots"
        + _cbor_head(4, len(items))
        + b"".join(items)
        + b"\x67version\x01"
    )


class _Cbor:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def head(self) -> tuple[int, int]:
        if self.pos >= len(self.data):
            raise _malformed("truncated header")
        first = self.data[self.pos]
        self.pos += 1
        major, info = first >> 5, first & 0x1F
        if info < 24:
            return major, info
        if info > 27:
            raise _malformed("indefinite or reserved CBOR length in header")
        width = 1 << (info - 24)
        if self.pos + width > len(self.data):
            raise _malformed("truncated header")
        value = int.from_bytes(self.data[self.pos : self.pos + width], "big")
        self.pos += width
        if value < (24 if width == 1 else 1 << (4 * width)):
            raise _malformed("non-canonical CBOR integer in header")
        return major, value

    def text(self) -> str:
        major, length = self.head()
        if major != 3:
            raise _malformed("header map key is not a string")
        return self.take(length).decode("utf-8", errors="replace")

    def take(self, length: int) -> bytes:
        if length > len(self.data) - self.pos:
            raise _malformed("truncated header")
        out = self.data[self.pos : self.pos + length]
        self.pos += length
        return out

    def cid(self) -> CID:
        if self.head() != (6, 42):
            raise _malformed("root is not a CID (tag 42)")
        major, length = self.head()
        if major != 2:
            raise _malformed("root CID is not a byte string")
        raw = self.take(length)
        if raw[:1] != b"\x00":
            raise _malformed("root CID lacks the 0x00 prefix")
        try:
            return cid_from_bytes(raw[1:])
        except ValueError as exc:
            raise _malformed(f"root CID is not usable ({exc})") from None


def decode_header(data: bytes) -> list[CID]:
    cbor = _Cbor(data)
    major, count = cbor.head()
    if major != 5:
        raise _malformed("header is not a map")
    roots = version = None
    seen = set()
    for _ in range(count):
        key = cbor.text()
        if key in seen:
            raise _malformed(f"duplicate header key {key!r}")
        seen.add(key)
        if key == "version":
            major, version = cbor.head()
            if major != 0:
                raise _malformed("version is not an unsigned integer")
        elif key == "roots":
            major, n = cbor.head()
            if major != 4:
                raise _malformed("roots is not an array")
            if n > MAX_ROOTS:
                raise _malformed(f"more than {MAX_ROOTS} roots")
            roots = [cbor.cid() for _ in range(n)]
        else:
            raise _malformed(f"unexpected header key {key!r}")
    if cbor.pos != len(data):
        raise _malformed("trailing bytes after the header")
    if version != 1:
        raise _malformed(f"version {version} is not supported (only CAR v1)")
    if roots is None:
        raise _malformed("header has no roots")
    return roots


# --- stream framing ----------------------------------------------------------


def _read_varint(stream: BinaryIO, what: str) -> int | None:
    """A multiformats (minimal) varint, or None at a clean end of stream."""
    value = shift = 0
    for i in range(9):
        byte = stream.read(1)
        if not byte:
            if i == 0:
                return None
            raise _malformed(f"truncated {what} length")
        b = byte[0]
        value |= (b & 0x7F) << shift
        if b < 0x80:
            if b == 0 and i:
                raise _malformed(f"non-minimal {what} length")
            return value
        shift += 7
    raise _malformed(f"{what} length varint is too long")


def _read_exact(stream: BinaryIO, length: int, what: str) -> bytes:
    data = stream.read(length)
    while len(data) < length:  # raw streams may return short reads
        more = stream.read(length - len(data))
        if not more:
            raise _malformed(f"truncated {what}")
        data += more
    return data


def _split_section(section: bytes) -> tuple[CID, bytes]:
    if section[:2] == b"\x12\x20":
        cid_len = 34  # CIDv0: a bare sha2-256 multihash
    else:
        try:  # CIDv1: version, codec, hash code, digest length, digest
            pos = 0
            for _ in range(4):
                value, pos = read_uvarint(section, pos, minimal=True)
        except ValueError:
            raise _malformed("truncated or invalid CID in section") from None
        cid_len = pos + value
    if cid_len > len(section):
        raise _malformed("truncated CID in section")
    try:
        cid = cid_from_bytes(section[:cid_len])
    except ValueError as exc:
        raise _malformed(f"section CID is not usable ({exc})") from None
    return cid, section[cid_len:]


def write_car(out: BinaryIO, roots: Iterable[CID], blocks: Iterable[tuple[CID, bytes]]) -> int:
    """Write a CAR v1; return the number of bytes written."""
    header = encode_header(roots)
    written = 0
    for piece in (uvarint(len(header)), header):
        out.write(piece)
        written += len(piece)
    for cid, block in blocks:
        raw = bytes(cid)
        length = uvarint(len(raw) + len(block))
        out.write(length)
        out.write(raw)
        out.write(block)
        written += len(length) + len(raw) + len(block)
    return written


def read_car(stream: BinaryIO) -> tuple[list[CID], Iterator[tuple[CID, bytes]]]:
    """Read the header now; blocks lazily, each verified against its CID.

    A block whose bytes do not match its CID raises ``CorruptBlock``;
    anything malformed raises ``InvalidInput("malformed CAR: ...")``.
    """
    length = _read_varint(stream, "header")
    if length is None:
        raise _malformed("empty input")
    if length == 0 or length > MAX_HEADER_SIZE:
        raise _malformed(f"header length {length} is out of range")
    roots = decode_header(_read_exact(stream, length, "header"))

    def sections() -> Iterator[tuple[CID, bytes]]:
        while True:
            size = _read_varint(stream, "section")
            if size is None:
                return
            if size == 0 or size > MAX_SECTION_SIZE:
                raise _malformed(f"section length {size} is out of range")
            cid, block = _split_section(_read_exact(stream, size, "section"))
            if hashlib.sha256(block).digest() != cid.digest[2:]:
                raise CorruptBlock(
                    f"block {cid_str(cid)} is corrupt: its bytes do not hash to its CID"
                )
            yield cid, block

    return roots, sections()
