"""``s3`` backend: an S3-compatible bucket (AWS S3, MinIO, Ceph, moto...).

Object layout under the configured ``prefix`` (default ``ipfs/``):

- ``<prefix>dags/<root-cid>.car`` -- the whole DAG as one CAR v1 (roots =
  [root], blocks in DAG order, each once). Uploaded with multipart upload
  above 8 MiB, so a DAG of any size streams from a spooled temp file.
- ``<prefix>dags/<root-cid>.idx`` -- JSON ``{"root", "car_bytes", "blocks":
  {cid: [offset, length]}}``: where each block's bytes sit inside the CAR,
  so one block is one ranged GET. It is written *after* the CAR, so its
  presence means the DAG is complete: ``has(root)`` and ``list()`` read it.
- ``<prefix>blocks/<cid>`` -- single blocks stored with ``put_block``.

boto3 is synchronous and thread-safe; calls run in anyio worker threads.
Its own retries are off: the backend manager owns retries and backoff.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from typing import Any

import anyio
from multiformats import CID

from ..core import dag
from ..core.car import encode_header
from ..core.cid import cid_str, parse_cid
from ..core.wire import uvarint
from ..errors import InvalidInput
from .base import (
    Backend,
    BackendError,
    BackendRefused,
    BackendUnavailable,
    BlockMissing,
    GetBlock,
    PutResult,
)

RANGED_GETS = 4
MULTIPART_THRESHOLD = 8 * 1024 * 1024
_SPOOL_IN_MEMORY = 8 * 1024 * 1024


class S3Backend(Backend):
    kind = "s3"
    uses_hints = True

    def __init__(self, name: str, conf: dict[str, Any]):
        super().__init__(name, conf)
        self.bucket = str(conf.get("bucket") or "")
        if not self.bucket:
            raise InvalidInput(f"backend {name!r}: an S3 backend needs a bucket")
        self.prefix = str(conf.get("prefix", "ipfs/") or "")
        self.endpoint_url = conf.get("endpoint_url") or None
        self.region = conf.get("region") or "us-east-1"
        self._client_obj = None
        self._client_lock = threading.Lock()
        self._indexes: dict[str, dict[str, list[int]]] = {}  # root -> index, loaded on demand

    def describe(self) -> str:
        where = self.endpoint_url or "AWS"
        return f"S3 backend {self.name!r} (bucket {self.bucket} at {where})"

    # ---- the client -------------------------------------------------------------
    def _client(self):
        with self._client_lock:
            if self._client_obj is None:
                self._client_obj = self._make_client()
            return self._client_obj

    def _make_client(self):
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise BackendRefused("S3 backends need boto3: pip install 'ipfs-kit[s3]'") from None
        conf = self.conf
        source = conf.get("credential_source", "environment")
        session_args: dict[str, Any] = {}
        if source == "profile":
            session_args["profile_name"] = conf.get("profile")
        elif source == "inline":
            session_args["aws_access_key_id"] = conf.get("access_key_id")
            session_args["aws_secret_access_key"] = conf.get("secret_access_key")
        elif source != "environment":
            raise InvalidInput(f"backend {self.name!r}: credential_source must be environment, profile or inline")
        try:
            session = boto3.session.Session(region_name=self.region, **session_args)
        except Exception as exc:  # botocore.exceptions.ProfileNotFound and friends
            raise BackendRefused(f"{self.describe()}: {exc}") from None
        config = Config(
            connect_timeout=min(self.timeout, 10.0), read_timeout=self.timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},  # our manager retries
            s3={"addressing_style": "path"} if self.endpoint_url else None,
            max_pool_connections=16,
        )
        return session.client("s3", endpoint_url=self.endpoint_url, config=config)

    async def _call(self, operation: str, fn, *args, **kwargs):
        def run():
            try:
                return fn(self._client(), *args, **kwargs)
            except BackendError:
                raise
            except Exception as exc:
                raise self._translate(operation, exc) from None

        return await anyio.to_thread.run_sync(run)

    def _translate(self, operation: str, exc: Exception) -> BackendError:
        from botocore import exceptions as bx

        if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
            return BackendRefused(
                f"{self.describe()}: no S3 credentials found: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or use credential_source profile or inline")
        if isinstance(exc, bx.ConnectTimeoutError | bx.ReadTimeoutError):
            return BackendUnavailable(f"{self.describe()}: {operation} timed out after {self.timeout:g}s")
        if isinstance(exc, bx.EndpointConnectionError | bx.ConnectionClosedError | bx.HTTPClientError):
            return BackendUnavailable(
                f"cannot reach the S3 endpoint {self.endpoint_url or 'of AWS'}: is it running? check endpoint_url")
        if isinstance(exc, bx.ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in ("NoSuchBucket",) or (operation == "head_bucket" and status == 404):
                return BackendRefused(
                    f"S3 bucket {self.bucket!r} does not exist at {self.endpoint_url or 'AWS'}: "
                    "create it or fix bucket")
            if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidClientTokenId",
                        "AccessDenied", "403", "Forbidden"):
                return BackendRefused(
                    f"{self.describe()} rejected the credentials ({code or status}): check the access key "
                    "and secret (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the backend's credential settings)")
            if code in ("NoSuchKey", "404", "NotFound"):
                return BlockMissing(f"{self.describe()} has no object for that CID")
            if status >= 500 or code in ("SlowDown", "RequestTimeout", "ServiceUnavailable", "InternalError"):
                return BackendUnavailable(f"{self.describe()}: {operation} failed ({code or status})")
            return BackendError(f"{self.describe()}: {operation} failed: {code} {error.get('Message', '')}".strip())
        if isinstance(exc, bx.BotoCoreError):
            return BackendUnavailable(f"{self.describe()}: {operation} failed: {exc}")
        if isinstance(exc, OSError):
            return BackendUnavailable(f"{self.describe()}: {operation} failed: {exc.strerror or exc}")
        raise exc

    # ---- keys ---------------------------------------------------------------------
    def _car_key(self, root: CID | str) -> str:
        return f"{self.prefix}dags/{root if isinstance(root, str) else cid_str(root)}.car"

    def _idx_key(self, root: CID | str) -> str:
        return f"{self.prefix}dags/{root if isinstance(root, str) else cid_str(root)}.idx"

    def _block_key(self, cid: CID) -> str:
        return f"{self.prefix}blocks/{cid_str(cid)}"

    # ---- blocks ---------------------------------------------------------------------
    async def _index(self, root: str) -> dict[str, list[int]] | None:
        if root in self._indexes:
            return self._indexes[root]
        try:
            body = await self._call("get_object", lambda c: c.get_object(
                Bucket=self.bucket, Key=self._idx_key(root))["Body"].read())
        except BlockMissing:
            return None
        try:
            index = json.loads(body)["blocks"]
        except (ValueError, KeyError, TypeError):
            return None  # an unreadable index: treat that DAG as absent here
        if len(self._indexes) > 256:
            self._indexes.pop(next(iter(self._indexes)))
        self._indexes[root] = index
        return index

    async def get_block(self, cid: CID, hints: tuple[CID, ...] = ()) -> bytes:
        key = cid_str(cid)
        # Indexes already loaded first (no request), then the CID as a root, then the hints.
        for root in dict.fromkeys([*self._indexes, key, *(cid_str(h) for h in hints)]):
            index = await self._index(root)
            if index is None or key not in index:
                continue
            offset, length = index[key]
            return await self._call("get_object", lambda c, r=root, o=offset, n=length: c.get_object(
                Bucket=self.bucket, Key=self._car_key(r), Range=f"bytes={o}-{o + n - 1}")["Body"].read())
        try:
            return await self._call("get_object", lambda c: c.get_object(
                Bucket=self.bucket, Key=self._block_key(cid))["Body"].read())
        except BlockMissing:
            raise BlockMissing(f"{self.describe()} has no block {key}") from None

    async def get_blocks(self, cids: list[CID], hints: tuple[CID, ...] = ()) -> dict[CID, bytes]:
        """Blocks that sit close together in one CAR come back from one ranged GET."""
        located: dict[str, list[tuple[int, int, CID]]] = {}
        rest = []
        for cid in cids:
            key = cid_str(cid)
            root = next((r for r, index in self._indexes.items() if key in index), None)
            if root is None:
                rest.append(cid)
            else:
                offset, length = self._indexes[root][key]
                located.setdefault(root, []).append((offset, length, cid))
        found: dict[CID, bytes] = {}

        async def fetch(root: str, group: list[tuple[int, int, CID]]) -> None:
            start, end = group[0][0], group[-1][0] + group[-1][1]
            async with limiter:
                try:
                    body = await self._call("get_object", lambda c: c.get_object(
                        Bucket=self.bucket, Key=self._car_key(root), Range=f"bytes={start}-{end - 1}")["Body"].read())
                except BackendError:
                    return  # left out: the caller reads those blocks one by one (and learns why)
            for offset, length, cid in group:
                found[cid] = body[offset - start:offset - start + length]

        # Several ranged GETs of up to 8 MiB in parallel, as S3 download tools do.
        limiter = anyio.CapacityLimiter(RANGED_GETS)
        async with anyio.create_task_group() as tg:
            for root, spans in located.items():
                spans.sort(key=lambda span: span[0])
                for group in _coalesce(spans, max_bytes=MULTIPART_THRESHOLD):
                    tg.start_soon(fetch, root, group)
        if rest:
            found.update(await super().get_blocks(rest, hints))
        return found

    async def put_block(self, cid: CID, data: bytes) -> None:
        await self._call("put_object", lambda c: c.put_object(
            Bucket=self.bucket, Key=self._block_key(cid), Body=data))

    async def has(self, cid: CID) -> bool:
        for key in (self._idx_key(cid), self._block_key(cid)):
            try:
                await self._call("head_object", lambda c, k=key: c.head_object(Bucket=self.bucket, Key=k))
                return True
            except BlockMissing:
                continue
        return False

    async def pin(self, cid: CID) -> None:
        # A bucket has no pins: a DAG is kept for as long as its objects are there.
        if not await self.has(cid):
            raise BlockMissing(f"{self.describe()} does not hold {cid_str(cid)}; replicate it first")

    async def delete(self, cid: CID) -> None:
        keys = [self._idx_key(cid), self._car_key(cid), self._block_key(cid)]  # index first: DAG gone at once
        for key in keys:
            await self._call("delete_object", lambda c, k=key: c.delete_object(Bucket=self.bucket, Key=k))
        self._indexes.pop(cid_str(cid), None)

    # ---- whole DAGs ----------------------------------------------------------------
    async def put_dag(self, root: CID, get_block: GetBlock) -> PutResult:
        spool, index, total, count = await anyio.to_thread.run_sync(_spool_car, root, get_block)
        try:
            car_bytes = spool.tell()
            spool.seek(0)

            def upload(client) -> None:
                from boto3.s3.transfer import TransferConfig

                transfer = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD,
                                          multipart_chunksize=MULTIPART_THRESHOLD, max_concurrency=4)
                client.upload_fileobj(spool, self.bucket, self._car_key(root), Config=transfer,
                                      ExtraArgs={"ContentType": "application/vnd.ipld.car",
                                                 "Metadata": {"ipfs-root": cid_str(root)}})

            await self._call("upload", upload)
            head = await self._call("head_object", lambda c: c.head_object(
                Bucket=self.bucket, Key=self._car_key(root)))
            if head.get("ContentLength") != car_bytes:
                raise BackendError(f"{self.describe()} holds {head.get('ContentLength')} bytes of "
                                   f"{cid_str(root)}.car, not {car_bytes}")
            doc = json.dumps({"root": cid_str(root), "car_bytes": car_bytes, "blocks": index},
                             separators=(",", ":")).encode()
            await self._call("put_object", lambda c: c.put_object(
                Bucket=self.bucket, Key=self._idx_key(root), Body=doc, ContentType="application/json"))
            self._indexes[cid_str(root)] = index
            return PutResult(total, count, "car")
        finally:
            spool.close()

    async def list(self) -> list[str]:
        def names(client) -> list[str]:
            out = []
            paginator = client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}dags/"):
                for item in page.get("Contents", []):
                    key = item["Key"]
                    if key.endswith(".idx"):
                        name = key[len(self.prefix) + len("dags/"):-len(".idx")]
                        try:
                            out.append(cid_str(parse_cid(name)))
                        except InvalidInput:
                            continue
            return sorted(out)

        return await self._call("list_objects_v2", names)

    async def health(self) -> dict[str, Any]:
        await self._call("head_bucket", lambda c: c.head_bucket(Bucket=self.bucket))
        return {"healthy": True, "kind": "s3", "bucket": self.bucket,
                "endpoint": self.endpoint_url or "AWS", "prefix": self.prefix}

    async def aclose(self) -> None:
        self._indexes.clear()


def _coalesce(spans: list[tuple[int, int, CID]], max_bytes: int, max_gap: int = 4096):
    """Group sorted (offset, length, cid) spans into runs one ranged GET can cover."""
    group: list[tuple[int, int, CID]] = []
    for span in spans:
        if group:
            gap = span[0] - (group[-1][0] + group[-1][1])
            if gap > max_gap or span[0] + span[1] - group[0][0] > max_bytes:
                yield group
                group = []
        group.append(span)
    if group:
        yield group


def _spool_car(root: CID, get_block: GetBlock):
    """Write the DAG's CAR to a spooled temp file; return it with the block index."""
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY, prefix="ipfs-kit-car-")
    try:
        header = encode_header([root])
        spool.write(uvarint(len(header)) + header)
        offset = spool.tell()
        index: dict[str, list[int]] = {}
        total = count = 0
        for block_cid in dag.walk_blocks(get_block, root):
            data = get_block(block_cid)
            raw = bytes(block_cid)
            prefix = uvarint(len(raw) + len(data)) + raw
            spool.write(prefix)
            spool.write(data)
            index[cid_str(block_cid)] = [offset + len(prefix), len(data)]
            offset += len(prefix) + len(data)
            total += len(data)
            count += 1
        return spool, index, total, count
    except BaseException:
        spool.close()
        raise


os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")  # never probe 169.254.169.254 for credentials
