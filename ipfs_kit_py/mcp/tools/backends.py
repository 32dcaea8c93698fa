"""Backend tools: storage backends (kubo nodes, S3 buckets, local directories) and replication.

The embedded blockstore of the home is always there; remote backends are
configured in config.json by the backend wizard (``dashboard_run_wizard``
with ``backend_setup``) or ``ipfs-kit backend add``. Per-backend calls go
through the anyio storage controllers (``mcp.controllers.storage``); listing,
sync and status are single Kit calls, as ``ipfs-kit backend ... --json``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
from mcp.types import CallToolResult
from pydantic import Field
from typing_extensions import TypedDict

from ...dashboard.providers import backend_health
from ...dashboard.wizards import redact
from ..controllers.storage import controller_for
from .common import caller, structured, tool

BackendName = Annotated[str, Field(min_length=1, max_length=64, description="A configured backend's name.")]
Cid = Annotated[str, Field(min_length=1, max_length=4096, description="A CID (the root of a pinned DAG).")]


class BackendConfig(TypedDict):
    name: str
    type: Annotated[str, Field(description="local, kubo or s3.")]
    replication_target: Annotated[bool, Field(description="New pins are copied to it.")]
    circuit: Annotated[str, Field(description="closed (calls go through) or open (failing; calls refused).")]
    replication: Annotated[dict[str, int], Field(description="Copies on it by status.")]
    config: Annotated[dict[str, Any], Field(description="Its settings from config.json, secrets as ***.")]


class BackendList(TypedDict):
    """Configured remote backends and the replication policy; the embedded blockstore is always there."""

    blockstore: Annotated[str, Field(description="The home's embedded blockstore directory.")]
    backends: list[BackendConfig]
    replication: dict[str, Any]


class BackendHealth(TypedDict):
    healthy: bool


class BackendStatus(TypedDict):
    """Health of every backend (the embedded blockstore first), as the dashboard shows it."""

    healthy: int
    total: int
    backends: Annotated[dict[str, BackendHealth], Field(
        description="By name; each with the backend's own facts besides healthy.")]


class BackendTest(TypedDict):
    """The backend answered: its facts (version, bucket, free space...) and the round trip."""

    name: str
    healthy: bool
    latency_ms: float


class ReplicationItem(TypedDict):
    cid: str
    backend: str
    status: Annotated[str, Field(description="queued, pinning, pinned or failed.")]
    attempts: int
    last_error: str | None
    bytes: int | None


class ReplicationStatus(TypedDict):
    """Replication rows (one per CID and backend) and counts by status."""

    items: list[ReplicationItem]
    summary: dict[str, int]


class SyncResult(TypedDict):
    """What one sync run did: pinned content newly queued for the targets, copies attempted, pinned,
    failed, and still pending afterwards."""

    queued: int
    attempted: int
    pinned: int
    failed: int
    pending: int
    items: list[ReplicationItem]


class Replication(TypedDict):
    """Status per backend after one attempt each (failures are retried by backend_sync)."""

    cid: str
    backends: dict[str, str]


@tool(title="List storage backends", read_only=True)
def backend_list() -> Annotated[CallToolResult, BackendList]:
    """The storage backends configured for this home (kubo nodes, S3 buckets, local directories) with
    their settings (secrets redacted), circuit-breaker state and replication counts, and the policy.
    Add one with dashboard_run_wizard (wizard_id backend_setup)."""
    kit = caller()
    return structured({"blockstore": str(kit.settings.blocks_dir), "backends": kit.backend_list(),
                       "replication": redact(dict(kit.backends.settings.replication))})


@tool(title="Backend health", read_only=True, open_world=True)
def backend_status() -> Annotated[CallToolResult, BackendStatus]:
    """Whether each backend is reachable and healthy - the embedded blockstore and every configured
    remote backend - with what each reports about itself (as in `ipfs-kit dashboard status --json`,
    under backends)."""
    health = backend_health(caller())
    healthy = sum(1 for info in health.values() if info.get("healthy"))
    return structured({"healthy": healthy, "total": len(health), "backends": health})


@tool(title="Test a backend", read_only=True, open_world=True)
async def backend_test(name: BackendName) -> Annotated[CallToolResult, BackendTest]:
    """Probe one backend: is it reachable, are the credentials accepted, does the bucket exist. A failure
    is a one-line error saying what to fix (as `ipfs-kit backend test NAME`)."""
    return structured(await controller_for(caller(), name).health())


@tool(title="Replicate content", role="writer", open_world=True, idempotent=True)
async def backend_replicate(
    cid: Cid,
    backends: Annotated[list[str] | None, Field(
        description="Backends to copy to (default: the replication policy's targets).")] = None,
) -> Annotated[CallToolResult, Replication]:
    """Copy the DAG under a CID from the local store to backends now, one attempt each; the result is
    each backend's status (pinned, or failed - backend_sync retries failures with backoff)."""
    kit = caller()
    if backends and len(backends) == 1:
        status = await controller_for(kit, backends[0]).replicate(cid)
        return structured({"cid": cid, "backends": {backends[0]: status}})
    result = await anyio.to_thread.run_sync(lambda: kit.replicate(cid, backends or None))
    return structured({"cid": cid, "backends": result})


@tool(title="Sync replication", role="writer", open_world=True, idempotent=True)
async def backend_sync(
    cids: Annotated[list[str] | None, Field(description="Only these CIDs (default: everything due).")] = None,
    wait: Annotated[float, Field(ge=0, le=300, description="Keep retrying for up to this many seconds.")] = 0,
    force: Annotated[bool, Field(description="Retry failed copies now, before their backoff is over.")] = False,
) -> Annotated[CallToolResult, SyncResult]:
    """Work through queued and failed replications with retries, exponential backoff and a circuit
    breaker per backend (as `ipfs-kit backend sync`)."""
    kit = caller()
    return structured(await anyio.to_thread.run_sync(lambda: kit.backend_sync(cids, wait=wait, force=force)))


@tool(title="Replication status", read_only=True)
def backend_replication_status(
    cid: Annotated[str | None, Field(max_length=4096, description="One CID (default: all).")] = None,
    backend: Annotated[str | None, Field(max_length=64, description="One backend (default: all).")] = None,
    status: Literal["queued", "pinning", "pinned", "failed"] | None = None,
) -> Annotated[CallToolResult, ReplicationStatus]:
    """Replication status per CID and backend - queued, pinning, pinned or failed, as in the IPFS Pinning
    Service API - with attempts and the last error (as `ipfs-kit backend status --json`)."""
    return structured(caller().backend_status(cid, backend, status))
