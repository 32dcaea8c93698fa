"""DAG-PB (PBNode / PBLink) encoding and strict decoding.

Hand-written rather than generated with protobuf: a protobuf dependency
would need generated code checked in, is slower for these two tiny messages,
and would not enforce the DAG-PB canonical-form rules (field order, no
duplicates, no unknown fields) that the spec asks decoders to check anyway.

Encoding is canonical, as go-merkledag / go-codec-dagpb / @ipld/dag-pb
write it: every ``Links`` entry (field 2) before ``Data`` (field 1), link
fields in Hash, Name, Tsize order. Decoding follows the spec's strictness
rules: PBLink fields must be in order with a Hash that is a CID, no
duplicate or unknown fields, no wrong wire types; PBNode may have Data
before or after the Links (both forms exist in the wild).

A block that does not decode raises ``InvalidInput``: its bytes may hash
correctly (``CorruptBlock`` is for hash mismatches) but the DAG someone gave
us is not valid.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ipfs_kit_py.errors import InvalidInput

from .cid import CID, cid_from_bytes
from .wire import LEN, VARINT, iter_fields, uvarint

__all__ = ["PBLink", "PBNode", "decode_node", "encode_link", "encode_node"]


@dataclass(frozen=True, slots=True)
class PBLink:
    cid: CID
    name: str | None = None
    tsize: int | None = None


@dataclass(frozen=True, slots=True)
class PBNode:
    links: tuple[PBLink, ...]
    data: bytes | None


def encode_link(cid_bytes: bytes, name: bytes | None, tsize: int | None) -> bytes:
    """One encoded ``Links`` entry (field tag and length included)."""
    body = b"\x0a" + uvarint(len(cid_bytes)) + cid_bytes
    if name is not None:
        body += b"\x12" + uvarint(len(name)) + name
    if tsize is not None:
        body += b"\x18" + uvarint(tsize)
    return b"\x12" + uvarint(len(body)) + body


def encode_node(links: Iterable[PBLink], data: bytes | None) -> bytes:
    """Canonical bytes of a PBNode. Links are written in the order given."""
    parts = [
        encode_link(
            bytes(link.cid),
            None if link.name is None else link.name.encode("utf-8"),
            link.tsize,
        )
        for link in links
    ]
    if data is not None:
        parts.append(b"\x0a" + uvarint(len(data)) + data)
    return b"".join(parts)


def _fail(reason: str) -> InvalidInput:
    return InvalidInput(f"malformed dag-pb block: {reason}")


def _decode_link(mv: memoryview) -> PBLink:
    cid = name = tsize = None
    last = 0
    for field, wire, value in iter_fields(mv):
        if field <= last:
            raise _fail("PBLink fields out of order or repeated")
        last = field
        if field == 1 and wire == LEN:
            try:
                cid = cid_from_bytes(value)
            except ValueError as exc:
                raise _fail(f"link Hash is not a usable CID ({exc})") from None
        elif field == 2 and wire == LEN:
            try:
                name = bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                raise _fail("link Name is not valid UTF-8") from None
        elif field == 3 and wire == VARINT:
            tsize = value
        else:
            raise _fail(f"unexpected PBLink field {field} (wire type {wire})")
    if cid is None:
        raise _fail("link without Hash")
    return PBLink(cid, name, tsize)


def decode_node(block: bytes, max_links: int | None = None) -> PBNode:
    """Decode a DAG-PB block strictly; ``max_links`` bounds the work done."""
    mv = memoryview(block)
    links: list[PBLink] = []
    data = None
    try:
        for field, wire, value in iter_fields(mv):
            if field == 2 and wire == LEN:
                if data is not None and links:
                    raise _fail("Data field between Links")
                links.append(_decode_link(value))
                if max_links is not None and len(links) > max_links:
                    raise _fail(f"more than {max_links} links")
            elif field == 1 and wire == LEN:
                if data is not None:
                    raise _fail("duplicate Data field")
                data = bytes(value)
            else:
                raise _fail(f"unexpected PBNode field {field} (wire type {wire})")
    except ValueError as exc:
        raise _fail(str(exc)) from None
    return PBNode(tuple(links), data)

