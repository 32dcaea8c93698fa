"""Backend tools: which storage backends are configured, and whether they are healthy.

The embedded blockstore of the home is always there; remote backends (kubo,
S3, another local directory) are configured in config.json by the backend
wizard (``dashboard_run_wizard`` with ``backend_setup``) or ``ipfs-kit backend
add``. ``backend_list`` reads that configuration (secrets shown as ``***``);
``backend_status`` asks each backend for its health, through the same function
the dashboard's status and backend-health widget use.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.types import CallToolResult
from pydantic import Field
from typing_extensions import TypedDict

from ...dashboard.providers import backend_health
from ...dashboard.wizards import redact
from .common import caller, structured, tool


class BackendConfig(TypedDict):
    name: str
    type: Annotated[str, Field(description="local, kubo or s3.")]
    replication_target: Annotated[bool, Field(description="Pinned content is replicated to it.")]
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


@tool(title="List storage backends", read_only=True)
def backend_list() -> Annotated[CallToolResult, BackendList]:
    """The storage backends configured for this home (kubo nodes, S3 buckets, local directories) with
    their settings, secrets redacted, and the replication policy. Add one with dashboard_run_wizard
    (wizard_id backend_setup)."""
    settings = caller().settings
    targets = set(settings.replication.get("targets", []))
    backends = [{"name": name, "type": conf.get("type", "unknown"), "replication_target": name in targets,
                 "config": redact(dict(conf))} for name, conf in sorted(settings.backends.items())]
    return structured({"blockstore": str(settings.blocks_dir), "backends": backends,
                       "replication": redact(dict(settings.replication))})


@tool(title="Backend health", read_only=True, open_world=True)
def backend_status() -> Annotated[CallToolResult, BackendStatus]:
    """Whether each backend is reachable and healthy - the embedded blockstore and every configured
    remote backend - with what each reports about itself (as in `ipfs-kit dashboard status --json`,
    under backends)."""
    health = backend_health(caller())
    healthy = sum(1 for info in health.values() if info.get("healthy"))
    return structured({"healthy": healthy, "total": len(health), "backends": health})
