"""``StorageControllerAnyio``: the async face of one configured backend.

A controller is a thin adapter: each method is one Kit operation (audited,
timed, role-checked) run in a worker thread, so it can be awaited from
asyncio or trio code without blocking the loop. It holds no state but the
backend's name and the Kit.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import anyio

from ....errors import InvalidInput, NotFound


class StorageControllerAnyio:
    kind = ""  # local, kubo or s3; empty: any kind

    def __init__(self, name: str | None = None, *, kit=None, home=None):
        """``name``: a configured backend (default: the first of this kind in the home's config).

        ``kit``: the Kit to act through (default: one for ``home``, or
        $IPFS_KIT_HOME / ~/.ipfs-kit, made on first use and closed by ``aclose``).
        """
        self._name = name
        self._kit = kit
        self._home = home
        self._own_kit = kit is None

    # ---- plumbing -------------------------------------------------------------------------
    @property
    def kit(self):
        if self._kit is None:
            from ....kit import Kit

            self._kit = Kit(self._home, interface="python")
        return self._kit

    @property
    def name(self) -> str:
        if self._name is None:
            self._name = self._default_name()
        return self._name

    def _default_name(self) -> str:
        manager = self.kit.backends
        for name in manager.names():
            if not self.kind or manager.settings.backends[name].get("type") == self.kind:
                return name
        raise NotFound(f"no {self.kind or 'storage'} backend is configured in {self.kit.settings.home}; add one "
                       f"with `ipfs-kit backend add NAME --type {self.kind or 's3'} ...`")

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        name = self.name  # resolve (and fail) before the thread hop
        if self.kind:
            kind = self.kit.backends.backend(name).kind
            if kind is not None and kind != self.kind:
                raise InvalidInput(f"backend {name!r} is a {kind} backend, not {self.kind}")
        return await anyio.to_thread.run_sync(lambda: fn(name, *args))

    # ---- operations -------------------------------------------------------------------------
    async def health(self) -> dict[str, Any]:
        """Reachability, credentials, bucket/node facts; raises a one-line ``BackendError``."""
        return await self._call(self.kit.backend_test)

    async def replicate(self, cid: str) -> str:
        """Copy the DAG under ``cid`` (in the local store) to this backend now; its status."""
        result = await self._call(lambda name, c: self.kit.replicate(c, [name]), cid)
        return result[self.name]

    async def put(self, data: bytes, pin: bool = True) -> dict[str, Any]:
        """Add ``data`` locally (kubo's default settings) and copy it here: ``{"cid", "status"}``."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidInput("put() takes bytes")

        def run(name: str) -> dict[str, Any]:
            cid = self.kit.add(bytes(data), pin=pin).cid
            return {"cid": cid, "status": self.kit.replicate(cid, [name])[name]}

        return await self._call(run)

    async def get(self, cid: str) -> bytes:
        """One block from this backend, verified against ``cid``."""
        return await self._call(self.kit.backend_get_block, cid)

    async def has(self, cid: str) -> bool:
        return await self._call(self.kit.backend_has, cid)

    async def delete(self, cid: str) -> dict[str, str]:
        """Remove the DAG's copy from this backend (kubo: unpin; S3: delete its objects)."""
        return await self._call(lambda name, c: self.kit.backend_unpin(c, [name]), cid)

    async def list(self) -> list[str]:
        """Roots of the DAGs this backend holds."""
        return await self._call(self.kit.backend_stored)

    async def status(self, cid: str | None = None) -> list[dict[str, Any]]:
        """Replication rows (queued, pinning, pinned, failed) for this backend."""
        return (await self._call(lambda name, c: self.kit.backend_status(c, name), cid))["items"]

    async def aclose(self) -> None:
        if self._own_kit and self._kit is not None:
            kit, self._kit = self._kit, None
            await anyio.to_thread.run_sync(kit.close)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()


def controller_for(kit, name: str) -> StorageControllerAnyio:
    """The controller class that matches backend ``name``'s kind, bound to ``kit``."""
    from .kubo_controller_anyio import KuboControllerAnyio
    from .local_controller_anyio import LocalControllerAnyio
    from .s3_controller_anyio import S3ControllerAnyio

    kind = kit.backends.backend(name).kind  # NotFound (listing what is configured) for unknown names
    classes = {"s3": S3ControllerAnyio, "kubo": KuboControllerAnyio, "local": LocalControllerAnyio}
    return classes[kind](name, kit=kit)


class DeprecatedSyncController:
    """The old synchronous style: same methods, blocking; warns once per instance."""

    replacement: type[StorageControllerAnyio] = StorageControllerAnyio

    def __init__(self, *args: Any, **kwargs: Any):
        new = self.replacement
        warnings.warn(
            f"{type(self).__name__} is deprecated: use {new.__module__}.{new.__name__} "
            f"(anyio, the recommended pattern): `controller = {new.__name__}()` and await its methods",
            DeprecationWarning, stacklevel=2)
        self._async = new(*args, **kwargs)

    def __getattr__(self, attr: str):
        method = getattr(self._async, attr)
        if not callable(method):
            return method

        def blocking(*args: Any, **kwargs: Any):
            return anyio.run(lambda: method(*args, **kwargs))

        return blocking

    def close(self) -> None:
        anyio.run(self._async.aclose)
