"""PerformanceMonitor: timing, exact quantiles, persistence, baselines, bottlenecks, resources."""

from __future__ import annotations

import itertools
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from ipfs_kit_py.errors import InvalidInput, NotFound
from ipfs_kit_py.performance.regression import compare, mann_whitney_greater
from ipfs_kit_py.performance_monitor import PerformanceMonitor


@pytest.fixture
def monitor():
    m = PerformanceMonitor()
    yield m
    m.close()


def test_seed_usage(monitor):
    op_id = monitor.start_operation("data_processing")
    time.sleep(0.002)
    duration = monitor.end_operation(op_id, success=True)
    assert duration >= 2.0
    metrics = monitor.get_metrics("data_processing", timeframe="1h")
    assert metrics["count"] == 1 and metrics["success_rate"] == 100.0
    assert metrics["p50_ms"] == pytest.approx(duration)
    assert isinstance(monitor.detect_bottlenecks(cpu_threshold=80.0, memory_threshold=80.0, interval=0.1), list)


def test_quantiles_are_exact_against_numpy(monitor):
    rng = np.random.default_rng(7)
    samples = rng.lognormal(mean=1.0, sigma=0.8, size=5000)
    ok = rng.random(5000) > 0.1
    for duration, success in zip(samples, ok, strict=True):
        monitor.record("op", float(duration), bool(success))
    m = monitor.get_metrics("op", "1h")
    expected = np.percentile(samples, [50, 95, 99])
    assert (m["p50_ms"], m["p95_ms"], m["p99_ms"]) == pytest.approx(tuple(expected), rel=1e-12)
    assert m["mean_ms"] == pytest.approx(samples.mean())
    assert m["count"] == 5000 and m["failures"] == int((~ok).sum())
    assert m["success_rate"] == pytest.approx(100.0 * ok.mean())
    assert m["throughput_per_s"] == pytest.approx(5000 / 3600)


def test_timeframes_select_samples_by_time():
    now = 1_700_000_000.0
    m = PerformanceMonitor(clock=lambda: now)
    m.record("op", 1.0, timestamp=now - 10)
    m.record("op", 2.0, timestamp=now - 2 * 3600)
    m.record("op", 3.0, timestamp=now - 3 * 86400)
    m.record("op", 4.0, timestamp=now - 8 * 86400)  # beyond retention
    assert m.get_metrics("op", "1h")["count"] == 1
    assert m.get_metrics("op", "24h")["count"] == 2
    assert m.get_metrics("op", "7d")["count"] == 3
    assert m.get_metrics("op", "30m")["max_ms"] == 1.0
    everything = m.get_metrics(None, "7d")
    assert list(everything["operations"]) == ["op"]
    m.close()


def test_track_and_timed_record_outcomes(monitor):
    with monitor.track("ctx"):
        pass
    with pytest.raises(RuntimeError), monitor.track("ctx"):
        raise RuntimeError("x")

    @monitor.timed("decorated")
    def work(fail):
        if fail:
            raise ValueError("no")
        return 42

    assert work(False) == 42
    with pytest.raises(ValueError):
        work(True)

    @monitor.timed()
    def named_by_function():
        return 1

    named_by_function()
    ctx = monitor.get_metrics("ctx")
    assert (ctx["count"], ctx["failures"]) == (2, 1)
    dec = monitor.get_metrics("decorated")
    assert (dec["count"], dec["successes"]) == (2, 1)
    assert monitor.get_metrics("test_track_and_timed_record_outcomes.<locals>.named_by_function")["count"] == 1


def test_bad_input(monitor):
    with pytest.raises(InvalidInput, match="unknown operation id"):
        monitor.end_operation(12345)
    op = monitor.start_operation("x")
    monitor.end_operation(op)
    with pytest.raises(InvalidInput, match="already ended"):
        monitor.end_operation(op)
    for bad in ("1y", "", "h", "0h", "8d", 5):
        with pytest.raises(InvalidInput, match="timeframe"):
            monitor.get_metrics("x", bad)
    with pytest.raises(InvalidInput, match="duration_ms"):
        monitor.record("x", -1.0)
    with pytest.raises(InvalidInput, match="duration_ms"):
        monitor.record("x", float("nan"))
    with pytest.raises(InvalidInput, match="operation name"):
        monitor.record("", 1.0)
    for kwargs in ({"cpu_threshold": 0}, {"cpu_threshold": 150}, {"memory_threshold": -1}):
        with pytest.raises(InvalidInput, match="threshold"):
            monitor.detect_bottlenecks(**kwargs)


# ---- persistence --------------------------------------------------------------

def test_samples_are_buffered_then_persisted(tmp_path):
    db = tmp_path / "metrics.db"
    m = PerformanceMonitor(db, flush_interval=3600)  # the background flush will not run in this test
    for i in range(100):
        m.record("op", float(i))
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COALESCE(SUM(n), 0) FROM perf_blocks").fetchone()[0] == 0  # no per-call I/O
    m.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COALESCE(SUM(n), 0) FROM perf_blocks").fetchone()[0] == 100


def test_background_flush_makes_samples_visible_to_another_process(tmp_path):
    db = tmp_path / "metrics.db"
    m = PerformanceMonitor(db, flush_interval=0.05)
    for i in range(30):
        m.record("service.op", 5.0 + i)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as conn:
            if conn.execute("SELECT COALESCE(SUM(n), 0) FROM perf_blocks").fetchone()[0] == 30:
                break
        time.sleep(0.02)
    script = (
        "import sys, json\n"
        "from ipfs_kit_py.performance_monitor import PerformanceMonitor\n"
        "m = PerformanceMonitor(sys.argv[1])\n"
        "print(json.dumps(m.get_metrics('service.op', '1h')))\n"
        "m.close()\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(db)], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    import json

    metrics = json.loads(out)
    assert metrics["count"] == 30 and metrics["p50_ms"] == pytest.approx(np.percentile(5.0 + np.arange(30), 50))
    m.close()


def test_baselines_persist_and_totals_accumulate(tmp_path):
    db = tmp_path / "metrics.db"
    m = PerformanceMonitor(db)
    for i in range(40):
        m.record("op", 10.0 + (i % 5), success=i != 0)
    summary = m.set_baseline("op")
    m.close()
    again = PerformanceMonitor(db)
    assert again.get_baseline("op") == summary
    assert summary["count"] == 40 and summary["p50_ms"] == 12.0
    again.record("op", 1.0)
    stats = again.get_statistics()
    assert stats["total_operations"] == 41 and stats["total_failures"] == 1
    assert stats["baselines"] == ["op"]
    assert stats["operations"]["op"]["count"] == 41
    again.close()


# ---- baselines and regressions ------------------------------------------------

def test_baseline_needs_samples(monitor):
    with pytest.raises(NotFound, match="no samples"):
        monitor.set_baseline("never")
    for _ in range(5):
        monitor.record("few", 1.0)
    with pytest.raises(InvalidInput, match="only 5 samples"):
        monitor.set_baseline("few")
    with pytest.raises(NotFound, match="no baseline"):
        monitor.check_regression("few")


def test_regression_detection_is_statistical():
    clock = itertools.count(1_700_000_000.0, 0.001)
    m = PerformanceMonitor(clock=lambda: next(clock))
    rng = np.random.default_rng(3)
    for d in rng.normal(10.0, 1.0, 300):
        m.record("op", float(abs(d)))
    m.set_baseline("op")
    m.record("op", 25.0)  # one slow sample is not a regression
    verdict = m.check_regression("op")
    assert verdict["regressed"] is False and "not enough samples" in verdict["reason"]
    for d in rng.normal(10.0, 1.0, 200):  # same distribution: no regression
        m.record("op", float(abs(d)))
    assert m.check_regression("op")["regressed"] is False
    for d in rng.normal(16.0, 1.5, 200):  # 60% slower
        m.record("op", float(abs(d)))
    verdict = m.check_regression("op")
    assert verdict["regressed"] is True
    assert verdict["p_value"] < 1e-6 and verdict["p95_ratio"] > 1.2
    m.close()


def test_mann_whitney_u_matches_its_definition():
    rng = np.random.default_rng(11)
    x = rng.integers(0, 8, 40).astype(float)  # many ties
    y = rng.integers(0, 6, 35).astype(float)
    u, p = mann_whitney_greater(x, y)
    brute = sum((xi > yj) + 0.5 * (xi == yj) for xi in x for yj in y)
    assert u == pytest.approx(brute)
    # p-value against a permutation test on the same data
    combined = np.concatenate([x, y])
    perm_u = []
    for _ in range(2000):
        rng.shuffle(combined)
        a, b = combined[:40], combined[40:]
        perm_u.append((a[:, None] > b[None, :]).sum() + 0.5 * (a[:, None] == b[None, :]).sum())
    assert p == pytest.approx(np.mean(np.array(perm_u) >= brute), abs=0.03)


def test_compare_requires_a_practical_effect():
    rng = np.random.default_rng(5)
    base = rng.normal(100, 5, 20_000)
    slightly = rng.normal(101, 5, 20_000)  # significant with this n, but only 1% slower
    verdict = compare(slightly, base)
    assert verdict["p_value"] < 0.01 and verdict["regressed"] is False


# ---- bottlenecks and resources --------------------------------------------------

def _spin(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(i * i for i in range(1000))


def test_cpu_burner_in_this_process_is_a_bottleneck(monitor):
    idle = monitor.detect_bottlenecks(cpu_threshold=30, memory_threshold=100, interval=0.4)
    assert not [b for b in idle if b["type"] == "cpu" and b["scope"] == "process"]
    stop = threading.Event()
    burner = threading.Thread(target=_spin, args=(stop,))
    burner.start()
    try:
        time.sleep(0.05)
        busy = monitor.detect_bottlenecks(cpu_threshold=30, memory_threshold=100, interval=0.6)
    finally:
        stop.set()
        burner.join()
    (finding,) = [b for b in busy if b["type"] == "cpu" and b["scope"] == "process"]
    assert finding["value"] >= 30 and "process" in finding["reason"] and "threshold 30%" in finding["reason"]


def test_cpu_burner_process_shows_in_system_cpu(monitor):
    burner = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 5\nwhile time.time() < end: pass"])
    try:
        time.sleep(0.2)
        findings = monitor.detect_bottlenecks(cpu_threshold=35, memory_threshold=100, interval=0.8)
    finally:
        burner.kill()
        burner.wait()
    system = [b for b in findings if b["type"] == "cpu" and b["scope"] == "system"]
    assert system and system[0]["value"] >= 35 and "system CPU" in system[0]["reason"]


def test_memory_threshold(monitor):
    low = monitor.detect_bottlenecks(cpu_threshold=100, memory_threshold=0.001, interval=0.1)
    assert any(b["type"] == "memory" and b["scope"] == "system" for b in low)
    high = monitor.detect_bottlenecks(cpu_threshold=100, memory_threshold=100, interval=0.1)
    assert not [b for b in high if b["type"] == "memory"]


def test_slow_and_failing_operations_are_bottlenecks():
    clock = itertools.count(1_700_000_000.0, 0.01)
    m = PerformanceMonitor(clock=lambda: next(clock))
    for _ in range(100):
        m.record("steady", 5.0 + (next(clock) % 1))
        m.record("slowing", 5.0 + (next(clock) % 1))
    m.set_baseline("slowing")
    for i in range(100):
        m.record("slowing", 20.0 + (next(clock) % 1))
        m.record("flaky", 1.0, success=i % 3 != 0)
    findings = m.detect_bottlenecks(cpu_threshold=100, memory_threshold=100, interval=0.1)
    slow = [b for b in findings if b["type"] == "slow_operation"]
    assert [b["operation"] for b in slow] == ["slowing"]
    assert slow[0]["severity"] == "critical" and "baseline" in slow[0]["reason"]
    errors = [b for b in findings if b["type"] == "errors"]
    assert [b["operation"] for b in errors] == ["flaky"] and "34 of 100 failed" in errors[0]["reason"]
    m.close()


def test_resource_usage_reports_rates_from_two_readings(monitor):
    payload = b"x" * (1 << 20)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    stop = threading.Event()

    def sink():
        conn, _ = server.accept()
        while conn.recv(1 << 20):
            pass
        conn.close()

    def source():
        with socket.create_connection(server.getsockname()) as c:
            while not stop.is_set():
                c.sendall(payload)

    threads = [threading.Thread(target=sink), threading.Thread(target=source)]
    for t in threads:
        t.start()
    try:
        usage = monitor.get_resource_usage(interval=0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
        server.close()
    system, process = usage["system"], usage["process"]
    assert usage["interval_s"] >= 0.5
    assert system["net_sent_bytes_per_s"] > 5 * (1 << 20)  # loopback traffic, as a rate
    assert 0 <= system["cpu_percent"] <= 100
    assert process["memory_rss_bytes"] > 0 and process["threads"] >= 1
    if system["disk_read_bytes_per_s"] is not None:
        assert system["disk_read_bytes_per_s"] >= 0
    # a second call soon after reuses the last reading instead of sleeping again
    start = time.monotonic()
    again = monitor.get_resource_usage(interval=0.01)
    assert time.monotonic() - start < 0.5 and again["interval_s"] >= 0.01


def test_samples_stored_row_by_row_by_an_older_version_are_kept(tmp_path):
    db = tmp_path / "metrics.db"
    now = time.time()
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE perf_samples (name TEXT NOT NULL, ts REAL NOT NULL, "
                     "duration_ms REAL NOT NULL, ok INTEGER NOT NULL)")
        conn.executemany("INSERT INTO perf_samples VALUES (?, ?, ?, ?)",
                         [("old.op", now - 60 + i, float(i), 1 if i % 4 else 0) for i in range(40)])
    m = PerformanceMonitor(db, flush_interval=3600)
    metrics = m.get_metrics("old.op", "1h")
    assert metrics["count"] == 40 and metrics["success_rate"] == 75.0
    assert metrics["p50_ms"] == pytest.approx(float(np.percentile(np.arange(40.0), 50)))
    m.close()
    with sqlite3.connect(db) as conn:
        assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'perf_samples'").fetchone()


def test_a_full_metrics_database_drops_samples_instead_of_failing_the_caller(tmp_path):
    # SQLite's own size cap stands in for a full disk: the same SQLITE_FULL error,
    # after which SQLite has already rolled the transaction back.
    m = PerformanceMonitor(tmp_path / "metrics.db", flush_interval=3600)
    try:
        m.record("warm.up", 1.0)
        m.flush()
        db = sqlite3.connect(tmp_path / "metrics.db")
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.close()
        m._store._db.execute(f"PRAGMA max_page_count = {pages}")
        for i in range(20_000):
            m.record(f"op.{i % 500}", float(i % 97))
        m.flush()  # no "cannot rollback - no transaction is active", no exception at all
        assert m.get_statistics()["samples_dropped"] == 20_000
        m._store._db.execute("PRAGMA max_page_count = 1073741823")
        m.record("after.space.freed", 2.0)
        m.flush()
        assert m.operation_totals()["after.space.freed"]["count"] == 1
    finally:
        m.close()
