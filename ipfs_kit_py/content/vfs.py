"""The VFS (like kubo's MFS): named paths mapped to CIDs, persisted as one root CID.

The tree is an ordinary UnixFS DAG. Every change rebuilds the directories on
the path from the changed entry up to the root (copy-on-write) and then swaps
the root in ``store.db`` inside one exclusive transaction, so two processes
editing at once serialise instead of losing an update. The root is a GC root.

``options`` (the VFS wizard's ``Settings.vfs``: CID version, chunker, raw
leaves, trickle) decide how written files are imported and the CID version of
rebuilt directories; ``pin_writes`` tells the caller (``Kit.files_write``) to
pin each written file. The Kit builds a new ``Vfs`` when the settings change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from multiformats import CID

from ..core import dag
from ..core.cid import cid_str, parse_cid
from ..core.importer import ImportedNode, ImportOptions, build_directory
from ..errors import Conflict, InvalidInput, NotFound
from .adder import Adder, AddOptions
from .paths import parse_content_path
from .store import VFS_ROOT_KEY, ContentStore

MAX_VFS_DEPTH = 256  # half of dag.MAX_DEPTH: room left for the DAGs of the files placed at the bottom


def split_vfs_path(path: str) -> tuple[str, ...]:
    if not isinstance(path, str) or not path.startswith("/"):
        raise InvalidInput(f"VFS paths are absolute (start with /): {path!r}")
    parts = tuple(p for p in path.split("/") if p)
    if len(parts) > MAX_VFS_DEPTH:
        # Reads refuse DAGs deeper than dag.MAX_DEPTH; a deeper tree would be saved and then unreadable.
        raise InvalidInput(f"VFS paths are at most {MAX_VFS_DEPTH} levels deep; {path[:60]!r}... has {len(parts)}")
    for part in parts:
        if part in (".", "..") or "\x00" in part:
            raise InvalidInput(f"invalid VFS path segment {part!r}")
    return parts


@dataclass
class _Dir:
    """A directory being edited: its entries as importer nodes, by name."""

    entries: dict[str, ImportedNode]


class Vfs:
    def __init__(self, store: ContentStore, options: ImportOptions | None = None,
                 pin_writes: bool = False):
        self.store = store
        self.options = options or ImportOptions()
        self.pin_writes = pin_writes

    # ---- reading -----------------------------------------------------------
    def root_cid(self) -> CID:
        text = self.store.pins.get_meta(VFS_ROOT_KEY)
        if text:
            return parse_cid(text)
        # No root yet: the empty directory, without storing anything.
        return build_directory([], self.options, lambda cid, block: None).cid

    def resolve(self, path: str) -> CID:
        parts = split_vfs_path(path)
        cid = self.root_cid()
        if not parts:
            return cid
        try:
            return dag.resolve_path(self.store.get_block, cid, list(parts))
        except NotFound:
            raise NotFound(f"no such VFS path: {path}") from None

    def stat(self, path: str) -> dict:
        info = dag.stat(self.store.get_block, self.resolve(path)).to_dict()
        info["path"] = path
        return info

    def ls(self, path: str = "/") -> list[dict]:
        cid = self.resolve(path)
        info = dag.stat(self.store.get_block, cid)
        if info.type != "directory":
            name = split_vfs_path(path)[-1]
            return [{"name": name, "cid": cid_str(cid), "size": info.size, "type": info.type}]
        return [e.to_dict() for e in dag.list_directory(self.store.get_block, cid)]

    def read(self, path: str, out=None, offset: int = 0, length: int | None = None):
        cid = self.resolve(path)
        kind = dag.load_node(self.store.get_block, cid).kind
        if kind not in ("file", "raw"):  # cat's own error would name the CID, not the user's path
            raise InvalidInput(f"{path} is a {kind}, not a file")
        return self.store.cat(cid_str(cid), out=out, offset=offset, length=length)

    # ---- editing -----------------------------------------------------------
    def _node(self, cid: CID) -> ImportedNode:
        info = dag.stat(self.store.get_block, cid)
        return ImportedNode(cid=cid, size=info.size, tsize=info.cumulative_size)

    def _load_dir(self, cid: CID) -> _Dir:
        # The links carry what a rebuild needs; no need to walk each entry's DAG.
        entries = {}
        for e in dag.list_directory(self.store.get_block, cid):
            entries[e.name] = ImportedNode(cid=e.cid, size=e.size, tsize=e.tsize)
        return _Dir(entries)

    def _update(self, parts: tuple[str, ...], change, parents: bool = False) -> CID:
        """Apply ``change(dir_entries, name)`` to the parent of ``parts`` and rebuild up."""
        if not parts:
            raise InvalidInput("this operation needs a path below /")
        with self.store.lock.shared(), self.store.pins.transaction() as db:
            root = self.root_cid()
            chain: list[tuple[str, _Dir]] = []
            cid = root
            current = self._load_dir(cid)
            for depth, name in enumerate(parts[:-1]):
                chain.append((name, current))
                child = current.entries.get(name)
                if child is None:
                    if not parents:
                        raise NotFound(f"no such VFS directory: /{'/'.join(parts[:depth + 1])}")
                    current = _Dir({})
                    continue
                if dag.stat(self.store.get_block, child.cid).type != "directory":
                    raise Conflict(f"/{'/'.join(parts[:depth + 1])} is not a directory")
                current = self._load_dir(child.cid)
            change(current.entries, parts[-1])
            node = build_directory(sorted(current.entries.items()), self.options, self.store.blocks.put)
            for name, parent in reversed(chain):
                parent.entries[name] = node
                node = build_directory(sorted(parent.entries.items()), self.options, self.store.blocks.put)
            self.store.blocks.flush()
            self.store.pins.set_meta(VFS_ROOT_KEY, cid_str(node.cid), db)
            return node.cid

    def mkdir(self, path: str, parents: bool = False) -> dict:
        parts = split_vfs_path(path)
        empty = build_directory([], self.options, self.store.blocks.put)

        def change(entries, name):
            if name in entries:
                if parents:
                    return
                raise Conflict(f"{path} already exists")
            entries[name] = empty

        self._update(parts, change, parents)
        return self.stat(path)

    def write(self, path: str, source, parents: bool = False, stdin=None) -> dict:
        """Write a file (bytes, a stream, or a local path) at ``path``, replacing it."""
        parts = split_vfs_path(path)
        if isinstance(source, str | os.PathLike) and source != "-" and os.path.isdir(source):
            # The adder's message would suggest -r, which files write does not have.
            raise InvalidInput(f"{source} is a directory; files write takes a file (or - for stdin)")
        o = self.options
        opts = AddOptions(cid_version=o.cid_version, chunker=f"size-{o.chunk_size}",
                          raw_leaves=o.raw_leaves, trickle=o.trickle)
        with self.store.lock.shared():
            adder = Adder(opts, self.store.blocks.put)
            result = adder.add_sources([source], stdin)
        node = self._node(parse_cid(result.cid))

        def change(entries, name):
            existing = entries.get(name)
            if existing is not None and dag.stat(self.store.get_block, existing.cid).type == "directory":
                raise Conflict(f"{path} is a directory")
            entries[name] = node

        self._update(parts, change, parents)
        info = self.stat(path)
        info["bytes"] = result.bytes
        return info

    def rm(self, path: str, recursive: bool = False) -> dict:
        parts = split_vfs_path(path)
        removed = {}

        def change(entries, name):
            node = entries.get(name)
            if node is None:
                raise NotFound(f"no such VFS path: {path}")
            if not recursive and dag.stat(self.store.get_block, node.cid).type == "directory":
                raise InvalidInput(f"{path} is a directory; use -r to remove it")
            removed["cid"] = cid_str(node.cid)
            del entries[name]

        root = self._update(parts, change)
        return {"path": path, "removed": removed["cid"], "root": cid_str(root)}

    def cp(self, source: str, dest: str) -> dict:
        """Copy ``/ipfs/CID[/p]`` or a VFS path to ``dest`` (which must not exist)."""
        if source.startswith("/ipfs/"):
            cp = parse_content_path(source)
            cid = dag.resolve_path(self.store.get_block, cp.root, list(cp.segments)) if cp.segments else cp.root
            with self.store.lock.shared():
                for block_cid in dag.walk_blocks(self.store.get_block, cid):
                    self.store.get_block(block_cid)  # present locally (or fetched), verified
        else:
            cid = self.resolve(source)
        node = self._node(cid)
        dest_parts = split_vfs_path(dest)

        def change(entries, name):
            if name in entries:
                raise Conflict(f"{dest} already exists")
            entries[name] = node

        self._update(dest_parts, change)
        return self.stat(dest)

    def mv(self, source: str, dest: str) -> dict:
        src_parts = split_vfs_path(source)
        dest_parts = split_vfs_path(dest)
        if not src_parts:
            raise InvalidInput("cannot move the VFS root")
        if dest_parts[: len(src_parts)] == src_parts:
            raise InvalidInput(f"cannot move {source} into itself")
        # Moving onto an existing directory moves into it, as `mv` does.
        try:
            if dag.stat(self.store.get_block, self.resolve(dest)).type == "directory":
                dest_parts = (*dest_parts, src_parts[-1])
                dest = "/" + "/".join(dest_parts)
        except NotFound:
            pass
        self.cp(source, dest)
        self.rm(source, recursive=True)
        return self.stat(dest)
