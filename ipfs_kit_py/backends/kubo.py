"""``kubo`` backend: a kubo node's HTTP RPC API (``/api/v0``, POST only, as kubo requires).

A DAG is sent with ``dag/import`` (a CAR stream; kubo pins its root). Nodes
without ``dag/import`` (older or trimmed RPC servers) get the content
re-added with ``add`` and the settings the DAG was built with (CID version,
raw leaves, chunk size read off the DAG); the root kubo answers must equal
ours, or the copy is unpinned again and the replication fails with the
reason. Blocks are read with ``block/get``.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
from multiformats import CID

from ..core import car, dag
from ..core.cid import RAW, cid_str, parse_cid
from ..core.wire import uvarint
from ..errors import InvalidInput
from .base import (
    Backend,
    BackendError,
    BackendRefused,
    BackendUnavailable,
    BackendUnsupported,
    BlockMissing,
    GetBlock,
    PutResult,
)

_PIECE = 1 << 20


class KuboBackend(Backend):
    kind = "kubo"

    def __init__(self, name: str, conf: dict[str, Any]):
        super().__init__(name, conf)
        url = str(conf.get("api_url") or "http://127.0.0.1:5001").rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise InvalidInput(f"backend {name!r}: api_url must start with http:// or https://, not {url!r}")
        self.api_url = url
        headers = {}
        token = conf.get("api_token") or os.environ.get("IPFS_KIT_KUBO_TOKEN")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.AsyncClient(
            base_url=f"{url}/api/v0", headers=headers,
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
        )
        self._can_import: bool | None = None  # learnt on first put_dag

    def describe(self) -> str:
        return f"kubo backend {self.name!r} ({self.api_url})"

    # ---- the RPC call ------------------------------------------------------------
    async def _post(self, command: str, params: Any = None, **kwargs: Any) -> httpx.Response:
        streaming = not isinstance(kwargs.get("content", b""), bytes)
        if streaming:
            # A streamed (chunked) upload gets its own connection: a server that
            # leaves part of such a body unread cannot poison the next request.
            kwargs["headers"] = {**kwargs.get("headers", {}), "Connection": "close"}
        try:
            try:
                response = await self._client.post(f"/{command}", params=params, **kwargs)
            except httpx.RemoteProtocolError:
                if streaming:
                    raise
                # A kept-alive connection the server had closed: one fresh try.
                response = await self._client.post(f"/{command}", params=params, **kwargs)
        except httpx.TimeoutException:
            raise BackendUnavailable(
                f"{self.describe()}: {command} timed out after {self.timeout:g}s") from None
        except httpx.TransportError as exc:
            raise BackendUnavailable(
                f"cannot reach the kubo RPC API at {self.api_url} ({_reason(exc)}): "
                "is the daemon running? check api_url") from None
        if response.status_code < 300:
            return response
        await response.aread()
        message = _kubo_message(response)
        if response.status_code in (401, 403):
            raise BackendRefused(f"{self.describe()} refused the request ({response.status_code}): "
                                 "check api_token")
        if response.status_code in (404, 405):
            raise BackendUnsupported(f"{self.describe()} has no /api/v0/{command} endpoint")
        if response.status_code >= 500 and _is_missing(message):
            raise BlockMissing(f"{self.describe()}: {message}")
        if response.status_code in (502, 503, 504):
            raise BackendUnavailable(f"{self.describe()}: {command} failed ({response.status_code})")
        raise BackendError(f"{self.describe()}: {command}: {message}")

    async def _json(self, command: str, params: Any = None, **kwargs: Any) -> Any:
        response = await self._post(command, params, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise BackendError(f"{self.describe()}: {command} answered something that is not JSON") from None

    # ---- blocks -------------------------------------------------------------------
    async def get_block(self, cid: CID, hints: tuple[CID, ...] = ()) -> bytes:
        response = await self._post("block/get", {"arg": cid_str(cid)})
        return response.content

    async def put_block(self, cid: CID, data: bytes) -> None:
        codec = "raw" if cid.codec.code == RAW else "dag-pb"
        body, ctype = _multipart_bytes("block", data)
        answer = await self._json("block/put", {"cid-codec": codec, "mhtype": "sha2-256", "pin": "false"},
                                  content=body, headers={"Content-Type": ctype})
        if answer.get("Key") not in (cid_str(cid), str(cid)) and parse_cid(answer.get("Key", "")) != cid:
            raise BackendError(f"{self.describe()} stored block as {answer.get('Key')}, not {cid_str(cid)}")

    async def cat(self, cid: CID, offset: int = 0, length: int | None = None) -> bytes:
        """A file's bytes as the node assembles them (unverified: reads that must be
        trusted go block by block through ``get_block``)."""
        params = {"arg": cid_str(cid), "offset": str(offset)}
        if length is not None:
            params["length"] = str(length)
        return (await self._post("cat", params)).content

    async def has(self, cid: CID) -> bool:
        try:
            await self._post("block/stat", {"arg": cid_str(cid)})
        except BlockMissing:
            return False
        return True

    async def delete(self, cid: CID) -> None:
        try:
            await self._post("pin/rm", {"arg": cid_str(cid)})
        except BackendError as exc:
            if "not pinned" not in str(exc):
                raise

    async def pin(self, cid: CID) -> None:
        await self._post("pin/add", {"arg": cid_str(cid)})

    async def list(self) -> list[str]:
        answer = await self._json("pin/ls", {"type": "recursive"})
        return sorted((answer.get("Keys") or {}).keys())

    # ---- whole DAGs -----------------------------------------------------------
    async def put_dag(self, root: CID, get_block: GetBlock) -> PutResult:
        if self._can_import is None:
            self._can_import = await self._has_dag_import()
        if self._can_import:
            return await self._dag_import(root, get_block)
        return await self._re_add(root, get_block)

    async def _has_dag_import(self) -> bool:
        """Ask with an empty request: a node with dag/import complains about the
        missing file; one without answers 404 (so no DAG is streamed in vain)."""
        try:
            await self._post("dag/import")
        except BackendUnsupported:
            return False
        except (BackendUnavailable, BackendRefused):
            raise
        except BackendError:
            return True
        return True

    async def _dag_import(self, root: CID, get_block: GetBlock) -> PutResult:
        counts = {"bytes": 0, "blocks": 0}

        def car_pieces() -> Iterator[bytes]:
            header = car.encode_header([root])
            yield uvarint(len(header)) + header
            for block_cid in dag.walk_blocks(get_block, root):
                data = get_block(block_cid)
                raw = bytes(block_cid)
                counts["bytes"] += len(data)
                counts["blocks"] += 1
                yield uvarint(len(raw) + len(data)) + raw + data

        boundary = uuid.uuid4().hex
        body = _stream_multipart(boundary, [("file", "dag.car", "application/vnd.ipld.car", car_pieces())])
        answer = await self._post("dag/import", {"pin-roots": "true"}, content=body,
                                  headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        pinned = _import_roots(answer.text)
        if cid_str(root) not in pinned and str(root) not in pinned:
            await self.pin(root)
        return PutResult(counts["bytes"], counts["blocks"], "dag-import")

    async def _re_add(self, root: CID, get_block: GetBlock) -> PutResult:
        params = _add_params(root, get_block)
        counts = {"bytes": 0, "blocks": sum(1 for _ in dag.walk_blocks(get_block, root))}
        boundary = uuid.uuid4().hex
        parts = []
        for path_parts, kind, cid in dag.walk_tree(get_block, root):
            name = "/".join(("root", *path_parts))
            if kind == "directory":
                parts.append(("file", name, "application/x-directory", iter(())))
            elif kind == "file":
                parts.append(("file", name, "application/octet-stream", _counting(
                    dag.iter_file(get_block, cid), counts)))
            else:
                raise BackendUnsupported(
                    f"{self.describe()} has no dag/import, and a DAG with symlinks cannot be re-added")
        body = _stream_multipart(boundary, parts)
        try:
            response = await self._post("add", {**params, "pin": "true", "quieter": "true"}, content=body,
                                        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        except (BackendUnavailable, BackendRefused):
            raise
        except BackendError as exc:  # the node refused these add settings: retrying will not help
            raise BackendUnsupported(
                f"{self.describe()} has no dag/import, and re-adding {cid_str(root)} failed: "
                f"{str(exc).split(': ', 1)[-1]}") from None
        lines = [json.loads(line) for line in response.text.splitlines() if line.strip()]
        got = lines[-1].get("Hash") if lines else None
        if got != cid_str(root):
            if got:
                await self.delete(parse_cid(got))
            raise BackendUnsupported(
                f"{self.describe()} has no dag/import, and re-adding gave {got}, not {cid_str(root)}: "
                "this DAG was built with settings the node cannot reproduce; use a kubo with dag/import")
        return PutResult(counts["bytes"], counts["blocks"], "re-add")

    async def health(self) -> dict[str, Any]:
        version = await self._json("version")
        ident = await self._json("id")
        return {"healthy": True, "kind": "kubo", "api_url": self.api_url,
                "version": version.get("Version"), "peer_id": ident.get("ID")}

    async def aclose(self) -> None:
        await self._client.aclose()


# ---- helpers -------------------------------------------------------------------


def _add_params(root: CID, get_block: GetBlock) -> dict[str, str]:
    """kubo ``add`` flags that rebuild ``root``: only non-defaults are sent."""
    params: dict[str, str] = {}
    if root.version == 1:
        params["cid-version"] = "1"
    first_leaf = _first_leaf(root, get_block)
    if first_leaf is not None:
        is_raw = first_leaf[0].codec.code == RAW
        if is_raw != (root.version == 1):
            params["raw-leaves"] = "true" if is_raw else "false"
        size = first_leaf[1]
        if size and size != 262144:
            params["chunker"] = f"size-{size}"
    return params


def _first_leaf(root: CID, get_block: GetBlock) -> tuple[CID, int] | None:
    """The first leaf of the first multi-block file under ``root``: its CID and content length."""
    for _path, kind, cid in dag.walk_tree(get_block, root):
        if kind != "file" or cid.codec.code == RAW or not dag.load_node(get_block, cid).links:
            continue
        for block_cid in dag.walk_blocks(get_block, cid):
            if block_cid.codec.code == RAW or not dag.load_node(get_block, block_cid).links:
                return block_cid, sum(len(p) for p in dag.iter_file(get_block, block_cid))
    return None


def _counting(pieces: Iterator[bytes], counts: dict[str, int]) -> Iterator[bytes]:
    for piece in pieces:
        counts["bytes"] += len(piece)
        yield piece


async def _stream_multipart(boundary: str, parts: list[tuple[str, str, str, Iterator[bytes]]]) -> AsyncIterator[bytes]:
    """multipart/form-data as a stream of pieces.

    Written by hand because httpx's multipart encoder needs each file as a
    seekable object of known length; ours are generated DAG walks that must
    not be held in memory. Pieces are produced in a worker thread (they read
    blocks from disk) and sent chunked.
    """
    for field, filename, ctype, pieces in parts:
        quoted = filename.replace('"', "%22")
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
               f"filename=\"{quoted}\"\r\nContent-Type: {ctype}\r\n\r\n").encode()
        buffer = bytearray()
        while True:
            piece = await anyio.to_thread.run_sync(next, pieces, None)
            if piece is None:
                break
            buffer += piece
            if len(buffer) >= _PIECE:
                yield bytes(buffer)
                buffer.clear()
        if buffer:
            yield bytes(buffer)
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()


def _multipart_bytes(field: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{field}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _import_roots(text: str) -> set[str]:
    roots = set()
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        cid = ((entry.get("Root") or {}).get("Cid") or {}).get("/")
        if cid:
            roots.add(cid)
    return roots


def _kubo_message(response: httpx.Response) -> str:
    """kubo's error message (its JSON ``Message``); for any other answer, what it looks like."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("Message"):
        return " ".join(str(body["Message"]).split())[:300]
    kind = response.headers.get("content-type", "").split(";")[0].strip()
    if kind == "text/html":  # a web server's error page: not worth quoting, and not kubo's RPC API
        return f"HTTP {response.status_code} with an HTML page: not a kubo RPC API answer; check api_url"
    return " ".join(response.text.split())[:200] or f"HTTP {response.status_code}"


def _is_missing(message: str) -> bool:
    lowered = message.lower()
    return "not found" in lowered or "could not find" in lowered or "no link named" in lowered


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.split("] ")[-1] if "] " in text else text
