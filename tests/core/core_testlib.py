"""Shared helpers for tests/core: deterministic bytes, the reference cases,
the JS runner, and a small in-memory blockstore.

Regenerate tests/core/vectors.json from the JS importer with
``python tests/core/core_testlib.py --write-vectors`` (needs ``npm ci`` in
tests/js first).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
JS_DIR = ROOT / "tests" / "js"
JS_SCRIPT = JS_DIR / "unixfs_cids.mjs"
VECTORS = HERE / "vectors.json"

if str(ROOT) not in sys.path:  # when run as a script
    sys.path.insert(0, str(ROOT))

from ipfs_kit_py.core.cid import verify_block  # noqa: E402
from ipfs_kit_py.core.importer import (  # noqa: E402
    FileImporter,
    ImportOptions,
    build_directory,
    import_symlink,
)

_PIECE = 1 << 20


def gen_pieces(seed: int, size: int):
    """Deterministic bytes, in 1 MiB pieces; the same as genBytes in unixfs_cids.mjs.

    byte i = mix32(i + seed * 0x9E3779B1) & 0xff, with a murmur-like 32-bit
    mix so that every chunk differs (no accidental dedup between leaves).
    """
    base = (seed * 0x9E3779B1) & 0xFFFFFFFF
    for off in range(0, size, _PIECE):
        n = min(_PIECE, size - off)
        x = (np.arange(off, off + n, dtype=np.uint64) + base) & 0xFFFFFFFF
        x ^= x >> 15
        x = (x * 0x2C1B3C6D) & 0xFFFFFFFF
        x ^= x >> 12
        yield (x & 0xFF).astype(np.uint8).tobytes()


def gen_bytes(seed: int, size: int) -> bytes:
    return b"".join(gen_pieces(seed, size))


def content_pieces(spec: dict):
    if "b64" in spec:
        return [base64.b64decode(spec["b64"])]
    return gen_pieces(spec["gen"]["seed"], spec["gen"]["size"])


def b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode("ascii")}


def gen(seed: int, size: int) -> dict:
    return {"gen": {"seed": seed, "size": size}}


def to_import_options(opts: dict) -> ImportOptions:
    return ImportOptions(
        cid_version=opts.get("cidVersion", 0),
        chunk_size=opts.get("chunkSize", 262144),
        raw_leaves=opts.get("rawLeaves"),
        trickle=opts.get("layout", "balanced") == "trickle",
    )


# --- the reference cases -----------------------------------------------------

OPTION_SETS = {
    "default": {},
    "v1": {"cidVersion": 1},
    "v1-pbleaves": {"cidVersion": 1, "rawLeaves": False},
    "v0-rawleaves": {"cidVersion": 0, "rawLeaves": True},
    "size-1048576": {"chunkSize": 1048576},
    "trickle": {"layout": "trickle"},
    "trickle-v1": {"layout": "trickle", "cidVersion": 1},
}

SMALL_FILES = {
    "empty": b64(b""),
    "one-byte": b64(b"a"),
    "hello": b64(b"hello world\n"),
    "262144": gen(1, 262144),
    "262145": gen(1, 262145),
    "1MiB": gen(2, 1048576),
    "3MiB+5": gen(3, 3 * 1048576 + 5),
}

TREE = [
    {"path": "a.txt", "file": b64(b"hello world\n")},
    {"path": "B.txt", "file": b64(b"upper case sorts first\n")},
    {"path": "a-b", "file": b64(b"-")},
    {"path": "a.b", "file": b64(b".")},
    {"path": "z", "file": b64(b"")},
    {"path": "é", "file": b64(b"e acute sorts after z in UTF-8 bytes")},
    {"path": "ünïcödé 文件.bin", "file": gen(5, 300_000)},
    {"path": "sub/Ω.txt", "file": b64(b"o")},
    {"path": "sub/deeper/data.bin", "file": gen(6, 70_000)},
    {"path": "sub/deeper/😀 emoji", "file": b64(b"smile")},
    {"path": "sub/empty"},
    {"path": "sub/link to a", "symlink": "../a.txt"},
]


def many_entries(count: int, name_lengths, prefix: str = "", stem: str = "x") -> list[dict]:
    """``count`` small files with names of the given lengths (UTF-8 bytes)."""
    entries = []
    for i in range(count):
        head = f"{i:05d}-"
        length = name_lengths(i)
        pad = stem * ((length - len(head)) // len(stem.encode()))
        name = head + pad + "x" * (length - len(head) - len(pad.encode()))
        assert len(name.encode()) == length
        entries.append({"path": prefix + name, "file": b64(f"{i}\n".encode())})
    return entries


# kubo shards a directory when sum(len(name) + len(CID bytes)) > 256 KiB.
# 1000 entries with CIDv0 children (34 bytes each): names adding up to
# 228144 bytes sit exactly on the threshold (flat), one byte more shards.
AT_THRESHOLD = many_entries(1000, lambda i: 228 if i < 856 else 229)
OVER_THRESHOLD = many_entries(1000, lambda i: 228 if i < 855 else 229)


def reference_cases() -> list[dict]:
    cases = [
        {"id": "dir/default/at-shard-threshold", "options": {}, "dir": AT_THRESHOLD},
        {"id": "dir/default/over-shard-threshold", "options": {}, "dir": OVER_THRESHOLD},
        {
            "id": "dir/v1/nested-hamt-unicode",
            "options": {"cidVersion": 1},
            "dir": [{"path": "top.txt", "file": b64(b"top")}]
            + many_entries(1500, lambda i: 150 + i % 7, prefix="big/", stem="ü文"),
        },
    ]
    for set_name, opts in OPTION_SETS.items():
        for file_name, content in SMALL_FILES.items():
            cases.append({"id": f"file/{set_name}/{file_name}", "options": opts, "file": content})
        cases.append({"id": f"dir/{set_name}/tree", "options": opts, "dir": TREE})
        cases.append({"id": f"dir/{set_name}/empty", "options": opts, "dir": []})
    big = [
        # > 174 leaves at the default chunker: a two-level balanced DAG
        ("two-level/default", {}, gen(7, 175 * 262144 + 1)),
        ("two-level/v1", {"cidVersion": 1}, gen(7, 175 * 262144 + 1)),
        ("full-174/default", {}, gen(8, 174 * 262144)),
        ("two-level/size-1024", {"chunkSize": 1024}, gen(9, 200 * 1024)),
        ("two-level/size-1024-trickle", {"chunkSize": 1024, "layout": "trickle"}, gen(9, 200 * 1024)),
        # 174*174+1 leaves: three levels
        ("three-level/size-256", {"chunkSize": 256}, gen(10, (174 * 174 + 1) * 256)),
        # deep trickle: subtrees of depth 1..4 under the root
        ("trickle-deep/size-256", {"chunkSize": 256, "layout": "trickle"}, gen(11, 30_000 * 256 + 7)),
        (
            "trickle-deep/size-256-v1",
            {"chunkSize": 256, "layout": "trickle", "cidVersion": 1},
            gen(11, 30_000 * 256 + 7),
        ),
        ("odd-chunk/size-1000-v1-pb", {"chunkSize": 1000, "cidVersion": 1, "rawLeaves": False}, gen(12, 500_123)),
    ]
    for name, opts, content in big:
        cases.append({"id": f"file/{name}", "options": opts, "file": content})
    return cases


# --- running the JS importer -------------------------------------------------


def js_available() -> str | None:
    """Why the JS reference cannot run, or None if it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (JS_DIR / "node_modules" / "ipfs-unixfs-importer").is_dir():
        return "tests/js/node_modules is missing (run: cd tests/js && npm ci)"
    return None


def run_js(cases: list[dict], timeout: float = 240) -> dict[str, dict]:
    proc = subprocess.run(
        ["node", str(JS_SCRIPT)],
        input=json.dumps({"cases": cases}).encode(),
        capture_output=True,
        timeout=timeout,
        cwd=JS_DIR,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"unixfs_cids.mjs failed: {proc.stderr.decode(errors='replace')}")
    return json.loads(proc.stdout)["results"]


# --- the same cases through ipfs_kit_py.core ---------------------------------


class MemoryStore:
    """dict blockstore whose get_block verifies hashes, as real callers do."""

    def __init__(self):
        self.blocks: dict = {}
        self.puts = 0

    def emit(self, cid, block) -> None:
        self.puts += 1
        self.blocks[cid] = bytes(block)

    def get(self, cid):
        block = self.blocks[cid]
        verify_block(cid, block)
        return block


def import_content(spec: dict, options: ImportOptions, emit=None):
    importer = FileImporter(options, emit)
    for piece in content_pieces(spec):
        importer.write(piece)
    return importer.finish()


def import_tree(entries: list[dict], options: ImportOptions, emit=None):
    """Import a TREE-style entry list; return (root node, {path: node})."""
    tree: dict = {}
    for entry in entries:
        parts = entry["path"].split("/")
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if "file" in entry:
            node[parts[-1]] = entry["file"]
        elif "symlink" in entry:
            node[parts[-1]] = ("symlink", entry["symlink"])
        else:
            node.setdefault(parts[-1], {})
    nodes: dict = {}

    def build(subtree: dict, prefix: str):
        children = []
        for name, value in subtree.items():
            path = f"{prefix}{name}"
            if isinstance(value, tuple):
                child = import_symlink(value[1], options, emit)
            elif isinstance(value, dict) and "b64" not in value and "gen" not in value:
                child = build(value, path + "/")
            else:
                child = import_content(value, options, emit)
            nodes[path] = child
            children.append((name, child))
        return build_directory(children, options, emit)

    root = build(tree, "")
    nodes[""] = root
    return root, nodes


def python_results(cases: list[dict]) -> dict[str, dict]:
    from ipfs_kit_py.core.cid import cid_str

    results = {}
    for case in cases:
        options = to_import_options(case.get("options", {}))
        if "file" in case:
            node = import_content(case["file"], options)
            results[case["id"]] = {"cid": cid_str(node.cid), "entries": {}}
        else:
            root, nodes = import_tree(case["dir"], options)
            results[case["id"]] = {
                "cid": cid_str(root.cid),
                "entries": {path: cid_str(node.cid) for path, node in nodes.items()},
            }
    return results


def write_vectors() -> None:
    """Record the JS importer's answers for reference_cases() (inputs stay in
    this module; entry maps are kept only for the small trees)."""
    results = run_js(reference_cases())
    doc = {
        "generator": "tests/js/unixfs_cids.mjs (ipfs-unixfs-importer, kubo-compatible options)",
        "inputs": "tests/core/core_testlib.py reference_cases()",
        "regenerate": "cd tests/js && npm ci && cd ../.. && python tests/core/core_testlib.py --write-vectors",
        "results": {
            case_id: {
                "cid": result["cid"],
                "entries": result["entries"] if len(result["entries"]) <= 20 else {},
            }
            for case_id, result in results.items()
        },
    }
    VECTORS.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(results)} results to {VECTORS}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-vectors"]:
        write_vectors()
    else:
        print(__doc__)
        sys.exit(2)
