"""The optional shared tier: one Redis string per entry, header + payload.

Keys live under a namespace (``ipfs-kit:cache`` by default) with a type
marker so ``str`` and ``bytes`` keys never collide: ``<ns>:s:<utf-8>`` and
``<ns>:b:<raw bytes>``. A Redis outage must not break reads, so after the
initial connection check, errors are reported to the caller as
``RedisUnavailable`` and counted; the cache then carries on with its other tiers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import BackendError, InvalidInput

_SCHEMES = ("redis://", "rediss://", "unix://")


class RedisUnavailable(Exception):
    """A Redis command failed (connection, timeout, server error)."""


class RedisTier:
    def __init__(self, url: str, namespace: str = "ipfs-kit:cache", timeout: float = 2.0):
        if not isinstance(url, str) or not url.startswith(_SCHEMES):
            raise InvalidInput(f"redis_url must start with redis://, rediss:// or unix://, not {url!r}")
        import redis

        self._errors = (redis.RedisError, OSError)
        self.url = url
        try:
            self._client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
            self._client.ping()
        except ValueError as exc:
            raise InvalidInput(f"invalid redis_url {url!r}: {exc}") from exc
        except self._errors as exc:
            raise BackendError(f"cannot reach Redis at {url}: {exc}") from exc
        self._prefix = namespace.encode("utf-8") + b":"

    def _key(self, key: Any) -> bytes:
        if type(key) is bytes:
            return self._prefix + b"b:" + key
        return self._prefix + b"s:" + key.encode("utf-8")

    def _unkey(self, raw: bytes) -> Any:
        rest = raw[len(self._prefix):]
        if rest.startswith(b"b:"):
            return rest[2:]
        return rest[2:].decode("utf-8", "replace")

    def read(self, key: Any) -> bytes | None:
        try:
            return self._client.get(self._key(key))
        except self._errors as exc:
            raise RedisUnavailable(str(exc)) from exc

    def write(self, key: Any, blob: bytes, ttl: float | None) -> None:
        try:
            if ttl is None:
                self._client.set(self._key(key), blob)
            else:
                self._client.set(self._key(key), blob, px=max(1, int(ttl * 1000)))
        except self._errors as exc:
            raise RedisUnavailable(str(exc)) from exc

    def delete(self, key: Any) -> bool:
        try:
            return bool(self._client.delete(self._key(key)))
        except self._errors as exc:
            raise RedisUnavailable(str(exc)) from exc

    def _raw_keys(self) -> Iterator[bytes]:
        pattern = self._prefix.replace(b"\\", b"\\\\").replace(b"*", b"\\*").replace(b"?", b"\\?")
        pattern = pattern.replace(b"[", b"\\[") + b"*"
        return self._client.scan_iter(match=pattern, count=1000)

    def keys(self) -> Iterator[Any]:
        try:
            for raw in self._raw_keys():
                yield self._unkey(raw)
        except self._errors as exc:
            raise RedisUnavailable(str(exc)) from exc

    def delete_many(self, keys: list[Any]) -> int:
        removed = 0
        try:
            for start in range(0, len(keys), 500):
                chunk = [self._key(k) for k in keys[start:start + 500]]
                if chunk:
                    removed += self._client.delete(*chunk)
        except self._errors as exc:
            raise RedisUnavailable(str(exc)) from exc
        return removed

    def clear(self) -> int:
        try:
            raw = list(self._raw_keys())
            removed = 0
            for start in range(0, len(raw), 500):
                removed += self._client.delete(*raw[start:start + 500])
            return removed
        except self._errors as exc:
            raise RedisUnavailable(str(exc)) from exc

    def size(self) -> tuple[int, int]:
        """(entries, bytes) under our namespace; O(n) pipelined STRLEN, for statistics."""
        try:
            raw = list(self._raw_keys())
            total = 0
            for start in range(0, len(raw), 500):
                pipe = self._client.pipeline(transaction=False)
                for k in raw[start:start + 500]:
                    pipe.strlen(k)
                total += sum(pipe.execute())
            return len(raw), total
        except self._errors as exc:
            raise RedisUnavailable(str(exc)) from exc

    def close(self) -> None:
        try:
            self._client.close()
        except self._errors:
            pass
