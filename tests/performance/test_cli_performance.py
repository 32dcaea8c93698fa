"""`ipfs-kit performance ...` in real CLI processes, reading what earlier processes left."""

from __future__ import annotations

import pytest

from ipfs_kit_py.kit import Kit
from tests.conftest import assert_one_line_error


@pytest.fixture
def used_home(home):
    """A home where a previous process read blocks, ran operations and a batch."""
    kit = Kit(home)
    cid = kit.add(b"hello performance " * 20_000).cid
    for _ in range(25):
        kit.cat(cid)
    kit.batch.add_operation(divmod, 7, 2)
    kit.batch.add_operation(divmod, 7, 0)
    kit.batch.execute_batch()
    kit.close()
    return home


def test_stats_persist_into_a_new_cli_process(used_home, cli):
    cache = cli("performance", "cache-stats", "--json")
    assert cache.code == 0, cache.stderr
    stats = cache.json()
    assert stats["policy"] == "w-tinylfu"
    assert stats["hits"] >= 24 and stats["tiers"]["memory"]["hits"] == stats["hits"]
    assert stats["hit_rate_percent"] > 50

    metrics = cli("performance", "metrics", "--operation", "content.cat", "--timeframe", "24h", "--json").json()
    assert metrics["count"] == 25 and metrics["success_rate"] == 100.0
    assert metrics["p50_ms"] <= metrics["p95_ms"] <= metrics["p99_ms"]

    batch = cli("performance", "batch-stats", "--json").json()
    assert (batch["batches"], batch["succeeded"], batch["failed"]) == (1, 1, 1)

    monitor = cli("performance", "monitor-stats", "--json").json()
    assert monitor["operations"]["content.cat"]["count"] >= 25


def test_baseline_bottlenecks_resources_summary(used_home, cli):
    base = cli("performance", "baseline", "--operation", "content.cat", "--json")
    assert base.code == 0, base.stderr
    assert base.json()["count"] == 25
    assert "content.cat" in cli("performance", "monitor-stats", "--json").json()["baselines"]

    found = cli("performance", "bottlenecks", "--cpu-threshold", "100", "--memory-threshold", "0.001", "--json")
    assert found.code == 0, found.stderr
    assert any(b["type"] == "memory" for b in found.json())

    resources = cli("performance", "resources", "--json").json()
    assert resources["system"]["cpu_count"] >= 1 and resources["process"]["memory_rss_bytes"] > 0

    summary = cli("performance", "summary", "--json").json()
    assert set(summary) >= {"cache", "batch", "monitor", "operations", "resources", "bottlenecks"}
    assert summary["operations"]["content.cat"]["count"] == 25

    human = cli("performance", "cache-stats")
    assert human.code == 0 and "hit rate" in human.out


def test_cache_clear_and_invalidate(home, cli):
    cleared = cli("performance", "cache-clear", "--tier", "memory", "--json")
    assert cleared.code == 0, cleared.stderr
    assert cleared.json() == {"tier": "memory", "removed": {"memory": 0}}
    invalidated = cli("performance", "cache-invalidate", "--pattern", "*", "--json")
    assert invalidated.json() == {"pattern": "*", "removed": 0}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("cache-clear", "--tier", "gpu"), "unknown tier 'gpu'"),
        (("cache-clear", "--tier", "disk"), "no disk tier"),
        (("metrics", "--timeframe", "1y"), "unknown timeframe '1y'"),
        (("bottlenecks", "--cpu-threshold", "-5"), "cpu_threshold"),
        (("baseline", "--operation", "never.ran"), "no samples"),
        (("cache-invalidate", "--pattern", ""), "pattern"),
    ],
)
def test_bad_input_is_one_line(home, cli, args, fragment):
    assert_one_line_error(cli("performance", *args), fragment)
