"""``local`` backend: a blockstore directory on this machine (another disk, a NAS mount).

Layout under ``path``: ``blocks/`` is a blockstore exactly like the home's
(sharded, atomic writes); ``pins/<cid>`` is an empty marker per pinned DAG,
written only after every block of the DAG is stored. With no ``path`` the
backend is the home's own blockstore (the wizard's ``local_default``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import anyio
from multiformats import CID

from ..content.blockstore import Blockstore
from ..core import dag
from ..core.cid import cid_str, parse_cid
from ..errors import InvalidInput, NotFound
from .base import Backend, BackendRefused, BlockMissing, GetBlock, PutResult


class LocalBackend(Backend):
    kind = "local"

    def __init__(self, name: str, conf: dict[str, Any], home: Path, fsync: str = "batch"):
        super().__init__(name, conf)
        if conf.get("path"):
            self.root = Path(os.path.expanduser(str(conf["path"])))
            blocks_dir, self.pins_dir = self.root / "blocks", self.root / "pins"
        else:
            self.root = home
            self.is_home_blockstore = True
            blocks_dir, self.pins_dir = home / "blocks", home / "backend-pins" / name
        self._blocks_dir = blocks_dir
        self._fsync = fsync
        self._store: Blockstore | None = None

    def _blocks(self) -> Blockstore:
        if self._store is not None and not self._blocks_dir.is_dir():
            self._store = None  # the directory was wiped or remounted empty: start it again
        if self._store is None:
            try:
                self.pins_dir.mkdir(parents=True, exist_ok=True)
                self._store = Blockstore(self._blocks_dir, fsync=self._fsync)
            except OSError as exc:
                raise BackendRefused(f"{self.describe()}: cannot use {self.root}: {exc.strerror}") from None
        return self._store

    async def get_block(self, cid: CID, hints: tuple[CID, ...] = ()) -> bytes:
        def read() -> bytes:
            # Raw bytes as stored: the manager verifies them, so a corrupt
            # copy here is reported as corrupt rather than as missing.
            data = self._blocks().read_stored(cid)
            if data is None:
                raise BlockMissing(f"{self.describe()} has no block {cid_str(cid)}")
            return data

        return await anyio.to_thread.run_sync(read)

    async def put_block(self, cid: CID, data: bytes) -> None:
        await anyio.to_thread.run_sync(self._blocks().put, cid, data)

    async def has(self, cid: CID) -> bool:
        return await anyio.to_thread.run_sync(self._blocks().has, cid)

    async def put_dag(self, root: CID, get_block: GetBlock) -> PutResult:
        def copy() -> PutResult:
            store = self._blocks()
            total = count = 0
            for block_cid in dag.walk_blocks(get_block, root):
                data = get_block(block_cid)
                store.put(block_cid, data)
                total += len(data)
                count += 1
            store.flush()
            _touch(self.pins_dir / cid_str(root))
            return PutResult(total, count, "blocks")

        return await anyio.to_thread.run_sync(copy)

    async def pin(self, cid: CID) -> None:
        def mark() -> None:
            if not self._blocks().has(cid):
                raise NotFound(f"{self.describe()} has no block {cid_str(cid)}; replicate it first")
            _touch(self.pins_dir / cid_str(cid))

        await anyio.to_thread.run_sync(mark)

    async def delete(self, cid: CID) -> None:
        # Drops the pin; blocks stay until that directory is garbage-collected,
        # as they may be shared with other pinned DAGs.
        def unmark() -> None:
            self._blocks()
            (self.pins_dir / cid_str(cid)).unlink(missing_ok=True)

        await anyio.to_thread.run_sync(unmark)

    async def list(self) -> list[str]:
        def names() -> list[str]:
            self._blocks()
            out = []
            for entry in sorted(os.listdir(self.pins_dir)):
                try:
                    out.append(cid_str(parse_cid(entry)))
                except InvalidInput:
                    continue
            return out

        return await anyio.to_thread.run_sync(names)

    async def health(self) -> dict[str, Any]:
        def check() -> dict[str, Any]:
            self._blocks()
            if not os.access(self._blocks_dir, os.W_OK):
                raise BackendRefused(f"{self.describe()}: {self._blocks_dir} is not writable")
            usage = shutil.disk_usage(self._blocks_dir)
            return {"healthy": True, "kind": "local", "path": str(self.root), "free_bytes": usage.free}

        return await anyio.to_thread.run_sync(check)

    async def aclose(self) -> None:
        if self._store is not None:
            self._store.flush()


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    os.close(fd)
