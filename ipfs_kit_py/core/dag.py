"""Reading UnixFS DAGs back: paths, file bytes, listings, stats, walks.

Everything goes through ``get_block(cid) -> bytes``; the caller verifies
hashes (``cid.verify_block``) and raises ``NotFound`` for missing blocks.
The DAG itself is untrusted: a hostile ``get_block`` can return any bytes
for any CID, including cycles that real hashes make impossible. Every
traversal is iterative (no recursion to overflow) and bounded by the limits
below; breaking one raises ``InvalidInput`` naming the block.

Sizes are checked where they decide how much we read: a file node's
``filesize`` must equal its data plus its ``blocksizes``, it must have one
blocksize per link, and every child we read must be exactly as big as its
parent says. So ``iter_file`` never yields more than the root declares, and
children that contribute no bytes to the requested range are never fetched.
HAMT-sharded directories (which kubo makes for very large directories) are
listed by scanning their shards and searched by hash, one shard per level.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ipfs_kit_py.errors import InvalidInput, NotFound

from .cid import CID, DAG_PB, RAW, cid_str
from .dagpb import PBLink, decode_node
from .hamt import bucket_index, murmur3_64
from .unixfs import (
    DIRECTORY,
    FILE,
    HAMT_SHARD,
    SYMLINK,
    UnixFSData,
    decode_unixfs,
)
from .unixfs import RAW as UNIXFS_RAW

__all__ = [
    "MAX_BLOCK_SIZE",
    "MAX_DEPTH",
    "MAX_HAMT_FANOUT",
    "MAX_LINKS_PER_NODE",
    "MAX_TREE_ENTRIES",
    "Entry",
    "NodeStat",
    "iter_file",
    "list_directory",
    "read_symlink",
    "resolve_path",
    "stat",
    "walk_blocks",
    "walk_tree",
]

# Larger blocks are refused: kubo neither makes nor transfers (bitswap)
# blocks above 2 MiB.
MAX_BLOCK_SIZE = 2 * 1024 * 1024
# kubo writes at most 174 links per file node, 256 per HAMT shard, and
# switches to shards at ~256 KiB of links (a few thousand entries). Old flat
# directories can be bigger, but a 2 MiB block holds < 50k links anyway.
MAX_LINKS_PER_NODE = 65_536
# Links followed from the root, file DAG levels and directory nesting
# together. A balanced file of 174^8 chunks is only 9 deep.
MAX_DEPTH = 512
# Entries (files, directories, symlinks) one walk_tree may produce, so a
# DAG that reuses one directory under itself many times cannot make a
# walk run forever.
MAX_TREE_ENTRIES = 10_000_000
MAX_HAMT_FANOUT = 1024
_HAMT_MURMUR3 = 0x22

GetBlock = Callable[[CID], bytes]


@dataclass(frozen=True)
class Entry:
    name: str
    cid: CID
    size: int  # content bytes (file, raw, symlink target); 0 for directories
    type: str  # 'file' | 'directory' | 'symlink' | 'raw' | 'metadata'
    tsize: int = 0  # the link's Tsize: cumulative size of the entry's DAG

    def to_dict(self) -> dict:
        return {"name": self.name, "cid": cid_str(self.cid), "size": self.size,
                "type": self.type, "tsize": self.tsize}


@dataclass(frozen=True)
class NodeStat:
    cid: CID
    type: str  # 'file' | 'directory' | 'raw' | 'symlink' | 'metadata' | 'dag-pb'
    size: int  # content bytes; 0 for directories
    cumulative_size: int  # block + Tsize of its links, as kubo reports it
    blocks: int  # distinct blocks reachable from the root (the root included)
    links: int  # links in the root block

    def to_dict(self) -> dict:
        return {"cid": cid_str(self.cid), "type": self.type, "size": self.size,
                "cumulative_size": self.cumulative_size, "blocks": self.blocks,
                "links": self.links}


@dataclass(frozen=True)
class _Node:
    cid: CID
    block: bytes
    links: tuple[PBLink, ...]
    fs: UnixFSData | None  # None for raw blocks and non-UnixFS dag-pb

    @property
    def kind(self) -> str:
        if self.cid.codec.code == RAW:
            return "raw"
        if self.fs is None:
            return "dag-pb"
        if self.fs.type in (FILE, UNIXFS_RAW):
            return "file"
        if self.fs.type in (DIRECTORY, HAMT_SHARD):
            return "directory"
        return "symlink" if self.fs.type == SYMLINK else "metadata"


def load_node(get_block: GetBlock, cid: CID) -> _Node:
    """One decoded, validated node (its ``links``, ``kind`` and UnixFS data)."""
    return _load(get_block, cid)


def _bad(cid: CID, reason: str) -> InvalidInput:
    return InvalidInput(f"invalid DAG at block {cid_str(cid)}: {reason}")


def _load(get_block: GetBlock, cid: CID) -> _Node:
    codec = cid.codec.code
    if codec not in (DAG_PB, RAW):
        raise _bad(cid, f"codec {cid.codec.name} is not supported (only dag-pb and raw)")
    block = get_block(cid)
    if len(block) > MAX_BLOCK_SIZE:
        raise _bad(cid, f"block of {len(block)} bytes is larger than {MAX_BLOCK_SIZE}")
    if codec == RAW:
        return _Node(cid, block, (), None)
    try:
        pb = decode_node(block, MAX_LINKS_PER_NODE)
    except InvalidInput as exc:
        raise _bad(cid, str(exc)) from None
    fs = None
    if pb.data is not None:
        try:
            fs = decode_unixfs(pb.data)
        except InvalidInput:
            fs = None  # plain dag-pb, not UnixFS
    node = _Node(cid, block, pb.links, fs)
    if fs is not None and fs.type in (FILE, UNIXFS_RAW):
        _check_file_sizes(node)
    return node


def _check_file_sizes(node: _Node) -> None:
    fs = node.fs
    if len(fs.blocksizes) != len(node.links):
        raise _bad(node.cid, f"{len(node.links)} links but {len(fs.blocksizes)} blocksizes")
    total = len(fs.data or b"") + sum(fs.blocksizes)
    if fs.filesize is not None and fs.filesize != total:
        raise _bad(node.cid, f"filesize {fs.filesize} does not match its parts ({total})")


def _content_size(node: _Node) -> int:
    if node.fs is None:
        return len(node.block) if node.cid.codec.code == RAW else 0
    if node.fs.type in (FILE, UNIXFS_RAW):
        return len(node.fs.data or b"") + sum(node.fs.blocksizes)
    if node.fs.type == SYMLINK:
        return len(node.fs.data or b"")
    return 0


def _check_depth(cid: CID, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _bad(cid, f"DAG is deeper than {MAX_DEPTH} links (a cycle?)")


# --- files -----------------------------------------------------------------


def iter_file(
    get_block: GetBlock, cid: CID, offset: int = 0, length: int | None = None
) -> Iterator[bytes]:
    """Stream the bytes of a file (raw block or UnixFS file DAG)."""
    if not isinstance(offset, int) or offset < 0:
        raise InvalidInput(f"invalid offset {offset!r}: must be a non-negative integer")
    if length is not None and (not isinstance(length, int) or length < 0):
        raise InvalidInput(f"invalid length {length!r}: must be a non-negative integer")
    root = _load(get_block, cid)
    if root.kind not in ("file", "raw"):
        raise InvalidInput(f"{cid_str(cid)} is a {root.kind}, not a file")
    total = _content_size(root)
    end = total if length is None else min(total, offset + length)
    if offset >= end:
        return
    # Work items: (node or cid, declared size or None, start, stop, depth).
    stack: list[tuple[_Node | CID, int | None, int, int, int]] = [(root, None, offset, end, 0)]
    while stack:
        item, declared, lo, hi, depth = stack.pop()
        node = item if isinstance(item, _Node) else _load(get_block, item)
        if node.kind not in ("file", "raw"):
            raise _bad(node.cid, f"a {node.kind} inside a file")
        size = _content_size(node)
        if declared is not None and size != declared:
            raise _bad(node.cid, f"holds {size} bytes but its parent says {declared}")
        if node.fs is None:
            yield node.block if lo == 0 and hi == size else node.block[lo:hi]
            continue
        data = node.fs.data or b""
        if lo < len(data):
            yield data[lo : min(hi, len(data))]
        pos = len(data)
        children = []
        for link, child_size in zip(node.links, node.fs.blocksizes, strict=True):
            start, stop = max(lo - pos, 0), min(hi - pos, child_size)
            if start < stop:
                _check_depth(link.cid, depth + 1)
                children.append((link.cid, child_size, start, stop, depth + 1))
            pos += child_size
            if pos >= hi:
                break
        stack.extend(reversed(children))


def read_symlink(get_block: GetBlock, cid: CID) -> str:
    node = _load(get_block, cid)
    if node.kind != "symlink":
        raise InvalidInput(f"{cid_str(cid)} is a {node.kind}, not a symlink")
    try:
        return (node.fs.data or b"").decode("utf-8")
    except UnicodeDecodeError:
        raise _bad(cid, "symlink target is not valid UTF-8") from None


# --- directories -----------------------------------------------------------


def _valid_name(cid: CID, name: str | None) -> str:
    if name is None or name in ("", ".", "..") or "/" in name or "\0" in name:
        raise _bad(cid, f"directory entry name {name!r} is not allowed")
    return name


def _hamt_pad(node: _Node) -> int:
    fs = node.fs
    fanout = fs.fanout
    if fs.hash_type != _HAMT_MURMUR3:
        raise _bad(node.cid, f"HAMT hash function {fs.hash_type!r} is not supported")
    if fanout is None or fanout < 2 or fanout > MAX_HAMT_FANOUT or fanout & (fanout - 1):
        raise _bad(node.cid, f"HAMT fanout {fanout!r} is not a power of two up to 1024")
    return len(f"{fanout - 1:X}")


def _dir_links(get_block: GetBlock, node: _Node, depth: int) -> Iterator[tuple[str, PBLink]]:
    """(name, link) of every entry of a flat or HAMT-sharded directory."""
    if node.fs.type == DIRECTORY:
        seen: set[str] = set()
        for link in node.links:
            name = _valid_name(node.cid, link.name)
            if name in seen:
                raise _bad(node.cid, f"duplicate entry name {name!r}")
            seen.add(name)
            yield name, link
        return
    # HAMT: link names are a hex bucket index, followed by the entry name
    # for entries, alone for sub-shards.
    shards = [(node, depth)]
    visited = {node.cid}
    seen = set()
    while shards:
        shard, shard_depth = shards.pop()
        pad = _hamt_pad(shard)
        sub = []
        for link in shard.links:
            label = link.name or ""
            index = label[:pad]
            if len(index) != pad or index.upper() != index or not _is_hex(index):
                raise _bad(shard.cid, f"HAMT link name {label!r} has no bucket index")
            if len(label) == pad:
                _check_depth(link.cid, shard_depth + 1)
                if link.cid in visited:
                    raise _bad(link.cid, "HAMT shard appears twice (a cycle?)")
                visited.add(link.cid)
                child = _load(get_block, link.cid)
                if child.fs is None or child.fs.type != HAMT_SHARD:
                    raise _bad(child.cid, "HAMT sub-shard is not a shard")
                sub.append((child, shard_depth + 1))
                continue
            name = _valid_name(shard.cid, label[pad:])
            if name in seen:
                raise _bad(shard.cid, f"duplicate entry name {name!r}")
            seen.add(name)
            yield name, link
        shards.extend(reversed(sub))


def _hamt_find(get_block: GetBlock, node: _Node, name: str, depth: int) -> PBLink | None:
    """Find ``name`` in a HAMT by its hash, as kubo does: one shard per level."""
    name_hash = murmur3_64(name.encode("utf-8"))
    used_bits = 0
    shard = node
    visited = {node.cid}
    while True:
        pad = _hamt_pad(shard)
        try:
            label = f"{bucket_index(name_hash, used_bits, shard.fs.fanout):0{pad}X}"
        except InvalidInput:
            raise _bad(shard.cid, "HAMT is deeper than its hash") from None
        for link in shard.links:
            if link.name == label:
                break
            if link.name is not None and link.name.startswith(label) and link.name[pad:] == name:
                return link
        else:
            return None
        depth += 1
        _check_depth(link.cid, depth)
        if link.cid in visited:
            raise _bad(link.cid, "HAMT shard appears twice (a cycle?)")
        visited.add(link.cid)
        used_bits += shard.fs.fanout.bit_length() - 1
        shard = _load(get_block, link.cid)
        if shard.fs is None or shard.fs.type != HAMT_SHARD:
            raise _bad(shard.cid, "HAMT sub-shard is not a shard")


def _is_hex(text: str) -> bool:
    return all(c in "0123456789ABCDEF" for c in text)


def _directory(get_block: GetBlock, cid: CID) -> _Node:
    node = _load(get_block, cid)
    if node.kind != "directory":
        raise InvalidInput(f"{cid_str(cid)} is a {node.kind}, not a directory")
    return node


def list_directory(get_block: GetBlock, cid: CID) -> list[Entry]:
    """Entries of a directory, in link order; each child's root block is read."""
    entries = []
    for name, link in _dir_links(get_block, _directory(get_block, cid), 0):
        child = _load(get_block, link.cid)
        if child.kind == "dag-pb":
            raise _bad(link.cid, "directory entry is not a UnixFS node")
        entries.append(Entry(name, link.cid, _content_size(child), child.kind, link.tsize or 0))
    return entries


def resolve_path(get_block: GetBlock, root: CID, segments: Sequence[str]) -> CID:
    """Follow ``segments`` (names, '' ignored) from ``root`` through directories."""
    cid = root
    walked: list[str] = []
    for segment in segments:
        if segment == "":
            continue
        if segment in (".", "..") or "/" in segment or "\0" in segment:
            raise InvalidInput(f"invalid path segment {segment!r}")
        node = _load(get_block, cid)
        if node.kind != "directory":
            where = "/".join([cid_str(root), *walked])
            raise InvalidInput(f"cannot resolve '{segment}': {where} is a {node.kind}")
        found = _find_entry(get_block, node, segment, len(walked))
        if found is None:
            where = "/".join([cid_str(root), *walked])
            raise NotFound(f"no entry named '{segment}' in {where}")
        cid = found.cid
        walked.append(segment)
        _check_depth(cid, len(walked))
    return cid


def _find_entry(get_block: GetBlock, node: _Node, name: str, depth: int) -> PBLink | None:
    if node.fs is not None and node.fs.type == HAMT_SHARD:
        return _hamt_find(get_block, node, name, depth)
    for entry_name, link in _dir_links(get_block, node, depth):
        if entry_name == name:
            return link
    return None


def walk_tree(get_block: GetBlock, cid: CID) -> Iterator[tuple[tuple[str, ...], str, CID]]:
    """``(path_parts, kind, cid)`` for the root and everything below it.

    Pre-order, a directory before its entries. ``kind`` is 'directory',
    'file' (UnixFS file or raw block) or 'symlink'. Names are validated, so
    the parts can be joined under a destination directory safely.
    """
    root = _load(get_block, cid)
    kind = _tree_kind(root)
    yield (), kind, cid
    if kind != "directory":
        return
    produced = 1
    # (directory node, its path, CIDs of the directories above it)
    stack: list[tuple[_Node, tuple[str, ...], frozenset[CID]]] = [(root, (), frozenset([cid]))]
    while stack:
        node, path, ancestors = stack.pop()
        subdirs = []
        for name, link in _dir_links(get_block, node, len(path)):
            produced += 1
            if produced > MAX_TREE_ENTRIES:
                raise _bad(cid, f"more than {MAX_TREE_ENTRIES} entries")
            _check_depth(link.cid, len(path) + 1)
            child = _load(get_block, link.cid)
            child_kind = _tree_kind(child)
            child_path = (*path, name)
            yield child_path, child_kind, link.cid
            if child_kind == "directory":
                if link.cid in ancestors:
                    raise _bad(link.cid, "directory contains itself (a cycle)")
                subdirs.append((child, child_path, ancestors | {link.cid}))
        stack.extend(reversed(subdirs))


def _tree_kind(node: _Node) -> str:
    kind = node.kind
    if kind == "raw":
        return "file"
    if kind in ("dag-pb", "metadata"):
        raise _bad(node.cid, f"a {kind} node cannot be part of a file tree")
    return kind


# --- whole-DAG views -------------------------------------------------------


def walk_blocks(get_block: GetBlock, cid: CID) -> Iterator[CID]:
    """Each block reachable from ``cid`` exactly once, parents first.

    Raw blocks have no links, so they are yielded without being fetched;
    dag-pb blocks are fetched to follow their links. Other codecs raise
    ``InvalidInput`` rather than silently skipping what they link to.
    """
    visited = {cid}
    stack: list[tuple[CID, int]] = [(cid, 0)]
    while stack:
        current, depth = stack.pop()
        if current.codec.code == RAW:
            yield current
            continue
        node = _load(get_block, current)
        yield current
        children = []
        for link in node.links:
            if link.cid not in visited:
                _check_depth(link.cid, depth + 1)
                visited.add(link.cid)
                children.append((link.cid, depth + 1))
        stack.extend(reversed(children))


def stat(get_block: GetBlock, cid: CID) -> NodeStat:
    root = _load(get_block, cid)
    cumulative = len(root.block) + sum(link.tsize or 0 for link in root.links)
    blocks = sum(1 for _ in walk_blocks(get_block, cid))
    return NodeStat(
        cid=cid,
        type=root.kind,
        size=_content_size(root),
        cumulative_size=cumulative,
        blocks=blocks,
        links=len(root.links),
    )
