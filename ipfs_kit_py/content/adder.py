"""Turning files, directories and streams into blocks (the I/O side of add).

The pure importer in ``core.importer`` does the chunking and DAG layout; this
module reads the file system, applies kubo's rules for what a recursive add
includes (hidden files only with ``hidden=True``; symlinks inside a directory
become UnixFS symlink nodes, never followed), and reports every entry.
"""

from __future__ import annotations

import os
import stat as stat_mod
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ..core.cid import cid_str
from ..core.importer import (
    FileImporter,
    ImportedNode,
    ImportOptions,
    build_directory,
    import_symlink,
    parse_chunker,
)
from ..errors import InvalidInput, NotFound

Emit = Callable[[object, bytes], None]
Progress = Callable[[int], None]
RunFiles = Callable[[list[Callable], list], list]


def _tree_files(tree: list):
    for _name, path, sub in tree:
        if sub is None:
            yield path
        elif isinstance(sub, list):
            yield from _tree_files(sub)


@dataclass(frozen=True)
class AddOptions:
    cid_version: int = 0
    chunker: str = "size-262144"
    raw_leaves: bool | None = None
    trickle: bool = False
    only_hash: bool = False
    wrap_with_directory: bool = False
    pin: bool = True
    recursive: bool = False
    hidden: bool = False

    def import_options(self) -> ImportOptions:
        if self.cid_version not in (0, 1):
            raise InvalidInput(f"cid version must be 0 or 1, not {self.cid_version}")
        return ImportOptions(
            cid_version=self.cid_version,
            chunk_size=parse_chunker(self.chunker),
            raw_leaves=self.raw_leaves,
            trickle=self.trickle,
        )


@dataclass(frozen=True)
class AddedEntry:
    name: str
    cid: str
    size: int
    type: str

    def to_dict(self) -> dict:
        return {"name": self.name, "cid": self.cid, "size": self.size, "type": self.type}


@dataclass
class AddResult:
    entries: list[AddedEntry] = field(default_factory=list)
    roots: list[AddedEntry] = field(default_factory=list)
    bytes: int = 0
    pinned: bool = False
    replication: dict | None = None  # {root cid: {backend: status}} when a replication policy is set

    @property
    def root(self) -> AddedEntry:
        return self.roots[-1]

    @property
    def cid(self) -> str:
        return self.root.cid

    def to_dict(self) -> dict:
        return {
            "cid": self.cid,
            "roots": [r.to_dict() for r in self.roots],
            "entries": [e.to_dict() for e in self.entries],
            "bytes": self.bytes,
            "pinned": self.pinned,
            **({"replication": self.replication} if self.replication is not None else {}),
        }


class Adder:
    def __init__(self, options: AddOptions, emit: Emit, progress: Progress | None = None,
                 run_files: RunFiles | None = None):
        self.options = options
        # How the files of a directory are imported: the Kit passes a runner on
        # its BatchProcessor (parallel); alone, they run one after another.
        self.run_files = run_files or (lambda funcs, args: [f(a) for f, a in zip(funcs, args, strict=True)])
        self._count_lock = threading.Lock()
        self.import_options = options.import_options()
        self.emit = emit
        self.progress = progress
        self.read_size = max(self.import_options.chunk_size, 256 * 1024)
        self.result = AddResult()

    # ---- single sources ----------------------------------------------------
    def import_stream(self, stream: BinaryIO) -> ImportedNode:
        importer = FileImporter(self.import_options, self.emit)
        read = stream.read
        size = self.read_size
        while True:
            data = read(size)
            if not data:
                break
            importer.write(data)
            with self._count_lock:
                self.result.bytes += len(data)
            if self.progress:
                self.progress(len(data))
        return importer.finish()

    def import_bytes(self, data: bytes) -> ImportedNode:
        importer = FileImporter(self.import_options, self.emit)
        importer.write(data)
        self.result.bytes += len(data)
        return importer.finish()

    def import_file(self, path: Path) -> ImportedNode:
        try:
            with open(path, "rb") as fh:
                return self.import_stream(fh)
        except FileNotFoundError:
            raise NotFound(f"no such file: {path}") from None
        except PermissionError:
            raise InvalidInput(f"cannot read {path}: permission denied") from None
        except IsADirectoryError:
            raise InvalidInput(f"{path} is a directory; use -r to add it recursively") from None

    def import_tree(self, path: Path, display: str) -> ImportedNode:
        """Add a directory: files are imported as one batch, then directories bottom-up.

        Entries are reported as kubo does: each file, then its directory.
        """
        tree = self._scan(path)
        files = list(_tree_files(tree))
        nodes = dict(zip(files, self.run_files([self.import_file] * len(files), files), strict=True))
        return self._build(tree, display, nodes)

    def _scan(self, path: Path) -> list:
        """[(name, Path, children | None (file) | link target)] sorted like kubo (byte order)."""
        try:
            listing = sorted(os.scandir(path), key=lambda e: e.name.encode("utf-8", "surrogateescape"))
        except PermissionError:
            raise InvalidInput(f"cannot read directory {path}: permission denied") from None
        tree = []
        for entry in listing:
            if entry.name.startswith(".") and not self.options.hidden:
                continue
            st = entry.stat(follow_symlinks=False)
            if stat_mod.S_ISLNK(st.st_mode):  # stored as a UnixFS symlink node, as kubo
                tree.append((entry.name, Path(entry.path), os.readlink(entry.path)))
            elif stat_mod.S_ISDIR(st.st_mode):
                tree.append((entry.name, Path(entry.path), self._scan(Path(entry.path))))
            elif stat_mod.S_ISREG(st.st_mode):
                tree.append((entry.name, Path(entry.path), None))
            else:
                raise InvalidInput(f"not a regular file or directory: {entry.path}")
        return tree

    def _build(self, tree: list, display: str, nodes: dict[Path, ImportedNode]) -> ImportedNode:
        children: list[tuple[str, ImportedNode]] = []
        for name, path, sub in tree:
            child_display = f"{display}/{name}"
            if sub is None:
                node = nodes[path]
                self._report(child_display, node, "file")
            elif isinstance(sub, str):
                node = import_symlink(sub, self.import_options, self.emit)
                self._report(child_display, node, "symlink")
            else:
                node = self._build(sub, child_display, nodes)
            children.append((name, node))
        node = build_directory(children, self.import_options, self.emit)
        self._report(display, node, "directory")
        return node

    def _report(self, name: str, node: ImportedNode, kind: str) -> AddedEntry:
        entry = AddedEntry(name, cid_str(node.cid), node.size, kind)
        self.result.entries.append(entry)
        return entry

    # ---- the whole add -----------------------------------------------------
    def add_sources(self, sources: list[str | os.PathLike | BinaryIO | bytes], stdin: BinaryIO | None = None) -> AddResult:
        if not sources:
            raise InvalidInput("nothing to add: give at least one path, or - for stdin")
        tops: list[tuple[str, ImportedNode]] = []
        for source in sources:
            name, node, kind = self._add_one(source, stdin)
            tops.append((name, node))
            if not self.options.wrap_with_directory:
                self.result.roots.append(AddedEntry(name, cid_str(node.cid), node.size, kind))
        if self.options.wrap_with_directory:
            names = [n for n, _ in tops]
            if len(set(names)) != len(names):
                raise InvalidInput("cannot wrap: two sources have the same name")
            node = build_directory(tops, self.import_options, self.emit)
            self.result.roots.append(self._report("", node, "directory"))
        return self.result

    def _add_one(self, source, stdin) -> tuple[str, ImportedNode, str]:
        if isinstance(source, bytes | bytearray | memoryview):
            node = self.import_bytes(bytes(source))
            name = cid_str(node.cid)
            self._report(name, node, "file")
            return name, node, "file"
        if source == "-" or hasattr(source, "read"):
            stream = source if hasattr(source, "read") else stdin
            if stream is None:
                raise InvalidInput("no standard input to read from")
            node = self.import_stream(stream)
            name = cid_str(node.cid)
            self._report(name, node, "file")
            return name, node, "file"
        path = Path(source)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise NotFound(f"no such file or directory: {path}") from None
        except PermissionError:
            raise InvalidInput(f"cannot access {path}: permission denied") from None
        name = path.name or str(path)
        if stat_mod.S_ISDIR(st.st_mode):
            if not self.options.recursive:
                raise InvalidInput(f"{path} is a directory; use -r to add it recursively")
            return name, self.import_tree(path, name), "directory"
        node = self.import_file(path)
        self._report(name, node, "file")
        return name, node, "file"
