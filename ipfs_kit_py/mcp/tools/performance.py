"""Performance tools (the seed's 13 ``performance_*``): cache, monitor and batch statistics.

Each calls the same ``kit.cache`` / ``kit.monitor`` / ``kit.batch`` method as
``ipfs-kit performance <command> --json``. The memory cache tier and the
operations started with ``performance_start_operation`` live in the server
process; counters, samples and baselines are shared through the home.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from mcp.types import CallToolResult
from pydantic import Field
from typing_extensions import TypedDict

from ...performance.summary import performance_summary
from .common import caller, structured, tool

Timeframe = Annotated[str, Field(
    pattern=r"^[1-9][0-9]{0,6}[smhd]$",
    description="Window: <n>s, <n>m, <n>h or <n>d, at most 7d (or the monitoring retention).",
)]
OperationName = Annotated[str, Field(
    min_length=1, max_length=200, description="Operation name, e.g. content.add or mcp.content_cat.",
)]
Percent = Annotated[float, Field(gt=0, le=100)]
Ms = Annotated[float | None, Field(description="Milliseconds; null without samples.")]


# ---- output types -----------------------------------------------------------------------------
class CacheTier(TypedDict):
    enabled: bool
    hits: int
    misses: int
    evictions: int
    expirations: int
    entries: int
    bytes: int
    policy: NotRequired[str]
    max_entries: NotRequired[int]
    max_bytes: NotRequired[int]
    corrupt: NotRequired[int]
    errors: NotRequired[int]
    path: NotRequired[str | None]
    url: NotRequired[str | None]


class CacheStats(TypedDict):
    """Block cache hit rate and counters, overall and per tier (memory, disk, redis)."""

    policy: str
    hits: int
    misses: int
    requests: int
    hit_rate_percent: float
    sets: int
    deletes: int
    invalidations: int
    promotions: int
    evictions: int
    expirations: int
    corrupt_entries: int
    tiers: dict[str, CacheTier]
    stats_path: str | None
    stats_saved_at: float | None


class CacheCleared(TypedDict):
    tier: Literal["memory", "disk", "redis", "all"]
    removed: Annotated[dict[str, int], Field(description="Entries removed per tier.")]


class CacheInvalidated(TypedDict):
    pattern: str
    removed: Annotated[int, Field(ge=0, description="Distinct keys removed.")]


class OperationMetrics(TypedDict):
    operation: str
    timeframe: str
    count: int
    successes: int
    failures: int
    success_rate: float | None
    mean_ms: Ms
    min_ms: Ms
    max_ms: Ms
    p50_ms: Ms
    p95_ms: Ms
    p99_ms: Ms
    throughput_per_s: float
    first_at: float | None
    last_at: float | None


class Metrics(TypedDict):
    """One operation's metrics (operation given), or every operation's under `operations`."""

    timeframe: str
    operations: NotRequired[dict[str, OperationMetrics]]
    operation: NotRequired[str]
    count: NotRequired[int]
    successes: NotRequired[int]
    failures: NotRequired[int]
    success_rate: NotRequired[float | None]
    mean_ms: NotRequired[Ms]
    min_ms: NotRequired[Ms]
    max_ms: NotRequired[Ms]
    p50_ms: NotRequired[Ms]
    p95_ms: NotRequired[Ms]
    p99_ms: NotRequired[Ms]
    throughput_per_s: NotRequired[float]
    first_at: NotRequired[float | None]
    last_at: NotRequired[float | None]


class Finding(TypedDict):
    type: Literal["cpu", "memory", "errors", "slow_operation"]
    scope: Literal["system", "process", "operation"]
    severity: Literal["critical", "warning"]
    value: float
    threshold: float
    reason: str
    operation: NotRequired[str]
    reference: NotRequired[str]
    p_value: NotRequired[float]


class Bottlenecks(TypedDict):
    """Findings, worst first; empty when nothing is wrong."""

    bottlenecks: list[Finding]


class ProcessUsage(TypedDict):
    pid: int
    cpu_percent: float
    cpu_percent_of_machine: float
    memory_rss_bytes: int
    memory_percent: float
    threads: int
    open_fds: int | None


class SystemUsage(TypedDict):
    cpu_percent: float
    cpu_count: int
    load_average_1m: float | None
    memory_percent: float
    memory_used_bytes: int
    memory_total_bytes: int
    disk_usage_percent: float | None
    disk_read_bytes_per_s: float | None
    disk_write_bytes_per_s: float | None
    net_sent_bytes_per_s: float | None
    net_recv_bytes_per_s: float | None


class ResourceUsage(TypedDict):
    """CPU, memory, disk and network of the server process and the machine (rates over interval_s)."""

    timestamp: float
    interval_s: float
    process: ProcessUsage
    system: SystemUsage


class Baseline(TypedDict):
    operation: str
    set_at: float
    timeframe: str
    count: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


class StartedOperation(TypedDict):
    operation_id: Annotated[int, Field(description="Pass to performance_end_operation.")]
    name: str


class EndedOperation(TypedDict):
    operation_id: int
    duration_ms: float
    success: bool


class OperationTotals(TypedDict):
    count: int
    failures: int
    mean_ms: float | None


class MonitorStats(TypedDict):
    state_path: str | None
    operations_tracked: int
    total_operations: int
    total_failures: int
    samples_stored: int
    samples_dropped: int
    retention: str
    active_operations: int
    baselines: list[str]
    started_at: float
    uptime_s: float
    operations: dict[str, OperationTotals]


class BatchStats(TypedDict):
    """Totals over every batch run in this home."""

    batches: int
    operations: int
    succeeded: int
    failed: int
    cancelled: int
    rolled_back: int
    rollback_failed: int
    operation_ms_total: float
    batch_ms_total: float
    parallel_batches: int
    sequential_batches: int
    thread_batches: int
    process_batches: int
    transactions: int
    transactions_committed: int
    success_rate: float | None
    mean_operation_ms: float | None
    max_workers: int
    executor: str
    pending: int
    last_batch: dict[str, Any] | None
    stats_path: str | None


class Summary(TypedDict):
    """Everything above in one document."""

    timeframe: str
    cache: CacheStats | None
    batch: BatchStats | None
    monitor: MonitorStats | None
    operations: dict[str, OperationMetrics] | None
    resources: ResourceUsage | None
    bottlenecks: list[Finding] | None


# ---- cache ------------------------------------------------------------------------------------------
@tool(title="Cache statistics", read_only=True)
def performance_get_cache_stats() -> Annotated[CallToolResult, CacheStats]:
    """Block cache hit rate, and hits, misses, evictions, entries and bytes per tier
    (as `ipfs-kit performance cache-stats --json`)."""
    return structured(caller().cache.get_statistics())


@tool(title="Clear the cache", role="admin", destructive=True, idempotent=True)
def performance_clear_cache(
    tier: Annotated[Literal["memory", "disk", "redis", "all"], Field(
        description="Which tier to empty; all = every enabled tier.")] = "all",
) -> Annotated[CallToolResult, CacheCleared]:
    """Empty one cache tier or all (as `ipfs-kit performance cache-clear --json`).

    Only cached copies are dropped, never content. A tier that is not enabled is an error.
    """
    return structured({"tier": tier, "removed": caller().cache.clear(tier)})


@tool(title="Invalidate cache entries", role="admin", destructive=True, idempotent=True)
def performance_invalidate_cache(
    pattern: Annotated[str, Field(min_length=1, max_length=1024, description=(
        "fnmatch pattern over keys, e.g. 'user:*'; binary keys (block CIDs) match on their hex form."))],
) -> Annotated[CallToolResult, CacheInvalidated]:
    """Remove every cache entry whose key matches the pattern, from every tier
    (as `ipfs-kit performance cache-invalidate --json`)."""
    return structured({"pattern": pattern, "removed": caller().cache.invalidate_pattern(pattern)})


@tool(title="Reset cache counters", role="admin", destructive=True, idempotent=True)
def performance_reset_cache_stats() -> Annotated[CallToolResult, CacheStats]:
    """Zero the cache's hit/miss/eviction counters (shared by every process of this home);
    returns the statistics after the reset. Cached entries stay."""
    kit = caller()
    kit.cache.reset_statistics()
    return structured(kit.cache.get_statistics())


# ---- monitor ------------------------------------------------------------------------------------------
@tool(title="Operation metrics", read_only=True)
def performance_get_metrics(
    operation: OperationName | None = None,
    timeframe: Timeframe = "1h",
) -> Annotated[CallToolResult, Metrics]:
    """Count, success rate, mean and p50/p95/p99 latency of an operation (or of all) over the window
    (as `ipfs-kit performance metrics --json`)."""
    return structured(caller().monitor.get_metrics(operation, timeframe))


@tool(title="Find bottlenecks", read_only=True)
def performance_get_bottlenecks(
    cpu_threshold: Annotated[Percent, Field(description="CPU percent that counts as pressure.")] = 80.0,
    memory_threshold: Annotated[Percent, Field(description="Memory percent that counts as pressure.")] = 80.0,
) -> Annotated[CallToolResult, Bottlenecks]:
    """Resource pressure and slow or failing operations, each with a reason, worst first
    (as `ipfs-kit performance bottlenecks --json`)."""
    return structured(caller().monitor.detect_bottlenecks(cpu_threshold, memory_threshold), key="bottlenecks")


@tool(title="Resource usage", read_only=True)
def performance_get_resource_usage() -> Annotated[CallToolResult, ResourceUsage]:
    """CPU, memory, disk and network rates of the server process and the machine
    (as `ipfs-kit performance resources --json`)."""
    return structured(caller().monitor.get_resource_usage())


@tool(title="Set a latency baseline", role="writer", destructive=True)
def performance_set_baseline(
    operation: OperationName,
    timeframe: Annotated[Timeframe, Field(description="Samples to take the baseline from.")] = "24h",
) -> Annotated[CallToolResult, Baseline]:
    """Store an operation's current latency distribution as its baseline, replacing an older one;
    later samples are compared with it (as `ipfs-kit performance baseline --json`).
    Needs enough samples in the window."""
    return structured(caller().monitor.set_baseline(operation, timeframe))


@tool(title="Start timing an operation", role="writer")
def performance_start_operation(name: OperationName) -> Annotated[CallToolResult, StartedOperation]:
    """Start timing an operation of your own; returns the id to pass to performance_end_operation.
    The sample is recorded (and shows in metrics) when it ends."""
    return structured({"operation_id": caller().monitor.start_operation(name), "name": name})


@tool(title="Stop timing an operation", role="writer")
def performance_end_operation(
    operation_id: Annotated[int, Field(ge=1, description="The id performance_start_operation returned.")],
    success: Annotated[bool, Field(description="Whether the operation succeeded.")] = True,
) -> Annotated[CallToolResult, EndedOperation]:
    """Stop timing an operation and record its duration and outcome. Unknown or already ended ids are an error."""
    duration = caller().monitor.end_operation(operation_id, success)
    return structured({"operation_id": operation_id, "duration_ms": duration, "success": success})


@tool(title="Monitor statistics", read_only=True)
def performance_get_monitor_stats() -> Annotated[CallToolResult, MonitorStats]:
    """Operations tracked, samples stored, baselines and all-time totals per operation
    (as `ipfs-kit performance monitor-stats --json`)."""
    return structured(caller().monitor.get_statistics())


@tool(title="Batch statistics", read_only=True)
def performance_get_batch_stats() -> Annotated[CallToolResult, BatchStats]:
    """Batches and operations run, success rate, rollbacks and the last batch
    (as `ipfs-kit performance batch-stats --json`)."""
    return structured(caller().batch.get_statistics())


@tool(title="Performance summary", read_only=True)
def performance_get_summary(timeframe: Timeframe = "1h") -> Annotated[CallToolResult, Summary]:
    """Cache, batch and monitor statistics, per-operation metrics, resources and bottlenecks in one
    document (as `ipfs-kit performance summary --json`)."""
    kit = caller()
    return structured(performance_summary(kit.monitor, kit.cache, kit.batch, timeframe=timeframe))
