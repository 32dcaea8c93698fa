"""Batch speed-up: 200 I/O-bound operations in parallel against sequentially.

Run: python benchmarks/bench_batch.py

Each operation is a round trip over a loopback TCP socket to a server that
answers after 10 ms (I/O wait, like a remote backend). Sequential runs the
same 200 operations in the calling thread: the reference measured in this run.
Target: parallel >= 3x faster.
"""

from __future__ import annotations

import socket
import socketserver
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ipfs_kit_py.performance.batch import BatchProcessor  # noqa: E402

OPS = 200
DELAY_S = 0.010


class SlowEcho(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(64):
            time.sleep(DELAY_S)
            self.request.sendall(data)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # the default backlog of 5 drops SYNs under 16 concurrent clients


def round_trip(address: tuple[str, int], payload: bytes) -> bytes:
    with socket.create_connection(address) as conn:
        conn.sendall(payload)
        return conn.recv(64)


def run(processor: BatchProcessor, address, parallel: bool) -> tuple[float, float]:
    for i in range(OPS):
        processor.add_operation(round_trip, address, f"op{i}".encode())
    start = time.perf_counter()
    result = processor.execute_batch(parallel=parallel)
    elapsed = time.perf_counter() - start
    assert result.succeeded == OPS, result.errors[:1]
    assert result.operations[7].result == b"op7"
    return elapsed, result.success_rate()


def main() -> None:
    server = Server(("127.0.0.1", 0), SlowEcho)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = server.server_address
    try:
        sequential, _ = run(BatchProcessor(), address, parallel=False)
        print(f"{OPS} loopback round trips ({DELAY_S * 1000:.0f} ms server delay each)")
        print(f"  sequential (reference)      {sequential:6.2f} s")
        for workers in (4, 8, 16):
            parallel, rate = run(BatchProcessor(max_workers=workers), address, parallel=True)
            print(f"  parallel, {workers:>2} threads          {parallel:6.2f} s   speed-up {sequential / parallel:5.1f}x"
                  f"   (target >= 3x; success {rate:.0f}%)")
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
