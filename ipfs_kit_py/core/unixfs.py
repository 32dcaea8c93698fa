"""UnixFS ``Data`` message (the payload of a dag-pb node): encode and decode.

Hand-written for the same reasons as ``dagpb``: one tiny proto2 message,
and the importer needs to build leaf nodes around a chunk without copying
it (``file_leaf_parts``), which generated code cannot do.

Field order on the wire is ascending field number, as go-unixfs (gogo
protobuf) and js ipfs-unixfs write it; ``blocksizes`` is written unpacked
(proto2 default), but both forms are accepted when reading. Unknown fields
are skipped as proto2 requires; known fields with the wrong wire type, a
missing ``Type``, or values outside their range raise ``InvalidInput``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ipfs_kit_py.errors import InvalidInput

from .wire import FIXED32, LEN, VARINT, iter_fields, read_uvarint, uvarint

__all__ = [
    "DIRECTORY",
    "FILE",
    "HAMT_SHARD",
    "METADATA",
    "RAW",
    "SYMLINK",
    "TYPE_NAMES",
    "UnixFSData",
    "decode_unixfs",
    "encode_unixfs",
    "file_leaf_parts",
]

RAW, DIRECTORY, FILE, METADATA, SYMLINK, HAMT_SHARD = range(6)
TYPE_NAMES = {
    RAW: "raw",
    DIRECTORY: "directory",
    FILE: "file",
    METADATA: "metadata",
    SYMLINK: "symlink",
    HAMT_SHARD: "hamt-sharded-directory",
}
_U64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class UnixFSData:
    type: int
    data: bytes | None = None
    filesize: int | None = None
    blocksizes: tuple[int, ...] = ()
    hash_type: int | None = None
    fanout: int | None = None
    mode: int | None = None
    mtime: tuple[int, int] | None = None  # (seconds, nanoseconds)

    @property
    def type_name(self) -> str:
        return TYPE_NAMES[self.type]


def encode_unixfs(
    type: int,
    data: bytes | None = None,
    filesize: int | None = None,
    blocksizes: tuple[int, ...] | list[int] = (),
    hash_type: int | None = None,
    fanout: int | None = None,
    mode: int | None = None,
    mtime: tuple[int, int] | None = None,
) -> bytes:
    parts = [b"\x08", uvarint(type)]
    if data:
        # go-unixfs and js both omit an empty Data field.
        parts += [b"\x12", uvarint(len(data)), data]
    if filesize is not None:
        parts += [b"\x18", uvarint(filesize)]
    for size in blocksizes:
        parts += [b"\x20", uvarint(size)]
    if hash_type is not None:
        parts += [b"\x28", uvarint(hash_type)]
    if fanout is not None:
        parts += [b"\x30", uvarint(fanout)]
    if mode is not None:
        parts += [b"\x38", uvarint(mode)]
    if mtime is not None:
        secs, nsecs = mtime
        body = b"\x08" + uvarint(secs & _U64)
        if nsecs:
            body += b"\x15" + nsecs.to_bytes(4, "little")
        parts += [b"\x42", uvarint(len(body)), body]
    return b"".join(parts)


def file_leaf_parts(data_len: int, type: int = FILE) -> tuple[bytes, bytes]:
    """``(prefix, suffix)`` such that ``prefix + chunk + suffix`` is the
    dag-pb block of a UnixFS leaf holding ``chunk`` (``data_len`` bytes).

    Lets the importer hash the three pieces without joining them.
    """
    if data_len == 0:
        inner = b"\x08" + uvarint(type) + b"\x18\x00"
        return b"\x0a" + uvarint(len(inner)) + inner, b""
    n = uvarint(data_len)
    head = b"\x08" + uvarint(type) + b"\x12" + n
    suffix = b"\x18" + n
    inner_len = len(head) + data_len + len(suffix)
    return b"\x0a" + uvarint(inner_len) + head, suffix


def _fail(reason: str) -> InvalidInput:
    return InvalidInput(f"malformed UnixFS data: {reason}")


def _decode_mtime(mv: memoryview) -> tuple[int, int]:
    secs = None
    nsecs = 0
    for field, wire, value in iter_fields(mv):
        if field == 1 and wire == VARINT:
            secs = value - (1 << 64) if value >= 1 << 63 else value
        elif field == 2 and wire == FIXED32:
            if not 1 <= value <= 999_999_999:
                raise _fail("mtime nanoseconds out of range")
            nsecs = value
        elif field in (1, 2):
            raise _fail(f"wrong wire type for mtime field {field}")
    if secs is None:
        raise _fail("mtime without seconds")
    return secs, nsecs


def decode_unixfs(raw: bytes) -> UnixFSData:
    fields: dict[int, object] = {}
    blocksizes: list[int] = []
    try:
        for field, wire, value in iter_fields(raw):
            if field == 4:
                if wire == VARINT:
                    blocksizes.append(value)
                elif wire == LEN:  # packed form
                    pos, end = 0, len(value)
                    while pos < end:
                        size, pos = read_uvarint(value, pos, end)
                        blocksizes.append(size)
                else:
                    raise _fail("wrong wire type for blocksizes")
            elif field in (1, 3, 5, 6, 7):
                if wire != VARINT:
                    raise _fail(f"wrong wire type for field {field}")
                fields[field] = value
            elif field in (2, 8):
                if wire != LEN:
                    raise _fail(f"wrong wire type for field {field}")
                fields[field] = value
            # other fields: unknown to this version of UnixFS, skipped
        kind = fields.get(1)
        if kind is None:
            raise _fail("missing Type")
        if kind not in TYPE_NAMES:
            raise _fail(f"unknown Type {kind}")
        data = fields.get(2)
        mode = fields.get(7)
        if mode is not None and mode > 0xFFFFFFFF:
            raise _fail("mode out of range")
        mtime = fields.get(8)
        return UnixFSData(
            type=kind,
            data=None if data is None else bytes(data),
            filesize=fields.get(3),
            blocksizes=tuple(blocksizes),
            hash_type=fields.get(5),
            fanout=fields.get(6),
            mode=mode,
            mtime=None if mtime is None else _decode_mtime(mtime),
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
