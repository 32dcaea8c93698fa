"""CacheManager: tiers, TTL, invalidation, promotion, statistics, safety of the disk tier."""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ipfs_kit_py.cache_manager import CacheManager
from ipfs_kit_py.errors import InvalidInput


@pytest.fixture
def disk_cache(tmp_path, clock):
    caches = []

    def make(**kwargs):
        kwargs.setdefault("disk_path", tmp_path / "cache")
        kwargs.setdefault("clock", clock)
        cache = CacheManager(**kwargs)
        caches.append(cache)
        return cache

    yield make
    for cache in caches:
        cache.close()


def test_seed_usage(tmp_path):
    cache = CacheManager(memory_policy="lru", memory_size=1000, disk_size_mb=100, enable_disk=True,
                         disk_path=tmp_path / "c")
    user = {"name": "ada", "roles": ["admin"], "age": 36}
    cache.set("user:123", user, ttl=3600)
    assert cache.get("user:123") == user
    assert cache.invalidate_pattern("user:*") == 1
    assert cache.get("user:123") is None
    stats = cache.get_statistics()
    assert stats["hit_rate_percent"] == 50.0
    cache.close()


def test_values_round_trip_through_the_disk_tier(disk_cache):
    cache = disk_cache(memory_size=0)  # disk tier only
    values = {"b": b"\x00\xffraw", "s": "héllo", "j": {"a": [1, 2.5, None, True]}, "i": 7, "n": None}
    for key, value in values.items():
        cache.set(key, value)
    for key, value in values.items():
        assert cache.get(key, default="missing") == value
    assert cache.get("absent", default="missing") == "missing"


def test_ttl_expiry_in_every_tier(disk_cache, clock):
    cache = disk_cache(memory_size=10)
    cache.set("a", b"1", ttl=10)
    cache.set("forever", b"2")
    clock.advance(9.5)
    assert cache.get("a") == b"1"
    clock.advance(1)
    assert cache.get("a") is None
    assert cache.get("forever") == b"2"
    stats = cache.get_statistics()
    assert stats["tiers"]["memory"]["expirations"] == 1
    assert stats["tiers"]["disk"]["expirations"] == 1  # the disk copy had the same deadline
    assert stats["expirations"] == 2
    assert stats["tiers"]["disk"]["entries"] == 1  # the expired disk entry was removed


def test_default_ttl_and_promotion_keep_the_remaining_lifetime(disk_cache, clock):
    cache = disk_cache(memory_size=1, default_ttl=100)
    cache.set("a", b"1")
    cache.set("b", b"2")  # evicts "a" from memory; it stays on disk
    clock.advance(60)
    assert cache.get("a") == b"1"  # promoted with 40 s left, not a fresh 100
    clock.advance(41)
    assert cache.get("a") is None


def test_disk_hit_is_promoted_to_memory(disk_cache):
    cache = disk_cache(memory_policy="lru", memory_size=2)
    for key in ("a", "b", "c"):
        cache.set(key, key.encode())
    stats = cache.get_statistics()
    assert stats["tiers"]["memory"]["entries"] == 2
    assert stats["tiers"]["memory"]["evictions"] == 1
    assert cache.get("a") == b"a"  # disk hit -> promoted
    assert cache.get("a") == b"a"  # now a memory hit
    stats = cache.get_statistics()
    assert stats["tiers"]["disk"]["hits"] == 1
    assert stats["tiers"]["memory"]["hits"] == 1
    assert stats["tiers"]["memory"]["misses"] == 1
    assert stats["promotions"] == 1
    assert stats["hits"] == 2 and stats["misses"] == 0 and stats["hit_rate_percent"] == 100.0


def test_invalidate_pattern_counts_keys_across_tiers(disk_cache):
    cache = disk_cache(memory_size=2)
    for i in range(5):
        cache.set(f"user:{i}", {"id": i})  # only the last two stay in memory
    cache.set("session:1", b"s")
    assert cache.invalidate_pattern("user:*") == 5
    assert cache.invalidate_pattern("user:*") == 0
    assert all(cache.get(f"user:{i}") is None for i in range(5))
    assert cache.get("session:1") == b"s"
    assert cache.invalidate_pattern("sess?on:[0-9]") == 1
    assert cache.get_statistics()["invalidations"] == 6


def test_bytes_keys_match_patterns_on_their_hex(disk_cache):
    cache = disk_cache(enable_disk=False)
    cache.set(b"\x12\x20abc", b"block")
    cache.set("1220-text", b"other")
    assert cache.invalidate_pattern("1220*") == 2
    assert cache.get(b"\x12\x20abc") is None


def test_clear_by_tier(disk_cache):
    cache = disk_cache(memory_size=10)
    for i in range(3):
        cache.set(f"k{i}", i)
    assert cache.clear("memory") == {"memory": 3}
    assert cache.get("k0") == 0  # still on disk, promoted again
    assert cache.clear("disk") == {"disk": 3}
    assert cache.clear() == {"memory": 1, "disk": 0}
    assert cache.get("k1") is None


def test_memory_bytes_and_entries(disk_cache):
    cache = disk_cache(enable_disk=False, memory_size=3)
    cache.set("a", b"x" * 100)
    cache.set("b", b"x" * 50)
    cache.set("a", b"x" * 10)  # replaced
    assert cache.get_statistics()["tiers"]["memory"]["bytes"] == 60
    cache.set("c", b"x" * 5)
    cache.set("d", b"x" * 7)  # evicts "b" (LRU)
    stats = cache.get_statistics()["tiers"]["memory"]
    assert (stats["entries"], stats["bytes"], stats["evictions"]) == (3, 22, 1)
    cache.delete("c")
    assert cache.get_statistics()["tiers"]["memory"]["bytes"] == 17


def test_block_cache_configuration_memory_only(tmp_path):
    cache = CacheManager(memory_policy="w-tinylfu", memory_size=4, enable_disk=False,
                         stats_path=tmp_path / "cache-stats.json")
    blocks = {bytes([i]) * 34: os.urandom(64) for i in range(3)}
    for mh, data in blocks.items():
        assert cache.get(mh) is None
        cache.set(mh, data)
    for mh, data in blocks.items():
        assert cache.get(mh) == data
    stats = cache.get_statistics()
    assert stats["tiers"]["disk"]["enabled"] is False
    assert stats["hits"] == 3 and stats["misses"] == 3
    with pytest.raises(InvalidInput, match="no disk tier"):
        cache.clear("disk")
    cache.close()


def test_statistics_persist_across_processes(tmp_path):
    stats_path = tmp_path / "cache-stats.json"
    cache = CacheManager(memory_size=10, enable_disk=False, stats_path=stats_path)
    cache.set("a", b"1")
    cache.get("a")
    cache.get("nope")
    cache.close()
    script = (
        "import sys, json\n"
        "from ipfs_kit_py.cache_manager import CacheManager\n"
        "c = CacheManager(memory_size=10, enable_disk=False, stats_path=sys.argv[1])\n"
        "c.get('x'); c.set('x', b'2'); c.get('x'); c.get('x')\n"
        "c.close()\n"
    )
    subprocess.run([sys.executable, "-c", script, str(stats_path)], check=True, timeout=60)
    fresh = CacheManager(memory_size=10, enable_disk=False, stats_path=stats_path)
    stats = fresh.get_statistics()
    assert (stats["hits"], stats["misses"], stats["sets"]) == (3, 2, 2)
    assert stats["tiers"]["memory"]["entries"] == 0  # memory contents are per process
    fresh.reset_statistics()
    assert fresh.get_statistics()["requests"] == 0
    fresh.close()
    assert CacheManager(memory_size=1, enable_disk=False, stats_path=stats_path).get_statistics()["hits"] == 0


def test_concurrent_processes_add_up_their_counts(tmp_path):
    stats_path = tmp_path / "stats.json"
    script = (
        "import sys\n"
        "from ipfs_kit_py.cache_manager import CacheManager\n"
        "c = CacheManager(memory_size=10, enable_disk=False, stats_path=sys.argv[1], stats_flush_every=7)\n"
        "c.set('k', b'v')\n"
        "for _ in range(500): c.get('k')\n"
        "c.close()\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(stats_path)]) for _ in range(3)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    data = json.loads(stats_path.read_text())
    assert data["counters"]["memory_hits"] == 1500


def test_threads_share_one_cache_safely(disk_cache):
    cache = disk_cache(memory_policy="w-tinylfu", memory_size=50, enable_disk=False)
    errors = []

    def worker(n):
        try:
            for i in range(2000):
                key = f"k{(i * 7 + n) % 120}"
                if cache.get(key) is None:
                    cache.set(key, key)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    stats = cache.get_statistics()
    assert stats["requests"] == 8000
    assert stats["tiers"]["memory"]["entries"] <= 50


# ---- safety of the disk tier -------------------------------------------------

def _value_files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*.val")]


def test_corrupt_value_file_is_a_miss_and_removed(disk_cache, tmp_path):
    cache = disk_cache(memory_size=0)
    big = os.urandom(100_000)  # large values live in their own file
    cache.set("big", big)
    (path,) = _value_files(tmp_path / "cache")
    path.write_bytes(os.urandom(len(big)))  # same size, different bytes
    assert cache.get("big") is None
    stats = cache.get_statistics()
    assert stats["tiers"]["disk"]["corrupt"] == 1
    assert stats["tiers"]["disk"]["entries"] == 0
    assert cache.get("big") is None
    assert cache.get_statistics()["tiers"]["disk"]["corrupt"] == 1  # removed: now a plain miss


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickled_disk_entry_is_never_executed(disk_cache, tmp_path):
    cache = disk_cache(memory_size=0)
    cache.set("evil", b"harmless")
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Exploit(marker))
    with sqlite3.connect(tmp_path / "cache" / "cache.db") as db:
        # what an attacker with write access to the cache directory could plant: mode 4 = pickle
        db.execute("UPDATE Cache SET mode = 4, value = ? WHERE key = 'evil'", (payload,))
    pickle.loads(payload)  # proves the payload is live: it does create the marker
    assert marker.exists()
    marker.unlink()
    assert cache.get("evil") is None
    assert not marker.exists()
    assert cache.get_statistics()["tiers"]["disk"]["corrupt"] == 1
    with sqlite3.connect(tmp_path / "cache" / "cache.db") as db:
        assert db.execute("SELECT COUNT(*) FROM Cache WHERE key = 'evil'").fetchone()[0] == 0


def test_pickled_key_row_is_skipped_by_pattern_invalidation(disk_cache, tmp_path):
    cache = disk_cache(memory_size=0)
    cache.set("user:1", b"1")
    marker = tmp_path / "pwned-key"
    with sqlite3.connect(tmp_path / "cache" / "cache.db") as db:
        db.execute("UPDATE Cache SET raw = 0, key = ? WHERE key = 'user:1'", (pickle.dumps(_Exploit(marker)),))
    assert cache.invalidate_pattern("*") == 0
    assert not marker.exists()


def test_tampered_small_value_fails_its_checksum(disk_cache, tmp_path):
    cache = disk_cache(memory_size=0)
    cache.set("small", b"0123456789")
    with sqlite3.connect(tmp_path / "cache" / "cache.db") as db:
        db.execute("UPDATE Cache SET value = ? WHERE key = 'small'", (b"9876543210",))
    assert cache.get("small") is None
    assert cache.get_statistics()["tiers"]["disk"]["corrupt"] == 1


def test_corrupt_index_file_starts_an_empty_cache(tmp_path):
    directory = tmp_path / "cache"
    first = CacheManager(memory_size=0, disk_path=directory)
    first.set("a", b"1")
    first.close()
    (directory / "cache.db").write_bytes(b"this is not a sqlite database" * 100)
    for name in ("cache.db-wal", "cache.db-shm"):
        (directory / name).unlink(missing_ok=True)
    second = CacheManager(memory_size=0, disk_path=directory)
    assert second.get("a") is None
    second.set("b", b"2")
    assert second.get("b") == b"2"
    second.close()


# ---- bad input ---------------------------------------------------------------

@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"memory_policy": "fifo"}, "unknown memory_policy 'fifo'"),
        ({"memory_size": -1}, "memory_size"),
        ({"memory_size": 2.5}, "memory_size"),
        ({"disk_size_mb": -5}, "disk_size_mb"),
        ({"disk_size_mb": 0}, "disk_size_mb"),
        ({"default_ttl": -1}, "default_ttl"),
        ({"redis_url": "http://localhost"}, "redis_url"),
    ],
)
def test_bad_configuration_is_one_clear_line(tmp_path, kwargs, message):
    with pytest.raises(InvalidInput, match=message) as info:
        CacheManager(disk_path=tmp_path / "c", **kwargs)
    assert "\n" not in str(info.value)


def test_bad_calls(disk_cache):
    cache = disk_cache(memory_size=5)
    with pytest.raises(InvalidInput, match="ttl"):
        cache.set("a", b"1", ttl=-3)
    with pytest.raises(InvalidInput, match="ttl"):
        cache.set("a", b"1", ttl=0)
    with pytest.raises(InvalidInput, match="unknown tier 'cpu'"):
        cache.clear("cpu")
    with pytest.raises(InvalidInput, match="no redis tier"):
        cache.clear("redis")
    with pytest.raises(InvalidInput, match="keys must be str or bytes"):
        cache.set(42, b"1")
    with pytest.raises(InvalidInput, match="keys must be str or bytes"):
        cache.get(42)
    with pytest.raises(InvalidInput, match="pattern"):
        cache.invalidate_pattern("")
    with pytest.raises(InvalidInput, match="cannot store a set"):
        cache.set("s", {1, 2})
    assert cache.get("s") is None  # refused before any tier changed
    assert cache.get("a") is None
