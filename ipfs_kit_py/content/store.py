"""The content service: add, cat, get, ls, stat, pins, GC and CAR over one blockstore.

Pure DAG logic lives in ``core``; this class owns the I/O and the rules that
tie blocks, pins and the VFS root together. It knows nothing about audit or
metrics: the Kit wraps each call once (see ``instrument.py``).
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from multiformats import CID

from ..config import Settings
from ..core import car, dag
from ..core import cid as cidlib
from ..core.cid import cid_str, parse_cid
from ..errors import CorruptBlock, InvalidInput, NotFound
from .adder import Adder, AddOptions, AddResult
from .blockstore import Blockstore
from .export import atomic_output, export_tree, write_file_atomic
from .locks import RepoLock
from .paths import ContentPath, parse_content_path
from .pins import Pin, PinStore

VFS_ROOT_KEY = "vfs_root"
_EMPTY_DIR_BLOCK = b"\x0a\x02\x08\x01"  # dag-pb node with UnixFS Directory data
_EMPTY_DIR_MH = bytes(cidlib.block_cid(_EMPTY_DIR_BLOCK, 0, "dag-pb").digest)


@dataclass(frozen=True)
class GcResult:
    removed_blocks: int
    freed_bytes: int
    kept_blocks: int
    removed: list[str]

    def to_dict(self) -> dict:
        return {
            "removed_blocks": self.removed_blocks,
            "freed_bytes": self.freed_bytes,
            "kept_blocks": self.kept_blocks,
            "removed": self.removed,
        }


@dataclass(frozen=True)
class CarImportResult:
    roots: list[str]
    blocks: int
    new_blocks: int
    bytes: int

    def to_dict(self) -> dict:
        return {"roots": self.roots, "blocks": self.blocks, "new_blocks": self.new_blocks, "bytes": self.bytes}


class ContentStore:
    def __init__(self, settings: Settings, block_cache=None):
        self.settings = settings
        settings.home.mkdir(parents=True, exist_ok=True)
        self.blocks = Blockstore(settings.blocks_dir, fsync=settings.fsync, cache=block_cache)
        self.pins = PinStore(settings.store_db)
        self.lock = RepoLock(settings.home / "repo.lock")
        # Reads may fall back to remote backends (set by the Kit when configured).
        self.fallback_get: Callable[[CID], bytes | None] | None = None

    def close(self) -> None:
        self.pins.close()

    # ---- blocks ----------------------------------------------------------
    def get_block(self, cid: CID) -> bytes:
        try:
            return self.blocks.get(cid)
        except CorruptBlock as damaged:
            # The stored copy is damaged: a backend's copy (verified by the manager) repairs it.
            try:
                data = self.fallback_get(cid) if self.fallback_get is not None else None
            except NotFound:
                data = None
            if data is None:
                raise damaged from None
            self.blocks.put(cid, data, replace=True)
            return data
        except NotFound:
            if bytes(cid.digest) == _EMPTY_DIR_MH:  # always readable, like kubo's
                return _EMPTY_DIR_BLOCK
            data = self.fallback_get(cid) if self.fallback_get is not None else None
            if data is None:
                raise
            self.blocks.put(cid, data)  # verified by the backend manager
            return data

    def resolve(self, path: str | ContentPath) -> CID:
        """The CID a content path (``CID[/name...]``) names."""
        return self._resolve(path)

    def _resolve(self, path: str | ContentPath) -> CID:
        if isinstance(path, str) and path.strip().startswith(("/ipns/", "ipns://")):
            # Otherwise the empty text before the name is parsed as the CID ("invalid CID ''").
            raise InvalidInput(f"IPNS names are not supported: {path.strip()}; "
                               "give an /ipfs/<cid> or <cid> path")
        cp = parse_content_path(path) if isinstance(path, str) else path
        if not cp.segments:
            return cp.root
        return dag.resolve_path(self.get_block, cp.root, list(cp.segments))

    # ---- add -------------------------------------------------------------
    def add(
        self,
        sources: list,
        options: AddOptions,
        stdin: BinaryIO | None = None,
        progress: Callable[[int], None] | None = None,
        run_files=None,
    ) -> AddResult:
        if options.only_hash:
            return Adder(options, lambda cid, block: None, progress, run_files).add_sources(sources, stdin)
        with self.lock.shared():
            adder = Adder(options, self.blocks.put, progress, run_files)
            result = adder.add_sources(sources, stdin)
            self.blocks.flush()
            if options.pin:
                for root in result.roots:
                    self.pins.add(root.cid, "recursive")
                result.pinned = True
        return result

    # ---- read ------------------------------------------------------------
    def iter_cat(self, path: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        if offset < 0 or (length is not None and length < 0):
            raise InvalidInput("offset and length must be >= 0")
        cid = self._resolve(path)
        return dag.iter_file(self.get_block, cid, offset, length)

    def cat(self, path: str, out: BinaryIO | None = None, offset: int = 0, length: int | None = None) -> int | bytes:
        """Write the file to ``out`` (returns bytes written) or return its bytes."""
        sink = out if out is not None else io.BytesIO()
        written = 0
        for chunk in self.iter_cat(path, offset, length):
            sink.write(chunk)
            written += len(chunk)
        return written if out is not None else sink.getvalue()

    def get(self, path: str, output: str | os.PathLike) -> dict:
        cid = self._resolve(path)
        out = Path(output)
        kind = dag.load_node(self.get_block, cid).kind  # the root only: dag.stat would read every block
        if kind == "directory":
            files, total = export_tree(
                dag.walk_tree(self.get_block, cid), out,
                lambda c: dag.iter_file(self.get_block, c),
                lambda c: dag.read_symlink(self.get_block, c),
            )
        else:
            if out.is_dir():
                raise InvalidInput(f"{out} is a directory; give a file path to write to")
            total = write_file_atomic(out, dag.iter_file(self.get_block, cid))
            files = 1
        return {"cid": cid_str(cid), "output": str(out), "files": files, "bytes": total, "type": kind}

    def ls(self, path: str) -> list[dict]:
        cid = self._resolve(path)
        return [e.to_dict() for e in dag.list_directory(self.get_block, cid)]

    def stat(self, path: str) -> dict:
        cid = self._resolve(path)
        return dag.stat(self.get_block, cid).to_dict()

    # ---- pins ------------------------------------------------------------
    def pin_add(self, path: str, pin_type: str = "recursive") -> Pin:
        cid = self._resolve(path)
        with self.lock.shared():
            if pin_type == "recursive":
                for block_cid in dag.walk_blocks(self.get_block, cid):
                    if not self.blocks.has(block_cid):
                        self.get_block(block_cid)  # fetch from a backend, or NotFound
            else:
                self.get_block(cid)
            return self.pins.add(cid_str(cid), pin_type)

    def pin_rm(self, path: str) -> Pin:
        cid = cid_str(self._resolve(path))
        pin = self.pins.remove(cid)
        if pin is None:
            raise NotFound(f"{cid} is not pinned")
        return pin

    def pin_ls(self, pin_type: str = "all") -> list[dict]:
        types = ("recursive", "direct", "indirect", "all")
        if pin_type not in types:
            raise InvalidInput(f"pin type must be one of {', '.join(types)}, not {pin_type!r}")
        pins = [p.to_dict() for p in self.pins.list("all" if pin_type in ("all", "indirect") else pin_type)]
        if pin_type not in ("all", "indirect"):
            return pins
        direct_roots = {p["cid"] for p in pins}
        indirect: dict[str, None] = {}
        for pin in pins:
            if pin["type"] != "recursive":
                continue
            for block_cid in dag.walk_blocks(self.get_block, parse_cid(pin["cid"])):
                text = cid_str(block_cid)
                if text not in direct_roots:
                    indirect[text] = None
        rows = [{"cid": c, "type": "indirect", "created": None} for c in indirect]
        return rows if pin_type == "indirect" else pins + rows

    # ---- GC --------------------------------------------------------------
    def live_multihashes(self) -> set[bytes]:
        live: set[bytes] = set()
        roots = [(p.cid, p.type) for p in self.pins.list("all")]
        vfs_root = self.pins.get_meta(VFS_ROOT_KEY)
        if vfs_root:
            roots.append((vfs_root, "recursive"))
        for text, kind in roots:
            cid = parse_cid(text)
            if kind == "direct":
                live.add(bytes(cid.digest))
                continue
            for block_cid in dag.walk_blocks(self.get_block, cid):
                live.add(bytes(block_cid.digest))
        return live

    def gc(self) -> GcResult:
        with self.lock.exclusive():
            live = self.live_multihashes()  # raises (and deletes nothing) if a pinned DAG is broken
            removed: list[str] = []
            freed = kept = 0
            for mh in list(self.blocks.iter_multihashes()):
                if mh in live:
                    kept += 1
                    continue
                freed += self.blocks.delete_multihash(mh)
                removed.append(str(CID("base32", 1, "raw", mh)))
            self.blocks.flush()
        return GcResult(len(removed), freed, kept, removed)

    # ---- CAR -------------------------------------------------------------
    def car_export(self, path: str, output: str | os.PathLike | BinaryIO) -> dict:
        """Write the CAR to a file path (atomically) or to a binary stream (e.g. stdout)."""
        cid = self._resolve(path)
        blocks = [0]

        def walk():
            for block_cid in dag.walk_blocks(self.get_block, cid):
                blocks[0] += 1
                yield block_cid, self.get_block(block_cid)

        if not isinstance(output, str | os.PathLike):  # a binary stream
            total = car.write_car(output, [cid], walk())
            return {"root": cid_str(cid), "output": getattr(output, "name", "<stream>"),
                    "blocks": blocks[0], "bytes": total}
        out = Path(output)
        if out.is_dir():
            raise InvalidInput(f"{out} is a directory; give a .car file path")
        with atomic_output(out) as fh:
            total = car.write_car(fh, [cid], walk())
        return {"root": cid_str(cid), "output": str(out), "blocks": blocks[0], "bytes": total}

    def car_import(self, source: str | os.PathLike | BinaryIO, pin: bool = True) -> CarImportResult:
        """Import a CAR v1: verify every block first, then store, check roots, pin.

        Nothing is left behind by a bad CAR: a malformed or corrupt file is
        rejected before any block is stored, and a CAR whose roots are
        incomplete has the blocks it added removed again. The import holds
        the repository lock exclusively so that removal cannot race an add.
        """
        if isinstance(source, str | os.PathLike):
            try:
                fh = open(source, "rb")
            except FileNotFoundError:
                raise NotFound(f"no such file: {source}") from None
            except (PermissionError, IsADirectoryError) as exc:
                raise InvalidInput(f"cannot read {source}: {exc.strerror}") from None
            with fh:
                return self._car_import_stream(fh, pin)
        return self._car_import_stream(source, pin)

    def _car_import_stream(self, fh: BinaryIO, pin: bool) -> CarImportResult:
        if not fh.seekable():  # stdin: stage to a temp file so it can be read twice
            staged = tempfile.TemporaryFile()
            while chunk := fh.read(1 << 20):
                staged.write(chunk)
            staged.seek(0)
            fh = staged
        start = fh.tell()
        try:  # pass 1: parse and verify, store nothing
            roots, sections = car.read_car(fh)
            for _ in sections:
                pass
        except CorruptBlock as exc:
            raise InvalidInput(f"malformed CAR: {exc}") from None
        with self.lock.exclusive():
            fh.seek(start)
            roots, sections = car.read_car(fh)
            added: list[CID] = []
            total = count = 0
            try:
                for cid, data in sections:
                    count += 1
                    total += len(data)
                    if self.blocks.put(cid, data):
                        added.append(cid)
                    elif self.blocks.read_stored(cid) != data:
                        self.blocks.put(cid, data, replace=True)  # a damaged stored copy: the CAR's is verified
                for root in roots:
                    try:
                        for _ in dag.walk_blocks(self.get_block, root):
                            pass
                    except NotFound as exc:
                        raise InvalidInput(f"CAR is incomplete for root {cid_str(root)}: {exc}") from None
            except BaseException:
                for cid in added:
                    self.blocks.delete(cid)
                raise
            self.blocks.flush()
            root_texts = [cid_str(r) for r in roots]
            if pin:
                for text in root_texts:
                    self.pins.add(text, "recursive")
        return CarImportResult(root_texts, count, len(added), total)
