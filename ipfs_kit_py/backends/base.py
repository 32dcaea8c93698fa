"""The one async backend interface (anyio: runs under asyncio and trio).

A backend stores blocks and whole DAGs somewhere other than the home's
embedded blockstore: another directory (``local``), a kubo node (``kubo``) or
an S3-compatible bucket (``s3``). Every method is a coroutine; blocking
clients (boto3, the filesystem) run in worker threads via ``anyio.to_thread``.

Backends never decide whether bytes are trustworthy: the manager verifies
every block a backend returns against its CID before anyone uses it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from multiformats import CID

from ..errors import BackendError, InvalidInput

GetBlock = Callable[[CID], bytes]


class BackendUnavailable(BackendError):
    """The backend could not be reached or failed transiently; worth retrying."""


class CircuitOpen(BackendUnavailable):
    """Refused without calling the backend: its circuit breaker is open until a later time."""


class BackendRefused(BackendError):
    """The backend answered but refused (credentials, missing bucket, bad config)."""


class BackendUnsupported(BackendError):
    """The backend cannot do this operation at all (e.g. an old kubo without dag/import)."""


class BlockMissing(BackendError):
    """The backend does not hold the requested block."""

    http_status = 404


@dataclass
class PutResult:
    """What storing one DAG on a backend did."""

    bytes: int
    blocks: int
    method: str  # how it was stored: blocks, car, dag-import, re-add

    def to_dict(self) -> dict[str, Any]:
        return {"bytes": self.bytes, "blocks": self.blocks, "method": self.method}


class Backend(ABC):
    """Base class; ``name`` is the configured name, ``conf`` its config.json entry."""

    kind: str = ""
    uses_hints: bool = False  # get_block looks inside stored DAGs named by ``hints``
    is_home_blockstore: bool = False  # stores into the home's own blocks/: a copy there is no replica

    def __init__(self, name: str, conf: dict[str, Any]):
        self.name = name
        self.conf = conf
        self.timeout = _positive(conf.get("timeout_seconds", 30.0), "timeout_seconds", name)

    # ---- blocks ------------------------------------------------------------
    @abstractmethod
    async def get_block(self, cid: CID, hints: tuple[CID, ...] = ()) -> bytes:
        """The block's bytes as stored (unverified); ``BlockMissing`` if absent.

        ``hints`` are DAG roots known to be stored here, for backends that
        keep blocks inside per-DAG objects (S3).
        """

    async def get_blocks(self, cids: list[CID], hints: tuple[CID, ...] = ()) -> dict[CID, bytes]:
        """Several blocks at once (unverified); absent or failing ones are left out.

        The default asks for each concurrently; backends that can read many
        blocks in one request (S3: one ranged GET) do better.
        """
        import anyio

        found: dict[CID, bytes] = {}
        limiter = anyio.CapacityLimiter(8)

        async def one(cid: CID) -> None:
            async with limiter:
                try:
                    found[cid] = await self.get_block(cid, hints)
                except BackendError:
                    pass

        async with anyio.create_task_group() as tg:
            for cid in cids:
                tg.start_soon(one, cid)
        return found

    @abstractmethod
    async def put_block(self, cid: CID, data: bytes) -> None: ...

    @abstractmethod
    async def has(self, cid: CID) -> bool:
        """True if the backend holds ``cid`` (a block, or a whole stored DAG for S3)."""

    @abstractmethod
    async def delete(self, cid: CID) -> None:
        """Drop ``cid`` (a stored DAG's pin or objects) from the backend."""

    # ---- whole DAGs ----------------------------------------------------------
    @abstractmethod
    async def put_dag(self, root: CID, get_block: GetBlock) -> PutResult:
        """Store every block reachable from ``root`` and pin it where the backend has pins.

        Returns only once the backend holds the complete DAG; raises otherwise.
        """

    @abstractmethod
    async def list(self) -> list[str]:
        """CIDs of the DAGs stored (pinned) on the backend."""

    @abstractmethod
    async def pin(self, cid: CID) -> None:
        """Pin ``cid`` (its blocks must already be on the backend)."""

    async def unpin(self, cid: CID) -> None:
        await self.delete(cid)

    # ---- status --------------------------------------------------------------
    @abstractmethod
    async def health(self) -> dict[str, Any]:
        """``{"healthy": True, ...facts}`` or raise a ``BackendError`` saying what is wrong."""

    async def aclose(self) -> None:  # noqa: B027 - most backends hold nothing to release
        """Release connections."""

    def describe(self) -> str:
        return f"{self.kind} backend {self.name!r}"


def _positive(value: Any, key: str, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"backend {name!r}: {key} must be a number, not {value!r}") from None
    if number <= 0:
        raise InvalidInput(f"backend {name!r}: {key} must be positive, not {value!r}")
    return number
