"""MCP round-trip latency: a read-only tool over stdio and over streamable HTTP.

Run: python benchmarks/bench_mcp.py [--calls N] [--quick]

The server runs as a real subprocess (`ipfs-kit mcp serve` for stdio;
`ipfs-kit serve`, the web app with MCP mounted at /mcp, for HTTP) on a fresh
home with a little content, and the official SDK client calls
`content_stat` (read-only: one Kit operation, two audit events) N times.
Reference, measured in the same session: the protocol's `ping` round trip
(transport + JSON-RPC + for HTTP the token check, no tool, no audit), so the
ratio is what the tool call itself costs on top of the transport. Targets:
stdio p50 <= 5 ms, HTTP p50 <= 10 ms.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
import httpx2
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ipfs_kit_py.kit import Kit  # noqa: E402

TARGETS_MS = {"stdio": 5.0, "http": 10.0}


def prepare_home(base: Path) -> tuple[Path, str, str]:
    home = base / "home"
    with Kit(home) as kit:
        cid = kit.add(b"benchmark content\n" * 100).cid
        token, _ = kit.auth.create("bench", "reader")
    return home, cid, token


def env_for(home: Path) -> dict[str, str]:
    env = dict(os.environ, IPFS_KIT_HOME=str(home))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


async def measure(session: ClientSession, cid: str, calls: int, warmup: int) -> tuple[list[float], list[float]]:
    args = {"path": cid}
    for _ in range(warmup):
        assert not (await session.call_tool("content_stat", args)).is_error
        await session.send_ping()
    tool, ping = [], []
    for _ in range(calls):  # interleaved, so both see the same machine load
        t0 = time.perf_counter()
        result = await session.call_tool("content_stat", args)
        t1 = time.perf_counter()
        await session.send_ping()
        t2 = time.perf_counter()
        assert not result.is_error, result.content
        tool.append((t1 - t0) * 1000)
        ping.append((t2 - t1) * 1000)
    return tool, ping


async def bench_stdio(home: Path, cid: str, calls: int, warmup: int):
    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "ipfs_kit_py.cli.main", "--home", str(home), "mcp", "serve"],
                                   env=env_for(home), cwd=str(REPO))
    with open(home.parent / "stdio.log", "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await measure(session, cid, calls, warmup)


def start_http(home: Path) -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(home.parent / "http.log", "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen([sys.executable, "-m", "ipfs_kit_py.cli.main", "--home", str(home), "serve",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env_for(home),
                            cwd=str(REPO))
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit(f"web server did not start; see {home.parent / 'http.log'}") from None
            time.sleep(0.05)


async def bench_http(url: str, token: str, cid: str, calls: int, warmup: int):
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        async with streamable_http_client(url, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await measure(session, cid, calls, warmup)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def report(label: str, tool: list[float], ping: list[float], target: float | None) -> bool:
    p50, p95 = statistics.median(tool), pct(tool, 95)
    ref = statistics.median(ping)
    verdict = "" if target is None else (" OK" if p50 <= target else " OVER TARGET")
    shown = "" if target is None else f" (target <= {target:g} ms)"
    print(f"{label:<26} content_stat p50 {p50:6.2f} ms  p95 {p95:6.2f} ms{shown}{verdict}")
    print(f"{'':<26} reference ping p50 {ref:6.2f} ms   tool/ping = {p50 / ref:4.2f}x")
    return target is None or p50 <= target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="100 calls")
    args = parser.parse_args()
    calls = 100 if args.quick else args.calls
    warmup = max(20, calls // 10)
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-mcp-") as tmp:
        home, cid, token = prepare_home(Path(tmp))
        print(f"{calls} calls each after {warmup} warm-up calls; fresh home {home}")
        tool, ping = anyio.run(bench_stdio, home, cid, calls, warmup)
        ok &= report("stdio", tool, ping, TARGETS_MS["stdio"])
        proc, port = start_http(home)
        try:
            for path, target in (("/mcp/", TARGETS_MS["http"]), ("/mcp", None)):
                tool, ping = anyio.run(bench_http, f"http://127.0.0.1:{port}{path}", token, cid, calls, warmup)
                label = f"http {path}" + (" (307 to /mcp/)" if path == "/mcp" else "")
                ok &= report(label, tool, ping, target)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
