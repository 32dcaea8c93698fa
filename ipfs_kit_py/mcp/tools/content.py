"""Content tools: add, cat, ls, stat, pins, GC, CAR, the VFS (``files_*``) and repo stat.

Each tool calls one ``Kit`` method, exactly as the CLI command of the same
name does, and returns its ``--json`` document (lists wrapped in one key).
Bytes travel inline (UTF-8 ``text`` or ``data_base64``, at most 16 MiB) or as
server-side paths, which must lie under ``allowed_roots`` in config.json.
"""

from __future__ import annotations

import io
import os
from typing import Annotated, Any, Literal, NotRequired

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field
from typing_extensions import TypedDict

from ...errors import InvalidInput
from .common import (
    DEFAULT_READ_BYTES,
    MAX_READ_BYTES,
    Progress,
    caller,
    decode_inline,
    encode_read,
    server_path,
    structured,
    tool,
)

# ---- parameter types ------------------------------------------------------------------
ContentPath = Annotated[str, Field(
    min_length=1, max_length=4096,
    description="A CID, CID/sub/path, /ipfs/CID/sub/path or ipfs://CID/sub/path.",
)]
VfsPath = Annotated[str, Field(
    min_length=1, max_length=4096, pattern=r"^/",
    description="A VFS path, absolute (starts with /), e.g. /docs/readme.txt.",
)]
ServerPath = Annotated[str, Field(
    min_length=1, max_length=4096,
    description="An absolute path on the server; must lie under one of the allowed_roots in config.json.",
)]
Text = Annotated[str, Field(max_length=16 * 1024 * 1024, description="Content as UTF-8 text.")]
Base64 = Annotated[str, Field(
    max_length=22_369_624, description="Content as base64 (standard alphabet, padded); at most 16 MiB decoded.",
)]
Offset = Annotated[int, Field(ge=0, description="Byte offset to start reading at.")]
ReadLength = Annotated[int, Field(ge=0, le=MAX_READ_BYTES, description="Read at most this many bytes.")]
MaxBytes = Annotated[int, Field(
    ge=1, le=MAX_READ_BYTES,
    description="Size limit: at most this many bytes are returned; truncated=true and next_offset tell how to go on.",
)]
Encoding = Annotated[Literal["auto", "text", "base64"], Field(
    description="auto: UTF-8 text when the bytes are valid UTF-8, else base64.",
)]
PathList = Annotated[list[ContentPath], Field(min_length=1, max_length=100)]


# ---- output types (what the CLI's --json prints) --------------------------------------------------
class AddedEntry(TypedDict):
    name: str
    cid: str
    size: Annotated[int, Field(ge=0)]
    type: Literal["file", "directory", "symlink"]


class AddResult(TypedDict):
    """The added content: root CID, every entry (files first), bytes read, whether pinned."""

    cid: str
    roots: list[AddedEntry]
    entries: list[AddedEntry]
    bytes: Annotated[int, Field(ge=0)]
    pinned: bool


class ReadResult(TypedDict):
    """Bytes of a file, as UTF-8 text or base64, cut at the size limit."""

    path: str
    offset: int
    bytes: Annotated[int, Field(ge=0, description="Number of bytes returned.")]
    encoding: Literal["text", "base64"]
    data: str
    truncated: bool
    next_offset: Annotated[int | None, Field(description="Offset to continue from when truncated.")]


class NodeStat(TypedDict):
    cid: str
    type: Literal["file", "directory", "raw", "symlink", "metadata", "dag-pb"]
    size: Annotated[int, Field(ge=0, description="Content bytes; 0 for directories.")]
    cumulative_size: Annotated[int, Field(ge=0)]
    blocks: Annotated[int, Field(ge=0)]
    links: Annotated[int, Field(ge=0)]


class DirEntry(TypedDict):
    name: str
    cid: str
    size: Annotated[int, Field(ge=0)]
    type: str
    tsize: NotRequired[Annotated[int, Field(ge=0)]]


class Listing(TypedDict):
    """Directory entries, as `ls --json` / `files ls --json` print them."""

    entries: list[DirEntry]


class Pin(TypedDict):
    cid: str
    type: Literal["recursive", "direct", "indirect"]
    created: Annotated[float | None, Field(description="Epoch seconds; null for indirect pins.")]
    replication: NotRequired[Any]


class Pins(TypedDict):
    """Pins, as `pin add|rm|ls --json` print them."""

    pins: list[Pin]


class GcResult(TypedDict):
    removed_blocks: Annotated[int, Field(ge=0)]
    freed_bytes: Annotated[int, Field(ge=0)]
    kept_blocks: Annotated[int, Field(ge=0)]
    removed: list[str]


class CarExport(TypedDict):
    root: str
    output: str
    blocks: Annotated[int, Field(ge=0)]
    bytes: Annotated[int, Field(ge=0)]


class CarImport(TypedDict):
    roots: list[str]
    blocks: Annotated[int, Field(ge=0)]
    new_blocks: Annotated[int, Field(ge=0)]
    bytes: Annotated[int, Field(ge=0)]


class RepoStat(TypedDict):
    home: str
    blocks: Annotated[int, Field(ge=0)]
    bytes: Annotated[int, Field(ge=0)]
    pins: dict[str, int]
    vfs_root: str


class VfsStat(NodeStat):
    path: str
    bytes: NotRequired[Annotated[int, Field(ge=0, description="Bytes written (files_write).")]]
    pinned: NotRequired[Annotated[bool, Field(
        description="files_write with the VFS setting pin_writes: the file was pinned.")]]
    replication: NotRequired[Any]


class VfsRemoved(TypedDict):
    path: str
    removed: Annotated[str, Field(description="CID of what was removed.")]
    root: Annotated[str, Field(description="The new VFS root CID.")]


# ---- helpers ------------------------------------------------------------------------------------------
def _tree_size(path: str) -> int | None:
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def _read(read, path: str, offset: int, length: int | None, max_bytes: int, encoding: str) -> CallToolResult:
    """Read up to the size limit; when it, not ``length``, is the bound, one byte more tells if there is more."""
    if length is not None and length <= max_bytes:
        data, more = read(path, offset=offset, length=length), False
    else:
        data = read(path, offset=offset, length=max_bytes + 1)
        more = len(data) > max_bytes
        data = data[:max_bytes]
    used, text = encode_read(data, encoding)
    result = {"path": path, "offset": offset, "bytes": len(data), "encoding": used, "data": text,
              "truncated": more, "next_offset": offset + len(data) if more else None}
    return structured(result, text=text if used == "text" else None)


# ---- content ---------------------------------------------------------------------------------------------
@tool(title="Add content", role="writer", idempotent=True)
async def content_add(
    ctx: Context,
    text: Text | None = None,
    data_base64: Base64 | None = None,
    path: ServerPath | None = None,
    recursive: Annotated[bool, Field(description="Add a server-side directory recursively.")] = False,
    cid_version: Literal[0, 1] = 0,
    chunker: Annotated[str, Field(pattern=r"^size-[0-9]{1,7}$", description="size-N: N-byte chunks (N <= 1 MiB).")]
    = "size-262144",
    raw_leaves: Annotated[bool | None, Field(description="Raw leaf blocks (default: on for CIDv1).")] = None,
    trickle: Annotated[bool, Field(description="Trickle DAG layout instead of balanced.")] = False,
    only_hash: Annotated[bool, Field(description="Only compute the CID; store nothing.")] = False,
    wrap_with_directory: Annotated[bool, Field(description="Wrap the content in a directory.")] = False,
    pin: Annotated[bool, Field(description="Pin the added root.")] = True,
    hidden: Annotated[bool, Field(description="Include hidden files in a recursive add.")] = False,
) -> Annotated[CallToolResult, AddResult]:
    """Add content to the local IPFS repository and return its CID (same as `ipfs-kit add --json`).

    Give exactly one of: `text` (UTF-8), `data_base64`, or `path` (a file or,
    with recursive=true, a directory on the server under allowed_roots).
    Reports progress in bytes.
    """
    kit = caller()
    inline = decode_inline(text, data_base64)
    if (inline is None) == (path is None):
        raise InvalidInput("give exactly one of text, data_base64 or path")
    if inline is not None:
        source: Any = io.BytesIO(inline)
        total: int | None = len(inline)
    else:
        source = server_path(kit, path)
        total = _tree_size(source)
    progress = Progress(ctx, total, "adding")
    result = await progress.run(lambda advance: kit.add(
        source, cid_version=cid_version, chunker=chunker, raw_leaves=raw_leaves, trickle=trickle,
        only_hash=only_hash, wrap_with_directory=wrap_with_directory, pin=pin and not only_hash,
        recursive=recursive, hidden=hidden, progress=advance))
    return structured(result)


@tool(title="Read content", read_only=True)
def content_cat(
    path: ContentPath,
    offset: Offset = 0,
    length: ReadLength | None = None,
    max_bytes: MaxBytes = DEFAULT_READ_BYTES,
    encoding: Encoding = "auto",
) -> Annotated[CallToolResult, ReadResult]:
    """Read the bytes of a file CID[/path] (every block verified), up to max_bytes.

    Returns text when the bytes are UTF-8 (encoding=auto), else base64. When
    the file is longer than the limit, truncated=true and next_offset is where
    to continue.
    """
    return _read(caller().cat, path, offset, length, max_bytes, encoding)


@tool(title="List a directory", read_only=True)
def content_ls(path: ContentPath) -> Annotated[CallToolResult, Listing]:
    """List the entries (name, CID, size, type) of a directory CID[/path] (as `ipfs-kit ls --json`)."""
    return structured(caller().ls(path), key="entries")


@tool(title="Stat content", read_only=True)
def content_stat(path: ContentPath) -> Annotated[CallToolResult, NodeStat]:
    """Type, size, cumulative size, block and link count of CID[/path] (as `ipfs-kit stat --json`)."""
    return structured(caller().stat(path))


# ---- pins and GC -----------------------------------------------------------------------------------------
@tool(title="Pin content", role="writer", idempotent=True)
def pin_add(
    paths: PathList,
    pin_type: Annotated[Literal["recursive", "direct"], Field(
        description="recursive: the whole DAG; direct: only the root block.")] = "recursive",
) -> Annotated[CallToolResult, Pins]:
    """Pin CIDs so garbage collection keeps them (as `ipfs-kit pin add --json`).

    Every block of a recursive pin must be present (or fetchable from a backend).
    """
    kit = caller()
    return structured([kit.pin_add(p, pin_type) for p in paths], key="pins")


@tool(title="Unpin content", role="writer", destructive=True, idempotent=False)
def pin_rm(paths: PathList) -> Annotated[CallToolResult, Pins]:
    """Remove pins (as `ipfs-kit pin rm --json`); the blocks stay until repo_gc. Unknown pins are an error."""
    kit = caller()
    return structured([kit.pin_rm(p) for p in paths], key="pins")


@tool(title="List pins", read_only=True)
def pin_ls(
    pin_type: Annotated[Literal["recursive", "direct", "indirect", "all"], Field(
        description="Which pins; indirect = blocks kept by a recursive pin.")] = "all",
) -> Annotated[CallToolResult, Pins]:
    """List pins with their type and creation time (as `ipfs-kit pin ls --json`)."""
    return structured(caller().pin_ls(pin_type), key="pins")


@tool(title="Garbage-collect the repository", role="admin", destructive=True, idempotent=True)
async def repo_gc(ctx: Context) -> Annotated[CallToolResult, GcResult]:
    """Delete every block not reachable from a pin or the VFS root (as `ipfs-kit gc --json`).

    Irreversible. Needs the admin role. Reports progress at start and end.
    """
    kit = caller()
    return structured(await Progress(ctx, None, "collecting garbage").run(lambda _advance: kit.gc()))


@tool(title="Repository statistics", read_only=True)
def repo_stat() -> Annotated[CallToolResult, RepoStat]:
    """Blocks, bytes, pin counts and the VFS root of this home (as `ipfs-kit repo stat --json`)."""
    return structured(caller().repo_stat())


# ---- CAR ----------------------------------------------------------------------------------------------------
@tool(title="Export a CAR file", role="writer", destructive=True, idempotent=True)
async def car_export(ctx: Context, path: ContentPath, output: ServerPath) -> Annotated[CallToolResult, CarExport]:
    """Write the DAG under CID[/path] to a CAR v1 file on the server (as `ipfs-kit car export --json`).

    `output` must be under allowed_roots; an existing file there is replaced.
    """
    kit = caller()
    target = server_path(kit, output, "output path")
    result = await Progress(ctx, None, "exporting CAR").run(lambda _advance: kit.car_export(path, target))
    return structured(result)


class _CountingReader(io.RawIOBase):
    """A seekable file that reports how far it has been read (car import reads twice)."""

    def __init__(self, fh, advance):
        self.fh = fh
        self.advance = advance

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.fh.seek(offset, whence)

    def tell(self) -> int:
        return self.fh.tell()

    def readinto(self, buffer) -> int:
        n = self.fh.readinto(buffer)
        if n:
            self.advance(n)
        return n

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        if data:
            self.advance(len(data))
        return data


@tool(title="Import a CAR file", role="writer", idempotent=True)
async def car_import(
    ctx: Context,
    path: ServerPath | None = None,
    data_base64: Base64 | None = None,
    pin: Annotated[bool, Field(description="Pin the CAR's roots.")] = True,
) -> Annotated[CallToolResult, CarImport]:
    """Import a CAR v1 (as `ipfs-kit car import --json`): every block is verified first, roots pinned.

    Give `path` (a server file under allowed_roots) or `data_base64`. A bad
    or incomplete CAR leaves nothing behind. Reports progress in bytes read
    (the file is read twice: verify, then store).
    """
    kit = caller()
    inline = decode_inline(None, data_base64, "CAR")
    if (inline is None) == (path is None):
        raise InvalidInput("give exactly one of path or data_base64")
    if inline is not None:
        opened = io.BytesIO(inline)
        size = len(inline)
    else:
        real = server_path(kit, path)
        try:
            opened = open(real, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise InvalidInput(f"no such file: {path}") from None
        except (IsADirectoryError, PermissionError) as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
        size = os.fstat(opened.fileno()).st_size
    with opened:
        progress = Progress(ctx, 2 * size, "importing CAR")
        result = await progress.run(lambda advance: kit.car_import(_CountingReader(opened, advance), pin=pin))
    return structured(result)


# ---- VFS ----------------------------------------------------------------------------------------------------
@tool(title="Make a VFS directory", role="writer", idempotent=False)
def files_mkdir(path: VfsPath, parents: Annotated[bool, Field(
        description="Create missing parents; no error if it exists.")] = False) -> Annotated[CallToolResult, VfsStat]:
    """Create a directory in the VFS (as `ipfs-kit files mkdir --json`)."""
    return structured(caller().files_mkdir(path, parents=parents))


@tool(title="Write a VFS file", role="writer", destructive=True, idempotent=True)
def files_write(
    path: VfsPath,
    text: Text | None = None,
    data_base64: Base64 | None = None,
    source_path: ServerPath | None = None,
    parents: Annotated[bool, Field(description="Create missing parent directories.")] = False,
) -> Annotated[CallToolResult, VfsStat]:
    """Write a file at a VFS path, replacing an existing file (as `ipfs-kit files write --json`).

    Give exactly one of `text`, `data_base64` or `source_path` (server file under allowed_roots).
    """
    kit = caller()
    inline = decode_inline(text, data_base64)
    if (inline is None) == (source_path is None):
        raise InvalidInput("give exactly one of text, data_base64 or source_path")
    source = inline if inline is not None else server_path(kit, source_path)
    return structured(kit.files_write(path, source, parents=parents))


@tool(title="Read a VFS file", read_only=True)
def files_read(
    path: VfsPath,
    offset: Offset = 0,
    length: ReadLength | None = None,
    max_bytes: MaxBytes = DEFAULT_READ_BYTES,
    encoding: Encoding = "auto",
) -> Annotated[CallToolResult, ReadResult]:
    """Read a VFS file, up to max_bytes, as text (UTF-8) or base64; truncated/next_offset tell how to go on."""
    return _read(caller().files_read, path, offset, length, max_bytes, encoding)


@tool(title="List a VFS directory", read_only=True)
def files_ls(path: VfsPath = "/") -> Annotated[CallToolResult, Listing]:
    """List a VFS directory (as `ipfs-kit files ls --json`)."""
    return structured(caller().files_ls(path), key="entries")


@tool(title="Stat a VFS path", read_only=True)
def files_stat(path: VfsPath = "/") -> Annotated[CallToolResult, VfsStat]:
    """CID, type and size of a VFS path; `/` gives the VFS root CID (as `ipfs-kit files stat --json`)."""
    return structured(caller().files_stat(path))


@tool(title="Remove a VFS path", role="writer", destructive=True)
def files_rm(path: VfsPath, recursive: Annotated[bool, Field(
        description="Remove a directory and everything in it.")] = False) -> Annotated[CallToolResult, VfsRemoved]:
    """Remove a VFS path (as `ipfs-kit files rm --json`); directories need recursive=true."""
    return structured(caller().files_rm(path, recursive=recursive))


@tool(title="Move a VFS path", role="writer", destructive=True)
def files_mv(source: VfsPath, dest: VfsPath) -> Annotated[CallToolResult, VfsStat]:
    """Move a VFS path; onto an existing directory it moves into it (as `ipfs-kit files mv --json`)."""
    return structured(caller().files_mv(source, dest))


@tool(title="Copy into the VFS", role="writer")
def files_cp(
    source: Annotated[str, Field(min_length=1, max_length=4096,
                                 description="/ipfs/CID[/path] or a VFS path.")],
    dest: VfsPath,
) -> Annotated[CallToolResult, VfsStat]:
    """Copy /ipfs/CID[/path] or a VFS path to a new VFS path (as `ipfs-kit files cp --json`)."""
    return structured(caller().files_cp(source, dest))
