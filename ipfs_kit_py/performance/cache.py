"""``CacheManager``: memory -> disk -> Redis, read-through with promotion.

``get`` looks in the memory tier, then the disk tier, then Redis; a hit in a
lower tier is copied into memory (promotion) with its remaining TTL. ``set``
writes through to every enabled tier. Keys are ``str`` or ``bytes`` (the block
cache uses raw multihashes). The memory tier holds the value objects
themselves (a mutable value you change after ``set`` changes in the cache);
the disk and Redis tiers hold encoded copies (see ``codec``), never pickles.

Counters are process-local between flushes; with a ``stats_path`` they are
added to a shared file every ``stats_flush_every`` memory hits, at most every
few seconds on the slower paths, on ``get_statistics()`` and on ``close()``,
so a new process reports what earlier ones counted. Memory-tier entries and
bytes are this process's own.
"""

from __future__ import annotations

import atexit
import functools
import logging
import math
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..config import resolve_home
from ..errors import InvalidInput
from .codec import (
    CorruptEntry,
    SafeCodec,
    ValueCodec,
    join_entry,
    pack_header,
    split_entry,
    unpack_header,
)
from .disk_tier import DiskTier
from .policies import MISSING, POLICIES, make_policy
from .redis_tier import RedisTier, RedisUnavailable
from .stats_file import StatsFile

log = logging.getLogger(__name__)

TIERS = ("memory", "disk", "redis", "all")
_STATS_FLUSH_SECONDS = 5.0

_COUNTERS = (
    "memory_hits", "memory_misses", "memory_evictions", "memory_expirations",
    "disk_hits", "disk_misses", "disk_evictions", "disk_expirations", "disk_corrupt",
    "redis_hits", "redis_misses", "redis_expirations", "redis_corrupt", "redis_errors",
    "misses", "sets", "deletes", "invalidations", "promotions",
)


class _Counters:
    __slots__ = _COUNTERS

    def __init__(self) -> None:
        for name in _COUNTERS:
            setattr(self, name, 0)

    def take(self) -> dict[str, int]:
        """Return the counts and zero them (caller holds the lock)."""
        snapshot = {}
        for name in _COUNTERS:
            snapshot[name] = getattr(self, name)
            setattr(self, name, 0)
        return snapshot


def _check_key(key: Any) -> None:
    kind = type(key)
    if kind is not str and kind is not bytes:
        raise InvalidInput(f"cache keys must be str or bytes, not {kind.__name__}")


def _check_ttl(ttl: Any, what: str = "ttl") -> float | None:
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not math.isfinite(ttl) or ttl <= 0:
        raise InvalidInput(f"{what} must be a positive number of seconds or None, not {ttl!r}")
    return float(ttl)


def _size_of(value: Any) -> int:
    if isinstance(value, bytes | bytearray | str):
        return len(value)
    if isinstance(value, memoryview):
        return value.nbytes
    return sys.getsizeof(value)  # shallow: an estimate for containers


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _matcher(pattern: str) -> Callable[[Any], bool]:
    def matches(key: Any) -> bool:
        kind = type(key)
        if kind is str:
            return fnmatchcase(key, pattern)
        if kind is bytes:  # binary keys (multihashes) match on their hex form
            return fnmatchcase(key.hex(), pattern)
        return False  # OpaqueKey and anything else we did not write

    return matches


class CacheManager:
    def __init__(
        self,
        memory_policy: str = "lru",
        memory_size: int = 1000,
        disk_size_mb: float = 100,
        enable_disk: bool = True,
        disk_path: str | os.PathLike | None = None,
        redis_url: str | None = None,
        *,
        value_codec: ValueCodec | None = None,
        default_ttl: float | None = None,
        stats_path: str | os.PathLike | None = None,
        redis_namespace: str = "ipfs-kit:cache",
        stats_flush_every: int = 1000,
        clock: Callable[[], float] = time.time,
    ):
        if memory_policy not in POLICIES:
            raise InvalidInput(f"unknown memory_policy {memory_policy!r}; choose one of {', '.join(POLICIES)}")
        if isinstance(memory_size, bool) or not isinstance(memory_size, int) or memory_size < 0:
            raise InvalidInput(f"memory_size must be a whole number of entries >= 0, not {memory_size!r}")
        if (isinstance(disk_size_mb, bool) or not isinstance(disk_size_mb, int | float)
                or not math.isfinite(disk_size_mb) or disk_size_mb <= 0):
            raise InvalidInput(f"disk_size_mb must be a positive number, not {disk_size_mb!r}")
        if isinstance(stats_flush_every, bool) or not isinstance(stats_flush_every, int) or stats_flush_every < 1:
            raise InvalidInput("stats_flush_every must be a positive whole number")
        self.policy = memory_policy
        self.memory_size = memory_size
        self.default_ttl = _check_ttl(default_ttl, "default_ttl")
        self._clock = clock
        self._codec: ValueCodec = value_codec or SafeCodec()
        self._lock = threading.Lock()  # memory tier + counters
        self._acquire, self._release = self._lock.acquire, self._lock.release
        self._write_lock = threading.Lock()  # orders writers across tiers
        self._epoch = 0  # bumped by every write; a promotion only lands if unchanged
        self._c = _Counters()
        self._memory_bytes = 0
        self._memory = make_policy(memory_policy, memory_size, self._on_memory_evict) if memory_size else None
        self._lookup = self._memory.lookup if self._memory is not None else None

        self._disk: DiskTier | None = None
        self.disk_path: Path | None = None
        self.disk_size_mb = disk_size_mb
        if enable_disk:
            self.disk_path = Path(disk_path) if disk_path is not None else resolve_home() / "cache"
            self._disk = DiskTier(self.disk_path, int(disk_size_mb * 1024 * 1024))

        self._redis: RedisTier | None = RedisTier(redis_url, redis_namespace) if redis_url else None
        self.redis_url = redis_url
        self._encode = self._disk is not None or self._redis is not None

        if stats_path is None and self.disk_path is not None:
            stats_path = self.disk_path / "stats.json"
        self._stats_file = StatsFile(stats_path) if stats_path is not None else None
        self._flush_every = stats_flush_every
        self._countdown = stats_flush_every
        self._last_flush = time.monotonic()
        self._base: dict[str, int] = dict(self._stats_file.load()["counters"]) if self._stats_file else {}
        self._meta: dict[str, Any] = {}
        self._closed = False
        self._atexit = functools.partial(_flush_at_exit, weakref.ref(self))
        atexit.register(self._atexit)

    # ---- memory tier bookkeeping ------------------------------------------
    def _on_memory_evict(self, key: Any, entry: tuple) -> None:
        self._memory_bytes -= entry[2]
        self._c.memory_evictions += 1

    def _memory_store(self, key: Any, entry: tuple) -> None:
        memory = self._memory
        old = memory.peek(key)
        if old is not MISSING:
            self._memory_bytes -= old[2]
        memory.store(key, entry)
        self._memory_bytes += entry[2]

    # ---- read ------------------------------------------------------------------
    def get(self, key: Any, default: Any = None) -> Any:
        """The value for ``key`` from the first tier that has it, or ``default``."""
        # acquire/release through bound methods: measurably cheaper than ``with``
        # on this path, which is most of a memory hit's cost.
        self._acquire()
        try:
            entry = None
            if self._memory is not None:
                entry = self._lookup(key)
                if entry is not MISSING and (entry[1] is None or entry[1] > self._clock()):
                    # The countdown doubles as the memory-hit counter (hits since
                    # the last flush = flush_every - countdown): one decrement
                    # is all a hit costs in bookkeeping.
                    self._countdown -= 1
                    if self._countdown > 0:
                        return entry[0]
                else:
                    if entry is not MISSING:
                        self._memory.remove(key)
                        self._memory_bytes -= entry[2]
                        self._c.memory_expirations += 1
                    self._c.memory_misses += 1
                    entry = None
            epoch = self._epoch
        finally:
            self._release()
        if entry is not None:  # a memory hit that is due to flush the counters
            self._flush_stats()
            return entry[0]
        kind = type(key)
        if kind is not str and kind is not bytes:
            _check_key(key)

        found = self._read_lower(key)
        with self._lock:
            if found is None:
                self._c.misses += 1
            elif self._memory is not None and epoch == self._epoch:
                self._memory_store(key, found)
                self._c.promotions += 1
        self._maybe_flush()
        return default if found is None else found[0]

    def _read_lower(self, key: Any) -> tuple | None:
        if self._disk is not None:
            found = self._read_disk(key)
            if found is not None:
                return found
        if self._redis is not None:
            return self._read_redis(key)
        return None

    def _read_disk(self, key: Any) -> tuple | None:
        disk = self._disk
        try:
            row = disk.read(key)
            if row is not None:
                payload, header = row
                tag, expires_at = unpack_header(header, payload)
                value = self._codec.decode(tag, payload)
        except CorruptEntry as exc:
            log.warning("dropping corrupt disk-cache entry %r: %s", key, exc)
            disk.delete(key)
            self._count("disk_corrupt", "disk_misses")
            return None
        if row is None:
            self._count("disk_misses")
            return None
        if expires_at is not None and expires_at <= self._clock():
            disk.delete(key)
            self._count("disk_expirations", "disk_misses")
            return None
        self._count("disk_hits")
        return value, expires_at, len(payload)

    def _read_redis(self, key: Any) -> tuple | None:
        redis = self._redis
        try:
            blob = redis.read(key)
        except RedisUnavailable as exc:
            log.warning("redis cache tier unavailable: %s", exc)
            self._count("redis_errors", "redis_misses")
            return None
        if blob is None:
            self._count("redis_misses")
            return None
        try:
            header, payload = split_entry(blob)
            tag, expires_at = unpack_header(header, payload)
            value = self._codec.decode(tag, payload)
        except CorruptEntry as exc:
            log.warning("dropping corrupt redis-cache entry %r: %s", key, exc)
            self._redis_call(redis.delete, key)
            self._count("redis_corrupt", "redis_misses")
            return None
        if expires_at is not None and expires_at <= self._clock():
            self._redis_call(redis.delete, key)
            self._count("redis_expirations", "redis_misses")
            return None
        self._count("redis_hits")
        return value, expires_at, len(payload)

    def _count(self, *names: str) -> None:
        with self._lock:
            c = self._c
            for name in names:
                setattr(c, name, getattr(c, name) + 1)

    def _redis_call(self, fn: Callable, *args: Any) -> Any:
        try:
            return fn(*args)
        except RedisUnavailable as exc:
            log.warning("redis cache tier unavailable: %s", exc)
            self._count("redis_errors")
            return None

    # ---- write -------------------------------------------------------------------
    def set(self, key: Any, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` in every enabled tier; it expires ``ttl`` seconds from now."""
        _check_key(key)
        ttl = _check_ttl(ttl)
        if ttl is None:
            ttl = self.default_ttl
        expires_at = self._clock() + ttl if ttl is not None else None
        if self._encode:
            tag, payload = self._codec.encode(value)  # refuses before any tier changes
            header = pack_header(tag, payload, expires_at)
            nbytes = len(payload)
        else:
            nbytes = _size_of(value)
        with self._write_lock:
            if self._disk is not None:
                culled = self._disk.write(key, payload, header)
                if culled:
                    with self._lock:
                        self._c.disk_evictions += culled
            if self._redis is not None:
                self._redis_call(self._redis.write, key, join_entry(header, payload), ttl)
            with self._lock:
                if self._memory is not None:
                    self._memory_store(key, (value, expires_at, nbytes))
                self._epoch += 1
                self._c.sets += 1
        self._maybe_flush()

    def delete(self, key: Any) -> bool:
        """Remove ``key`` from every tier; True if any tier had it."""
        _check_key(key)
        removed = False
        with self._write_lock:
            with self._lock:
                self._epoch += 1
                if self._memory is not None:
                    entry = self._memory.remove(key)
                    if entry is not MISSING:
                        self._memory_bytes -= entry[2]
                        removed = True
            if self._disk is not None and self._disk.delete(key):
                removed = True
            if self._redis is not None and self._redis_call(self._redis.delete, key):
                removed = True
            if removed:
                with self._lock:
                    self._c.deletes += 1
        return removed

    def invalidate_pattern(self, pattern: str) -> int:
        """Remove every key matching the fnmatch ``pattern`` (``'user:*'``) from all tiers.

        Returns the number of distinct keys removed. ``bytes`` keys are matched
        on their hex form.
        """
        if not isinstance(pattern, str) or not pattern:
            raise InvalidInput("pattern must be a non-empty fnmatch pattern such as 'user:*'")
        matches = _matcher(pattern)
        removed: set = set()
        with self._write_lock:
            with self._lock:
                self._epoch += 1
                if self._memory is not None:
                    for key in self._memory.keys():
                        if matches(key):
                            entry = self._memory.remove(key)
                            self._memory_bytes -= entry[2]
                            removed.add(key)
            if self._disk is not None:
                for key in list(self._disk.keys()):
                    if matches(key) and self._disk.delete(key):
                        removed.add(key)
            if self._redis is not None:
                keys = self._redis_call(lambda: [k for k in self._redis.keys() if matches(k)]) or []
                if self._redis_call(self._redis.delete_many, keys):
                    removed.update(keys)
            with self._lock:
                self._c.invalidations += len(removed)
        return len(removed)

    def clear(self, tier: str = "all") -> dict[str, int]:
        """Empty one tier (``memory``, ``disk``, ``redis``) or ``all``; entries removed per tier."""
        if tier not in TIERS:
            raise InvalidInput(f"unknown tier {tier!r}; choose one of {', '.join(TIERS)}")
        enabled = {"memory": self._memory is not None, "disk": self._disk is not None,
                   "redis": self._redis is not None}
        if tier != "all" and not enabled[tier]:
            raise InvalidInput(f"this cache has no {tier} tier enabled")
        wanted = [t for t in ("memory", "disk", "redis") if enabled[t] and tier in (t, "all")]
        removed: dict[str, int] = {}
        with self._write_lock:
            with self._lock:
                self._epoch += 1
                if "memory" in wanted:
                    removed["memory"] = len(self._memory)
                    self._memory.clear()
                    self._memory_bytes = 0
            if "disk" in wanted:
                removed["disk"] = self._disk.clear()
            if "redis" in wanted:
                removed["redis"] = self._redis_call(self._redis.clear) or 0
        return removed

    # ---- statistics ----------------------------------------------------------------
    def _maybe_flush(self) -> None:
        if self._stats_file is None:
            return
        if self._countdown <= 0 or time.monotonic() - self._last_flush >= _STATS_FLUSH_SECONDS:
            self._flush_stats()

    def _flush_stats(self) -> None:
        with self._lock:
            deltas = self._c.take()
            deltas["memory_hits"] += self._flush_every - self._countdown
            self._countdown = self._flush_every
            self._last_flush = time.monotonic()
        if self._stats_file is None:
            for name, value in deltas.items():
                self._base[name] = self._base.get(name, 0) + value
            return
        try:
            data = self._stats_file.add(deltas, {"policy": self.policy})
        except OSError as exc:
            log.warning("cannot save cache statistics to %s: %s", self._stats_file.path, exc)
            for name, value in deltas.items():
                self._base[name] = self._base.get(name, 0) + value
            return
        self._base = dict(data["counters"])
        self._meta = data["meta"]

    def get_statistics(self) -> dict[str, Any]:
        """Hit rate, per-tier hits/misses/evictions/expirations, entries and bytes.

        Counters include what other processes sharing ``stats_path`` saved.
        """
        self._flush_stats()
        c = {name: int(self._base.get(name, 0)) for name in _COUNTERS}
        hits = c["memory_hits"] + c["disk_hits"] + c["redis_hits"]
        requests = hits + c["misses"]
        with self._lock:
            memory_entries = len(self._memory) if self._memory is not None else 0
            memory_bytes = self._memory_bytes
        tiers: dict[str, dict[str, Any]] = {
            "memory": {
                "enabled": self._memory is not None,
                "policy": self.policy,
                "hits": c["memory_hits"],
                "misses": c["memory_misses"],
                "evictions": c["memory_evictions"],
                "expirations": c["memory_expirations"],
                "entries": memory_entries,
                "bytes": memory_bytes,
                "max_entries": self.memory_size,
            },
            "disk": {
                "enabled": self._disk is not None,
                "hits": c["disk_hits"],
                "misses": c["disk_misses"],
                "evictions": c["disk_evictions"],
                "expirations": c["disk_expirations"],
                "corrupt": c["disk_corrupt"],
                "entries": len(self._disk) if self._disk is not None else 0,
                "bytes": self._disk.volume() if self._disk is not None else 0,
                "max_bytes": int(self.disk_size_mb * 1024 * 1024) if self._disk is not None else 0,
                "path": str(self.disk_path) if self.disk_path is not None else None,
            },
            "redis": {
                "enabled": self._redis is not None,
                "hits": c["redis_hits"],
                "misses": c["redis_misses"],
                "evictions": 0,  # Redis evicts by its own maxmemory policy, invisibly to us
                "expirations": c["redis_expirations"],
                "corrupt": c["redis_corrupt"],
                "errors": c["redis_errors"],
                "entries": 0,
                "bytes": 0,
                "url": _redact(self.redis_url) if self.redis_url else None,
            },
        }
        if self._redis is not None:
            size = self._redis_call(self._redis.size)
            if size is not None:
                tiers["redis"]["entries"], tiers["redis"]["bytes"] = size
        return {
            "policy": self.policy,
            "hits": hits,
            "misses": c["misses"],
            "requests": requests,
            "hit_rate_percent": round(100.0 * hits / requests, 2) if requests else 0.0,
            "sets": c["sets"],
            "deletes": c["deletes"],
            "invalidations": c["invalidations"],
            "promotions": c["promotions"],
            "evictions": c["memory_evictions"] + c["disk_evictions"],
            "expirations": c["memory_expirations"] + c["disk_expirations"] + c["redis_expirations"],
            "corrupt_entries": c["disk_corrupt"] + c["redis_corrupt"],
            "tiers": tiers,
            "stats_path": str(self._stats_file.path) if self._stats_file else None,
            "stats_saved_at": self._meta.get("saved_at"),
        }

    def reset_statistics(self) -> None:
        """Zero every counter, here and in the shared stats file."""
        with self._lock:
            self._c.take()
            self._countdown = self._flush_every
            self._base = {}
        if self._stats_file is not None:
            self._stats_file.reset()

    # ---- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self._atexit)
        self._flush_stats()
        if self._disk is not None:
            self._disk.close()
        if self._redis is not None:
            self._redis.close()

    def __enter__(self) -> CacheManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _flush_at_exit(ref: weakref.ref) -> None:
    cache = ref()
    if cache is not None and not cache._closed:
        try:
            cache._flush_stats()
        except Exception:  # interpreter shutdown: never raise from atexit
            pass
