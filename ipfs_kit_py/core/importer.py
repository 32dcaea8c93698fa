"""UnixFS importer: bytes in, the same CIDs as kubo's ``ipfs add`` out.

Fixed-size chunking, balanced or trickle layout, CIDv0/v1, raw leaves on or
off, flat and HAMT-sharded directories. Streaming: an importer holds the
chunk being filled, a few chunks being hashed, the pending link lists of the
layout (at most 174 per tree level) and the set of block CIDs already
emitted (to emit each once) — never the whole file.

Byte-level choices that decide the CIDs, all as kubo (boxo) makes them:

* balanced leaves are UnixFS ``File`` nodes holding the chunk; trickle
  leaves are UnixFS ``Raw`` nodes; with raw leaves, leaves are CIDv1 ``raw``
  blocks whatever the CID version;
* a balanced file of one chunk is that leaf itself; a trickle file always
  has a root node above its leaves;
* an empty file is one UnixFS ``File`` node with no data (balanced with raw
  leaves: the empty raw block);
* internal nodes carry ``Type=File, filesize, blocksizes`` and link their
  children with an empty Name and the child's cumulative size as Tsize.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from ipfs_kit_py.errors import InvalidInput

from .cid import CID, DAG_PB, RAW, cid_from_bytes, cid_prefix
from .dagpb import encode_link
from .hamt import build_shard
from .unixfs import DIRECTORY, FILE, SYMLINK, encode_unixfs, file_leaf_parts
from .unixfs import RAW as UNIXFS_RAW
from .wire import uvarint

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DIRECTORY_SHARD_THRESHOLD",
    "MAX_CHUNK_SIZE",
    "MAX_LINKS",
    "TRICKLE_LAYER_REPEAT",
    "FileImporter",
    "ImportOptions",
    "ImportedNode",
    "build_directory",
    "import_bytes",
    "import_symlink",
    "parse_chunker",
    "validate_entry_name",
]

DEFAULT_CHUNK_SIZE = 262_144
MAX_CHUNK_SIZE = 1_048_576  # kubo's ChunkSizeLimit
MAX_LINKS = 174  # kubo's helpers.DefaultLinksPerBlock
TRICKLE_LAYER_REPEAT = 4  # kubo's trickle depthRepeat
# kubo makes a directory a HAMT shard once the names and CIDs of its links
# add up to more than 256 KiB (boxo HAMTShardingSize, "links-bytes").
DIRECTORY_SHARD_THRESHOLD = 262_144

# Chunks at least this big are hashed on the pool: hashlib drops the GIL
# for them, so hashing overlaps the caller's reads and the other core.
_POOL_MIN_CHUNK = 65_536
_POOL_WORKERS = 2
_MAX_IN_FLIGHT = 4

Emit = Callable[[CID, bytes], None]


@dataclass(frozen=True)
class ImportOptions:
    cid_version: int = 0
    chunk_size: int = DEFAULT_CHUNK_SIZE
    raw_leaves: bool | None = None  # None: kubo's default, True for CIDv1 only
    trickle: bool = False

    def __post_init__(self) -> None:
        if self.cid_version not in (0, 1):
            raise InvalidInput(f"invalid CID version {self.cid_version!r}: use 0 or 1")
        if (
            not isinstance(self.chunk_size, int)
            or isinstance(self.chunk_size, bool)
            or not 1 <= self.chunk_size <= MAX_CHUNK_SIZE
        ):
            raise InvalidInput(
                f"invalid chunk size {self.chunk_size!r}: use 1 to {MAX_CHUNK_SIZE} bytes"
            )

    @property
    def leaves_are_raw(self) -> bool:
        return self.cid_version == 1 if self.raw_leaves is None else bool(self.raw_leaves)


@dataclass(frozen=True)
class ImportedNode:
    cid: CID
    size: int  # bytes of file content (for a directory: of all files below it)
    tsize: int  # cumulative size of the DAG's blocks, as a parent link's Tsize


def parse_chunker(spec: str) -> int:
    """``"size-N"`` -> N (1 <= N <= 1 MiB), the only chunker we implement."""
    text = spec.strip() if isinstance(spec, str) else ""
    if text.startswith("size-") and text[5:].isdigit() and text[5:].isascii():
        size = int(text[5:])
        if 1 <= size <= MAX_CHUNK_SIZE:
            return size
        raise InvalidInput(
            f"invalid chunker '{spec}': size must be between 1 and {MAX_CHUNK_SIZE} bytes"
        )
    raise InvalidInput(f"invalid chunker '{spec}': use size-N (e.g. size-262144)")


# --- links and nodes -------------------------------------------------------

# A child as its parent needs it: (encoded PBLink with empty Name,
# file bytes below it, cumulative size, binary CID).
_Link = tuple[bytes, int, int, bytes]


class _Builder:
    """Makes file nodes and emits each distinct block once, children first."""

    def __init__(self, options: ImportOptions, emit: Emit | None):
        self.options = options
        self.emit = emit
        self.emitted: set[bytes] = set()
        self.node_prefix = cid_prefix(options.cid_version, DAG_PB)

    def put(self, cid_bytes: bytes, block: bytes) -> None:
        if self.emit is not None and cid_bytes not in self.emitted:
            self.emitted.add(cid_bytes)
            self.emit(cid_from_bytes(cid_bytes), block)

    def file_node(self, children: list[_Link]) -> _Link:
        filesize = 0
        sizes = []
        tsize = 0
        for _, child_size, child_tsize, _ in children:
            filesize += child_size
            sizes.append(b"\x20" + uvarint(child_size))
            tsize += child_tsize
        data = b"\x08\x02\x18" + uvarint(filesize) + b"".join(sizes)
        block = b"".join([link for link, _, _, _ in children]) + (
            b"\x0a" + uvarint(len(data)) + data
        )
        cid_bytes = self.node_prefix + hashlib.sha256(block).digest()
        self.put(cid_bytes, block)
        return _link(cid_bytes, filesize, tsize + len(block))


def _link(cid_bytes: bytes, filesize: int, tsize: int) -> _Link:
    return (encode_link(cid_bytes, b"", tsize), filesize, tsize, cid_bytes)


# --- layouts ---------------------------------------------------------------


class _BalancedLayout:
    """kubo's balanced DAG, built bottom-up one level list at a time.

    kubo fills depth-first (each subtree holds 174^d leaves before the next
    starts) and js groups level by level; both give the same tree, and so
    does this: a level list becomes a parent node as soon as it holds 174
    links, and ``finish`` closes the partial lists bottom-up until one link
    is left.
    """

    def __init__(self, builder: _Builder):
        self.builder = builder
        self.levels: list[list[_Link]] = [[]]
        self.counts: list[int] = [0]  # links ever added per level

    def add(self, link: _Link, level: int = 0) -> None:
        if level == len(self.levels):
            self.levels.append([])
            self.counts.append(0)
        pending = self.levels[level]
        pending.append(link)
        self.counts[level] += 1
        if len(pending) == MAX_LINKS:
            self.levels[level] = []
            self.add(self.builder.file_node(pending), level + 1)

    def finish(self) -> _Link | None:
        level = 0
        while level < len(self.levels):
            pending = self.levels[level]
            if self.counts[level] == 1:
                return pending[0]  # one link in all at this level: the root
            if pending:
                self.levels[level] = []
                self.add(self.builder.file_node(pending), level + 1)
            level += 1
        return None  # no leaves at all


_END = object()


class _TrickleLayout:
    """kubo's trickle DAG, as a generator that mirrors boxo's recursion.

    The recursion (``fillTrickleRec``) asks "is there more data?" before
    deciding the shape, so it runs as a coroutine that is sent each leaf
    link and finally ``_END``; ``_done`` peeks without consuming.
    """

    def __init__(self, builder: _Builder):
        self.builder = builder
        self.peeked: object = None
        self.gen = self._fill(-1)
        next(self.gen)

    def _done(self):
        if self.peeked is None:
            self.peeked = yield
        return self.peeked is _END

    def _fill(self, max_depth: int):
        children: list[_Link] = []
        while len(children) < MAX_LINKS and not (yield from self._done()):
            children.append(self.peeked)
            self.peeked = None
        depth = 1
        while max_depth == -1 or depth < max_depth:
            if (yield from self._done()):
                break
            repeat = 0
            while repeat < TRICKLE_LAYER_REPEAT and not (yield from self._done()):
                children.append((yield from self._fill(depth)))
                repeat += 1
            depth += 1
        return self.builder.file_node(children)

    def add(self, link: _Link) -> None:
        self.gen.send(link)

    def finish(self) -> _Link:
        try:
            self.gen.send(_END)
        except StopIteration as stop:
            return stop.value
        raise AssertionError("trickle layout did not finish")  # pragma: no cover


# --- the file importer -----------------------------------------------------

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _hash_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(_POOL_WORKERS, thread_name_prefix="ipfs-kit-hash")
    return _pool


def _forget_pool_after_fork() -> None:
    # A forked child inherits the pool object but not its threads; work
    # submitted to it would wait forever. The child makes its own.
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _digest(prefix: bytes, chunk, suffix: bytes) -> bytes:
    h = hashlib.sha256(prefix)
    h.update(chunk)
    if suffix:
        h.update(suffix)
    return h.digest()


class FileImporter:
    """Push bytes with ``write`` (any piece sizes), then ``finish``.

    ``emit(cid, block)`` receives every distinct block once, children before
    parents. Pass ``emit=None`` to only compute the CID (``--only-hash``):
    leaf blocks are then never assembled, only hashed.
    """

    def __init__(self, options: ImportOptions | None = None, emit: Emit | None = None):
        self.options = options = options or ImportOptions()
        self._builder = _Builder(options, emit)
        self._layout = (_TrickleLayout if options.trickle else _BalancedLayout)(self._builder)
        self._chunk_size = options.chunk_size
        self._raw = options.leaves_are_raw
        if self._raw:
            self._leaf_prefix = cid_prefix(1, RAW)
        else:
            self._leaf_prefix = cid_prefix(options.cid_version, DAG_PB)
            self._leaf_type = UNIXFS_RAW if options.trickle else FILE
            self._full_parts = file_leaf_parts(self._chunk_size, self._leaf_type)
        self._buf = bytearray()
        self._in_flight: deque[tuple[Future | bytes, object, bytes, bytes]] = deque()
        self._use_pool = self._chunk_size >= _POOL_MIN_CHUNK
        self._leaves = 0
        self._finished = False

    # -- input --

    def write(self, data) -> None:
        if self._finished:
            raise InvalidInput("cannot write to an import that has finished")
        mv = memoryview(data)
        if mv.format != "B" or mv.ndim != 1:
            mv = mv.cast("B")
        n = len(mv)
        if not n:
            return
        size = self._chunk_size
        pos = 0
        buf = self._buf
        if buf:
            pos = min(size - len(buf), n)
            buf += mv[:pos]
            if len(buf) == size:
                self._buf = bytearray()
                self._leaf(buf)
        # Only immutable input can be hashed in the background straight
        # from the caller's memory; anything else is copied once first.
        immutable = type(mv.obj) is bytes
        while n - pos >= size:
            piece = mv[pos : pos + size]
            self._leaf(piece if immutable else bytes(piece))
            pos += size
        if pos < n:
            self._buf += mv[pos:]

    def _leaf(self, chunk) -> None:
        """Start hashing one chunk (``chunk`` must not change afterwards)."""
        self._leaves += 1
        if self._raw:
            prefix = suffix = b""
        elif len(chunk) == self._chunk_size:
            prefix, suffix = self._full_parts
        else:
            prefix, suffix = file_leaf_parts(len(chunk), self._leaf_type)
        if self._use_pool:
            pending = _hash_pool().submit(_digest, prefix, chunk, suffix)
        else:
            pending = _digest(prefix, chunk, suffix)
        self._in_flight.append((pending, chunk, prefix, suffix))
        if len(self._in_flight) > _MAX_IN_FLIGHT or not self._use_pool:
            self._complete_one()

    def _complete_one(self) -> None:
        pending, chunk, prefix, suffix = self._in_flight.popleft()
        digest = pending.result() if isinstance(pending, Future) else pending
        cid_bytes = self._leaf_prefix + digest
        if self._builder.emit is not None and cid_bytes not in self._builder.emitted:
            if prefix:
                block = b"".join((prefix, chunk, suffix))
            else:
                block = chunk if type(chunk) is bytes else bytes(chunk)
            self._builder.put(cid_bytes, block)
        block_len = len(prefix) + len(chunk) + len(suffix)
        self._layout.add(_link(cid_bytes, len(chunk), block_len))

    # -- output --

    def finish(self) -> ImportedNode:
        if self._finished:
            raise InvalidInput("import already finished")
        if self._buf or self._leaves == 0 and not self.options.trickle:
            # The tail chunk; for an empty file (balanced) the empty leaf,
            # which kubo makes the file's only node.
            self._leaf(bytes(self._buf))
            self._buf = bytearray()
        while self._in_flight:
            self._complete_one()
        self._finished = True
        root = self._layout.finish()
        if root is None:  # pragma: no cover - balanced always has a leaf here
            raise AssertionError("no root")
        _, filesize, tsize, cid_bytes = root
        return ImportedNode(cid_from_bytes(cid_bytes), filesize, tsize)


def import_bytes(
    data: bytes, options: ImportOptions | None = None, emit: Emit | None = None
) -> ImportedNode:
    importer = FileImporter(options, emit)
    importer.write(data)
    return importer.finish()


def import_symlink(
    target: str, options: ImportOptions | None = None, emit: Emit | None = None
) -> ImportedNode:
    """A UnixFS symlink node pointing at ``target`` (stored as given)."""
    options = options or ImportOptions()
    if not isinstance(target, str) or not target or "\0" in target:
        raise InvalidInput(f"invalid symlink target {target!r}: must be non-empty text without NUL")
    try:
        raw = target.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"invalid symlink target {target!r}: not valid UTF-8") from None
    data = encode_unixfs(SYMLINK, raw)
    block = b"\x0a" + uvarint(len(data)) + data
    cid = cid_from_bytes(cid_prefix(options.cid_version, DAG_PB) + hashlib.sha256(block).digest())
    if emit is not None:
        emit(cid, block)
    return ImportedNode(cid, len(raw), len(block))


# --- directories -----------------------------------------------------------


def validate_entry_name(name: str) -> bytes:
    """A directory entry name as UTF-8, or ``InvalidInput`` if it cannot be one."""
    if not isinstance(name, str):
        raise InvalidInput(f"invalid entry name {name!r}: must be text")
    if name in ("", ".", ".."):
        raise InvalidInput(f"invalid entry name '{name}': empty, '.' and '..' are not allowed")
    if "/" in name or "\0" in name:
        raise InvalidInput(f"invalid entry name {name!r}: must not contain '/' or NUL")
    try:
        return name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"invalid entry name {name!r}: not valid UTF-8") from None


def build_directory(
    entries: Iterable[tuple[str, ImportedNode]],
    options: ImportOptions | None = None,
    emit: Emit | None = None,
) -> ImportedNode:
    """A UnixFS directory over already-imported children, flat or HAMT-sharded
    exactly when kubo would shard it.

    Flat directory links are sorted by the bytes of their UTF-8 names, as
    go-merkledag and @ipld/dag-pb do. Names are validated; duplicates are
    refused. ``size`` of the result is the content bytes of all entries.
    """
    options = options or ImportOptions()
    named: dict[bytes, ImportedNode] = {}
    for name, node in entries:
        key = validate_entry_name(name)
        if key in named:
            raise InvalidInput(f"duplicate entry name '{name}' in directory")
        named[key] = node
    size = sum(node.size for node in named.values())
    estimate = sum(len(key) + len(bytes(node.cid)) for key, node in named.items())
    if estimate > DIRECTORY_SHARD_THRESHOLD:
        cid, tsize = build_shard(named, options.cid_version, emit)
        return ImportedNode(cid, size, tsize)
    links = []
    tsize = 0
    for key in sorted(named):
        node = named[key]
        links.append(encode_link(bytes(node.cid), key, node.tsize))
        tsize += node.tsize
    block = b"".join(links) + b"\x0a\x02\x08" + bytes([DIRECTORY])
    cid_bytes = cid_prefix(options.cid_version, DAG_PB) + hashlib.sha256(block).digest()
    cid = cid_from_bytes(cid_bytes)
    if emit is not None:
        emit(cid, block)
    return ImportedNode(cid, size, tsize + len(block))
