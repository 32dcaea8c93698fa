"""Dashboard benchmark: overview API latency with 1M audit events, and first page load.

Targets (issue 7): ``GET /api/overview`` p50 <= 20 ms with 1,000,000 events in
the audit log; first page load of /overview (HTML + JS + data, widgets drawn)
<= 300 ms locally. Everything runs against a real ``ipfs-kit serve`` process
on 127.0.0.1 with a fresh temporary home.

References measured in the same run:
- ``GET /api/me``: the floor of any authenticated, audited request;
- loading ``/login`` in the browser: HTML + CSS with no script data.

Usage: python benchmarks/bench_dashboard.py [--events 1000000] [--requests 300]
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from ipfs_kit_py.kit import Kit

ACTIONS = [("data", "content.cat"), ("data", "content.add"), ("data", "pin.add"), ("api", "http.overview"),
           ("authentication", "auth.token"), ("config", "config.change"), ("system", "dashboard.status")]
STATUSES = ["success"] * 97 + ["failure", "denied", "error"]


def fill_audit_log(kit: Kit, n: int) -> float:
    """n events over the last 30 days, in batches; returns seconds taken."""
    rng = random.Random(7)
    now = time.time()
    started = time.perf_counter()
    batch_size = 50_000
    for start in range(0, n, batch_size):
        batch = []
        for i in range(start, min(n, start + batch_size)):
            event_type, action = ACTIONS[i % len(ACTIONS)]
            batch.append({"event_type": event_type, "action": action, "status": rng.choice(STATUSES),
                          "user_id": f"user{i % 200}", "source_ip": f"10.0.{i % 7}.{i % 250}",
                          "timestamp": now - 30 * 86400 * rng.random(), "duration_ms": rng.random() * 20,
                          "resource": f"Qm{i:044d}"[:46]})
        kit.audit.log_events(batch)
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ipfs_kit_py.cli.main", "--home", str(home), "serve",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/login", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def timed_gets(client: httpx.Client, path: str, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(path)
        samples.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
    return samples


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def page_loads(url: str, token: str, n: int) -> tuple[list[tuple[float, float]], list[float]]:
    from playwright.sync_api import sync_playwright

    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    overview, login = [], []
    host = url.split("//")[1].split(":")[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        for _ in range(n):
            # A new context each time: empty cache, so every asset is fetched.
            context = browser.new_context()
            context.add_cookies([{"name": "ipfs_kit_token", "value": token, "domain": host, "path": "/"}])
            page = context.new_page()
            page.goto(url + "/overview")
            page.wait_for_selector("body[data-ready='1']")
            page.wait_for_selector("[data-counter='pins']")
            # Browser clock, from navigation start: widgets drawn with data
            # (data-ready-at) and the load event (all scripts, Chart.js included).
            ready = float(page.get_attribute("body", "data-ready-at"))
            loaded = page.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd")
            overview.append((ready, loaded))
            page.goto(url + "/login")
            login.append(page.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd"))
            context.close()
        browser.close()
    return overview, login


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--page-loads", type=int, default=15)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        home = Path(tmp) / "home"
        with Kit(home) as kit:
            ingest = fill_audit_log(kit, args.events)
            kit.add(os.urandom(100_000))
            token, _ = kit.auth.create("bench", "admin")
            total = kit.audit.chain_head().seq
        print(f"audit log: {total:,} events (ingest {ingest:.1f} s, {args.events / ingest:,.0f} events/s)")

        proc, url = start_server(home)
        try:
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
                timed_gets(client, "/api/overview?refresh=true", 5)  # warm up
                me = timed_gets(client, "/api/me", args.requests)
                cached = timed_gets(client, "/api/overview", args.requests)
                fresh = timed_gets(client, "/api/overview?refresh=true", max(50, args.requests // 3))
            overview_loads, login_loads = page_loads(url, token, args.page_loads)
        finally:
            proc.terminate()
            proc.wait(timeout=20)

    ref = statistics.median(me)
    print(f"\n{'measure':44} {'p50 ms':>8} {'p95 ms':>8} {'x ref':>7}")
    rows = [("GET /api/me (reference)", me, ref),
            ("GET /api/overview (widget cache)", cached, ref),
            ("GET /api/overview?refresh=true (all providers)", fresh, ref)]
    for name, samples, base in rows:
        print(f"{name:44} {statistics.median(samples):8.2f} {pct(samples, 0.95):8.2f} "
              f"{statistics.median(samples) / base:7.2f}")
    login_ref = statistics.median(login_loads)
    print(f"{'browser: /login load event (reference)':44} {login_ref:8.1f} {pct(login_loads, 0.95):8.1f} {1.0:7.2f}")
    ready = [r for r, _ in overview_loads]
    loaded = [lo for _, lo in overview_loads]
    first = statistics.median(ready)
    print(f"{'browser: /overview widgets drawn with data':44} {first:8.1f} {pct(ready, 0.95):8.1f} "
          f"{first / login_ref:7.2f}")
    print(f"{'browser: /overview load event (+ Chart.js)':44} {statistics.median(loaded):8.1f} "
          f"{pct(loaded, 0.95):8.1f} {statistics.median(loaded) / login_ref:7.2f}")
    print(f"\ntarget overview API p50 <= 20 ms: cached {statistics.median(cached):.2f} ms, "
          f"refresh {statistics.median(fresh):.2f} ms -> {'OK' if statistics.median(fresh) <= 20 else 'MISSED'}")
    print(f"target first page load <= 300 ms: widgets drawn {first:.1f} ms, load event "
          f"{statistics.median(loaded):.1f} ms -> {'OK' if max(first, statistics.median(loaded)) <= 300 else 'MISSED'}")


if __name__ == "__main__":
    main()
