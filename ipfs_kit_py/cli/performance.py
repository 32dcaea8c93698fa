"""`ipfs-kit performance ...`: cache, monitor and batch statistics, bottlenecks, baselines.

Statistics come from the home directory, so a new CLI process shows what the
service and earlier runs recorded: cache and batch counters from their stats
files, operation samples and baselines from ``metrics.db``. The block cache's
memory tier itself lives in each process: ``cache-clear``/``cache-invalidate``
act on this process's memory tier and on shared tiers (disk, Redis).
"""

from __future__ import annotations

import click

from ..performance.summary import performance_summary
from .common import emit, json_option, pass_kit, print_table


def _kv(data: dict, prefix: str = "") -> None:
    """Nested dict as aligned ``key: value`` lines."""
    for key, value in data.items():
        if isinstance(value, dict):
            click.echo(f"{prefix}{key}:")
            _kv(value, prefix + "  ")
        elif isinstance(value, float):
            click.echo(f"{prefix}{key}: {value:.3f}".rstrip("0").rstrip("."))
        else:
            click.echo(f"{prefix}{key}: {value}")


def _show_cache(stats: dict) -> None:
    click.echo(f"policy {stats['policy']}: hit rate {stats['hit_rate_percent']}% "
               f"({stats['hits']} hits, {stats['misses']} misses)")
    rows = [{"tier": name, **tier} for name, tier in stats["tiers"].items() if tier["enabled"]]
    print_table(rows, ["tier", "hits", "misses", "evictions", "expirations", "entries", "bytes"])


def _show_bottlenecks(findings: list) -> None:
    if not findings:
        click.echo("no bottlenecks found")
        return
    print_table(findings, ["severity", "type", "scope", "reason"])


def _show_metrics(data: dict) -> None:
    if "operations" in data:
        rows = list(data["operations"].values())
        if not rows:
            click.echo(f"no operations recorded in the last {data['timeframe']}")
            return
    else:
        rows = [data]
    print_table(rows, ["operation", "count", "success_rate", "mean_ms", "p50_ms", "p95_ms", "p99_ms",
                       "throughput_per_s"])


@click.group("performance")
def performance_group() -> None:
    """Cache, batch and operation performance: statistics, bottlenecks, baselines."""


@performance_group.command("cache-stats")
@json_option
@pass_kit
def cache_stats(kit, as_json):
    """Block cache hit rate, and hits, misses, evictions, entries and bytes per tier."""
    emit(kit.cache.get_statistics(), as_json, _show_cache)


@performance_group.command("cache-clear")
@click.option("--tier", default="all", show_default=True, help="memory, disk, redis or all.")
@json_option
@pass_kit
def cache_clear(kit, tier, as_json):
    """Empty one cache tier, or all of them."""
    removed = kit.cache.clear(tier)
    emit({"tier": tier, "removed": removed}, as_json,
         lambda r: click.echo(", ".join(f"{t}: {n} removed" for t, n in r["removed"].items()) or "nothing to clear"))


@performance_group.command("cache-invalidate")
@click.option("--pattern", required=True, help="fnmatch pattern, e.g. 'user:*' (binary keys match as hex).")
@json_option
@pass_kit
def cache_invalidate(kit, pattern, as_json):
    """Remove every cache entry whose key matches the pattern."""
    removed = kit.cache.invalidate_pattern(pattern)
    emit({"pattern": pattern, "removed": removed}, as_json, lambda r: click.echo(f"{r['removed']} entries removed"))


@performance_group.command("metrics")
@click.option("--operation", help="Operation name (e.g. content.add); all operations if omitted.")
@click.option("--timeframe", default="1h", show_default=True, help="Window: 1h, 24h, 7d (or <n>s|m|h|d).")
@json_option
@pass_kit
def metrics(kit, operation, timeframe, as_json):
    """Count, success rate, mean and p50/p95/p99 latency over the window."""
    emit(kit.monitor.get_metrics(operation, timeframe), as_json, _show_metrics)


@performance_group.command("bottlenecks")
@click.option("--cpu-threshold", type=float, default=80.0, show_default=True, help="CPU percent.")
@click.option("--memory-threshold", type=float, default=80.0, show_default=True, help="Memory percent.")
@json_option
@pass_kit
def bottlenecks(kit, cpu_threshold, memory_threshold, as_json):
    """Resource pressure and slow or failing operations, with reasons."""
    emit(kit.monitor.detect_bottlenecks(cpu_threshold, memory_threshold), as_json, _show_bottlenecks)


@performance_group.command("resources")
@json_option
@pass_kit
def resources(kit, as_json):
    """Process and system CPU, memory, disk and network rates."""
    emit(kit.monitor.get_resource_usage(), as_json, _kv)


@performance_group.command("baseline")
@click.option("--operation", required=True, help="Operation whose current latency becomes its baseline.")
@click.option("--timeframe", default="24h", show_default=True, help="Samples to take the baseline from.")
@json_option
@pass_kit
def baseline(kit, operation, timeframe, as_json):
    """Store an operation's current latency distribution; later runs are compared with it."""
    emit(kit.monitor.set_baseline(operation, timeframe), as_json, _kv)


@performance_group.command("monitor-stats")
@json_option
@pass_kit
def monitor_stats(kit, as_json):
    """Operations tracked, samples stored, baselines."""
    emit(kit.monitor.get_statistics(), as_json, _kv)


@performance_group.command("batch-stats")
@json_option
@pass_kit
def batch_stats(kit, as_json):
    """Batches and operations run, success rate, rollbacks."""
    emit(kit.batch.get_statistics(), as_json, _kv)


@performance_group.command("summary")
@click.option("--timeframe", default="1h", show_default=True, help="Window for operation metrics.")
@json_option
@pass_kit
def summary(kit, timeframe, as_json):
    """Everything above in one document."""
    emit(performance_summary(kit.monitor, kit.cache, kit.batch, timeframe=timeframe), as_json, _show_summary)


def _show_summary(data: dict) -> None:
    click.echo("== cache")
    _show_cache(data["cache"])
    click.echo("== operations")
    _show_metrics({"timeframe": data["timeframe"], "operations": data["operations"]})
    click.echo("== bottlenecks")
    _show_bottlenecks(data["bottlenecks"])
    click.echo("== batch")
    _kv({k: v for k, v in data["batch"].items() if k != "last_batch"})


def register(cli: click.Group) -> None:
    cli.add_command(performance_group)
