"""HAMT-sharded UnixFS directories, as kubo (boxo/hamt) builds and finds them.

kubo turns a directory into a HAMT once the names and CIDs of its entries
add up to more than 256 KiB. The shape is canonical for a set of names:
each name is hashed with murmur3-x64-64 (the first 64 bits of
murmur3-x64-128, seed 0, read big-endian); a shard of fanout 256 uses the
next 8 bits of the hash as a bucket index; a bucket holding one entry links
it as ``"%02X" % index + name``, a bucket holding several links a sub-shard
named ``"%02X" % index``. A shard's UnixFS data is ``Type=HAMTShard``, the
occupied-bucket bitfield (big-endian, without leading zero bytes),
``hashType=0x22`` (murmur3-x64-64) and ``fanout``.

murmur3 is written out here (it hashes short names, so pure Python is
fast enough) rather than adding a C extension dependency for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Protocol

from ipfs_kit_py.errors import InvalidInput

from .cid import CID, DAG_PB, cid_from_bytes, cid_prefix
from .dagpb import encode_link
from .unixfs import HAMT_SHARD, encode_unixfs
from .wire import uvarint

__all__ = ["HASH_MURMUR3_X64_64", "SHARD_FANOUT", "build_shard", "bucket_index", "murmur3_64"]

HASH_MURMUR3_X64_64 = 0x22
SHARD_FANOUT = 256
_HASH_BITS = 64
_M64 = (1 << 64) - 1
_C1 = 0x87C37B91114253D5
_C2 = 0x4CF5AD432745937F


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M64


def _fmix(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & _M64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & _M64
    return k ^ (k >> 33)


def murmur3_64(data: bytes) -> int:
    """First 64 bits (h1) of MurmurHash3 x64 128 with seed 0."""
    h1 = h2 = 0
    n = len(data)
    end = n - n % 16
    for i in range(0, end, 16):
        k1 = int.from_bytes(data[i : i + 8], "little")
        k2 = int.from_bytes(data[i + 8 : i + 16], "little")
        h1 ^= (_rotl((k1 * _C1) & _M64, 31) * _C2) & _M64
        h1 = (_rotl(h1, 27) + h2) & _M64
        h1 = (h1 * 5 + 0x52DCE729) & _M64
        h2 ^= (_rotl((k2 * _C2) & _M64, 33) * _C1) & _M64
        h2 = (_rotl(h2, 31) + h1) & _M64
        h2 = (h2 * 5 + 0x38495AB5) & _M64
    tail = data[end:]
    if len(tail) > 8:
        h2 ^= (_rotl((int.from_bytes(tail[8:], "little") * _C2) & _M64, 33) * _C1) & _M64
    if tail:
        h1 ^= (_rotl((int.from_bytes(tail[:8], "little") * _C1) & _M64, 31) * _C2) & _M64
    h1 ^= n
    h2 ^= n
    h1 = (h1 + h2) & _M64
    h2 = (h2 + h1) & _M64
    h1 = _fmix(h1)
    h2 = _fmix(h2)
    return (h1 + h2) & _M64


def bucket_index(name_hash: int, used_bits: int, fanout: int) -> int:
    """Bucket of a name in a shard that starts ``used_bits`` into its hash."""
    bits = fanout.bit_length() - 1
    if used_bits + bits > _HASH_BITS:
        raise InvalidInput("HAMT is deeper than its 64-bit hash allows")
    return (name_hash >> (_HASH_BITS - used_bits - bits)) & (fanout - 1)


class _Child(Protocol):
    cid: CID
    tsize: int


def build_shard(
    entries: dict[bytes, _Child],
    cid_version: int,
    emit: Callable[[CID, bytes], None] | None,
) -> tuple[CID, int]:
    """Emit the shards for ``entries`` (UTF-8 name -> child); return the
    root shard's CID and cumulative size."""
    hashed = [(murmur3_64(name), name, child) for name, child in entries.items()]
    prefix = cid_prefix(cid_version, DAG_PB)

    def shard(items, used_bits: int) -> tuple[bytes, int]:
        buckets: dict[int, list] = {}
        for item in items:
            buckets.setdefault(bucket_index(item[0], used_bits, SHARD_FANOUT), []).append(item)
        links = []
        tsize = 0
        bitfield = 0
        for index in sorted(buckets):
            label = b"%02X" % index
            bitfield |= 1 << index
            bucket = buckets[index]
            if len(bucket) == 1:
                _, name, child = bucket[0]
                links.append(encode_link(bytes(child.cid), label + name, child.tsize))
                tsize += child.tsize
            else:
                sub_cid, sub_tsize = shard(bucket, used_bits + 8)
                links.append(encode_link(sub_cid, label, sub_tsize))
                tsize += sub_tsize
        data = encode_unixfs(
            HAMT_SHARD,
            bitfield.to_bytes((bitfield.bit_length() + 7) // 8, "big"),
            hash_type=HASH_MURMUR3_X64_64,
            fanout=SHARD_FANOUT,
        )
        block = b"".join(links) + b"\x0a" + uvarint(len(data)) + data
        cid_bytes = prefix + hashlib.sha256(block).digest()
        if emit is not None:
            emit(cid_from_bytes(cid_bytes), block)
        return cid_bytes, tsize + len(block)

    cid_bytes, tsize = shard(hashed, 0)
    return cid_from_bytes(cid_bytes), tsize
