"""Cache benchmark: hit ratios against Belady's OPT, and hit latency against raw libraries.

Run: python benchmarks/bench_cache.py [--quick]

1. Hit ratio. Synthetic traces generated here (seeded, so every run replays
   the same accesses) go through ``CacheManager`` (memory tier only) for each
   policy in read-through fashion: ``get``, and ``set`` on a miss. Belady's
   OPT (with bypass: on a miss the farthest-next-use item, the newcomer
   included, is dropped) is computed on the same trace as the ceiling.
     zipf        Zipf(0.9) over 20,000 keys
     zipf+scans  the same Zipf, interrupted by one-off sequential scans of
                 never-repeated keys (about a third of all accesses)
     loop        a cyclic loop over 1.25x the cache size
2. Latency. A memory-tier hit against the raw cachetools ``get`` (``LFUCache``
   for lfu, ``LRUCache`` for lru and w-tinylfu, which cachetools lacks) and a
   disk-tier hit against ``diskcache.Cache.get`` on the same keys and values,
   measured in this run (targets: within 4x and 1.5x).
"""

from __future__ import annotations

import argparse
import heapq
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cachetools
import diskcache
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ipfs_kit_py.performance.cache import CacheManager  # noqa: E402
from ipfs_kit_py.performance.policies import POLICIES  # noqa: E402

CACHE_SIZE = 1000


# ---- traces ---------------------------------------------------------------
def zipf_ranks(rng: np.random.Generator, n_keys: int, alpha: float, length: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, n_keys + 1) ** alpha
    ranks = rng.choice(n_keys, size=length, p=weights / weights.sum())
    return rng.permutation(n_keys)[ranks]  # popularity unrelated to key id


def trace_zipf(length: int, seed: int = 1) -> list[str]:
    rng = np.random.default_rng(seed)
    return [f"k{i}" for i in zipf_ranks(rng, 20_000, 0.9, length)]


def trace_zipf_scans(length: int, seed: int = 2) -> list[str]:
    """Zipf traffic; every 4,000 accesses a scan of 2,000 never-seen keys."""
    rng = np.random.default_rng(seed)
    zipf = iter(zipf_ranks(rng, 20_000, 0.9, length))
    out: list[str] = []
    scan_id = 0
    while len(out) < length:
        out.extend(f"k{next(zipf)}" for _ in range(4000))
        out.extend(f"scan{scan_id}-{j}" for j in range(2000))
        scan_id += 1
    return out[:length]


def trace_loop(length: int) -> list[str]:
    loop = int(CACHE_SIZE * 1.25)
    return [f"k{i % loop}" for i in range(length)]


# ---- replay -------------------------------------------------------------------
def replay(policy: str, trace: list[str]) -> float:
    cache = CacheManager(memory_policy=policy, memory_size=CACHE_SIZE, enable_disk=False)
    hits = 0
    get, put = cache.get, cache.set
    for key in trace:
        if get(key) is None:
            put(key, b"v")
        else:
            hits += 1
    cache.close()
    return hits / len(trace)


def belady_opt(trace: list[str], size: int) -> float:
    """Belady's MIN with bypass: evict whichever of (residents + newcomer) is next used farthest."""
    n = len(trace)
    next_use = [0] * n
    last: dict[str, int] = {}
    for i in range(n - 1, -1, -1):
        next_use[i] = last.get(trace[i], n + i)  # never again: distinct "infinite" times
        last[trace[i]] = i
    resident: dict[str, int] = {}  # key -> its next use
    heap: list[tuple[int, str]] = []  # (-next_use, key), lazily invalidated
    hits = 0
    for i, key in enumerate(trace):
        nxt = next_use[i]
        if key in resident:
            hits += 1
        elif len(resident) >= size:
            while True:
                far, victim = heap[0]
                if resident.get(victim) == -far:
                    break
                heapq.heappop(heap)
            if -far <= nxt:  # the newcomer is needed last: bypass it
                continue
            heapq.heappop(heap)
            del resident[victim]
        resident[key] = nxt
        heapq.heappush(heap, (-nxt, key))
    return hits / n


# ---- latency ----------------------------------------------------------------------
def per_call_ns(fn, keys: list, rounds: int) -> float:
    """Median over ``rounds`` of the mean ns per call across ``keys``."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for k in keys:
            fn(k)
        samples.append((time.perf_counter_ns() - start) / len(keys))
    return statistics.median(samples)


def memory_latency(policy: str) -> tuple[float, float]:
    keys = [f"key{i}" for i in range(CACHE_SIZE)]
    # the matching cachetools class where there is one; W-TinyLFU has none, LRU is the baseline
    raw = (cachetools.LFUCache if policy == "lfu" else cachetools.LRUCache)(CACHE_SIZE)
    ours = CacheManager(memory_policy=policy, memory_size=CACHE_SIZE, enable_disk=False)
    for k in keys:
        raw[k] = b"v" * 100
        ours.set(k, b"v" * 100)
    for k in keys:  # make everything resident in every policy (W-TinyLFU admits by frequency)
        ours.get(k)
    assert all(ours.get(k) is not None for k in keys)
    t_raw, t_ours = [], []
    for _ in range(30):  # interleave so load from other processes hits both alike
        t_raw.append(per_call_ns(raw.get, keys, 1))
        t_ours.append(per_call_ns(ours.get, keys, 1))
    ours.close()
    return statistics.median(t_raw), statistics.median(t_ours)


def disk_latency(value_size: int, workdir: Path) -> tuple[float, float, float]:
    """(raw diskcache get, our disk-tier get without memory tier, our disk hit + promotion)."""
    n = 500
    keys = [f"key{i}" for i in range(n)]
    value = os.urandom(value_size)
    raw = diskcache.Cache(str(workdir / f"raw{value_size}"))
    ours = CacheManager(memory_size=0, disk_path=workdir / f"ours{value_size}", disk_size_mb=1024)
    # memory tier smaller than the key set: every get is a disk hit that promotes and evicts
    promo = CacheManager(memory_size=10, disk_path=workdir / f"promo{value_size}", disk_size_mb=1024)
    for k in keys:
        raw.set(k, value)
        ours.set(k, value)
        promo.set(k, value)
    rounds = 15
    t_raw, t_ours, t_promo = [], [], []
    for _ in range(rounds):  # interleave so drift hits all three alike
        t_raw.append(per_call_ns(raw.get, keys, 1))
        t_ours.append(per_call_ns(ours.get, keys, 1))
        t_promo.append(per_call_ns(promo.get, keys, 1))
    assert ours.get(keys[0]) == value
    raw.close()
    ours.close()
    promo.close()
    return statistics.median(t_raw), statistics.median(t_ours), statistics.median(t_promo)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="shorter traces")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-ratio", action="store_true")
    args = parser.parse_args()
    length = 100_000 if args.quick else 300_000

    if not args.skip_ratio:
        traces = {"zipf": trace_zipf(length), "zipf+scans": trace_zipf_scans(length), "loop": trace_loop(length)}
        print(f"Hit ratio, cache = {CACHE_SIZE} entries, {length:,} accesses per trace")
        header = f"{'trace':<12}" + "".join(f"{p:>11}" for p in POLICIES) + f"{'OPT':>11}"
        print(header)
        results = {}
        for name, trace in traces.items():
            row = {p: replay(p, trace) for p in POLICIES}
            row["OPT"] = belady_opt(trace, CACHE_SIZE)
            results[name] = row
            print(f"{name:<12}" + "".join(f"{100 * row[p]:>10.2f}%" for p in (*POLICIES, "OPT")))
        default = "w-tinylfu"
        for name, row in results.items():
            print(f"  {name}: {default} - lru = {100 * (row[default] - row['lru']):+.2f} points; "
                  f"{default} reaches {100 * row[default] / row['OPT']:.1f}% of OPT")

    if not args.skip_latency:
        print("\nMemory-tier hit latency (ns per get, median of interleaved rounds) vs raw cachetools get")
        for policy in POLICIES:
            t_raw, t_ours = memory_latency(policy)
            ref = "LFUCache" if policy == "lfu" else "LRUCache"
            print(f"  {policy:<10} raw {ref}.get {t_raw:5.0f} ns   CacheManager.get {t_ours:5.0f} ns   "
                  f"ratio {t_ours / t_raw:.2f}x (target <= 4x)")
        workdir = Path(tempfile.mkdtemp(prefix="bench-cache-"))
        try:
            print("\nDisk-tier hit latency (us per get) vs raw diskcache.Cache.get, same keys and values")
            for size in (1024, 64 * 1024):
                t_raw, t_ours, t_promo = disk_latency(size, workdir)
                print(f"  {size // 1024:>3} KiB values: raw {t_raw / 1000:7.2f} us   disk tier {t_ours / 1000:7.2f} us "
                      f"(ratio {t_ours / t_raw:.2f}x, target <= 1.5x)   disk hit + promotion "
                      f"{t_promo / 1000:7.2f} us ({t_promo / t_raw:.2f}x)")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
