"""Writing DAG content out to the file system (``get``) without escaping OUT.

Entry names come from untrusted DAGs. ``core.dag.walk_tree`` already rejects
``..``, separators and NUL; here we additionally resolve every target and check
it stays inside the output directory (an existing symlink in OUT could
otherwise redirect a write), and write each file to a temp name then rename,
so an interrupted ``get`` never leaves a half-written file under its real name.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ..errors import Conflict, InvalidInput


@contextmanager
def atomic_output(target: Path) -> Iterator[BinaryIO]:
    """A file handle whose content appears at ``target`` only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".ipfs-kit-tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_file_atomic(target: Path, chunks: Iterable[bytes]) -> int:
    written = 0
    with atomic_output(target) as fh:
        for chunk in chunks:
            fh.write(chunk)
            written += len(chunk)
    return written


def safe_join(base: Path, parts: Iterable[str]) -> Path:
    base_resolved = base.resolve()
    target = base_resolved.joinpath(*parts)
    for part in parts:
        if not part or part in (".", "..") or "/" in part or "\x00" in part or os.sep in part:
            raise InvalidInput(f"refusing unsafe entry name {part!r}")
    resolved_parent = target.parent.resolve()
    if resolved_parent != base_resolved and base_resolved not in resolved_parent.parents:
        raise InvalidInput(f"refusing to write outside {base}: {'/'.join(parts)}")
    return target


def export_tree(
    entries: Iterable[tuple[tuple[str, ...], str, object]],
    out: Path,
    read_file: Callable[[object], Iterable[bytes]],
    read_symlink: Callable[[object], str],
) -> tuple[int, int]:
    """Materialise ``walk_tree`` entries under ``out``. Returns (files, bytes).

    Symlinks are recreated as symlinks (as kubo's ``get`` does); since every
    later target's parent is resolved and checked, a link pointing outside
    OUT cannot be used to write there.
    """
    if out.exists() and not out.is_dir():
        raise Conflict(f"{out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    files = total = 0
    for parts, kind, cid in entries:
        if not parts:
            continue
        target = safe_join(out, parts)
        if kind == "directory":
            target.mkdir(exist_ok=True)
        elif kind == "symlink":
            if target.is_symlink() or target.exists():
                target.unlink()
            os.symlink(read_symlink(cid), target)
        else:
            total += write_file_atomic(target, read_file(cid))
            files += 1
    return files, total
