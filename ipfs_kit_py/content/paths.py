"""Parsing user-given content paths: ``CID``, ``CID/a/b``, ``/ipfs/CID/a/b``."""

from __future__ import annotations

from dataclasses import dataclass

from multiformats import CID

from ..core.cid import parse_cid
from ..errors import InvalidInput


@dataclass(frozen=True)
class ContentPath:
    root: CID
    segments: tuple[str, ...]

    def __str__(self) -> str:
        return "/".join((str(self.root), *self.segments))


def parse_content_path(text: str) -> ContentPath:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("a CID or CID/path is required")
    raw = text.strip()
    if raw.startswith("/ipfs/"):
        raw = raw[len("/ipfs/"):]
    elif raw.startswith("ipfs://"):
        raw = raw[len("ipfs://"):]
    head, _, rest = raw.partition("/")
    if not head:  # "/etc/passwd", "//x": a file path or a typo, not a CID
        raise InvalidInput(f"{text.strip()!r} is not a content path: give a CID, CID/path or /ipfs/CID/path")
    segments = tuple(s for s in rest.split("/") if s)
    for seg in segments:
        if seg in (".", "..") or "\x00" in seg:
            raise InvalidInput(f"invalid path segment {seg!r} in {text!r}")
    return ContentPath(parse_cid(head), segments)
