"""``PerformanceMonitor``: time operations, summarise them, find what is slow.

The hot path (``start_operation``/``end_operation``, ``record``, ``track``,
``timed``) only appends a tuple to a deque: no lock, no I/O. A background
thread (with ``state_path``) or the next query (in memory) drains the deque
into the sample store, so persistence costs the caller nothing per call.
With ``state_path`` (the Kit passes ``metrics.db``), samples and baselines are
in SQLite and every process sharing the home sees them.

Samples are kept for ``retention`` seconds (default 7 days; the Kit passes the
monitoring wizard's ``retention``): queries ignore older ones at once and the
next flush deletes them (then once an hour). Prometheus totals are never pruned.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import logging
import math
import os
import re
import sqlite3
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInput, NotFound
from .regression import MIN_SAMPLES, compare
from .resources import ResourceSampler
from .samples import MemorySampleStore, SqliteSampleStore

log = logging.getLogger(__name__)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TIMEFRAME = re.compile(r"^([1-9][0-9]*)([smhd])$")
RETENTION_S = 7 * 86400
_BASELINE_KEEP = 5000  # order statistics kept per baseline
_PRUNE_EVERY_S = 3600.0


def parse_timeframe(timeframe: str, limit: float = RETENTION_S) -> float:
    """``'1h'``, ``'24h'``, ``'7d'`` (any ``<n>s|m|h|d`` up to ``limit``, 7 days) -> seconds."""
    match = _TIMEFRAME.match(timeframe) if isinstance(timeframe, str) else None
    if not match:
        raise InvalidInput(f"unknown timeframe {timeframe!r}; use e.g. 1h, 24h or 7d")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds > limit:
        raise InvalidInput(
            f"timeframe {timeframe} is longer than the {duration_label(limit)} the monitor keeps")
    return float(seconds)


def duration_label(seconds: float) -> str:
    """604800 -> ``'7d'``, 86400 -> ``'1d'``, 7200 -> ``'2h'``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _check_retention(seconds: Any) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) \
            or not 0 < seconds < math.inf:
        raise InvalidInput(f"retention must be a number of seconds > 0, not {seconds!r}")
    return float(seconds)


def _check_threshold(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 100:
        raise InvalidInput(f"{what} must be a percentage in (0, 100], not {value!r}")
    return float(value)


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("operation name must be a non-empty string")
    return name


class _Tracker:
    """``with monitor.track(name) as t:`` -- success unless the block raises."""

    __slots__ = ("_monitor", "_name", "_start", "duration_ms")

    def __init__(self, monitor: PerformanceMonitor, name: str):
        self._monitor = monitor
        self._name = name
        self.duration_ms: float | None = None

    def __enter__(self) -> _Tracker:
        self._start = time.perf_counter()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        self.duration_ms = (time.perf_counter() - self._start) * 1000.0
        self._monitor.record(self._name, self.duration_ms, exc_type is None)
        return False


class PerformanceMonitor:
    def __init__(self, state_path: str | os.PathLike | None = None, *, flush_interval: float = 1.0,
                 clock: Callable[[], float] = time.time, max_pending: int = 50_000,
                 retention: float = RETENTION_S):
        self.state_path = Path(state_path) if state_path is not None else None
        self.retention_s = _check_retention(retention)
        self._store = SqliteSampleStore(self.state_path) if self.state_path else MemorySampleStore()
        self._pending: deque = deque()
        self._append = self._pending.append
        self._active: dict[int, tuple[str, float]] = {}
        self._ids = itertools.count(1)
        self._clock = clock
        self._perf = time.perf_counter
        self._max_pending = max_pending
        self._flush_lock = threading.Lock()
        self._last_prune = 0.0
        self._started_at = time.time()
        self._resources = ResourceSampler(self.state_path.parent if self.state_path else None)
        self._closed = False
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        if self.state_path is not None:
            self._flusher = threading.Thread(target=self._flush_loop, args=(flush_interval,),
                                             name="ipfs-kit-monitor-flush", daemon=True)
            self._flusher.start()
        self._atexit = functools.partial(_close_at_exit, weakref.ref(self))
        atexit.register(self._atexit)

    # ---- hot path ----------------------------------------------------------
    def start_operation(self, name: str) -> int:
        """Start timing ``name``; returns the id to pass to ``end_operation``."""
        op_id = next(self._ids)
        self._active[op_id] = (name, self._perf())
        return op_id

    def end_operation(self, op_id: int, success: bool = True) -> float:
        """Stop timing ``op_id``; returns its duration in ms."""
        end = self._perf()
        try:
            name, start = self._active.pop(op_id)
        except (KeyError, TypeError):
            raise InvalidInput(f"unknown operation id {op_id!r}: never started, or already ended") from None
        ms = (end - start) * 1000.0
        self._append((name, self._clock(), ms, bool(success)))
        if len(self._pending) >= self._max_pending:
            self.flush()
        return ms

    def record(self, name: str, duration_ms: float, success: bool = True, timestamp: float | None = None) -> None:
        """Add one finished operation (the Kit's instrumentation wrapper calls this)."""
        try:
            bad = type(name) is not str or not name or not (duration_ms >= 0)  # `not >=` rejects NaN
        except TypeError:
            bad = True
        if bad:
            _check_name(name)
            raise InvalidInput(f"duration_ms must be a number >= 0, not {duration_ms!r}")
        self._append((name, self._clock() if timestamp is None else float(timestamp), float(duration_ms),
                      bool(success)))
        if len(self._pending) >= self._max_pending:
            self.flush()

    def track(self, name: str) -> _Tracker:
        """Context manager timing its block as operation ``name``."""
        return _Tracker(self, _check_name(name))

    def timed(self, name: str | None = None) -> Callable[[Callable], Callable]:
        """Decorator timing every call of the function (name defaults to its qualified name)."""

        def decorate(fn: Callable) -> Callable:
            op_name = _check_name(name) if name is not None else fn.__qualname__

            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                ok = False
                try:
                    result = fn(*args, **kwargs)
                    ok = True
                    return result
                finally:
                    self.record(op_name, (time.perf_counter() - start) * 1000.0, ok)

            return wrapper

        return decorate

    # ---- draining ------------------------------------------------------------------
    def flush(self) -> None:
        """Move pending samples into the store (SQLite: one transaction)."""
        with self._flush_lock:
            pending = self._pending
            rows = [pending.popleft() for _ in range(len(pending))]
            if rows:
                try:
                    self._store.append(rows)
                except sqlite3.OperationalError:
                    # The metrics database cannot take them now (disk full, locked
                    # too long). Samples are best effort: count them as dropped
                    # rather than fail the operation or command that flushed.
                    self._store.dropped += len(rows)
                    return
            now = self._clock()
            if now - self._last_prune >= _PRUNE_EVERY_S:
                self._last_prune = now
                self._store.prune(now - self.retention_s)

    def set_retention(self, seconds: float) -> None:
        """Keep samples for ``seconds`` from now on; shortening it prunes on the next flush."""
        seconds = _check_retention(seconds)
        if seconds < self.retention_s:
            self._last_prune = 0.0
        self.retention_s = seconds

    def _parse_timeframe(self, timeframe: str) -> float:
        return parse_timeframe(timeframe, max(RETENTION_S, self.retention_s))

    def _window(self, name: str | None, since: float, now: float) -> dict:
        """Samples since ``since``, never older than the retention (even before they are pruned)."""
        return self._store.window(name, max(since, now - self.retention_s))

    def _flush_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.flush()
            except Exception:  # keep the flusher alive; the next round retries
                log.exception("performance monitor could not save samples")

    # ---- queries -------------------------------------------------------------------
    def get_metrics(self, name: str | None = None, timeframe: str = "1h") -> dict[str, Any]:
        """Count, success rate, mean and exact p50/p95/p99 over every sample in the window.

        With ``name=None``: ``{"timeframe": ..., "operations": {name: metrics}}``.
        """
        seconds = self._parse_timeframe(timeframe)
        if name is not None:
            _check_name(name)
        self.flush()
        now = self._clock()
        data = self._window(name, now - seconds, now)
        if name is not None:
            return self._summarize(name, data.get(name), timeframe, seconds)
        return {"timeframe": timeframe,
                "operations": {n: self._summarize(n, data[n], timeframe, seconds) for n in sorted(data)}}

    @staticmethod
    def _summarize(name: str, series: Any, timeframe: str, seconds: float) -> dict[str, Any]:
        out: dict[str, Any] = {"operation": name, "timeframe": timeframe, "count": 0, "successes": 0,
                               "failures": 0, "success_rate": None, "mean_ms": None, "min_ms": None,
                               "max_ms": None, "p50_ms": None, "p95_ms": None, "p99_ms": None,
                               "throughput_per_s": 0.0, "first_at": None, "last_at": None}
        if series is None or not len(series[1]):
            return out
        ts, durations, ok = series
        count = len(durations)
        successes = int(ok.sum())
        p50, p95, p99 = np.percentile(durations, [50, 95, 99])
        out.update(count=count, successes=successes, failures=count - successes,
                   success_rate=100.0 * successes / count, mean_ms=float(durations.mean()),
                   min_ms=float(durations.min()), max_ms=float(durations.max()),
                   p50_ms=float(p50), p95_ms=float(p95), p99_ms=float(p99),
                   throughput_per_s=count / seconds, first_at=float(ts.min()), last_at=float(ts.max()))
        return out

    def get_resource_usage(self, interval: float = 0.5) -> dict[str, Any]:
        """Process and system CPU, memory, disk and network rates (see ``resources``)."""
        if isinstance(interval, bool) or not isinstance(interval, int | float) or not 0 < interval <= 60:
            raise InvalidInput(f"interval must be between 0 and 60 seconds, not {interval!r}")
        return self._resources.usage(interval)

    # ---- baselines and regressions -------------------------------------------------
    def set_baseline(self, name: str, timeframe: str = "24h") -> dict[str, Any]:
        """Store ``name``'s current latency distribution (the window's samples) as its baseline."""
        _check_name(name)
        seconds = self._parse_timeframe(timeframe)
        self.flush()
        now = self._clock()
        series = self._window(name, now - seconds, now).get(name)
        durations = series[1] if series is not None else np.empty(0)
        n = len(durations)
        if n == 0:
            raise NotFound(f"operation {name!r} has no samples in the last {timeframe}; run it first")
        if n < MIN_SAMPLES:
            raise InvalidInput(f"operation {name!r} has only {n} samples in the last {timeframe}; "
                               f"a baseline needs at least {MIN_SAMPLES}")
        ordered = np.sort(durations)
        kept = ordered if n <= _BASELINE_KEEP else ordered[np.linspace(0, n - 1, _BASELINE_KEEP).round().astype(int)]
        p50, p95, p99 = np.percentile(durations, [50, 95, 99])
        record = {"operation": name, "set_at": now, "timeframe": timeframe, "count": n,
                  "mean_ms": float(durations.mean()), "p50_ms": float(p50), "p95_ms": float(p95),
                  "p99_ms": float(p99), "samples": kept}
        self._store.set_baseline(name, record)
        return {k: v for k, v in record.items() if k != "samples"}

    def get_baseline(self, name: str) -> dict[str, Any] | None:
        record = self._store.get_baseline(_check_name(name))
        return None if record is None else {k: v for k, v in record.items() if k != "samples"}

    def check_regression(self, name: str, timeframe: str = "1h", *, alpha: float = 0.01,
                         min_ratio: float = 1.2) -> dict[str, Any]:
        """Compare samples since the baseline (within ``timeframe``) against it (Mann-Whitney U)."""
        _check_name(name)
        seconds = self._parse_timeframe(timeframe)
        baseline = self._store.get_baseline(name)
        if baseline is None:
            raise NotFound(f"no baseline for operation {name!r}; set one with "
                           f"`ipfs-kit performance baseline --operation {name}`")
        self.flush()
        now = self._clock()
        series = self._window(name, max(now - seconds, baseline["set_at"]), now).get(name)
        current = series[1] if series is not None else np.empty(0)
        verdict = compare(current, baseline["samples"], alpha=alpha, min_ratio=min_ratio)
        summary = {k: v for k, v in baseline.items() if k != "samples"}
        return {"operation": name, "timeframe": timeframe, "baseline": summary, **verdict}

    def detect_bottlenecks(self, cpu_threshold: float = 80.0, memory_threshold: float = 80.0, *,
                           timeframe: str = "1h", interval: float = 0.5, error_rate_threshold: float = 10.0,
                           usage: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Resource pressure and slow or failing operations, each with a reason; worst first.

        - CPU: system CPU, or this process's CPU (percent of one core), at or above ``cpu_threshold``.
        - Memory: system memory, or this process's share of it, at or above ``memory_threshold``.
        - Slow operation: samples in ``timeframe`` are slower than the operation's baseline (or,
          without one, than its own earlier history), by a Mann-Whitney test and >= 1.2x p50/p95.
        - Errors: failure rate at or above ``error_rate_threshold`` percent (>= 20 samples).
        """
        cpu_threshold = _check_threshold(cpu_threshold, "cpu_threshold")
        memory_threshold = _check_threshold(memory_threshold, "memory_threshold")
        error_rate_threshold = _check_threshold(error_rate_threshold, "error_rate_threshold")
        seconds = self._parse_timeframe(timeframe)
        usage = usage or self.get_resource_usage(interval)
        findings: list[dict[str, Any]] = []

        def resource(kind: str, scope: str, value: float | None, threshold: float, what: str) -> None:
            if value is None or value < threshold:
                return
            severity = "critical" if value >= threshold + (100.0 - threshold) / 2 else "warning"
            findings.append({"type": kind, "scope": scope, "severity": severity, "value": value,
                             "threshold": threshold,
                             "reason": f"{what} at {value:.1f}% (threshold {threshold:g}%)"})

        resource("cpu", "system", usage["system"]["cpu_percent"], cpu_threshold, "system CPU")
        resource("cpu", "process", usage["process"]["cpu_percent"], cpu_threshold,
                 "this process's CPU (percent of one core)")
        resource("memory", "system", usage["system"]["memory_percent"], memory_threshold, "system memory")
        resource("memory", "process", usage["process"]["memory_percent"], memory_threshold,
                 "this process's memory")
        findings.extend(self._operation_findings(seconds, timeframe, error_rate_threshold))
        order = {"critical": 0, "warning": 1}
        findings.sort(key=lambda f: order[f["severity"]])
        return findings

    def _operation_findings(self, seconds: float, timeframe: str, error_rate_threshold: float) -> list[dict]:
        self.flush()
        now = self._clock()
        since = now - seconds
        history = self._window(None, now - self.retention_s, now)
        baselines = self._store.baselines()
        findings = []
        for name, (ts, durations, ok) in sorted(history.items()):
            recent = ts >= since
            n = int(recent.sum())
            if not n:
                continue
            failures = n - int(ok[recent].sum())
            if n >= MIN_SAMPLES and 100.0 * failures / n >= error_rate_threshold:
                rate = 100.0 * failures / n
                findings.append({"type": "errors", "scope": "operation", "operation": name,
                                 "severity": "critical" if rate >= 50 else "warning", "value": rate,
                                 "threshold": error_rate_threshold,
                                 "reason": f"{name}: {failures} of {n} failed in the last {timeframe} ({rate:.1f}%)"})
            base = baselines.get(name)
            if base is not None:
                verdict = compare(durations[ts >= max(since, base["set_at"])], base["samples"])
                reference = "baseline"
            else:
                verdict = compare(durations[recent], durations[~recent])
                reference = "earlier history"
            if verdict["regressed"]:
                ratio = verdict["p95_ratio"]
                findings.append({"type": "slow_operation", "scope": "operation", "operation": name,
                                 "severity": "critical" if ratio >= 2 or math.isinf(ratio) else "warning",
                                 "reference": reference, "value": ratio, "threshold": 1.2,
                                 "p_value": verdict["p_value"],
                                 "reason": f"{name} is slower than its {reference}: {verdict['reason']}"})
        return findings

    # ---- statistics ------------------------------------------------------------------
    def get_statistics(self) -> dict[str, Any]:
        self.flush()
        totals = self._store.totals()
        return {
            "state_path": str(self.state_path) if self.state_path else None,
            "operations_tracked": len(totals),
            "total_operations": sum(t["count"] for t in totals.values()),
            "total_failures": sum(t["failures"] for t in totals.values()),
            "samples_stored": self._store.sample_count(),
            "samples_dropped": self._store.dropped,
            "retention": duration_label(self.retention_s),
            "active_operations": len(self._active),
            "baselines": sorted(self._store.baselines()),
            "started_at": self._started_at,
            "uptime_s": round(time.time() - self._started_at, 3),
            "operations": {
                name: {"count": t["count"], "failures": t["failures"],
                       "mean_ms": t["sum_ms"] / t["count"] if t["count"] else None}
                for name, t in sorted(totals.items())
            },
        }

    def operation_totals(self) -> dict[str, dict[str, Any]]:
        """All-time count, failures, sum and histogram per operation (for Prometheus)."""
        self.flush()
        return self._store.totals()

    # ---- lifecycle ------------------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self._atexit)
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(timeout=10)
        try:
            self.flush()
        finally:
            self._store.close()

    def __enter__(self) -> PerformanceMonitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _close_at_exit(ref: weakref.ref) -> None:
    monitor = ref()
    if monitor is not None and not monitor._closed:
        try:
            monitor.close()
        except Exception:  # interpreter shutdown: never raise from atexit
            pass
