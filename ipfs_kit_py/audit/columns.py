"""Columnar (polars) views of the audit log, for analytics.

One column per field in ``ALL_FIELDS`` order (or the ``columns`` asked for)
with fixed dtypes, so an empty result has the same schema as a full one.
``details`` stays JSON text (``pl.col("details").str.json_decode()`` when a
query needs inside it).

Frames are built from decoded storage blocks: whole blocks as columns
(``frame_from_blocks``), or filtered rows (``frame_from_rows``). Big
SQLite logs (``SNAPSHOT_MIN_ROWS`` events or more) also keep a **column
snapshot** next to the database, ``<audit.db>.columns/``: the events up to
some ``seq`` as uncompressed Arrow IPC segments (memory-mapped, so loading
costs page faults, not parsing) plus ``manifest.json``. A plain time-range /
event-type export is answered from the snapshot, extended with the newer
events decoded from their blocks (by ``seq``, so only the events added since).
The answer is the same frame the blocks give: same schema, rows and order
(tests/audit/test_columns_snapshot.py).

Never stale, never silently wrong — checked on every use, in the same read
transaction as the rows added since:

- the database event at each segment's last ``seq`` still has the hash the
  snapshot recorded. Each hash covers the one before it, so a row rewritten
  with its chain recomputed (up to the head, or the head check would fail)
  changes these rows and the snapshot is rebuilt. An in-place edit that does
  *not* recompute hashes breaks the chain itself: ``AuditLogger.verify`` reports
  it, and the snapshot keeps answering with the rows as they were when copied
  (the ones the chain attests);
- the chain base (``audit_chain.base_seq``, moved by ``prune``) has not moved
  before the snapshot's first row; when a prune moved it inside the snapshot,
  the snapshot's row at the new base must have the base hash, the pruned rows
  are cut off and the snapshot is rewritten without them (retention applies to
  the copy too);
- the first newer row links to the snapshot's last hash;
- every segment file has the size and XXH3-128 recorded in the manifest
  (once per process per file; corruption or an edit to the file means a
  rebuild), and its first/last seq and hashes agree with the manifest.

Writes: segment and manifest files are written to a temp file and renamed
into place; one writer at a time (``flock`` on ``.lock``, never waited for: a
reader that cannot take it just does not write). Newer rows are read from SQL
each time until there are ``SNAPSHOT_SEGMENT_ROWS`` of them, then saved as a
segment; small trailing segments are merged so there are few. The directory
is private to its owner (the log names users and addresses). PostgreSQL logs
have no snapshot (no local directory to keep it in).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import secrets
import shutil
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from ..config import atomic_write_text
from ..errors import BackendError, InvalidInput
from . import blocks
from .blocks import EventFilter
from .events import ALL_FIELDS
from .store import COL, BlockReader

_FLOATS = {"timestamp", "duration_ms"}
_INTS = {"bytes", "seq"}
SCHEMA = {
    name: pl.Float64 if name in _FLOATS else pl.Int64 if name in _INTS else pl.Utf8
    for name in ALL_FIELDS
}

SNAPSHOT_VERSION = 1
# Logs with fewer events are decoded from their blocks (a snapshot would not pay off).
SNAPSHOT_MIN_ROWS = 50_000
# Events added after the snapshot are decoded from blocks until there are this many, then saved as a segment.
SNAPSHOT_SEGMENT_ROWS = 20_000
# A query bounded on both sides to less than this (seconds) reads blocks: their time index is enough.
SNAPSHOT_MIN_SPAN = 6 * 3600.0

_CHAIN_STATE = "SELECT head_seq, head_hash, base_seq, base_hash FROM audit_chain WHERE id = 1"


def pick_columns(columns: Sequence[str] | None) -> tuple[str, ...]:
    """The columns to export: ``ALL_FIELDS`` by default, else the given names in the given order."""
    if columns is None:
        return ALL_FIELDS
    if isinstance(columns, str):
        columns = [columns]
    chosen = tuple(columns)
    unknown = [c for c in chosen if c not in SCHEMA]
    if unknown or not chosen or len(set(chosen)) != len(chosen):
        raise InvalidInput(f"columns must be distinct names from: {', '.join(ALL_FIELDS)}"
                           + (f" (unknown: {', '.join(map(str, unknown))})" if unknown else ""))
    return chosen


def _schema(columns: Sequence[str]) -> dict[str, Any]:
    return {name: SCHEMA[name] for name in columns}


_ARROW_TYPES = {pl.Float64: "float64", pl.Int64: "int64", pl.Utf8: "string"}
_CHUNK_ROWS = 65536


def frame_from_rows(rows: Sequence[tuple], columns: Sequence[str] = ALL_FIELDS) -> pl.DataFrame:
    """Decoded rows (``store.COLUMNS`` shape) as typed columns, built a chunk at a time."""
    import pyarrow as pa

    if not rows:
        return pl.DataFrame(schema=_schema(columns))
    picks = [(COL[name], pa.type_for_alias(_ARROW_TYPES[SCHEMA[name]])) for name in columns]
    batches = []
    for start in range(0, len(rows), _CHUNK_ROWS):
        values = list(zip(*rows[start:start + _CHUNK_ROWS], strict=True))  # rows -> columns
        batches.append(pa.record_batch([_array(values[i], kind) for i, kind in picks], names=list(columns)))
    return pl.from_arrow(pa.Table.from_batches(batches))


def frame_from_blocks(parts: Sequence[list[list]], columns: Sequence[str] = ALL_FIELDS) -> pl.DataFrame:
    """Blocks decoded as columns (``blocks.block_columns``) as one typed frame."""
    import pyarrow as pa

    if not any(part[0] for part in parts):
        return pl.DataFrame(schema=_schema(columns))
    arrays = []
    for name in columns:
        i, kind = COL[name], pa.type_for_alias(_ARROW_TYPES[SCHEMA[name]])
        arrays.append(_array(list(itertools.chain.from_iterable(part[i] for part in parts)), kind))
    return pl.from_arrow(pa.table(arrays, names=list(columns)))


def _array(values: Sequence[Any], kind: Any) -> Any:
    import pyarrow as pa

    try:
        return pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # A value of the wrong type was put there by hand (verify reports it): show it as missing.
        ok = (float, int) if kind in (pa.float64(), pa.int64()) else (str,)
        return pa.array([v if isinstance(v, ok) and not isinstance(v, bool) else None for v in values], type=kind)


@dataclass(frozen=True)
class Scan:
    """The filters a snapshot can answer: a time range and event types."""

    start: float | None = None  # inclusive
    end: float | None = None    # exclusive
    event_types: tuple[str, ...] | None = None

    @classmethod
    def of(cls, wanted: EventFilter) -> Scan | None:
        """The scan for a filter, or None when it filters on more than time and event type."""
        if wanted.statuses is not None or wanted.action is not None or wanted.action_prefix is not None \
                or wanted.equal:
            return None
        types = None if wanted.event_types is None else tuple(sorted(wanted.event_types))
        return cls(wanted.start, wanted.end, types)

    def wide(self) -> bool:
        return self.start is None or self.end is None or self.end - self.start >= SNAPSHOT_MIN_SPAN

    def apply(self, frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
        cond = None
        for part in (None if self.start is None else pl.col("timestamp") >= self.start,
                     None if self.end is None else pl.col("timestamp") < self.end,
                     None if self.event_types is None else pl.col("event_type").is_in(list(self.event_types))):
            if part is not None:
                cond = part if cond is None else cond & part
        out = frame.select(columns) if cond is None else frame.lazy().filter(cond).select(columns).collect()
        return out if out.height else pl.DataFrame(schema=_schema(columns))


def snapshot_frame_for(path: str | os.PathLike, scan: Scan, columns: Sequence[str] = ALL_FIELDS) -> pl.DataFrame | None:
    """``scan`` over a big SQLite log, answered from its column snapshot; None for a small log."""
    conn = sqlite3.connect(f"file:{os.fspath(path)}?mode=ro", uri=True, isolation_level=None, timeout=60)
    try:
        # One read transaction: the chain state, the snapshot checks and the events added since agree.
        conn.execute("BEGIN")
        with blocks.gc_paused():
            full = snapshot_frame(Path(path), conn)
        return None if full is None else scan.apply(full, columns)
    except sqlite3.Error as exc:
        raise BackendError(f"audit store error: {exc}") from exc
    finally:
        conn.close()


def _reader(conn: sqlite3.Connection) -> BlockReader:
    return BlockReader(lambda sql, params=(): conn.execute(sql, tuple(params)).fetchall())


def _frame_after(conn: sqlite3.Connection, seq: int) -> pl.DataFrame:
    """Every event after ``seq``, all columns, seq order."""
    reader = _reader(conn)
    parts = []
    for first, last, *_rest in reader.metas():
        if last > seq and (data := reader.block_data(first)) is not None:
            parts.append(blocks.block_columns(first, data[0], data[1], after=seq))
    return frame_from_blocks(parts)


# ---- column snapshot (SQLite) ---------------------------------------------------------------

def snapshot_dir(db_path: str | os.PathLike) -> Path:
    return Path(f"{os.fspath(db_path)}.columns")


def drop_snapshot(db_path: str | os.PathLike) -> None:
    """Delete the column snapshot (after a prune: retention applies to the copy at once)."""
    shutil.rmtree(snapshot_dir(db_path), ignore_errors=True)


def snapshot_frame(db_path: Path, conn: sqlite3.Connection) -> pl.DataFrame | None:
    """Every retained event (all columns, seq order) from the snapshot, checked and brought up to date.

    ``conn``: a sqlite3 connection inside a read transaction. None when the log
    is too small for a snapshot (the caller runs its SQL).
    """
    head_seq, _head_hash, base_seq, base_hash = conn.execute(_CHAIN_STATE).fetchone()
    if head_seq - base_seq < SNAPSHOT_MIN_ROWS:
        return None
    snap = _Snapshot(snapshot_dir(db_path))
    for _attempt in range(2):
        manifest = snap.read_manifest()
        if manifest is None:
            break
        try:
            return snap.extend(conn, manifest, head_seq, base_seq, base_hash)
        except _Stale:
            break
        except _Moved:
            continue  # a concurrent writer replaced a segment: read the new manifest
    # (Re)build: every retained event, saved for next time.
    frame = _frame_after(conn, base_seq)
    snap.save([frame], replace=True)
    return frame


class _Stale(Exception):
    """The snapshot does not describe this log any more: rebuild."""


class _Moved(Exception):
    """A segment listed in the manifest is gone (a concurrent writer replaced it): read the manifest again."""


# Segments already checked by this process: absolute path -> ((dev, inode, size, mtime), frame).
_LOADED: dict[str, tuple[tuple, pl.DataFrame]] = {}
_LOADED_LOCK = threading.Lock()


class _Snapshot:
    def __init__(self, directory: Path):
        self.dir = directory
        self.manifest_path = directory / "manifest.json"

    # ---- reading ------------------------------------------------------------------------
    def read_manifest(self) -> dict | None:
        try:
            manifest = json.loads(self.manifest_path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(manifest, dict) or manifest.get("version") != SNAPSHOT_VERSION \
                or manifest.get("schema") != _schema_text() or not manifest.get("segments"):
            return None
        return manifest

    def extend(self, conn: sqlite3.Connection, manifest: dict, head_seq: int, base_seq: int, base_hash: str) -> pl.DataFrame:
        segments = manifest["segments"]
        try:
            first_seq = segments[0]["first_seq"]
            last_seq, last_hash = segments[-1]["last_seq"], segments[-1]["last_hash"]
            for before, after in zip(segments, segments[1:], strict=False):
                if after["first_seq"] <= before["last_seq"] or after["first_prev_hash"] != before["last_hash"]:
                    raise _Stale
        except (KeyError, TypeError) as exc:
            raise _Stale from exc
        # The snapshot starts right after the chain base (its first row links to the base hash), or a
        # prune moved the base inside it (checked below, on the row at the new base); never before it.
        if last_seq > head_seq or base_seq >= last_seq:
            raise _Stale
        if base_seq < first_seq and segments[0]["first_prev_hash"] != base_hash:
            raise _Stale
        # The database still has the hash recorded for each segment's last event.
        reader = _reader(conn)
        if any(reader.hash_at(s["last_seq"]) != s["last_hash"] for s in segments):
            raise _Stale
        frames = [self._load(s) for s in segments]
        self._forget_others(segments)
        tail = None
        if head_seq > last_seq:
            tail = _frame_after(conn, last_seq)
            if tail.height == 0 or tail["prev_hash"][0] != last_hash:
                raise _Stale
            if tail.height >= SNAPSHOT_SEGMENT_ROWS:
                frames = self.save([*frames, tail], replace=False, manifest=manifest) or [*frames, tail]
                tail = None
        full = pl.concat([*frames, tail] if tail is not None else frames, how="vertical", rechunk=False)
        if base_seq >= first_seq:
            # Pruned since the snapshot was taken: cut the pruned rows, after checking the anchor.
            cut = int(full["seq"].search_sorted(base_seq, side="right"))
            if cut == 0 or full["seq"][cut - 1] != base_seq or full["hash"][cut - 1] != base_hash:
                raise _Stale
            full = full.slice(cut)
            # Pruned events must not live on in the snapshot: rewrite it without them.
            self.save([full], replace=True)
        return full

    def _load(self, segment: dict) -> pl.DataFrame:
        import pyarrow as pa
        import pyarrow.ipc as ipc
        import xxhash

        path = self.dir / segment["file"]
        if "/" in segment["file"] or segment["file"].startswith("."):
            raise _Stale
        try:
            st = path.stat()
        except FileNotFoundError:
            raise _Moved from None
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        with _LOADED_LOCK:
            hit = _LOADED.get(str(path))
        if hit is not None and hit[0] == key:
            frame = hit[1]
        else:
            if st.st_size != segment["size"]:
                raise _Stale
            try:
                buf = pa.memory_map(str(path), "r").read_buffer()
                if xxhash.xxh3_128_hexdigest(memoryview(buf)) != segment["xxh3_128"]:
                    raise _Stale
                frame = pl.from_arrow(ipc.open_file(buf).read_all())
            except (OSError, pa.ArrowException) as exc:
                raise _Stale from exc
            if not isinstance(frame, pl.DataFrame) or frame.schema != pl.Schema(SCHEMA):
                raise _Stale
        if frame.height != segment["rows"] or frame.height == 0 \
                or frame["seq"][0] != segment["first_seq"] or frame["seq"][-1] != segment["last_seq"] \
                or frame["prev_hash"][0] != segment["first_prev_hash"] or frame["hash"][-1] != segment["last_hash"]:
            raise _Stale
        with _LOADED_LOCK:
            _LOADED[str(path)] = (key, frame)
        return frame

    def _forget_others(self, segments: list[dict]) -> None:
        keep = {str(self.dir / s["file"]) for s in segments}
        prefix = str(self.dir) + os.sep
        with _LOADED_LOCK:
            for name in [n for n in _LOADED if n.startswith(prefix) and n not in keep]:
                del _LOADED[name]

    # ---- writing ------------------------------------------------------------------------
    def save(self, frames: list[pl.DataFrame], *, replace: bool, manifest: dict | None = None) -> list | None:
        """Write a new manifest: ``frames`` (whole, seq-contiguous) as the snapshot, or the
        manifest's segments plus the last frame (then merging small trailing segments).

        Returns the frames of the new snapshot's segments, or None when nothing was
        written (another process holds the lock, or the directory is not writable).
        """
        try:
            self.dir.mkdir(mode=0o700, exist_ok=True)
            lock = open(self.dir / ".lock", "a+b")  # noqa: SIM115 - held across the writes below
        except OSError:
            return None
        try:
            import fcntl

            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return None  # someone else is writing: they will save it
            current = self.read_manifest()
            if replace:
                segments, frames = [], [pl.concat(frames, rechunk=False)] if len(frames) > 1 else frames
            else:
                if current != manifest:
                    return None  # changed since we read it
                segments = list(manifest["segments"])
                frames = list(frames)
            written = []
            try:
                if replace:
                    segments = [self._write_segment(frames[0])]
                    written.append(segments[0]["file"])
                else:
                    segments.append(self._write_segment(frames[-1]))
                    written.append(segments[-1]["file"])
                    # Merge trailing segments while the one before is not much bigger: O(log n) segments.
                    while len(segments) >= 2 and segments[-2]["rows"] <= 2 * segments[-1]["rows"]:
                        merged = pl.concat(frames[-2:], rechunk=False)
                        segment = self._write_segment(merged)
                        written.append(segment["file"])
                        segments[-2:] = [segment]
                        frames[-2:] = [merged]
                self._write_json({"version": SNAPSHOT_VERSION, "schema": _schema_text(), "segments": segments})
            except OSError:
                for name in written:
                    with contextlib.suppress(OSError):
                        (self.dir / name).unlink()
                return None
            for segment, frame in zip(segments, frames, strict=True):
                if segment["file"] in written:
                    _remember(self.dir / segment["file"], frame)
            keep = {s["file"] for s in segments}
            for entry in self.dir.iterdir():
                if entry.name.startswith("seg-") and entry.name not in keep:
                    with contextlib.suppress(OSError):
                        entry.unlink()
            return frames
        finally:
            lock.close()

    def _write_segment(self, frame: pl.DataFrame) -> dict:
        first, last = int(frame["seq"][0]), int(frame["seq"][-1])
        name = f"seg-{first:012d}-{last:012d}-{secrets.token_hex(4)}.arrow"
        tmp = self.dir / f".tmp-{name}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                hashing = _HashingWriter(f)  # checksummed as written: no second read of the file
                frame.write_ipc(hashing, compression="uncompressed")
            size = hashing.size
            os.replace(tmp, self.dir / name)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return {"file": name, "first_seq": first, "last_seq": last, "rows": frame.height,
                "first_prev_hash": frame["prev_hash"][0], "last_hash": frame["hash"][-1],
                "size": size, "xxh3_128": hashing.digest.hexdigest()}

    def _write_json(self, manifest: dict) -> None:
        atomic_write_text(self.manifest_path, json.dumps(manifest, indent=1), mode=0o600)


class _HashingWriter(io.RawIOBase):
    """A binary file wrapper that keeps the XXH3-128 and the size of what passes through."""

    def __init__(self, out: Any):
        import xxhash

        self.out, self.digest, self.size = out, xxhash.xxh3_128(), 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.digest.update(data)
        written = self.out.write(data)
        self.size += written
        return written


def _remember(path: Path, frame: pl.DataFrame) -> None:
    """A segment this process just wrote: no need to read and check it again."""
    try:
        st = path.stat()
    except OSError:
        return
    with _LOADED_LOCK:
        _LOADED[str(path)] = ((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns), frame)


def _schema_text() -> list[list[str]]:
    return [[name, str(dtype)] for name, dtype in SCHEMA.items()]
