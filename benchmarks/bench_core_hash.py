"""Throughput of the UnixFS importer against plain hashlib.sha256.

Usage: python benchmarks/bench_core_hash.py [MiB] [--store]

Hashes the same in-memory bytes three ways in one run and prints MB/s and
the ratio to the reference:
  reference  hashlib.sha256 over 256 KiB chunks, one thread
  only-hash  FileImporter(ImportOptions(), emit=None)  (ipfs add --only-hash)
  stored     FileImporter with an emit that keeps every block (--store)
"""

from __future__ import annotations

import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from ipfs_kit_py.core.importer import FileImporter, ImportOptions  # noqa: E402

CHUNK = 262144
PIECE = 1 << 20  # the caller writes 1 MiB at a time, like a file reader


def best_of(runs: int, fn) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    mib = int(args[0]) if args else 256
    data = os.urandom(mib << 20)
    view = memoryview(data)
    pieces = [data[i : i + PIECE] for i in range(0, len(data), PIECE)]

    def reference():
        for i in range(0, len(data), CHUNK):
            hashlib.sha256(view[i : i + CHUNK]).digest()

    def only_hash(options=None):
        importer = FileImporter(options)
        for piece in pieces:
            importer.write(piece)
        importer.finish()

    def stored():
        kept = []
        importer = FileImporter(ImportOptions(), lambda cid, block: kept.append(len(block)))
        for piece in pieces:
            importer.write(piece)
        importer.finish()

    ref = best_of(3, reference)
    rows = [("reference sha256", ref)]
    rows.append(("only-hash v0", best_of(3, only_hash)))
    rows.append(("only-hash v1 raw", best_of(3, lambda: only_hash(ImportOptions(cid_version=1)))))
    rows.append(("only-hash trickle", best_of(3, lambda: only_hash(ImportOptions(trickle=True)))))
    if "--store" in sys.argv:
        rows.append(("stored v0 (emit)", best_of(3, stored)))
    mb = len(data) / 1e6
    for name, seconds in rows:
        print(f"{name:20s} {mb / seconds:8.0f} MB/s   x{ref / seconds:5.2f} of reference")


if __name__ == "__main__":
    main()
