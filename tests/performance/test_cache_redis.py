"""The shared Redis tier, against a real redis-server started for the session."""

from __future__ import annotations

import uuid

import pytest
import redis

from ipfs_kit_py.cache_manager import CacheManager
from ipfs_kit_py.errors import BackendError


@pytest.fixture
def namespace():
    return f"test-{uuid.uuid4().hex[:8]}"


def make(redis_url, namespace, clock, **kwargs):
    return CacheManager(memory_size=kwargs.pop("memory_size", 10), enable_disk=False, redis_url=redis_url,
                        redis_namespace=namespace, clock=clock, **kwargs)


def test_two_processes_share_entries_through_redis(redis_url, namespace, clock):
    writer = make(redis_url, namespace, clock)
    reader = make(redis_url, namespace, clock)  # another process's view: its own memory tier
    writer.set("user:1", {"name": "ada"})
    writer.set(b"\x12\x20block", b"\x00bytes")
    assert reader.get("user:1") == {"name": "ada"}
    assert reader.get(b"\x12\x20block") == b"\x00bytes"
    stats = reader.get_statistics()
    assert stats["tiers"]["redis"]["hits"] == 2
    assert stats["promotions"] == 2
    assert stats["tiers"]["redis"]["entries"] == 2
    assert stats["tiers"]["redis"]["bytes"] > 0
    assert reader.get("user:1") == {"name": "ada"}  # now from memory
    assert reader.get_statistics()["tiers"]["memory"]["hits"] == 1
    writer.close()
    reader.close()


def test_redis_ttl_and_invalidation(redis_url, namespace, clock):
    cache = make(redis_url, namespace, clock, memory_size=0)
    cache.set("a", b"1", ttl=30)
    client = redis.Redis.from_url(redis_url)
    ttl_ms = client.pttl(f"{namespace}:s:a".encode())
    assert 0 < ttl_ms <= 30_000  # Redis itself expires it too
    clock.advance(31)
    assert cache.get("a") is None
    assert cache.get_statistics()["tiers"]["redis"]["expirations"] == 1
    for i in range(4):
        cache.set(f"user:{i}", i)
    cache.set("other", 1)
    assert cache.invalidate_pattern("user:*") == 4
    assert cache.get("other") == 1
    assert cache.clear("redis") == {"redis": 1}
    client.close()
    cache.close()


def test_corrupt_redis_entry_is_a_miss_and_removed(redis_url, namespace, clock):
    cache = make(redis_url, namespace, clock, memory_size=0)
    cache.set("k", b"value")
    client = redis.Redis.from_url(redis_url)
    client.set(f"{namespace}:s:k", b"\x80\x04garbage that is not our format")
    assert cache.get("k") is None
    assert client.exists(f"{namespace}:s:k") == 0
    assert cache.get_statistics()["tiers"]["redis"]["corrupt"] == 1
    client.close()
    cache.close()


def test_unreachable_redis_is_a_backend_error():
    with pytest.raises(BackendError, match="cannot reach Redis"):
        CacheManager(enable_disk=False, redis_url="redis://127.0.0.1:1/0")
