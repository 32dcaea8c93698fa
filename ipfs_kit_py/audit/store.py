"""SQL storage for the audit log: SQLite (default) and PostgreSQL, one schema.

Tables (same in both databases; schema version 3):

- ``audit_blocks``: the events, in blocks of consecutive ``seq`` (layout and
  why: ``blocks``). Columns: ``first_seq`` (primary key), ``last_seq``,
  ``min_ts``/``max_ts`` (the block's time range; indexed on ``max_ts``),
  ``bodies`` (each event's canonical JSON, the bytes its hash covers),
  ``links`` (each event's prev_hash + hash). A committed batch is one block
  (split above ``MAX_BLOCK`` events). Single events join the open tail,
  kept in the chain row; when it is full it is sealed into a block, and
  ``MERGE_RUN`` small blocks in a row at the end of the log are merged into
  one, until blocks reach ``SMALL_BLOCK`` events.
- ``audit_event_ids``: ``event_id`` -> ``seq``. Its primary key makes ids
  unique in a log and finds an event by id. Events in the open tail are
  checked against it and the tail when they join, and enter it when sealed.
- ``audit_chain``: a single row, kept within one database page: the head
  (last seq, event id, hash), the open tail (``tail_first_seq``,
  ``tail_bodies``, ``tail_links``: the newest events not yet in a block, as in
  a block) and the base (the anchor left by ``prune``: last pruned seq and its
  hash; seq 0 and the genesis hash when nothing was pruned). Head and tail
  share the row so that a single event's commit is one small row rewritten:
  one statement, one page.

Older logs are converted in place the first time they are opened: version 1
(a row per event in ``audit_events``) into blocks, stored bytes re-encoded to
the canonical form, so an event edited before the conversion still fails
``verify``; version 2 (the tail in a table of its own) by moving the tail into
the chain row.

Writes: one transaction appends a batch. The head row is read under a write
lock — SQLite ``BEGIN IMMEDIATE`` (one writer per database file, other
processes wait up to ``busy_timeout``), PostgreSQL ``SELECT ... FOR UPDATE``
on the head row — so any number of threads and processes extend one chain and
never fork it.

Reads: ``read()`` is one read transaction (a consistent view of blocks and
ids); ``iter_chain``/``iter_blocks`` stream in seq order with short queries,
so a slow consumer never holds a lock or a long-lived snapshot.

Durability:

- SQLite runs in WAL mode. Checkpoints (copying the WAL back into the
  database file, with its fsync) run on a background thread instead of inside
  the commit that happens to cross the threshold, so writers do not wait for
  them; a writer checkpoints itself only if the background ones fall far
  behind (the WAL stays bounded).
  ``synchronous="normal"`` (default): a commit is in
  the WAL file (handed to the OS) before ``log_event`` returns, so it survives
  the process being killed at any moment; a power cut or kernel crash may lose
  the last commits since the previous WAL sync (the database stays
  consistent). ``synchronous="full"`` fsyncs the WAL on every commit: nothing
  acknowledged is lost even on power failure, at the cost of one fsync per
  commit (group commit shares it between concurrent writers).
- PostgreSQL: a commit returns after the server has flushed its WAL (server
  setting ``synchronous_commit``, default on).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import json
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from ..errors import BackendError, Conflict, InvalidInput
from . import blocks
from .blocks import LINK_CHARS, DamagedBlock, EventFilter
from .chain import ChainHead, chain_hash
from .events import ALL_FIELDS, GENESIS_HASH, canonical_body

SCHEMA_VERSION = 3
# The shape of a decoded row: seq, the 17 event fields (details as JSON text), prev_hash, hash.
COLUMNS = ("seq",) + ALL_FIELDS[:17] + ("prev_hash", "hash")
COL = {name: i for i, name in enumerate(COLUMNS)}

MAX_BLOCK = 4096  # events per block at most (a bigger batch is split)
TAIL_BYTES = 3700  # the chain row with the open tail stays within one database page ...
TAIL_EVENTS = 64  # ... and holds at most this many events
SMALL_BLOCK = 256  # blocks smaller than this at the end of the log are merged ...
MERGE_RUN = 8  # ... once there are this many of them in a row

_BLOCKS_DDL = """
CREATE TABLE IF NOT EXISTS audit_blocks (
    first_seq {int_type} PRIMARY KEY,
    last_seq {int_type} NOT NULL,
    min_ts {float_type} NOT NULL,
    max_ts {float_type} NOT NULL,
    keys {blob_type} NOT NULL,
    bodies {blob_type} NOT NULL,
    links TEXT NOT NULL
)"""
_IDS_DDL = """
CREATE TABLE IF NOT EXISTS audit_event_ids (
    event_id TEXT PRIMARY KEY,
    seq {int_type} NOT NULL
){without_rowid}"""
_CHAIN_DDL = """
CREATE TABLE IF NOT EXISTS audit_chain (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    head_seq {int_type} NOT NULL,
    head_event_id TEXT,
    head_hash TEXT NOT NULL,
    base_seq {int_type} NOT NULL,
    base_event_id TEXT,
    base_hash TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    tail_first_seq {int_type},
    tail_bodies {blob_type},
    tail_links TEXT
)"""
# The open tail's columns, added to a version 2 chain row (nullable: a NULL tail reads as empty).
_TAIL_COLUMNS = (("tail_first_seq", "{int_type}"), ("tail_bodies", "{blob_type}"), ("tail_links", "TEXT"))
_INDEXES = ("CREATE INDEX IF NOT EXISTS audit_blocks_time ON audit_blocks (max_ts)",)
_CHAIN_INIT = (
    "INSERT INTO audit_chain (id, head_seq, head_event_id, head_hash, base_seq, base_event_id,"
    " base_hash, schema_version, tail_first_seq, tail_bodies, tail_links)"
    " VALUES (1, 0, NULL, ?, 0, NULL, ?, ?, 1, ?, '') ON CONFLICT (id) DO NOTHING"
)
BLOCK_COLUMNS = "first_seq, last_seq, min_ts, max_ts, bodies, links, keys"
INSERT_BLOCK = f"INSERT INTO audit_blocks ({BLOCK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
INSERT_ID = "INSERT INTO audit_event_ids (event_id, seq) VALUES (?, ?)"
_TAIL = "SELECT tail_first_seq, tail_bodies, tail_links FROM audit_chain WHERE id = 1"
_SET_TAIL = "UPDATE audit_chain SET tail_first_seq = ?, tail_bodies = ?, tail_links = ? WHERE id = 1"
# One statement for a commit's reads: head, open tail, and whether a single event's id is taken.
_HEAD_TAIL_ID = ("SELECT head_seq, head_hash, tail_first_seq, tail_bodies, tail_links,"
                 " (SELECT seq FROM audit_event_ids WHERE event_id = ?) FROM audit_chain WHERE id = 1")
_SET_HEAD = "UPDATE audit_chain SET head_seq = ?, head_event_id = ?, head_hash = ? WHERE id = 1"
_SET_HEAD_TAIL = ("UPDATE audit_chain SET head_seq = ?, head_event_id = ?, head_hash = ?, tail_first_seq = ?,"
                  " tail_bodies = ?, tail_links = ? WHERE id = 1")
# A single event's whole commit, when the head and tail are still as this process last wrote
# them (no other writer since): one statement in its own transaction.
ADVANCE = _SET_HEAD_TAIL + (" AND head_seq = ? AND head_hash = ? AND tail_first_seq = ? AND tail_bodies = ?"
                            " AND tail_links = ?")
_ID_SEQ = "SELECT seq FROM audit_event_ids WHERE event_id = ?"
_HEAD = "SELECT head_seq, head_event_id, head_hash, base_seq, base_event_id, base_hash FROM audit_chain WHERE id = 1"
_V1_COLUMNS = ("seq, event_id, timestamp, event_type, action, status, user_id, source_ip, resource, resource_type,"
               " backend, operation_id, parent_id, session_id, duration_ms, bytes, severity, details, prev_hash, hash")


def chain_links(head_seq: int, head_hash: str, bodies: list[bytes]) -> list[tuple[int, str, str]]:
    """(seq, prev_hash, hash) for canonical bodies appended after the head."""
    seq, prev = head_seq, head_hash
    links = []
    sha256 = hashlib.sha256
    for body in bodies:
        seq += 1
        digest = sha256(prev.encode("ascii") + body).hexdigest()  # chain.chain_hash, inlined for batches
        links.append((seq, prev, digest))
        prev = digest
    return links


def block_records(prepared: list[tuple[tuple, bytes]], links: list[tuple[int, str, str]]) -> list[tuple]:
    """``audit_blocks`` rows (``BLOCK_COLUMNS``) for chained events (at most ``MAX_BLOCK`` events each)."""
    out = []
    for start in range(0, len(prepared), MAX_BLOCK):
        chunk = prepared[start:start + MAX_BLOCK]
        chunk_links = links[start:start + MAX_BLOCK]
        # A row is None for a line of a sealed tail that was edited by hand (no longer an event).
        good = [row for row, _body in chunk if row is not None]
        times = [row[1] for row in good] or [0.0]
        bodies, link_text = blocks.encode([body for _row, body in chunk], chunk_links)
        out.append((chunk_links[0][0], chunk_links[-1][0], min(times), max(times), bodies, link_text,
                    blocks.block_keys(good)))
    return out


class Tail(NamedTuple):
    """The open tail: the newest events, not yet in a block (``first_seq`` .. ``last_seq``).

    A NamedTuple, not a frozen dataclass: one is made per single-event commit.
    """

    first_seq: int
    bodies: bytes
    links: str

    @property
    def count(self) -> int:
        return len(self.links) // LINK_CHARS

    @property
    def last_seq(self) -> int:
        return self.first_seq + self.count - 1

    def has_room(self, events: int, added_bytes: int) -> bool:
        """Whether ``events`` more events of ``added_bytes`` (lines, links, separators) fit."""
        return (self.count + events <= TAIL_EVENTS
                and len(self.bodies) + len(self.links) + added_bytes <= TAIL_BYTES)

    def extended(self, bodies: bytes, link_text: str, first_seq: int) -> Tail:
        """The tail with more event lines and links (``first_seq``: the first's, used when empty)."""
        if self.count:
            return Tail(self.first_seq, self.bodies + b"\n" + bodies, self.links + link_text)
        return Tail(first_seq, bodies, link_text)

    def link_list(self) -> list[tuple[int, str, str]]:
        h, n = blocks.HASH_CHARS, LINK_CHARS
        return [(self.first_seq + i, self.links[i * n:i * n + h], self.links[i * n + h:(i + 1) * n])
                for i in range(self.count)]

    def block(self) -> tuple:
        """As a block record (``BLOCK_COLUMNS``; no keys: the tail is always read)."""
        times = [v[1] for v in blocks.parse_lenient(self.bodies) if v is not None] or [0.0]
        lo, hi = min(times), max(times)
        return (self.first_seq, self.last_seq, lo, hi, self.bodies, self.links, None)


def tail_of(found: list, head_seq: int) -> Tail:
    """The tail from a ``_TAIL`` query (empty, starting after the head, when its columns were nulled)."""
    if not found or found[0][0] is None or found[0][1] is None or found[0][2] is None:
        return Tail(head_seq + 1, b"", "")
    first, bodies, links = found[0]
    return Tail(first, bytes(bodies), links)


_IDS_PER_INSERT = 1000


@functools.lru_cache(maxsize=8)
def _ids_insert(rows: int) -> str:
    return "INSERT INTO audit_event_ids (event_id, seq) VALUES " + ", ".join(["(?, ?)"] * rows)


Run = Callable[..., list]


class BlockReader:
    """Reads blocks and ids through ``run(sql, params) -> rows`` (one transaction's view)."""

    def __init__(self, run: Run):
        self.run = run
        self._tail: Tail | None = None

    def tail(self) -> Tail:
        if self._tail is None:
            self._tail = tail_of(self.run(_TAIL), 0)
        return self._tail

    def metas(self, start: float | None = None, end: float | None = None,
              wanted: EventFilter | None = None) -> list[tuple]:
        """(first_seq, last_seq, min_ts, max_ts) of the blocks that may hold events in [start, end)
        (and, with ``wanted``, whose keys may hold its exact values)."""
        where, params = [], []
        if start is not None:
            where.append("max_ts >= ?")
            params.append(start)
        if end is not None:
            where.append("min_ts < ?")
            params.append(end)
        clause = " WHERE " + " AND ".join(where) if where else ""
        if wanted is not None and wanted.keys:
            metas = [m[:4] for m in self.run(
                f"SELECT first_seq, last_seq, min_ts, max_ts, keys FROM audit_blocks{clause} ORDER BY first_seq",
                params) if wanted.may_hold(m[4])]
        else:
            metas = self.run(f"SELECT first_seq, last_seq, min_ts, max_ts FROM audit_blocks{clause} ORDER BY first_seq",
                             params)
        tail = self.tail()
        if tail.count:
            first, last, lo, hi, *_data = tail.block()
            if (start is None or hi >= start) and (end is None or lo < end):
                metas.append((first, last, lo, hi))
        return metas

    def block_data(self, first_seq: int) -> tuple[bytes, str] | None:
        """(bodies, links) of the block (or the open tail) starting at ``first_seq``."""
        found = self.run("SELECT bodies, links FROM audit_blocks WHERE first_seq = ?", (first_seq,))
        if found:
            return bytes(found[0][0]), found[0][1]
        tail = self.tail()
        if tail.count and tail.first_seq == first_seq:
            return tail.bodies, tail.links
        return None

    def block_rows(self, first_seq: int, wanted: EventFilter | None = None) -> list[tuple]:
        data = self.block_data(first_seq)
        return [] if data is None else blocks.rows(first_seq, data[0], data[1], wanted)

    def _holding(self, seq: int) -> tuple | None:
        """(first_seq, last_seq, bodies, links) of the block or tail holding ``seq``."""
        found = self.run("SELECT first_seq, last_seq, bodies, links FROM audit_blocks WHERE first_seq <= ?"
                         " ORDER BY first_seq DESC LIMIT 1", (seq,))
        if found and found[0][1] >= seq:
            first, last, bodies, links = found[0]
            return first, last, bytes(bodies), links
        tail = self.tail()
        if tail.count and tail.first_seq <= seq <= tail.last_seq:
            return tail.first_seq, tail.last_seq, tail.bodies, tail.links
        return None

    def row(self, seq: int) -> tuple | None:
        """The decoded row at ``seq`` (None if no block holds it)."""
        found = self._holding(seq)
        if found is None:
            return None
        out: dict[int, tuple] = {}
        self._lines_at(out, found[0], found[2], found[3], [seq])
        return out.get(seq)

    def rows_at(self, seqs: list[int]) -> dict[int, tuple]:
        """Decoded rows at the given seqs (each block read and split once)."""
        wanted = sorted(set(seqs))
        out: dict[int, tuple] = {}
        if not wanted:
            return out
        for first, last in self.run("SELECT first_seq, last_seq FROM audit_blocks WHERE last_seq >= ? AND"
                                    " first_seq <= ? ORDER BY first_seq", (wanted[0], wanted[-1])):
            inside = wanted[bisect.bisect_left(wanted, first):bisect.bisect_right(wanted, last)]
            if not inside:
                continue
            ((bodies, links),) = self.run("SELECT bodies, links FROM audit_blocks WHERE first_seq = ?", (first,))
            self._lines_at(out, first, bytes(bodies), links, inside)
        tail = self.tail()
        if tail.count:
            inside = [seq for seq in wanted if tail.first_seq <= seq <= tail.last_seq and seq not in out]
            self._lines_at(out, tail.first_seq, tail.bodies, tail.links, inside)
        return out

    @staticmethod
    def _lines_at(out: dict, first: int, bodies: bytes, links: str, seqs: list[int]) -> None:
        lines = bodies.split(b"\n")
        for seq in seqs:
            if seq - first < len(lines):
                out[seq] = blocks.line_row(first, lines[seq - first], links, seq, offset=seq - first)

    def hash_at(self, seq: int) -> str | None:
        found = self._holding(seq)
        if found is None:
            return None
        o = (seq - found[0]) * LINK_CHARS + blocks.HASH_CHARS
        digest = found[3][o:o + blocks.HASH_CHARS]
        return digest if len(digest) == blocks.HASH_CHARS else None

    def seqs_of(self, event_ids: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(event_ids), 500):
            chunk = event_ids[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            found.update(self.run(f"SELECT event_id, seq FROM audit_event_ids WHERE event_id IN ({marks})", chunk))
        tail = self.tail()
        if tail.count and len(found) < len(event_ids):
            wanted = set(event_ids)
            for i, v in enumerate(blocks.parse_lenient(tail.bodies)):
                if v is not None and v[0] in wanted and v[0] not in found:
                    found[v[0]] = tail.first_seq + i
        return found

    def find_hash(self, digest: str) -> int | None:
        """The seq of the event whose hash is ``digest`` (a scan: only used after a break)."""
        tail = self.tail()
        for first_seq, links in [*self.run("SELECT first_seq, links FROM audit_blocks ORDER BY first_seq"),
                                 (tail.first_seq, tail.links)]:
            at = links.find(digest)
            while at >= 0:
                if at % LINK_CHARS == blocks.HASH_CHARS:
                    return first_seq + at // LINK_CHARS
                at = links.find(digest, at + 1)
        return None


class WriteTx:
    """One write transaction holding the chain lock; ``append`` extends the chain."""

    def __init__(self, store: AuditStore, cur: Any, head_row: tuple):
        self.store = store
        self.cur = cur
        self.head = ChainHead(head_row[0], head_row[1], head_row[2])
        self.base = ChainHead(head_row[3], head_row[4], head_row[5])
        self.reader = BlockReader(self.query)
        self.written = 0
        self._tail: Tail | None = None

    @property
    def tail(self) -> Tail:
        if self._tail is None:
            self._tail = tail_of(self.query(_TAIL), self.head.seq)
        return self._tail

    def append(self, prepared: list[tuple[tuple, bytes]]) -> list[tuple[int, str, str]]:
        """Insert (row, canonical body) pairs; return (seq, prev_hash, hash) for each."""
        if not prepared:
            return []
        links, self._tail, written = self.store._append(self.cur, self.head.seq, self.head.hash, self.tail, prepared)
        self.reader = BlockReader(self.query)  # its cached tail is gone
        self.written += written
        self.head = ChainHead(links[-1][0], prepared[-1][0][0], links[-1][2])
        return links

    def seal(self) -> None:
        """Move the open tail into a block (prune works on blocks only)."""
        if self.tail.count:
            self._tail, written = self.store._seal(self.cur, self.tail, [], [])
            self.execute(_SET_TAIL, self._tail)
            self.reader = BlockReader(self.query)
            self.written += written

    def set_head(self, head: ChainHead) -> None:
        self.execute(_SET_HEAD, (head.seq, head.event_id, head.hash))
        self.head = head

    def set_base(self, base: ChainHead) -> None:
        self.execute("UPDATE audit_chain SET base_seq = ?, base_event_id = ?, base_hash = ? WHERE id = 1",
                     (base.seq, base.event_id, base.hash))
        self.base = base

    def execute(self, sql: str, params: tuple | list = ()) -> Any:
        return self.cur.execute(self.store.sql(sql), tuple(params))

    def query(self, sql: str, params: tuple | list = ()) -> list:
        return self.execute(sql, params).fetchall()


class AuditStore(ABC):
    """Shared SQL for both databases; subclasses supply connections and locking."""

    integrity_errors: tuple[type[BaseException], ...] = ()
    backend_errors: tuple[type[BaseException], ...] = ()
    _types: dict[str, str] = {}

    def __init__(self) -> None:
        # One writer connection and one reader connection per process-local
        # store; each is used by one thread at a time.
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()

    def sql(self, text: str) -> str:
        return text

    # ---- writing ------------------------------------------------------------
    def append(self, prepared: list[tuple[tuple, bytes]], fresh_ids: bool = False) -> list[tuple[int, str, str]]:
        """Chain and commit events in one transaction; (seq, prev_hash, hash) for each.

        ``fresh_ids``: every id was just generated (a ULID's 80 random bits):
        the single-event path may skip looking it up.
        """
        with self.write() as tx:
            return tx.append(prepared)

    @contextmanager
    def write(self) -> Iterator[WriteTx]:
        with self._write_lock, self._errors():
            with self._write_transaction() as (cur, head_row):
                tx = WriteTx(self, cur, head_row)
                yield tx
                self._written = tx.written

    def _append(self, cur: Any, head_seq: int, head_hash: str, tail: Tail, prepared: list[tuple[tuple, bytes]],
                looked_up: tuple | None = None) -> tuple[list[tuple[int, str, str]], Tail, int]:
        """Chain events after the head, store them and move the head: (links, new tail, bytes written).

        A few events join the open tail (one small row rewritten: the cheapest
        commit); when the tail would outgrow a page, it and the new events are
        sealed into a block. ``looked_up``: for a single event, ``(seq,)`` of
        the event already using its id as the caller's head query found it
        (``(None,)``: unused); None: look the ids up here.
        """
        if len(prepared) == 1:
            body = prepared[0][1]
            links = [(head_seq + 1, head_hash, chain_hash(head_hash, body))]
            added = len(body) + LINK_CHARS + 1
        else:
            links = chain_links(head_seq, head_hash, [body for _row, body in prepared])
            added = sum(len(body) for _row, body in prepared) + len(prepared) * (LINK_CHARS + 1)
        if tail.has_room(len(prepared), added):
            self._check_unused(cur, prepared, tail, looked_up)
            tail = tail.extended(b"\n".join(body for _row, body in prepared),
                                 "".join([prev + digest for _seq, prev, digest in links]), links[0][0])
            written = len(tail.bodies) + len(tail.links)
        else:
            tail, written = self._seal(cur, tail, prepared, links)
        cur.execute(self.sql(_SET_HEAD_TAIL), (links[-1][0], prepared[-1][0][0], links[-1][2], *tail))
        return links, tail, written

    def _seal(self, cur: Any, tail: Tail, prepared: list[tuple[tuple, bytes]],
              links: list[tuple[int, str, str]]) -> tuple[Tail, int]:
        """Store the tail's events and ``prepared`` as block(s) with their ids; returns the empty tail
        that follows (for the caller to write with the head) and the bytes written."""
        records: list[tuple] = []
        if tail.count:
            lines = tail.bodies.split(b"\n")
            values = blocks.parse_lenient(tail.bodies)  # an event edited by hand stays; verify names it
            if len(lines) == tail.count:
                prepared = list(zip(values, lines, strict=True)) + prepared
                links = tail.link_list() + links
            else:  # lines and links no longer pair up (edited by hand): sealed as they are, on their own
                good = [v for v in values if v is not None]
                times = [v[1] for v in good] or [0.0]
                records.append((tail.first_seq, tail.last_seq, min(times), max(times), tail.bodies, tail.links,
                                blocks.block_keys(good)))
        if prepared:
            records += block_records(prepared, links)
        self._insert_blocks(cur, records)
        self._insert_ids(cur, [(row[0], link[0]) for (row, _body), link in zip(prepared, links, strict=True)
                               if row is not None and row[0].__class__ is str])
        written = sum(len(r[4]) + len(r[5]) + len(r[6]) for r in records)
        empty = Tail(records[-1][1] + 1, b"", "")
        if len(prepared) < SMALL_BLOCK:
            written += self._merge_small_blocks(cur, records[-1][1])
        return empty, written

    def _check_unused(self, cur: Any, prepared: list[tuple[tuple, bytes]], tail: Tail,
                      looked_up: tuple | None) -> None:
        """Event ids are unique: in blocks the id index's key checks it; events joining the tail here."""
        ids = [row[0] for row, _body in prepared]
        if looked_up is not None:  # the caller's head query looked the one id up
            used = [ids[0]] if looked_up[0] is not None else []
        else:
            marks = ", ".join("?" * len(ids))
            used = [r[0] for r in cur.execute(
                self.sql(f"SELECT event_id FROM audit_event_ids WHERE event_id IN ({marks})"), ids).fetchall()]
        if not used and len(ids) > 1 and len(set(ids)) != len(ids):
            used = [i for i in ids if ids.count(i) > 1]
        if not used and tail.bodies:
            bodies = tail.bodies  # an event line starts with '[' and its id's JSON
            used = [i for i in ids if (bodies.startswith(key := b"[" + orjson.dumps(i) + b",")
                                       or b"\n" + key in bodies)]
        if used:
            raise Conflict(f"audit event rejected by the store: event_id {used[0]!r} is already in the log"
                           " (duplicate event_id)")

    def _merge_small_blocks(self, cur: Any, head_seq: int) -> int:
        """Merge the run of small blocks at the end of the log into one block."""
        def run(sql: str, params: tuple = ()) -> list:
            return cur.execute(self.sql(sql), params).fetchall()

        recent = run("SELECT first_seq, last_seq FROM audit_blocks WHERE first_seq > ? ORDER BY first_seq",
                     (head_seq - MERGE_RUN * SMALL_BLOCK,))
        small = 0
        for first, last in reversed(recent):
            if last - first + 1 >= SMALL_BLOCK:
                break
            small += 1
        if small < MERGE_RUN:
            return 0
        start = recent[-small][0]
        parts = run(f"SELECT {BLOCK_COLUMNS} FROM audit_blocks WHERE first_seq >= ? ORDER BY first_seq", (start,))
        merged = (start, parts[-1][1], min(p[2] for p in parts), max(p[3] for p in parts),
                  b"\n".join(bytes(p[4]) for p in parts), "".join(p[5] for p in parts),
                  blocks.merge_keys([p[6] for p in parts]))
        cur.execute(self.sql("DELETE FROM audit_blocks WHERE first_seq >= ?"), (start,))
        self._insert_blocks(cur, [merged])
        return len(merged[4]) + len(merged[5])

    def _insert_blocks(self, cur: Any, records: list[tuple]) -> None:
        if len(records) == 1:
            cur.execute(self.sql(INSERT_BLOCK), records[0])
        else:
            cur.executemany(self.sql(INSERT_BLOCK), records)

    def _insert_ids(self, cur: Any, pairs: list[tuple[str, int]]) -> None:
        if len(pairs) == 1:
            cur.execute(self.sql(INSERT_ID), pairs[0])
            return
        # One multi-row INSERT per chunk: a third of executemany's per-row cost (measured:
        # 0.75 vs 1.84 µs per id), within SQLite's 32766 bound parameters.
        for start in range(0, len(pairs), _IDS_PER_INSERT):
            chunk = pairs[start:start + _IDS_PER_INSERT]
            cur.execute(self.sql(_ids_insert(len(chunk))), [value for pair in chunk for value in pair])

    # ---- reading ------------------------------------------------------------
    @contextmanager
    def read(self) -> Iterator[BlockReader]:
        """A ``BlockReader`` over one read transaction (a consistent view)."""
        with self._read_lock, self._errors(), blocks.gc_paused(), self._read_transaction() as run:
            yield BlockReader(run)

    def fetchall(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        with self.read() as reader:
            return reader.run(sql, tuple(params))

    def fetchone(self, sql: str, params: tuple | list = ()) -> tuple | None:
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None

    def chain_state(self) -> tuple[ChainHead, ChainHead]:
        """(head, base) as recorded in the chain row."""
        row = self.fetchone(_HEAD)
        return ChainHead(row[0], row[1], row[2]), ChainHead(row[3], row[4], row[5])

    def iter_blocks(self, first_seq: int, last_seq: int | None = None, chunk: int = 16) -> Iterator[tuple]:
        """Blocks holding seqs from ``first_seq`` on (up to ``last_seq``), in seq order.

        Each chunk is its own short query (keyset on seq). A block that a
        concurrent merge rewrote may come back covering seqs already given:
        callers skip rows at or below the last seq they consumed.
        """
        after = first_seq - 1
        end = (1 << 62) if last_seq is None else last_seq
        while after < end:
            with self.read() as reader:
                found = reader.run(
                    f"SELECT {BLOCK_COLUMNS} FROM audit_blocks WHERE first_seq > ? AND first_seq <= ? AND last_seq > ?"
                    " ORDER BY first_seq LIMIT ?", (after - MAX_BLOCK, end, after, chunk))
                # The last blocks: the open tail follows them (read in the same snapshot).
                tail = reader.tail() if len(found) < chunk else None
            for record in found:
                yield record
                after = max(after, record[1])
            if tail is not None:
                if tail.count and tail.last_seq > after and tail.first_seq <= end:
                    yield tail.block()
                return

    def iter_chain(self, first_seq: int, last_seq: int | None = None) -> Iterator[tuple]:
        """Decoded rows with first_seq <= seq <= last_seq, in seq order."""
        done = first_seq - 1
        for first, _last, _lo, _hi, bodies, links, _keys in self.iter_blocks(first_seq, last_seq):
            for row in blocks.rows(first, bytes(bodies), links):
                if row[0] > done and (last_seq is None or row[0] <= last_seq):
                    done = row[0]
                    yield row

    def find_hash(self, digest: str) -> int | None:
        with self.read() as reader:
            return reader.find_hash(digest)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (*self.integrity_errors, *self.backend_errors, DamagedBlock) as exc:
            raise self._translate(exc) from exc

    def _translate(self, exc: BaseException) -> Exception:
        """The user-facing error for a database error or a damaged block."""
        if isinstance(exc, self.integrity_errors):
            return Conflict(f"audit event rejected by the store: {_first_line(exc)} (duplicate event_id?)")
        if isinstance(exc, DamagedBlock):
            return damaged(exc)
        return BackendError(f"audit store error: {_first_line(exc)}")

    # ---- schema ---------------------------------------------------------------
    def _ddl(self) -> list[str]:
        return [_BLOCKS_DDL.format(**self._types), _IDS_DDL.format(**self._types), _CHAIN_DDL.format(**self._types),
                *_INDEXES]

    def _create_schema(self, cur: Any) -> None:
        for stmt in self._ddl():
            cur.execute(self.sql(stmt), ())
        cur.execute(self.sql("SELECT schema_version FROM audit_chain WHERE id = 1"), ())
        found = cur.fetchone()
        if found is None:
            cur.execute(self.sql(_CHAIN_INIT), (GENESIS_HASH, GENESIS_HASH, SCHEMA_VERSION, b""))
            return
        version = found[0]
        if version not in (1, 2, SCHEMA_VERSION):
            raise InvalidInput(f"audit store has schema version {version}; this ipfs-kit reads version {SCHEMA_VERSION}")
        if version == 1:
            self._convert_v1(cur)
        if version in (1, 2):
            self._convert_v2(cur)
            cur.execute(self.sql("UPDATE audit_chain SET schema_version = ? WHERE id = 1"), (SCHEMA_VERSION,))

    def _convert_v1(self, cur: Any) -> None:
        """Move a version 1 log (a row per event) into blocks, in the opening transaction."""
        after = 0
        while True:
            cur.execute(self.sql(f"SELECT {_V1_COLUMNS} FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?"),
                        (after, MAX_BLOCK))
            rows = cur.fetchall()
            if not rows:
                break
            run_start = 0
            for i in range(1, len(rows) + 1):  # one block per run of consecutive seqs
                if i == len(rows) or rows[i][0] != rows[i - 1][0] + 1:
                    part = rows[run_start:i]
                    prepared = [(tuple(r[1:18]), _v1_body(r[1:18])) for r in part]
                    try:
                        self._insert_blocks(cur, block_records(prepared, [(r[0], r[18], r[19]) for r in part]))
                    except TypeError:
                        raise InvalidInput(f"cannot convert the audit log: an event near seq {part[0][0]} has a"
                                           " timestamp that is not a number (edited by hand)") from None
                    self._insert_ids(cur, [(r[1], r[0]) for r in part])
                    run_start = i
            after = rows[-1][0]
        cur.execute(self.sql("DROP TABLE audit_events"), ())

    def _convert_v2(self, cur: Any) -> None:
        """Move the open tail from its own table (version 2; none in version 1) into the chain row."""
        for name, kind in _TAIL_COLUMNS:
            cur.execute(self.sql(f"ALTER TABLE audit_chain ADD COLUMN {name} {kind.format(**self._types)}"), ())
        cur.execute(self.sql("CREATE TABLE IF NOT EXISTS audit_tail (id INTEGER PRIMARY KEY, first_seq {int_type},"
                             " bodies {blob_type}, links TEXT)".format(**self._types)), ())
        cur.execute(self.sql(
            "UPDATE audit_chain SET tail_first_seq = (SELECT first_seq FROM audit_tail WHERE id = 1),"
            " tail_bodies = (SELECT bodies FROM audit_tail WHERE id = 1),"
            " tail_links = (SELECT links FROM audit_tail WHERE id = 1) WHERE id = 1"), ())
        # No tail row (version 1, or deleted by hand): an empty tail after the head (verify reports a loss).
        cur.execute(self.sql("UPDATE audit_chain SET tail_first_seq = head_seq + 1, tail_bodies = ?, tail_links = ''"
                             " WHERE id = 1 AND tail_first_seq IS NULL"), (b"",))
        cur.execute(self.sql("DROP TABLE audit_tail"), ())

    @abstractmethod
    def close(self) -> None:
        """Close the store's connections."""

    @abstractmethod
    def _write_transaction(self, init: bool = False):
        """Context: (cursor, head row) inside a transaction holding the chain lock."""

    @abstractmethod
    def _read_transaction(self):
        """Context: ``run(sql, params) -> rows`` inside one read transaction."""


def _v1_body(values: tuple) -> bytes:
    try:
        return canonical_body(values)
    except Exception:  # noqa: BLE001 - a value edited by hand: keep it as stored, verify reports it
        return json.dumps(list(values), default=str, separators=(",", ":")).encode("utf-8", "surrogatepass")


def damaged(exc: DamagedBlock) -> BackendError:
    return BackendError(f"the audit log is damaged at seq {exc.first_seq} ({exc.reason});"
                        " run 'ipfs-kit audit verify' for the first bad event")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# One checkpoint thread for every SQLite audit log of the process (it is idle
# between checkpoints; a thread per log would outlive logs nobody closed).
# Made again in a forked child, which inherits the executor but not its thread.
_checkpointer: tuple[int, ThreadPoolExecutor] | None = None
_checkpointer_lock = threading.Lock()


def checkpointer() -> ThreadPoolExecutor:
    global _checkpointer
    with _checkpointer_lock:
        if _checkpointer is None or _checkpointer[0] != os.getpid():
            _checkpointer = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-checkpoint"))
        return _checkpointer[1]


# WAL pages written since the last checkpoint, estimated: a commit dirties the
# block table, its time index, the id index and the chain row, plus the pages
# its block data fills.
_PAGES_PER_COMMIT = 5
_CHECKPOINT_AFTER = 2000  # ~8 MiB of WAL: hand a checkpoint to the background thread
_CHECKPOINT_INLINE = 32000  # ~128 MiB: the background is behind; the writer checkpoints
_WAL_KEEP_BYTES = 64 << 20
_TAIL_FRAMES = 256  # stop catching up concurrently once this few frames are left (~1 MiB)


class SQLiteStore(AuditStore):
    integrity_errors = (sqlite3.IntegrityError,)
    backend_errors = (sqlite3.OperationalError, sqlite3.DatabaseError)
    _types = {"int_type": "INTEGER", "float_type": "REAL", "blob_type": "BLOB", "without_rowid": " WITHOUT ROWID"}

    def __init__(self, path: str | os.PathLike, synchronous: str = "normal"):
        super().__init__()
        if synchronous not in ("normal", "full"):
            raise InvalidInput(f"synchronous must be 'normal' or 'full', not {synchronous!r}")
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInput(f"cannot create the audit log directory {self.path.parent}: {exc.strerror}") from exc
        existed = self.path.exists()
        self._synchronous = synchronous
        self._writer = self._connect(synchronous)
        self._cursor = self._writer.cursor()  # reused by the single-event path (no cursor per statement)
        self._writer.execute("PRAGMA wal_autocheckpoint = 0")  # see _after_commit
        self._writer.execute(f"PRAGMA journal_size_limit = {_WAL_KEEP_BYTES}")  # shrink a WAL a burst grew
        self._reader = self._connect(synchronous)
        self._wal_pages = 0
        self._written = 0
        # (head seq, head hash, open tail) as this process last committed them, for ``ADVANCE``.
        self._state: tuple[int, str, Tail] | None = None
        self._checkpoint_queued = False
        self._checkpoint_lock = threading.Lock()
        self._checkpoint_conn: sqlite3.Connection | None = None
        self._closed = False
        if not existed:
            # The log names users and IPs: keep it private to its owner.
            try:
                os.chmod(self.path, 0o600)
            except OSError:
                pass
        with self._write_lock, self._errors():
            with self._write_transaction(init=True):
                pass

    def _connect(self, synchronous: str) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60)
            conn.execute("PRAGMA busy_timeout = 60000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            conn.execute("PRAGMA cache_size = -16384")
        except sqlite3.DatabaseError as exc:
            raise InvalidInput(f"cannot open the audit log {self.path}: {exc}") from exc
        return conn

    @contextmanager
    def _write_transaction(self, init: bool = False):
        conn = self._writer
        self._written = 0
        self._state = None  # written through WriteTx: the next single event reads the chain row again
        # IMMEDIATE takes the database write lock now, before the head is read.
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.cursor()
            if init:
                self._create_schema(cur)
                head_row = None
            else:
                head_row = cur.execute(_HEAD).fetchone()
                if head_row is None:
                    raise InvalidInput(f"{self.path} is not an ipfs-kit audit log (no chain row)")
            yield cur, head_row
        except BaseException:
            if conn.in_transaction:  # SQLite already rolled back on disk full / I/O errors
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        self._after_commit(self._written)

    def append(self, prepared: list[tuple[tuple, bytes]], fresh_ids: bool = False) -> list[tuple[int, str, str]]:
        # The same transaction as ``write()`` without its WriteTx and nested
        # context managers: this is the path of every single ``log_event``.
        if not prepared:
            return []
        with self._write_lock:  # errors translated inline: a context manager per event costs
            if len(prepared) == 1 and self._state is not None:
                links = self._advance(prepared[0], fresh_ids)
                if links is not None:
                    return links
            return self._append_locked(prepared)

    def _advance(self, item: tuple[tuple, bytes], fresh_id: bool) -> list[tuple[int, str, str]] | None:
        """Commit one event with the single ``ADVANCE`` statement, from the head and tail this
        process last wrote; None (nothing written) when the tail is full or another writer (or a
        hand edit) changed the chain row since: the caller takes the full path."""
        head_seq, head_hash, tail = self._state
        row, body = item
        if not tail.has_room(1, len(body) + LINK_CHARS + 1):
            return None
        cur = self._cursor
        try:
            if not fresh_id:
                taken = cur.execute(_ID_SEQ, (row[0],)).fetchall()
                self._check_unused(cur, [item], tail, taken[0] if taken else (None,))
            digest = chain_hash(head_hash, body)
            seq = head_seq + 1
            new = tail.extended(body, head_hash + digest, seq)
            cur.execute(ADVANCE, (seq, row[0], digest, *new, head_seq, head_hash, *tail))
            if cur.rowcount != 1:
                self._state = None
                return None
        except sqlite3.Error as exc:
            self._state = None
            raise self._translate(exc) from exc
        self._state = (seq, digest, new)
        self._after_commit(len(new.bodies) + len(new.links))
        return [(seq, head_hash, digest)]

    def _append_locked(self, prepared: list[tuple[tuple, bytes]]) -> list[tuple[int, str, str]]:
        """The full commit: head and tail read under the database write lock."""
        conn = self._writer
        single = len(prepared) == 1
        cur = self._cursor
        self._state = None
        try:
            cur.execute("BEGIN IMMEDIATE")
            try:
                found = cur.execute(_HEAD_TAIL_ID, (prepared[0][0][0] if single else None,)).fetchall()
                if not found:
                    raise InvalidInput(f"{self.path} is not an ipfs-kit audit log (no chain row)")
                head_seq, head_hash, *tail_columns, taken = found[0]
                tail = tail_of([tail_columns], head_seq)
                links, new_tail, written = self._append(cur, head_seq, head_hash, tail, prepared,
                                                        (taken,) if single else None)
            except BaseException:
                if conn.in_transaction:  # SQLite already rolled back on disk full / I/O errors
                    conn.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
        except (sqlite3.Error, DamagedBlock) as exc:
            raise self._translate(exc) from exc
        self._state = (links[-1][0], links[-1][2], new_tail)
        self._after_commit(written)
        return links

    def _after_commit(self, written: int) -> None:
        """Called with the write lock held, after each commit of about ``written`` bytes."""
        self._wal_pages += _PAGES_PER_COMMIT + written // 4096
        if self._wal_pages >= _CHECKPOINT_INLINE:
            # Skipped if the background checkpoint is running (it waits for our lock).
            if self._checkpoint_lock.acquire(blocking=False):
                try:
                    self._run_checkpoint(tail_under_write_lock=False)
                finally:
                    self._checkpoint_lock.release()
        elif self._wal_pages >= _CHECKPOINT_AFTER and not self._checkpoint_queued:
            self._checkpoint_queued = True
            checkpointer().submit(self._background_checkpoint)

    def _background_checkpoint(self) -> None:
        with self._checkpoint_lock:
            self._run_checkpoint(tail_under_write_lock=True)

    def _run_checkpoint(self, tail_under_write_lock: bool) -> None:
        """Copy committed WAL frames into the database file (PASSIVE: never waits for writers).

        A checkpoint that runs while this process keeps committing never
        catches up with the newest frames, and SQLite rewinds the WAL to its
        start only after a complete one; a WAL that only grows makes every
        commit slower (file extension instead of overwrite). So the bulk is
        copied concurrently (a few passes, while writers keep going), then
        what was committed meanwhile is copied while holding the write lock —
        a short pause for single events, up to tens of milliseconds behind a
        heavy batch writer — so the next commit starts the WAL over.
        """
        self._checkpoint_queued = False
        if self._closed:
            return
        self._wal_pages = 0
        try:
            if self._checkpoint_conn is None:
                self._checkpoint_conn = self._connect(self._synchronous)
            checkpoint = self._checkpoint_conn.execute
            for _ in range(3):  # catch up while writers keep going
                # fetchall, not fetchone: a statement left unfinished keeps a read snapshot open,
                # and then no checkpoint can get past it and the WAL never starts over.
                ((_busy, frames, copied),) = checkpoint("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                if frames - copied <= _TAIL_FRAMES:
                    break
            if tail_under_write_lock:  # even when it looked done: commits may have landed since
                with self._write_lock:
                    if not self._closed:
                        checkpoint("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            pass  # a later commit queues another; SQLite also checkpoints when the last connection closes

    @contextmanager
    def _read_transaction(self):
        conn = self._reader
        conn.execute("BEGIN")  # deferred: a snapshot from the first read on
        try:
            yield lambda sql, params=(): conn.execute(sql, tuple(params)).fetchall()
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    def close(self) -> None:
        with self._checkpoint_lock:
            self._closed = True
            if self._checkpoint_conn is not None:
                self._checkpoint_conn.close()
        with self._write_lock, self._read_lock:
            for conn in (self._writer, self._reader):
                conn.close()


class PostgresStore(AuditStore):
    _types = {"int_type": "BIGINT", "float_type": "DOUBLE PRECISION", "blob_type": "BYTEA", "without_rowid": ""}

    def __init__(self, url: str):
        super().__init__()
        import psycopg

        self._psycopg = psycopg
        self.integrity_errors = (psycopg.errors.IntegrityError,)
        self.backend_errors = (psycopg.Error,)
        self.url = url
        try:
            self._writer = psycopg.connect(url, autocommit=True)
            self._reader = psycopg.connect(url, autocommit=True)
            # A query reads blocks and ids in several statements: one snapshot for all of them.
            self._reader.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        except psycopg.Error as exc:
            raise BackendError(f"cannot connect to the audit database: {_first_line(exc)}") from exc
        with self._write_lock, self._errors():
            with self._write_transaction(init=True):
                pass

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    @contextmanager
    def _write_transaction(self, init: bool = False):
        with self._writer.transaction(), self._writer.cursor() as cur:
            if init:
                # Concurrent first starts must not race on CREATE TABLE.
                cur.execute("SELECT pg_advisory_xact_lock(hashtext('ipfs_kit_audit_schema'))")
                self._create_schema(cur)
                head_row = None
            else:
                # The row lock on the head serialises writers across processes.
                cur.execute(self.sql(_HEAD + " FOR UPDATE"))
                head_row = cur.fetchone()
            yield cur, head_row

    @contextmanager
    def _read_transaction(self):
        with self._reader.transaction(), self._reader.cursor() as cur:
            def run(sql: str, params: tuple | list = ()) -> list:
                cur.execute(self.sql(sql), tuple(params))
                return cur.fetchall()

            yield run

    def _insert_ids(self, cur: Any, pairs: list[tuple[str, int]]) -> None:
        if len(pairs) < 8:
            super()._insert_ids(cur, pairs)
            return
        # COPY is several times faster than INSERTs for batches.
        with cur.copy("COPY audit_event_ids (event_id, seq) FROM STDIN") as copy:
            for pair in pairs:
                copy.write_row(pair)

    def close(self) -> None:
        with self._write_lock, self._read_lock:
            for conn in (self._writer, self._reader):
                conn.close()


def open_store(url: str | os.PathLike | None, path: str | os.PathLike | None,
               synchronous: str = "normal") -> AuditStore:
    if isinstance(url, os.PathLike):  # AuditLogger(Path(...)): a database file
        url, path = None, url
    if url is not None and not isinstance(url, str):
        raise InvalidInput(f"audit url must be a string or a path, not {type(url).__name__}")
    if url and url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url)
    if url and url.startswith("sqlite:"):
        path = url[len("sqlite:"):]
        if path.startswith("//"):
            path = path[2:]
    elif url:
        raise InvalidInput("audit url must start with postgresql:// or sqlite:")
    if not path:
        from ..config import resolve_home

        path = resolve_home() / "audit.db"
    return SQLiteStore(path, synchronous)
