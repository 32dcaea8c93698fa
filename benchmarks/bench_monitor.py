"""Monitor overhead: a start_operation/end_operation pair against a plain loop.

Run: python benchmarks/bench_monitor.py

The reference is the same loop calling a no-op function twice (what any
instrumentation must at least cost); the figure that matters is the pair's
absolute cost (target <= 3 us). Also measured: ``record`` (the Kit's path)
and ``with track()``, in memory and with SQLite persistence (buffered: the
background thread and the occasional inline drain are included in the time).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ipfs_kit_py.performance.monitor import PerformanceMonitor  # noqa: E402

N = 200_000
ROUNDS = 7


def per_iteration_us(body) -> float:
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        body(N)
        samples.append((time.perf_counter() - start) / N * 1e6)
    return statistics.median(samples)


def noop(_=None):
    return None


def plain_loop(n: int) -> None:
    for _ in range(n):
        noop("x")
        noop(1)


def measure(monitor: PerformanceMonitor) -> dict[str, float]:
    start_op, end_op, record = monitor.start_operation, monitor.end_operation, monitor.record

    def pairs(n):
        for _ in range(n):
            end_op(start_op("bench.op"))

    def records(n):
        for _ in range(n):
            record("bench.op", 1.5)

    def tracks(n):
        track = monitor.track
        for _ in range(n):
            with track("bench.op"):
                pass

    return {"start/end pair": per_iteration_us(pairs), "record()": per_iteration_us(records),
            "with track()": per_iteration_us(tracks)}


def main() -> None:
    reference = per_iteration_us(plain_loop)
    print(f"plain loop with two no-op calls: {reference:.3f} us per iteration (reference)")
    with tempfile.TemporaryDirectory() as tmp:
        for label, monitor in (("in memory", PerformanceMonitor()),
                               ("SQLite (metrics.db)", PerformanceMonitor(Path(tmp) / "metrics.db"))):
            results = measure(monitor)
            monitor.close()
            for name, us in results.items():
                verdict = "  (target <= 3 us)" if name == "start/end pair" else ""
                print(f"  {label:<20} {name:<15} {us:6.3f} us   {us / reference:5.1f}x the plain loop{verdict}")


if __name__ == "__main__":
    main()
