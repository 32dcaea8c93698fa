"""Writing DAG content out to the file system (``get``) without escaping OUT.

Entry names come from untrusted DAGs. ``core.dag.walk_tree`` already rejects
``..``, separators and NUL; here we additionally resolve every target and check
it stays inside the output directory (an existing symlink in OUT could
otherwise redirect a write), and write each file to a temp name then rename,
so an interrupted ``get`` never leaves a half-written file under its real name.
A tree is checked against what already exists in OUT before anything is
written, so a conflict fails the whole ``get`` instead of leaving half a tree.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ..config import output_target
from ..errors import Conflict, InvalidInput


@contextmanager
def _writing(target: Path) -> Iterator[None]:
    """OS errors while writing become one user-facing line naming the real target.

    The failing call usually names a temp file or a parent directory, which
    would tell the user nothing about the path they gave.
    """
    try:
        yield
    except OSError as exc:
        raise InvalidInput(f"cannot write {target}: {exc.strerror or exc}") from None


class _TargetWriter:
    """The temp file's ``write``, with failures (disk full, I/O error) reported against the target."""

    def __init__(self, fh: BinaryIO, target: Path):
        self._fh = fh
        self._target = target

    def write(self, data: bytes) -> int:
        with _writing(self._target):
            return self._fh.write(data)


def _create_temp_beside(target: Path) -> tuple[int, Path]:
    parent = target.parent
    with _writing(target):
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:  # mkdir's "File exists" hides that a parent is a file
            raise InvalidInput(f"cannot write {target}: {parent} is not a directory") from None
        tmp = parent / f".ipfs-kit-tmp-{secrets.token_hex(8)}"
        # Not mkstemp: it creates 0600 files. Mode 0o666 lets the umask decide, as cp and
        # kubo's get do; O_EXCL refuses an existing name (or symlink) planted there.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        return os.open(tmp, flags, 0o666), tmp


@contextmanager
def atomic_output(target: Path) -> Iterator[BinaryIO]:
    """A file handle whose content appears at ``target`` only if the block succeeds."""
    target = output_target(target)
    fd, tmp = _create_temp_beside(target)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield _TargetWriter(fh, target)
            with _writing(target):
                fh.flush()
        with _writing(target):
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


def _conflict(target: Path, shown: Path, kind: str) -> Conflict | None:
    """Why writing an entry of ``kind`` at ``target`` would fail, given what is there now."""
    if kind == "directory":
        # A symlink to a directory is followed (and checked by safe_join), as mkdir -p does.
        if (target.is_symlink() or target.exists()) and not target.is_dir():
            return Conflict(f"{shown} exists and is not a directory")
    elif target.is_dir() and not target.is_symlink():  # rename/symlink cannot replace a directory
        return Conflict(f"{shown} exists and is a directory")
    return None


def export_tree(
    entries: Iterable[tuple[tuple[str, ...], str, object]],
    out: Path,
    read_file: Callable[[object], Iterable[bytes]],
    read_symlink: Callable[[object], str],
) -> tuple[int, int]:
    """Materialise ``walk_tree`` entries under ``out``. Returns (files, bytes).

    Symlinks are recreated as symlinks (as kubo's ``get`` does); since every
    later target's parent is resolved and checked, a link pointing outside
    OUT cannot be used to write there. Every entry is checked against what
    OUT already holds before the first write, so a conflict writes nothing.
    """
    if out.exists() and not out.is_dir():
        raise Conflict(f"{out} exists and is not a directory")
    planned: set[tuple[str, ...]] = set()
    todo = []
    for parts, kind, cid in entries:
        if not parts:
            continue
        if parts in planned:  # possible in a hand-made DAG; the second would clobber the first
            raise InvalidInput(f"the DAG names {'/'.join(parts)} twice")
        planned.add(parts)
        conflict = _conflict(safe_join(out, parts), out.joinpath(*parts), kind)
        if conflict is not None:
            raise conflict
        todo.append((parts, kind, cid))
    with _writing(out):
        out.mkdir(parents=True, exist_ok=True)
    files = total = 0
    for parts, kind, cid in todo:
        target = safe_join(out, parts)  # again: OUT may have changed since the check
        if kind == "directory":
            with _writing(target):
                target.mkdir(exist_ok=True)
        elif kind == "symlink":
            link = read_symlink(cid)
            with _writing(target):
                if target.is_symlink() or target.exists():
                    target.unlink()
                os.symlink(link, target)
        else:
            total += write_file_atomic(target, read_file(cid))
            files += 1
    return files, total
