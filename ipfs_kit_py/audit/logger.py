"""``AuditLogger``: write, query, verify, export and prune the audit log.

``AuditLogger(url=None, *, path=None, synchronous="normal")`` opens SQLite at
``path`` (default ``<home>/audit.db``), or PostgreSQL when ``url`` starts with
``postgresql://``; both behave the same (see ``store`` for the schema and the
durability policy).

Writing: ``log_event`` returns the committed event (with ``seq`` and
``hash``) only after its transaction committed. Concurrent callers in one
process share transactions (group commit): whoever gets the write lock writes
every event queued so far in one transaction, and each caller still returns
only after the transaction holding its event committed. ``log_events`` writes
a whole batch in one transaction (the fast path for bulk ingest).

Ordering: the chain (``seq``) is insertion order. Queries order by
``(timestamp, seq)``, newest first by default; paging is by ``offset`` or by
``cursor`` (the ``event_id`` of the last event of the previous page, which
stays correct while new events arrive).

Filters shared by ``query_events``, ``count`` and ``export_columns``:
``start_time`` (inclusive) / ``end_time`` (exclusive) as epoch seconds, aware
datetimes or strings (see ``timeparse``); ``event_types``, ``status``: one
value or a list; ``action``: exact, or a prefix ending in ``*``
(``content.*``); ``user_id``, ``resource``, ``operation_id``, ``parent_id``,
``session_id``, ``source_ip``, ``severity``: exact.

Retention: ``prune(before)`` deletes the oldest run of the chain — every
event from the start up to the first one stamped at or after ``before`` — and
records the hash of the last deleted event as the chain's base, so the rest
still verifies. Events with old timestamps recorded later (imports) stay until
everything before them is pruned; the chain must stay contiguous. Each prune
is itself an ``admin`` event (``audit.prune``) written in the same transaction.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import Conflict, InvalidInput, NotFound
from . import blocks
from .batch import prepare_batch
from .blocks import DamagedBlock, EventFilter
from .chain import ChainHead, ChainVerifier, VerifyResult, check_hash
from .events import (
    ALL_FIELDS,
    CHAIN_FIELDS,
    AuditEvent,
    canonical_body,
    event_from_row,
    event_row,
    prepare_row,
    row_from_fields,
    stored_details,
)
from .importers import ImportReport, SkippedLine, parse_file
from .store import COL, INSERT_BLOCK, BlockReader, WriteTx, open_store
from .timeparse import parse_time

EXPORT_FORMATS = ("jsonl", "csv")


@dataclass(frozen=True)
class EventPage:
    events: list[AuditEvent]
    next_cursor: str | None

    def to_dict(self) -> dict:
        return {"events": [e.to_dict() for e in self.events], "next_cursor": self.next_cursor}


@dataclass(frozen=True)
class PruneResult:
    deleted: int
    base_seq: int
    base_hash: str
    remaining_older: int
    event_id: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class _Request:
    """Events one caller waits for in the group-commit queue."""

    __slots__ = ("prepared", "fresh_ids", "links", "error", "done")

    def __init__(self, prepared: list[tuple[tuple, bytes]], fresh_ids: bool):
        self.prepared = prepared
        self.fresh_ids = fresh_ids
        self.links: list[tuple[int, str, str]] = []
        self.error: BaseException | None = None
        self.done = False


def _row_event(row: tuple) -> AuditEvent:
    """An AuditEvent from a decoded row (``store.COLUMNS``)."""
    return event_from_row(row[1:18], row[0], row[18], row[19])


class AuditLogger:
    def __init__(self, url: str | os.PathLike | None = None, *, path: str | os.PathLike | None = None,
                 synchronous: str = "normal"):
        self.store = open_store(url, path, synchronous)
        self.url = url
        self.path = getattr(self.store, "path", None)
        self._pending: list[_Request] = []
        self._pending_lock = threading.Lock()
        self._commit_lock = threading.Lock()

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> AuditLogger:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- writing ----------------------------------------------------------
    def log_event(
        self,
        event_type: str,
        action: str,
        status: str = "success",
        *,
        user_id: str | None = None,
        source_ip: str | None = None,
        resource: str | None = None,
        resource_type: str | None = None,
        backend: str | None = None,
        operation_id: str | None = None,
        parent_id: str | None = None,
        session_id: str | None = None,
        duration_ms: float | None = None,
        bytes: int | None = None,
        severity: str | None = None,
        details: dict[str, Any] | None = None,
        timestamp: Any = None,
        event_id: str | None = None,
    ) -> AuditEvent:
        """Validate, chain and commit one event; returns it with seq/prev_hash/hash."""
        if timestamp is not None and not isinstance(timestamp, int | float):
            timestamp = parse_time(timestamp)
        row = event_row(event_type, action, status, user_id, source_ip, resource, resource_type, backend,
                        operation_id, parent_id, session_id, duration_ms, bytes, severity, details, timestamp,
                        event_id)
        ((seq, prev, digest),) = self._commit([(row, canonical_body(row))], event_id is None)
        return AuditEvent(*row[:16], stored_details(details, row[16]), seq, prev, digest)

    def log_events(self, events: Iterable[dict[str, Any] | AuditEvent]) -> list[str]:
        """Commit many events in one transaction; returns their event ids in order.

        Each item is a dict of ``log_event`` keyword arguments (``event_type``
        and ``action`` required) or an unsaved ``AuditEvent``. Nothing is
        written if any item is invalid.
        """
        items = events if events.__class__ is list else list(events)
        with blocks.gc_paused():
            prepared = prepare_batch(items)
            if prepared is None:  # something to convert or refuse: event by event, naming the first bad one
                prepared = self._prepare_each(items)
            self._commit(prepared, False)
        return [row[0] for row, _ in prepared]

    @staticmethod
    def _prepare_each(items: list) -> list[tuple[tuple, bytes]]:
        prepared = []
        for index, item in enumerate(items):
            try:
                if item.__class__ is not dict or "seq" in item or "hash" in item or "prev_hash" in item:
                    item = _event_fields(item, index)
                row = row_from_fields(item)
            except InvalidInput as exc:
                text = str(exc)
                raise InvalidInput(text if text.startswith(f"event {index}") else f"event {index}: {text}") from None
            prepared.append((row, canonical_body(row)))
        return prepared

    def _commit(self, prepared: list[tuple[tuple, bytes]], fresh_ids: bool) -> list[tuple[int, str, str]]:
        """Commit in a group with other threads' waiting events; ``fresh_ids``: ids made by ``event_row``."""
        if self._commit_lock.acquire(blocking=False):  # nobody writing
            try:
                if not self._pending:  # and nobody waiting: write alone, no group bookkeeping
                    return self.store.append(prepared, fresh_ids)
            finally:
                self._commit_lock.release()
        request = _Request(prepared, fresh_ids)
        with self._pending_lock:
            self._pending.append(request)
        with self._commit_lock:
            if not request.done:  # nobody wrote it yet: lead a group commit
                with self._pending_lock:
                    batch, self._pending = self._pending, []
                self._write_group(batch)
        if request.error is not None:
            raise request.error
        return request.links

    def _write_group(self, batch: list[_Request]) -> None:
        try:
            links = self.store.append([item for req in batch for item in req.prepared],
                                      all(req.fresh_ids for req in batch))
        except BaseException as exc:
            if len(batch) > 1 and isinstance(exc, Conflict):
                # One caller's bad event must not fail the others: retry alone.
                for req in batch:
                    self._write_group([req])
                return
            for req in batch:
                req.error, req.done = exc, True
            return
        start = 0
        for req in batch:
            req.links = links[start:start + len(req.prepared)]
            start += len(req.prepared)
            req.done = True

    # ---- convenience loggers --------------------------------------------------
    def log_auth_success(self, user_id: str, source_ip: str | None = None, *,
                         method: str | None = None, **fields: Any) -> AuditEvent:
        return self.log_event("authentication", fields.pop("action", "auth.login"), "success",
                              user_id=user_id, source_ip=source_ip,
                              details=_merge(fields.pop("details", None), method=method), **fields)

    def log_auth_failure(self, user_id: str | None, source_ip: str | None = None, *,
                         reason: str | None = None, method: str | None = None,
                         **fields: Any) -> AuditEvent:
        return self.log_event("authentication", fields.pop("action", "auth.login"), "failure",
                              user_id=user_id, source_ip=source_ip,
                              details=_merge(fields.pop("details", None), reason=reason, method=method),
                              **fields)

    def log_permission_check(self, user_id: str | None, action: str, granted: bool, *,
                             role: str | None = None, required_role: str | None = None,
                             resource: str | None = None, **fields: Any) -> AuditEvent:
        return self.log_event("authorization", action, "success" if granted else "denied",
                              user_id=user_id, resource=resource,
                              details=_merge(fields.pop("details", None), role=role, required_role=required_role),
                              **fields)

    def log_data_access(self, user_id: str | None, action: str, resource: str, *,
                        status: str = "success", **fields: Any) -> AuditEvent:
        return self.log_event("data", action, status, user_id=user_id, resource=resource, **fields)

    def log_config_change(self, user_id: str | None, key: str, old_value: Any = None,
                          new_value: Any = None, **fields: Any) -> AuditEvent:
        return self.log_event("config", fields.pop("action", "config.change"), fields.pop("status", "success"),
                              user_id=user_id, resource=key, resource_type="setting",
                              details=_merge(fields.pop("details", None), key=key, old=old_value, new=new_value),
                              **fields)

    def log_backend_operation(self, backend: str, action: str, status: str = "success",
                              **fields: Any) -> AuditEvent:
        return self.log_event("backend", action, status, backend=backend, **fields)

    def log_admin_action(self, user_id: str | None, action: str, status: str = "success",
                         **fields: Any) -> AuditEvent:
        return self.log_event("admin", action, status, user_id=user_id, **fields)

    # ---- reading ----------------------------------------------------------------
    def get_event(self, event_id: str) -> AuditEvent:
        if not isinstance(event_id, str):
            raise InvalidInput(f"an event id is a string, not {type(event_id).__name__}")
        with self.store.read() as reader:
            row = _row_by_id(reader, event_id)
        if row is None:
            raise NotFound(f"no audit event with id {event_id}")
        return _row_event(row)

    def query_events(self, start_time: Any = None, end_time: Any = None, event_types: Any = None,
                     user_id: str | None = None, status: Any = None, action: str | None = None,
                     resource: str | None = None, operation_id: str | None = None,
                     limit: int | None = 100, order: str = "desc", *, offset: int = 0,
                     cursor: str | None = None, **filters: Any) -> list[AuditEvent]:
        """Events matching the filters, ordered by (timestamp, seq); ``limit=None`` for all."""
        return self.query_page(start_time, end_time, event_types, user_id, status, action, resource,
                               operation_id, limit, order, offset=offset, cursor=cursor,
                               **filters).events

    def query_page(self, start_time: Any = None, end_time: Any = None, event_types: Any = None,
                   user_id: str | None = None, status: Any = None, action: str | None = None,
                   resource: str | None = None, operation_id: str | None = None,
                   limit: int | None = 100, order: str = "desc", *, offset: int = 0,
                   cursor: str | None = None, **filters: Any) -> EventPage:
        """Like ``query_events``, plus the cursor for the next page (None at the end)."""
        if order not in ("asc", "desc"):
            raise InvalidInput(f"order must be 'asc' or 'desc', not {order!r}")
        if limit is not None:
            _count("limit", limit)
        _count("offset", offset)
        wanted = EventFilter.build(start_time, end_time, event_types, user_id, status, action,
                                   resource, operation_id, filters)
        with self.store.read() as reader:
            after = None
            if cursor is not None:
                ref = _row_by_id(reader, cursor) if isinstance(cursor, str) else None
                if ref is None:
                    raise InvalidInput(f"paging cursor {cursor!r} is not an event in this log")
                after = (ref[2], ref[0])
            need = None if limit is None else offset + limit
            found = [] if need == 0 else _newest(reader, wanted, need, order == "desc", after)
        events = [_row_event(row) for row in found[offset:need]]
        more = limit is not None and limit > 0 and len(events) == limit
        return EventPage(events, events[-1].event_id if more else None)

    def count(self, start_time: Any = None, end_time: Any = None, event_types: Any = None,
              user_id: str | None = None, status: Any = None, action: str | None = None,
              resource: str | None = None, operation_id: str | None = None, **filters: Any) -> int:
        wanted = EventFilter.build(start_time, end_time, event_types, user_id, status, action,
                                   resource, operation_id, filters)
        total = 0
        with self.store.read() as reader:
            for first, last, lo, hi in reader.metas(wanted.start, wanted.end, wanted):
                if wanted.time_only and wanted.covers(lo, hi):
                    total += last - first + 1  # the whole block matches: no need to decode it
                else:
                    total += len(reader.block_rows(first, wanted))
        return total

    def export_columns(self, start_time: Any = None, end_time: Any = None, event_types: Any = None, *,
                       columns: Any = None, **filters: Any):
        """The matching events as a ``polars.DataFrame`` in chain (seq) order.

        One column per field (``ALL_FIELDS``, or just ``columns`` in that
        order); ``details`` is its JSON text. Built from the decoded blocks
        (columns straight to Arrow), never from per-event Python objects.
        On a big SQLite log a query filtered only by
        time and event type is answered from the column snapshot next to the
        database (``columns`` module doc): the same frame, without re-reading
        every row.
        """
        from .columns import (
            Scan,
            frame_from_blocks,
            frame_from_rows,
            pick_columns,
            snapshot_frame_for,
        )

        chosen = pick_columns(columns)
        # Parsed once: relative times ("24h") must mean the same instant for blocks and the snapshot.
        wanted = EventFilter.build(start_time, end_time, event_types, filters.pop("user_id", None),
                                   filters.pop("status", None), filters.pop("action", None),
                                   filters.pop("resource", None), filters.pop("operation_id", None), filters)
        scan = Scan.of(wanted)
        if scan is not None and scan.wide() and self.path is not None:
            frame = snapshot_frame_for(self.path, scan, chosen)
            if frame is not None:
                return frame
        with self.store.read() as reader:
            metas = reader.metas(wanted.start, wanted.end, wanted)
            if scan is not None:  # time and type only: whole blocks as columns, filtered by polars
                parts = [blocks.block_columns(first, *reader.block_data(first)) for first, *_rest in metas]
                return scan.apply(frame_from_blocks(parts), chosen)
            rows = [row for first, *_rest in metas for row in reader.block_rows(first, wanted)]
        return frame_from_rows(rows, chosen)

    def tail(self, n: int = 10) -> list[AuditEvent]:
        """The last ``n`` events in chain order (oldest of them first)."""
        _count("tail count", n)
        if n == 0:
            return []
        rows: list[tuple] = []
        with self.store.read() as reader:
            for first, *_rest in reversed(reader.metas()):
                rows[:0] = reader.block_rows(first)
                if len(rows) >= n:
                    break
        return [_row_event(row) for row in rows[-n:]]

    def follow(self, after_seq: int | None = None, *, poll_interval: float = 0.5,
               max_seconds: float | None = None, count: int | None = None) -> Iterator[AuditEvent]:
        """Yield events as they are committed (after ``after_seq``, default: the head).

        Stops after ``max_seconds`` or ``count`` events when given (else runs
        until the caller stops iterating).
        """
        if after_seq is None:
            after_seq = self.chain_head().seq
        else:
            _count("after_seq", after_seq)
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        yielded = 0
        while count is None or yielded < count:
            rows = list(itertools.islice(self.store.iter_chain(after_seq + 1), 1000))
            for row in rows:
                yield _row_event(row)
                after_seq = row[0]
                yielded += 1
                if count is not None and yielded >= count:
                    return
            if deadline is not None and time.monotonic() >= deadline:
                return
            if not rows:
                wait = poll_interval if deadline is None else min(poll_interval, max(0.0, deadline - time.monotonic()))
                time.sleep(wait)

    # ---- chain --------------------------------------------------------------
    def chain_head(self) -> ChainHead:
        """(seq, event_id, hash) of the newest event: what a checkpoint anchors."""
        head, _base = self.store.chain_state()
        return head

    def chain_base(self) -> ChainHead:
        """Where the retained chain starts: the last pruned event (seq 0 = genesis)."""
        _head, base = self.store.chain_state()
        return base

    def verify(self, start_seq: int | None = None, end_seq: int | None = None, *,
               start_event_id: str | None = None, end_event_id: str | None = None,
               expect_hash: str | None = None) -> VerifyResult:
        """Check the chain (whole, or ``start..end`` inclusive by seq or event id).

        A whole-log check also compares the last event with the recorded head
        (catches truncation). ``expect_hash``: the hash the last checked event
        must have, e.g. a checkpoint's anchored head hash.
        """
        check_hash(expect_hash, "expect_hash")
        result = self._verify_once(start_seq, end_seq, start_event_id, end_event_id, expect_hash)
        if not result.ok and result.problem == "deleted":
            # A prune running at the same time moves the base: check again.
            result = self._verify_once(start_seq, end_seq, start_event_id, end_event_id, expect_hash)
        return result

    def _verify_once(self, start_seq, end_seq, start_event_id, end_event_id, expect_hash) -> VerifyResult:
        head, base = self.store.chain_state()
        if start_event_id is not None:
            start_seq = self.get_event(start_event_id).seq
        if end_event_id is not None:
            end_seq = self.get_event(end_event_id).seq
        if start_seq is not None and end_seq is not None and start_seq > end_seq:
            raise InvalidInput(f"empty range: the start (seq {start_seq}) comes after the end (seq {end_seq})")
        first = base.seq + 1 if start_seq is None else start_seq
        last = head.seq if end_seq is None else end_seq
        if first <= base.seq:
            raise InvalidInput(f"events up to seq {base.seq} were pruned; verify from seq {base.seq + 1}")
        if last > head.seq:
            if expect_hash is not None and start_seq is None:  # an anchored head the log no longer reaches
                return VerifyResult(ok=False, checked=0, first_bad_seq=head.seq + 1, problem="deleted",
                                    reason=f"the log ends at seq {head.seq}, before the anchored seq {last}: the"
                                    " events after it were deleted")
            raise InvalidInput(f"the log ends at seq {head.seq}; cannot verify up to seq {last}")
        if first > last + 1:
            raise InvalidInput(f"empty range: start seq {first} is after end seq {last}")
        if first == base.seq + 1:
            prev_hash = base.hash
        else:
            with self.store.read() as reader:
                prev_hash = reader.hash_at(first - 1)
            if prev_hash is None:
                return VerifyResult(ok=False, checked=0, first_bad_seq=first - 1, problem="deleted",
                                    reason=f"seq {first - 1}, the event before the range, is missing (deleted)")
        verifier = ChainVerifier(first, prev_hash, self.store.find_hash, self._id_at)
        beyond = None
        for block in self.store.iter_blocks(first):
            if block[0] > last or (last == head.seq and block[1] > last):
                beyond = block  # events past the range: past the head when the range ends there
                if block[0] > last:
                    break
            if not verifier.feed_block(*block, upto=last):
                break
        result = verifier.check_end(head if last == head.seq else None, expect_hash)
        if result.ok and last == head.seq and beyond is not None:
            # Events past the recorded head: the head row was rewound or deleted (and re-made empty).
            seq = max(beyond[0], head.seq + 1)
            return VerifyResult(ok=False, checked=result.checked, start_seq=result.start_seq,
                                end_seq=result.end_seq, first_bad_seq=seq, first_bad_event_id=self._id_at(seq),
                                problem="head", reason=f"the log holds events after its recorded head (seq "
                                f"{head.seq}): the chain head was rewound or deleted")
        return result

    def _id_at(self, seq: int) -> str | None:
        """The event id stored for ``seq`` (from its block, else from the id index): for reports."""
        with self.store.read() as reader:
            try:
                row = reader.row(seq)
            except DamagedBlock:
                row = None
            if row is not None and isinstance(row[1], str):
                return row[1]
            found = reader.run("SELECT event_id FROM audit_event_ids WHERE seq = ?", (seq,))
        return found[0][0] if found else None

    # ---- retention ----------------------------------------------------------
    def prune(self, before: Any, *, user_id: str | None = None) -> PruneResult:
        """Delete the oldest run of events stamped before ``before`` (see module doc)."""
        cutoff = parse_time(before)
        if cutoff > time.time() + 60:
            # A date in the future would delete everything, earlier prune records included.
            raise InvalidInput(f"cannot prune before {before!r}: that is in the future; give a past time such as 90d or 2024-01-01")
        with self._commit_lock, self.store.write() as tx:
            tx.seal()  # the open tail's events too become a block: prune works on blocks
            deleted = _prune_blocks(tx, cutoff)
            older = sum(len(tx.reader.block_rows(first, EventFilter(end=cutoff)))
                        for first, *_rest in tx.reader.metas(None, cutoff))
            details = {"before": cutoff, "deleted": deleted, "base_seq": tx.base.seq,
                       "base_hash": tx.base.hash, "remaining_older": older}
            row_ = prepare_row("admin", "audit.prune", user_id=user_id, resource_type="audit_log",
                               details=details)
            tx.append([(row_, canonical_body(row_))])
        if deleted and self.path is not None:
            from .columns import drop_snapshot

            drop_snapshot(self.path)
        return PruneResult(deleted, tx.base.seq, tx.base.hash, older, row_[0])

    # ---- import / export ------------------------------------------------------
    def import_events(self, path: str | os.PathLike, format: str = "auto", strict: bool = False, *,
                      year: int | None = None, tz: str | None = None,
                      user_id: str | None = None) -> ImportReport:
        """Import a JSONL or sshd/auth.log file; one transaction for the whole file.

        Bad lines are skipped and listed (line number + reason); with
        ``strict`` any bad line rejects the file and nothing is written.
        Events already in the log (same id and content) are counted as duplicates;
        an id reused for other content is a bad line.
        The import is recorded as an ``admin`` event (``audit.import``).
        """
        parsed = parse_file(path, format, year=year, tz=tz)
        if strict and parsed.skipped:
            first = parsed.skipped[0]
            raise InvalidInput(
                f"{path}: {len(parsed.skipped)} bad line(s), nothing imported"
                f" (first: line {first.line}: {first.reason}); fix them or import without --strict"
            )
        with self._commit_lock, self.store.write() as tx:
            # Under the chain lock: another process importing the same file commits first or after,
            # never between this check and this insert (its events count as already present).
            fresh, duplicates = self._drop_known(tx, parsed)
            if strict and parsed.skipped:  # raised inside the transaction: nothing is written
                first = parsed.skipped[0]
                raise InvalidInput(f"{path}: line {first.line}: {first.reason}; nothing imported")
            links = tx.append([(row, canonical_body(row)) for row in fresh])
            details = {"file": str(path), "format": parsed.format, "imported": len(fresh),
                       "duplicates": duplicates, "skipped": len(parsed.skipped), "ignored": parsed.ignored}
            note = prepare_row("admin", "audit.import", user_id=user_id, resource=Path(path).name,
                               resource_type="file", details=details,
                               status="success" if not parsed.skipped else "failure",
                               severity="info" if not parsed.skipped else "low")
            tx.append([(note, canonical_body(note))])
        return ImportReport(str(path), parsed.format, len(fresh), duplicates, parsed.ignored,
                            parsed.skipped, links[0][0] if links else None, links[-1][0] if links else None)

    def _drop_known(self, tx, parsed) -> tuple[list[tuple], int]:
        """Rows whose event id is not in the log yet (nor earlier in the file), and how many were.

        An id already used by an event with other content is no duplicate: that
        line is added to ``parsed.skipped`` with the reason.
        """
        known: dict[str, tuple] = {}
        seqs = tx.reader.seqs_of([row[0] for row in parsed.rows])
        stored = tx.reader.rows_at(list(seqs.values()))
        for event_id, seq in seqs.items():
            row = stored.get(seq)
            known[event_id] = () if row is None else tuple(row[1:18])
        fresh: list[tuple] = []
        duplicates = 0
        for row, lineno in zip(parsed.rows, parsed.lines, strict=True):
            earlier = known.get(row[0])
            if earlier is None:
                known[row[0]] = row
                fresh.append(row)
            elif earlier == tuple(row):
                duplicates += 1
            else:
                parsed.skipped.append(SkippedLine(lineno, f"event_id {row[0]} is already used by a different event"))
        return fresh, duplicates

    def export(self, out: str | os.PathLike | IO[str], format: str = "jsonl", since: Any = None,
               until: Any = None) -> int:
        """Write events (chain order, chain fields included) as JSONL or CSV; returns the count.

        A JSONL export of a contiguous range can be checked by anyone with
        ``chain.verify_export_file`` (``ipfs-kit audit verify --file``).
        A path is written atomically (temp file + rename).
        """
        if format not in EXPORT_FORMATS:
            raise InvalidInput(f"export format must be one of {', '.join(EXPORT_FORMATS)}, not {format!r}")
        wanted = EventFilter.build(since, until)
        if hasattr(out, "write"):
            return self._write_export(out, format, wanted)
        from ..config import atomic_write_text, output_target

        target = output_target(out)
        if not target.parent.is_dir():
            raise InvalidInput(f"cannot write {out}: directory {target.parent} does not exist")
        buffer = io.StringIO()
        count = self._write_export(buffer, format, wanted)
        try:
            atomic_write_text(target, buffer.getvalue(), mode=0o600)
        except OSError as exc:
            raise InvalidInput(f"cannot write {out}: {exc.strerror or exc}") from exc
        return count

    def _write_export(self, out: IO[str], format: str, wanted: EventFilter) -> int:
        writer = csv.writer(out, lineterminator="\n") if format == "csv" else None
        if writer is not None:
            writer.writerow(ALL_FIELDS)
        count = done = 0
        for first, _last, lo, hi, bodies, links, _keys in self.store.iter_blocks(1):
            if (wanted.start is not None and hi < wanted.start) or (wanted.end is not None and lo >= wanted.end):
                continue
            for row in blocks.rows(first, bytes(bodies), links, wanted):
                if row[0] <= done:
                    continue  # given already (a block merged while we read)
                done = row[0]
                if writer is None:
                    out.write(json.dumps(_row_event(row).to_dict(), ensure_ascii=False) + "\n")
                else:
                    writer.writerow(_csv_row(row))
                count += 1
        return count

# ---- helpers ------------------------------------------------------------------


def _event_fields(item: dict[str, Any] | AuditEvent, index: int) -> dict[str, Any]:
    if isinstance(item, AuditEvent):
        if item.seq is not None:
            raise InvalidInput(f"event {index} is already committed (seq {item.seq})")
        data = item.to_dict()
        for name in CHAIN_FIELDS:
            data.pop(name)
        return data
    if not isinstance(item, dict):
        raise InvalidInput(f"event {index} must be a dict of event fields, not {type(item).__name__}")
    chain = [name for name in CHAIN_FIELDS if name in item]
    if chain:
        raise InvalidInput(f"event {index}: {', '.join(chain)} are assigned by the log, not by callers")
    return item


MAX_COUNT = (1 << 63) - 1  # SQLite INTEGER / PostgreSQL BIGINT: LIMIT, OFFSET and seq values


def _count(name: str, value: Any) -> int:
    """A count, limit or offset: an integer from 0 to ``MAX_COUNT`` (else InvalidInput)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise InvalidInput(f"{name} must be an integer from 0 to {MAX_COUNT} (2**63-1), not {shown}")
    return value


def _merge(details: dict | None, **extra: Any) -> dict:
    merged = dict(details or {})
    merged.update({k: v for k, v in extra.items() if v is not None})
    return merged


def _row_by_id(reader: BlockReader, event_id: str) -> tuple | None:
    seq = reader.seqs_of([event_id]).get(event_id)
    row = None if seq is None else reader.row(seq)
    return row if row is not None and row[1] == event_id else None


def _newest(reader: BlockReader, wanted: EventFilter, need: int | None, desc: bool,
            after: tuple[float, int] | None) -> list[tuple]:
    """Matching rows ordered by (timestamp, seq), the first ``need`` of them (all when None).

    Blocks are read in the order of their time range (newest end first for
    ``desc``); reading stops once no unread block can hold an event that
    sorts before the ``need``-th found so far. ``after``: (timestamp, seq) of
    the paging cursor; only events sorting after it count.
    """
    metas = reader.metas(wanted.start, wanted.end, wanted)
    if desc:
        metas.sort(key=lambda m: (m[3], m[1]), reverse=True)
    else:
        metas.sort(key=lambda m: (m[2], m[0]))
    key = _order_key
    found: list[tuple] = []
    for first, _last, lo, hi in metas:
        if after is not None and (lo > after[0] if desc else hi < after[0]):
            continue
        if need is not None and len(found) >= need:
            found.sort(key=key, reverse=desc)
            del found[need:]
            bound = found[-1][2]
            if (hi < bound) if desc else (lo > bound):
                break
        rows = reader.block_rows(first, wanted)
        if after is not None:
            rows = [r for r in rows if ((r[2], r[0]) < after if desc else (r[2], r[0]) > after)]
        found.extend(rows)
    found.sort(key=key, reverse=desc)
    return found if need is None else found[:need]


def _order_key(row: tuple) -> tuple[float, int]:
    return row[2], row[0]


def _prune_blocks(tx: WriteTx, cutoff: float) -> int:
    """Delete the oldest run of events stamped before ``cutoff``; move the base; return how many."""
    reader = tx.reader
    whole, keep_from, last_pruned = [], None, tx.head.seq
    for first, _last, _lo, hi in reader.metas():
        if hi >= cutoff:  # the first block (in seq order) holding an event at or after the cutoff
            rows = reader.block_rows(first)
            k = next(i for i, row in enumerate(rows) if row[2] >= cutoff)
            last_pruned = rows[k][0] - 1
            keep_from = (first, k) if k else None
            break
        whole.append(first)
    if last_pruned <= tx.base.seq:
        return 0
    anchor = reader.row(last_pruned)
    if keep_from is not None:
        first, k = keep_from
        bodies, links = reader.run("SELECT bodies, links FROM audit_blocks WHERE first_seq = ?", (first,))[0]
        lines = bytes(bodies).split(b"\n")[k:]
        values = [v for v in blocks.parse_lenient(b"\n".join(lines)) if v is not None]
        times = [v[1] for v in values] or [0.0]
        tx.execute("DELETE FROM audit_blocks WHERE first_seq = ?", (first,))
        tx.execute(INSERT_BLOCK, (first + k, first + k + len(lines) - 1, min(times), max(times), b"\n".join(lines),
                                  links[k * blocks.LINK_CHARS:], blocks.block_keys(values)))
    for first in whole:
        tx.execute("DELETE FROM audit_blocks WHERE first_seq = ?", (first,))
    tx.execute("DELETE FROM audit_event_ids WHERE seq <= ?", (last_pruned,))
    deleted = last_pruned - tx.base.seq
    tx.set_base(ChainHead(last_pruned, anchor[1], anchor[19]))
    return deleted


def _csv_row(row: tuple) -> list:
    # CSV follows ALL_FIELDS: the 17 event fields, then seq, prev_hash, hash.
    values = list(row[1:18]) + [row[COL["seq"]], row[COL["prev_hash"]], row[COL["hash"]]]
    return ["" if v is None else v for v in values]


__all__ = ["AuditLogger", "EventPage", "PruneResult", "SkippedLine"]
