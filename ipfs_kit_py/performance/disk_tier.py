"""The disk tier: ``diskcache.Cache`` with a ``Disk`` that refuses pickle.

diskcache pickles any value or key that is not bytes/str/int/float, and
unpickles whatever a row's ``mode`` column says is a pickle -- so anyone who can
write to the cache directory could make a reader execute code. ``SafeDisk``
only ever stores bytes (our encoded payload; the header travels in diskcache's
``tag`` column, so large payloads are not copied) and refuses to load a
pickled value or key. Such rows, and rows whose header or checksum do not
match, are dropped as corrupt and read as misses.

Eviction uses diskcache's default ``least-recently-stored`` policy: the memory
tier in front already tracks recency, and ``least-recently-used`` would turn
every disk read into a SQLite write.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import diskcache
from diskcache.core import MODE_BINARY, MODE_RAW, UNKNOWN

from .codec import CorruptEntry

log = logging.getLogger(__name__)


class OpaqueKey(bytes):
    """A key stored pickled by some other writer; we never unpickle it."""


class SafeDisk(diskcache.Disk):
    def store(self, value, read, key=UNKNOWN):
        if type(value) is not bytes:
            raise TypeError("the ipfs-kit disk tier stores bytes only")
        return super().store(value, read, key=key)

    def fetch(self, mode, filename, value, read):
        if mode not in (MODE_RAW, MODE_BINARY):
            raise CorruptEntry(f"refusing to load a disk-cache value stored in mode {mode}")
        data = super().fetch(mode, filename, value, read)
        if type(data) is not bytes:
            raise CorruptEntry("disk-cache value is not bytes")
        return data

    def get(self, key, raw):
        if not raw:
            return OpaqueKey(key)
        return super().get(key, raw)


class DiskTier:
    def __init__(self, directory: str | os.PathLike, size_limit: int):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.size_limit = size_limit
        self._cache = self._open()

    def _open(self) -> diskcache.Cache:
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            # A damaged index is only a cache: move it aside and start empty.
            log.warning("disk cache index in %s is corrupt (%s); starting empty", self.directory, exc)
            for name in ("cache.db", "cache.db-wal", "cache.db-shm"):
                try:
                    os.unlink(self.directory / name)
                except FileNotFoundError:
                    pass
            return self._connect()

    def _connect(self) -> diskcache.Cache:
        return diskcache.Cache(
            str(self.directory),
            size_limit=self.size_limit,
            disk=SafeDisk,
            eviction_policy="least-recently-stored",
            statistics=False,
        )

    def read(self, key: Any) -> tuple[Any, Any] | None:
        """(payload, header) or None; raises CorruptEntry for a row we will not load."""
        try:
            value, header = self._cache.get(key, default=None, tag=True)
        except sqlite3.DatabaseError as exc:
            raise CorruptEntry(f"disk cache read failed: {exc}") from exc
        if value is None:
            return None
        return value, header

    def write(self, key: Any, payload: bytes, header: bytes) -> int:
        """Store; return how many other entries diskcache culled to stay in its size limit."""
        cache = self._cache
        existed = key in cache
        before = len(cache)
        cache.set(key, payload, tag=header)
        after = len(cache)
        # Under writers in other processes this is an estimate; it is never negative.
        return max(0, before + (0 if existed else 1) - after)

    def delete(self, key: Any) -> bool:
        try:
            return bool(self._cache.delete(key))
        except sqlite3.DatabaseError:
            return False

    def keys(self) -> Iterator[Any]:
        return self._cache.iterkeys()

    def clear(self) -> int:
        return self._cache.clear()

    def __len__(self) -> int:
        return len(self._cache)

    def volume(self) -> int:
        return self._cache.volume()

    def close(self) -> None:
        self._cache.close()
