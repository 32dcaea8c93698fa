"""Replication throughput of ipfs-kit to S3 and kubo next to the raw clients, in one run.

    python benchmarks/bench_replication.py [--sizes 16,64] [--repeat 3]

Starts moto's S3 server and the kubo test node on 127.0.0.1 (the helpers of
tests/backends/conftest.py; the node needs .kubo-venv and ../shared/kubo) and
stops them at the end. For each size (MiB) a seeded random file is added to a
fresh home with CIDv0 defaults (the only settings the kubo node can rebuild),
then the median of --repeat runs is measured, each next to the raw client
moving the same bytes:
- S3 write: boto3 upload_fileobj into a fresh bucket (8 MiB parts, 4 threads,
  as ipfs-kit) vs Kit.replicate to S3 (its copy is removed before each run)
- kubo write: POST /api/v0/add vs Kit.replicate to kubo (a re-add: the node has
  no dag/import; its blockstore already holds the blocks after the first run,
  for both clients alike)
- S3 read: boto3 get_object of the whole .car vs Kit.cat in a fresh home whose
  only backend is the S3 one (every block fetched from S3 and verified)
- kubo read: POST /api/v0/cat vs Kit.cat in a fresh home with only the kubo backend
Rates are MB/s (1e6 bytes) of file bytes, so the ratio is raw time / kit time.
moto reads the whole object for each ranged GET, so here a Kit read from S3
(ranged GETs of up to 8 MiB, 4 at a time, over windows of sibling blocks) gets
slower per byte as the file grows; real S3 would not.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from boto3.s3.transfer import TransferConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ipfs_kit_py.backends.base import BackendUnavailable  # noqa: E402
from ipfs_kit_py.kit import Kit  # noqa: E402
from tests.backends.conftest import start_kubo, start_s3  # noqa: E402

MiB = 1 << 20
TRANSFER = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB,
                          max_concurrency=4)  # what the S3 backend uses


def make_file(path: Path, mib: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "wb") as fh:
        for _ in range(mib):
            fh.write(rng.bytes(MiB))


def mbps(nbytes: int, seconds: float) -> float:
    return nbytes / seconds / 1e6


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def medians(n: int, raw, kit) -> tuple[float, float]:
    """Median seconds of ``raw`` and ``kit``, run in turns; each does its own set-up and
    returns the seconds of the part that counts."""
    times = [(raw(), kit()) for _ in range(n)]
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def replicate(kit: Kit, cid: str, name: str) -> None:
    result = kit.replicate(cid, backends=[name])
    if result.get(name) != "pinned":
        errors = [i["last_error"] for i in kit.backend_status(cid)["items"] if i["backend"] == name]
        sys.exit(f"replicate {cid} to {name} returned {result} (last error: {errors}); aborting")


def unpin(kit: Kit, cid: str, name: str) -> None:
    try:
        kit.backend_unpin(cid, [name])  # deletes the objects / the pin, and the state row
    except BackendUnavailable:
        # The kubo test node leaves a chunked upload's last chunk unread, so the next
        # request on that kept-alive connection fails once; a second try gets a new one.
        kit.backend_unpin(cid, [name])


def kubo_post(http: httpx.Client, url: str, command: str, **kwargs) -> httpx.Response:
    response = http.post(f"{url}/api/v0/{command}", **kwargs)
    response.raise_for_status()
    return response


def bench_size(path: Path, tmp: Path, s3, kubo, repeat: int) -> list[tuple[str, float, float]]:
    """[(operation, raw seconds, kit seconds)] for one file."""
    data = path.read_bytes()
    client, api = s3.client(), kubo.api_url
    s3_conf = s3.conf(s3.bucket(), timeout_seconds=120)
    s3_conf.pop("type")
    kubo_conf = {"api_url": api, "timeout_seconds": 120}

    def fresh_kit(**backends) -> Kit:
        kit = Kit(tempfile.mkdtemp(prefix="home-", dir=tmp))
        for name, conf in backends.items():
            kit.backend_add(name, name, **conf)
        return kit

    with httpx.Client(timeout=600) as http, fresh_kit(s3=s3_conf, kubo=kubo_conf) as kit:
        cid = kit.add(str(path)).cid

        def raw_s3_put() -> float:
            bucket = s3.bucket()
            with open(path, "rb") as fh:
                seconds = timed(lambda: client.upload_fileobj(fh, bucket, "raw", Config=TRANSFER))
            client.delete_object(Bucket=bucket, Key="raw")  # moto keeps objects in memory
            return seconds

        def raw_kubo_add() -> float:
            with open(path, "rb") as fh:
                t0 = time.perf_counter()
                answer = kubo_post(http, api, "add", params={"pin": "true", "quieter": "true"},
                                   files={"file": (path.name, fh)})
                seconds = time.perf_counter() - t0
            if answer.json()["Hash"] != cid:
                sys.exit(f"kubo add gave {answer.json()['Hash']}, ipfs-kit {cid}; aborting")
            return seconds

        def kit_put(name: str):
            def run() -> float:
                unpin(kit, cid, name)
                return timed(lambda: replicate(kit, cid, name))
            return run

        rows = [("S3 write (upload / replicate)", *medians(repeat, raw_s3_put, kit_put("s3"))),
                ("kubo write (add / replicate)", *medians(repeat, raw_kubo_add, kit_put("kubo")))]
        # Both copies are in place now (the last kit_put run of each left them).

        def raw_s3_get() -> float:
            where = {"Bucket": s3_conf["bucket"], "Key": f"{s3_conf['prefix']}dags/{cid}.car"}
            return timed(lambda: client.get_object(**where)["Body"].read())

        def raw_kubo_cat() -> float:
            t0 = time.perf_counter()
            body = kubo_post(http, api, "cat", params={"arg": cid}).content
            seconds = time.perf_counter() - t0
            if body != data:
                sys.exit("kubo cat returned other bytes than the file; aborting")
            return seconds

        def kit_cat(**backend):
            def run() -> float:
                with fresh_kit(**backend) as reader:  # nothing local: every block from the backend
                    t0 = time.perf_counter()
                    got = reader.cat(cid)  # bytes (with out=None)
                    seconds = time.perf_counter() - t0
                if got != data:
                    sys.exit(f"Kit.cat via {list(backend)} returned other bytes; aborting")
                return seconds
            return run

        rows += [("S3 read (get .car / cat)", *medians(repeat, raw_s3_get, kit_cat(s3=s3_conf))),
                 ("kubo read (cat / cat)", *medians(repeat, raw_kubo_cat, kit_cat(kubo=kubo_conf)))]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="16,64", help="file sizes in MiB")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each; the median counts")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"machine: {os.cpu_count()} CPUs; sizes {sizes} MiB; median of {args.repeat} runs; "
          "moto S3 and the kubo test node on 127.0.0.1")
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        tmp = Path(tmp)
        s3 = start_s3()
        kubo = None
        try:
            kubo = start_kubo(tmp / "kubo-repo")
            print(f"{'MiB':>5}  {'operation':30s} {'raw MB/s':>9} {'kit MB/s':>9} {'kit/raw':>8}")
            for mib in sizes:
                path = tmp / f"data-{mib}.bin"
                make_file(path, mib)
                for name, raw, kit in bench_size(path, tmp, s3, kubo, args.repeat):
                    size = mib * MiB
                    print(f"{mib:5d}  {name:30s} {mbps(size, raw):9.1f} {mbps(size, kit):9.1f} "
                          f"{raw / kit:7.2f}x", flush=True)
        finally:
            if kubo is not None:
                kubo.proc.terminate()
                try:
                    kubo.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    kubo.proc.kill()
            s3.stop()


if __name__ == "__main__":
    main()
