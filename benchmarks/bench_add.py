"""Add / only-hash / cat throughput against the hashing limit, in one run.

    python benchmarks/bench_add.py [--sizes 256,1024] [--kubo]

For each size (MiB) a seeded random file is generated, then measured:
- hashlib.sha256 over the same bytes in 256 KiB chunks (the hashing limit)
- `Kit.add` stored into a fresh home (fsync policy: batch, the default)
- `Kit.add(only_hash=True)`
- `Kit.cat` (every block verified) into a null sink
- peak RSS of a separate `ipfs-kit add` process (the memory bound)
With --kubo, the same file is added to the kubo test node (../shared/kubo) over HTTP.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ipfs_kit_py.kit import Kit

CHUNK = 256 * 1024


def make_file(path: Path, mib: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "wb") as fh:
        for _ in range(mib):
            fh.write(rng.bytes(1 << 20))


def mbps(nbytes: int, seconds: float) -> float:
    return nbytes / seconds / 1e6


def best_of(n: int, fn) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_hashlib(path: Path) -> float:
    def run():
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                hashlib.sha256(chunk).digest()

    return best_of(3, run)


class NullSink:
    def write(self, data) -> int:
        return len(data)


def peak_rss_of_cli_add(path: Path, home: Path) -> float:
    # VmHWM (peak RSS of this address space) is reset by exec, unlike ru_maxrss,
    # which a child inherits from the (large) benchmark process that forked it.
    code = (
        "import sys;from ipfs_kit_py.cli.main import main;"
        f"rc=main(['--home',{str(home)!r},'add','-q',{str(path)!r}]);"
        "hwm=[l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1];"
        "print(hwm,file=sys.stderr);sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(proc.stderr.strip().splitlines()[-1]) / 1024  # KiB -> MiB


def bench_kubo(path: Path) -> float | None:
    import httpx

    venv = Path(__file__).resolve().parents[1] / ".kubo-venv" / "bin" / "python"
    daemon = Path(__file__).resolve().parents[2] / "shared" / "kubo" / "kubo_daemon.py"
    if not venv.exists() or not daemon.exists():
        print("kubo: .kubo-venv or ../shared/kubo missing; skipped")
        return None
    with tempfile.TemporaryDirectory() as repo:
        proc = subprocess.Popen([str(venv), str(daemon), "--repo", f"{repo}/repo", "--api-port", "0"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            url = proc.stdout.readline().split()[1]
            with httpx.Client(timeout=600) as client, open(path, "rb") as fh:
                t0 = time.perf_counter()
                r = client.post(f"{url}/api/v0/add", params={"pin": "false"}, files={"file": fh})
                elapsed = time.perf_counter() - t0
                r.raise_for_status()
            return elapsed
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="256,1024", help="file sizes in MiB")
    ap.add_argument("--kubo", action="store_true", help="also add to the kubo test node over HTTP")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        tmp = Path(tmp)
        for mib in (int(s) for s in args.sizes.split(",")):
            path = tmp / f"data-{mib}.bin"
            make_file(path, mib)
            size = path.stat().st_size
            t_hash = bench_hashlib(path)
            rows = [("hashlib.sha256 (limit)", t_hash)]
            with Kit(tmp / f"home-hash-{mib}") as kit:
                t_only = best_of(3, lambda k=kit, p=path: k.add(str(p), only_hash=True, pin=False))
            rows.append(("add --only-hash", t_only))
            times = []
            for i in range(2):
                with Kit(tmp / f"home-add-{mib}-{i}") as kit:
                    t0 = time.perf_counter()
                    cid = kit.add(str(path)).cid
                    times.append(time.perf_counter() - t0)
            rows.append(("add (stored)", min(times)))
            def cold_cat(c=cid, h=tmp / f"home-add-{mib}-0"):
                with Kit(h) as kit:  # a fresh process-level cache: every block read and hashed
                    kit.cat(c, out=NullSink())

            rows.append(("cat (verified, cold cache)", best_of(2, cold_cat)))
            if args.kubo:
                t_kubo = bench_kubo(path)
                if t_kubo:
                    rows.append(("kubo 0.22 add over HTTP", t_kubo))
            rss = peak_rss_of_cli_add(path, tmp / f"home-rss-{mib}")
            print(f"\n== {mib} MiB  cid={cid}")
            for name, seconds in rows:
                rate = mbps(size, seconds)
                print(f"{name:28s} {rate:8.1f} MB/s   {rate / mbps(size, t_hash):5.2f}x hashing limit")
            print(f"{'peak RSS of ipfs-kit add':28s} {rss:8.1f} MiB")


if __name__ == "__main__":
    main()
