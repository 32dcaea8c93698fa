"""On-disk blockstore: one file per block, sharded, atomic writes, verified reads.

Layout (like kubo's flatfs ``next-to-last/2``): ``<root>/<shard>/<key>.data``
where ``key`` is the unpadded base32 of the block's multihash and ``shard`` its
next-to-last two characters. Blocks are keyed by multihash, so the same bytes
under CIDv0 and CIDv1 are stored once.

Writes go to ``<root>/.tmp/`` and are renamed into place, so a crash (even
SIGKILL) never leaves a partial block visible. Durability (``fsync``):

- ``none``: rely on the OS. Safe against process crashes, not power loss.
- ``batch`` (default): ``flush()`` (called by the Kit at the end of each
  operation) syncs the file system once (``syncfs``), so an operation that
  returned is durable; cheaper than one fsync per block.
- ``always``: fsync each block file before its rename.

Every ``get`` re-hashes the block; a mismatch raises ``CorruptBlock`` naming the CID.
"""

from __future__ import annotations

import base64
import ctypes
import hashlib
import itertools
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from multiformats import CID

from ..core.cid import cid_str
from ..errors import CorruptBlock, NotFound

SHA2_256 = 0x12
_TMP_MAX_AGE_S = 3600  # temp files older than this are debris from a crash


def _libc_syncfs():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.syncfs
    except (OSError, AttributeError):
        return None


_SYNCFS = _libc_syncfs()


@dataclass(frozen=True)
class BlockstoreStats:
    blocks: int
    bytes: int

    def to_dict(self) -> dict:
        return {"blocks": self.blocks, "bytes": self.bytes}


def multihash_key(mh: bytes) -> str:
    return base64.b32encode(mh).decode("ascii").rstrip("=")


def key_multihash(key: str) -> bytes:
    return base64.b32decode(key + "=" * (-len(key) % 8))


def _cid_multihash(cid: CID) -> bytes:
    return bytes(cid.digest)


class Blockstore:
    def __init__(self, root: str | os.PathLike, fsync: str = "batch", cache=None):
        self.root = Path(root)
        self.fsync = fsync
        self.cache = cache  # optional CacheManager holding verified block bytes
        self._tmp = self.root / ".tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._counter = itertools.count()
        self._dirty = False
        self._made_shards: set[str] = set()
        self._lock = threading.Lock()
        self._clean_stale_temp()

    # ---- paths -----------------------------------------------------------
    def _path(self, mh: bytes) -> Path:
        key = multihash_key(mh)
        return self.root / key[-3:-1] / (key + ".data")

    def _clean_stale_temp(self) -> None:
        cutoff = time.time() - _TMP_MAX_AGE_S
        for entry in os.scandir(self._tmp):
            try:
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
            except FileNotFoundError:
                pass

    # ---- API -------------------------------------------------------------
    def has(self, cid: CID) -> bool:
        return self._path(_cid_multihash(cid)).exists()

    def put(self, cid: CID, data: bytes | memoryview, *, replace: bool = False) -> bool:
        """Store a block whose CID the caller computed (or verified). Returns False if present.

        ``replace``: write it even if present, over a stored copy found corrupt.
        """
        mh = _cid_multihash(cid)
        path = self._path(mh)
        if path.exists() and not replace:
            return False
        existed = replace and path.exists()
        shard = path.parent
        if shard.name not in self._made_shards:
            shard.mkdir(exist_ok=True)
            self._made_shards.add(shard.name)
        tmp = self._tmp / f"{os.getpid()}-{threading.get_ident()}-{next(self._counter)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if self.fsync == "always":
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        os.close(fd)
        os.replace(tmp, path)
        self._dirty = True
        return not existed  # (the cache holds only verified bytes: nothing there to drop)

    def read_stored(self, cid: CID) -> bytes | None:
        """The bytes stored under ``cid`` as they are, unverified; None when absent.

        For callers that verify themselves and must tell a corrupt copy from a
        missing one (a backend directory read by the replication manager).
        """
        try:
            return self._path(_cid_multihash(cid)).read_bytes()
        except FileNotFoundError:
            return None

    def get(self, cid: CID) -> bytes:
        """The block's bytes, verified against its CID."""
        mh = _cid_multihash(cid)
        cache = self.cache
        if cache is not None:
            hit = cache.get(mh)
            if hit is not None:
                return hit
        try:
            with open(self._path(mh), "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            raise NotFound(f"block {cid_str(cid)} is not in the local store") from None
        if cid.hashfun.code != SHA2_256 or hashlib.sha256(data).digest() != bytes(cid.raw_digest):
            raise CorruptBlock(f"block {cid_str(cid)} is corrupt: its bytes do not hash to its CID "
                               f"(the stored copy {self._path(mh)}: delete it, then add or import the content again)")
        if cache is not None:
            cache.set(mh, data)
        return data

    def size(self, cid: CID) -> int:
        try:
            return self._path(_cid_multihash(cid)).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"block {cid_str(cid)} is not in the local store") from None

    def delete(self, cid: CID) -> bool:
        mh = _cid_multihash(cid)
        if self.cache is not None:
            self.cache.delete(mh)
        try:
            os.unlink(self._path(mh))
            return True
        except FileNotFoundError:
            return False

    def delete_multihash(self, mh: bytes) -> int:
        """Remove a block by multihash; returns the bytes freed (0 if absent)."""
        if self.cache is not None:
            self.cache.delete(mh)
        path = self._path(mh)
        try:
            size = path.stat().st_size
            os.unlink(path)
            return size
        except FileNotFoundError:
            return 0

    def iter_multihashes(self) -> Iterator[bytes]:
        for shard in os.scandir(self.root):
            if not shard.is_dir() or shard.name.startswith("."):
                continue
            for entry in os.scandir(shard.path):
                if entry.name.endswith(".data"):
                    try:
                        yield key_multihash(entry.name[:-5])
                    except ValueError:
                        continue  # a stray file, not ours

    def iter_cids(self) -> Iterator[CID]:
        """Every stored block as a CIDv1 raw CID (the codec is not stored)."""
        for mh in self.iter_multihashes():
            yield CID("base32", 1, "raw", mh)

    def stats(self) -> BlockstoreStats:
        blocks = total = 0
        for shard in os.scandir(self.root):
            if not shard.is_dir() or shard.name.startswith("."):
                continue
            for entry in os.scandir(shard.path):
                if entry.name.endswith(".data"):
                    blocks += 1
                    total += entry.stat().st_size
        return BlockstoreStats(blocks, total)

    def flush(self) -> None:
        """Make blocks written so far durable, per the fsync policy."""
        if self.fsync != "batch" or not self._dirty:
            return
        self._dirty = False
        fd = os.open(self.root, os.O_RDONLY)
        try:
            if _SYNCFS is None or _SYNCFS(fd) != 0:
                os.sync()
        finally:
            os.close(fd)
