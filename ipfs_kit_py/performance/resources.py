"""Resource usage from two psutil readings: rates, not cumulative counters.

Every figure that psutil reports as a running total (CPU times, disk and
network bytes) is turned into a rate over the interval between two readings.
The previous reading is reused when it is recent enough (a dashboard polling
every few seconds gets the rate since its last poll); otherwise two readings
``interval`` seconds apart are taken.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import psutil


@dataclass
class _Reading:
    at: float
    process_cpu: float  # user + system seconds of this process
    system_busy: float
    system_total: float
    disk: Any
    net: Any


def _system_times() -> tuple[float, float]:
    times = psutil.cpu_times()
    total = sum(times)
    idle = times.idle + getattr(times, "iowait", 0.0)
    return total - idle, total


class ResourceSampler:
    def __init__(self, disk_path: str | os.PathLike | None = None, max_age: float = 60.0):
        self._process = psutil.Process()
        self._disk_path = str(disk_path) if disk_path else os.getcwd()
        self._max_age = max_age
        self._last: _Reading | None = None
        self._lock = threading.Lock()

    def _read(self) -> _Reading:
        cpu = self._process.cpu_times()
        busy, total = _system_times()
        try:
            disk = psutil.disk_io_counters()
        except (OSError, RuntimeError):
            disk = None
        try:
            net = psutil.net_io_counters()
        except (OSError, RuntimeError):
            net = None
        return _Reading(time.monotonic(), cpu.user + cpu.system, busy, total, disk, net)

    def usage(self, interval: float = 0.5) -> dict[str, Any]:
        """Process and system usage; CPU, disk and network as rates over >= ``interval`` s."""
        with self._lock:
            previous = self._last
            now = self._read()
            if previous is None or not (interval <= now.at - previous.at <= self._max_age):
                previous = now
                time.sleep(interval)
                now = self._read()
            self._last = now
        return self._describe(previous, now)

    def _describe(self, a: _Reading, b: _Reading) -> dict[str, Any]:
        elapsed = max(b.at - a.at, 1e-9)
        system_total = b.system_total - a.system_total
        system_cpu = 100.0 * (b.system_busy - a.system_busy) / system_total if system_total > 0 else 0.0
        process_cpu = 100.0 * (b.process_cpu - a.process_cpu) / elapsed
        cpus = psutil.cpu_count() or 1
        proc = self._process
        with proc.oneshot():
            mem = proc.memory_info()
            threads = proc.num_threads()
            fds = proc.num_fds() if hasattr(proc, "num_fds") else None
        vm = psutil.virtual_memory()

        def rate(field: str, src_a: Any, src_b: Any) -> float | None:
            if src_a is None or src_b is None:
                return None
            return max(0.0, (getattr(src_b, field) - getattr(src_a, field)) / elapsed)

        try:
            disk_usage = psutil.disk_usage(self._disk_path).percent
        except OSError:
            disk_usage = None
        load = os.getloadavg() if hasattr(os, "getloadavg") else (None, None, None)
        return {
            "timestamp": time.time(),
            "interval_s": round(elapsed, 3),
            "process": {
                "pid": proc.pid,
                # percent of one core, like top: a GIL-bound process tops out near 100
                "cpu_percent": round(process_cpu, 2),
                "cpu_percent_of_machine": round(process_cpu / cpus, 2),
                "memory_rss_bytes": mem.rss,
                "memory_percent": round(100.0 * mem.rss / vm.total, 3),
                "threads": threads,
                "open_fds": fds,
            },
            "system": {
                "cpu_percent": round(max(0.0, min(100.0, system_cpu)), 2),
                "cpu_count": cpus,
                "load_average_1m": load[0],
                "memory_percent": vm.percent,
                "memory_used_bytes": vm.total - vm.available,
                "memory_total_bytes": vm.total,
                "disk_usage_percent": disk_usage,
                "disk_read_bytes_per_s": rate("read_bytes", a.disk, b.disk),
                "disk_write_bytes_per_s": rate("write_bytes", a.disk, b.disk),
                "net_sent_bytes_per_s": rate("bytes_sent", a.net, b.net),
                "net_recv_bytes_per_s": rate("bytes_recv", a.net, b.net),
            },
        }
