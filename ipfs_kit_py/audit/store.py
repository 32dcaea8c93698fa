"""SQL storage for the audit log: SQLite (default) and PostgreSQL, one schema.

Tables (same in both databases):

- ``audit_events``: one row per event, ``seq`` is the primary key (insertion
  order = chain order). Indexes: ``timestamp``; ``(event_type, timestamp)``,
  ``(user_id, timestamp)``, ``(status, timestamp)``; ``operation_id``;
  ``resource``; unique ``event_id``. ``details`` is stored as canonical JSON
  *text* (not jsonb, which would reorder keys and break the hash).
- ``audit_chain``: a single row: the head (last seq, event id, hash) and the
  base (the anchor left by ``prune``: last pruned seq and its hash; seq 0 and
  the genesis hash when nothing was pruned).

Writes: one transaction appends a batch. The head row is read under a write
lock — SQLite ``BEGIN IMMEDIATE`` (one writer per database file, other
processes wait up to ``busy_timeout``), PostgreSQL ``SELECT ... FOR UPDATE``
on the head row — so any number of threads and processes extend one chain and
never fork it.

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

import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import BackendError, Conflict, InvalidInput
from .chain import ChainHead
from .events import ALL_FIELDS, GENESIS_HASH

SCHEMA_VERSION = 1
COLUMNS = ("seq",) + ALL_FIELDS[:17] + ("prev_hash", "hash")
COLUMN_LIST = ", ".join(COLUMNS)
# Columns as they come back from SELECT COLUMN_LIST: index by name.
COL = {name: i for i, name in enumerate(COLUMNS)}

_TABLE_DDL = """
CREATE TABLE IF NOT EXISTS audit_events (
    seq {seq_type} PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    timestamp {float_type} NOT NULL,
    event_type TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    user_id TEXT,
    source_ip TEXT,
    resource TEXT,
    resource_type TEXT,
    backend TEXT,
    operation_id TEXT,
    parent_id TEXT,
    session_id TEXT,
    duration_ms {float_type},
    bytes {int_type},
    severity TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
)"""
_CHAIN_DDL = """
CREATE TABLE IF NOT EXISTS audit_chain (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    head_seq {int_type} NOT NULL,
    head_event_id TEXT,
    head_hash TEXT NOT NULL,
    base_seq {int_type} NOT NULL,
    base_event_id TEXT,
    base_hash TEXT NOT NULL,
    schema_version INTEGER NOT NULL
)"""
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS audit_events_time ON audit_events (timestamp)",
    "CREATE INDEX IF NOT EXISTS audit_events_type_time ON audit_events (event_type, timestamp)",
    "CREATE INDEX IF NOT EXISTS audit_events_user_time ON audit_events (user_id, timestamp)",
    "CREATE INDEX IF NOT EXISTS audit_events_status_time ON audit_events (status, timestamp)",
    "CREATE INDEX IF NOT EXISTS audit_events_operation ON audit_events (operation_id)",
    "CREATE INDEX IF NOT EXISTS audit_events_resource ON audit_events (resource)",
)
_CHAIN_INIT = (
    "INSERT INTO audit_chain (id, head_seq, head_event_id, head_hash, base_seq, base_event_id,"
    " base_hash, schema_version) VALUES (1, 0, NULL, ?, 0, NULL, ?, ?) ON CONFLICT (id) DO NOTHING"
)
_INSERT = f"INSERT INTO audit_events ({COLUMN_LIST}) VALUES ({', '.join('?' * len(COLUMNS))})"
_HEAD_LINK = "SELECT head_seq, head_hash FROM audit_chain WHERE id = 1"
_SET_HEAD = "UPDATE audit_chain SET head_seq = ?, head_event_id = ?, head_hash = ? WHERE id = 1"
_HEAD = "SELECT head_seq, head_event_id, head_hash, base_seq, base_event_id, base_hash FROM audit_chain WHERE id = 1"


def chain_rows(head_seq: int, head_hash: str, prepared: list[tuple[tuple, bytes]]) -> tuple[list[tuple], list[tuple]]:
    """Storage rows and (seq, prev_hash, hash) links for events appended after the head."""
    seq, prev = head_seq, head_hash
    rows, links = [], []
    sha256 = hashlib.sha256
    for row, body in prepared:
        seq += 1
        digest = sha256(prev.encode("ascii") + body).hexdigest()
        rows.append((seq, *row, prev, digest))
        links.append((seq, prev, digest))
        prev = digest
    return rows, links


class WriteTx:
    """One write transaction holding the chain lock; ``append`` extends the chain."""

    def __init__(self, store: AuditStore, cur: Any, head_row: tuple):
        self.store = store
        self.cur = cur
        self.head = ChainHead(head_row[0], head_row[1], head_row[2])
        self.base = ChainHead(head_row[3], head_row[4], head_row[5])

    def append(self, prepared: list[tuple[tuple, bytes]]) -> list[tuple[int, str, str]]:
        """Insert (row, canonical body) pairs; return (seq, prev_hash, hash) for each."""
        if not prepared:
            return []
        rows, links = chain_rows(self.head.seq, self.head.hash, prepared)
        self.store._insert_rows(self.cur, rows)
        seq, _prev, digest = links[-1]
        self.set_head(ChainHead(seq, rows[-1][1], digest))
        return links

    def set_head(self, head: ChainHead) -> None:
        self.execute(_SET_HEAD, (head.seq, head.event_id, head.hash))
        self.head = head

    def set_base(self, base: ChainHead) -> None:
        self.execute("UPDATE audit_chain SET base_seq = ?, base_event_id = ?, base_hash = ? WHERE id = 1",
                     (base.seq, base.event_id, base.hash))
        self.base = base

    def execute(self, sql: str, params: tuple = ()) -> Any:
        return self.cur.execute(self.store.sql(sql), params)


class AuditStore:
    """Shared SQL for both databases; subclasses supply connections and locking."""

    integrity_errors: tuple[type[BaseException], ...] = ()
    backend_errors: tuple[type[BaseException], ...] = ()

    def __init__(self) -> None:
        # One writer connection and one reader connection per process-local
        # store; each is used by one thread at a time.
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()

    def sql(self, text: str) -> str:
        return text

    # ---- writing ------------------------------------------------------------
    def append(self, prepared: list[tuple[tuple, bytes]]) -> list[tuple[int, str, str]]:
        """Chain and commit events in one transaction; (seq, prev_hash, hash) for each."""
        with self.write() as tx:
            return tx.append(prepared)

    @contextmanager
    def write(self) -> Iterator[WriteTx]:
        with self._write_lock, self._errors():
            with self._write_transaction() as (cur, head_row):
                yield WriteTx(self, cur, head_row)

    # ---- reading ------------------------------------------------------------
    def fetchall(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        with self._read_lock, self._errors(), self._read_cursor() as cur:
            cur.execute(self.sql(sql), tuple(params))
            return cur.fetchall()

    def fetchone(self, sql: str, params: tuple | list = ()) -> tuple | None:
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None

    def chain_state(self) -> tuple[ChainHead, ChainHead]:
        """(head, base) as recorded in the chain row."""
        row = self.fetchone(_HEAD)
        return ChainHead(row[0], row[1], row[2]), ChainHead(row[3], row[4], row[5])

    def iter_chain(self, first_seq: int, last_seq: int, chunk: int = 5000) -> Iterator[tuple]:
        """Rows with first_seq <= seq <= last_seq in seq order, fetched in chunks.

        Each chunk is its own short query (keyset on seq), so a slow consumer
        never holds a lock or a long-lived cursor.
        """
        after = first_seq - 1
        while after < last_seq:
            rows = self.fetchall(
                f"SELECT {COLUMN_LIST} FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                (after, last_seq, chunk),
            )
            if not rows:
                return
            yield from rows
            after = rows[-1][0]

    def find_hash(self, digest: str) -> int | None:
        row = self.fetchone("SELECT seq FROM audit_events WHERE hash = ?", (digest,))
        return None if row is None else row[0]

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except self.integrity_errors as exc:
            raise Conflict(f"audit event rejected by the store: {_first_line(exc)} (duplicate event_id?)") from exc
        except self.backend_errors as exc:
            raise BackendError(f"audit store error: {_first_line(exc)}") from exc

    def _create_schema(self, cur: Any) -> None:
        for stmt in self._ddl():
            cur.execute(self.sql(stmt), ())
        cur.execute(self.sql(_CHAIN_INIT), (GENESIS_HASH, GENESIS_HASH, SCHEMA_VERSION))
        cur.execute(self.sql("SELECT schema_version FROM audit_chain WHERE id = 1"), ())
        version = cur.fetchone()[0]
        if version != SCHEMA_VERSION:
            raise InvalidInput(f"audit store has schema version {version}; this ipfs-kit reads version {SCHEMA_VERSION}")

    def close(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


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


# WAL pages written since the last checkpoint, estimated: a commit dirties
# about one page per index plus the table and chain pages, a row of a batch
# about two (its random-key index leaves; the rest are shared by the batch).
_PAGES_PER_COMMIT = 9
_PAGES_PER_ROW = 2
_CHECKPOINT_AFTER = 2000  # ~8 MiB of WAL: hand a checkpoint to the background thread
_CHECKPOINT_INLINE = 32000  # ~128 MiB: the background is behind; the writer checkpoints
_WAL_KEEP_BYTES = 64 << 20
_TAIL_FRAMES = 256  # stop catching up concurrently once this few frames are left (~1 MiB)


class SQLiteStore(AuditStore):
    integrity_errors = (sqlite3.IntegrityError,)
    backend_errors = (sqlite3.OperationalError, sqlite3.DatabaseError)

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
        self._writer.execute("PRAGMA wal_autocheckpoint = 0")  # see _after_commit
        self._writer.execute(f"PRAGMA journal_size_limit = {_WAL_KEEP_BYTES}")  # shrink a WAL a burst grew
        self._reader = self._connect(synchronous)
        self._wal_pages = 0
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

    def _ddl(self) -> list[str]:
        types = {"seq_type": "INTEGER", "float_type": "REAL", "int_type": "INTEGER"}
        return [_TABLE_DDL.format(**types), _CHAIN_DDL.format(**types), *_INDEXES]

    @contextmanager
    def _write_transaction(self, init: bool = False):
        conn = self._writer
        changes_before = conn.total_changes
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
        self._after_commit(conn.total_changes - changes_before)  # rows, roughly: inserts and updates

    def append(self, prepared: list[tuple[tuple, bytes]]) -> list[tuple[int, str, str]]:
        # The same transaction as ``write()`` without its WriteTx and nested
        # context managers: this is the path of every single ``log_event``.
        conn = self._writer
        with self._write_lock, self._errors():
            conn.execute("BEGIN IMMEDIATE")
            try:
                found = conn.execute(_HEAD_LINK).fetchall()  # fetchall: no statement left open
                if not found:
                    raise InvalidInput(f"{self.path} is not an ipfs-kit audit log (no chain row)")
                rows, links = chain_rows(found[0][0], found[0][1], prepared)
                if len(rows) == 1:
                    conn.execute(_INSERT, rows[0])
                else:
                    conn.executemany(_INSERT, rows)
                if rows:
                    conn.execute(_SET_HEAD, (links[-1][0], rows[-1][1], links[-1][2]))
            except BaseException:
                if conn.in_transaction:  # SQLite already rolled back on disk full / I/O errors
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            self._after_commit(len(rows))
        return links

    def _after_commit(self, rows: int) -> None:
        """Called with the write lock held, after each commit."""
        self._wal_pages += _PAGES_PER_COMMIT + _PAGES_PER_ROW * rows
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
    def _read_cursor(self):
        cur = self._reader.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def _insert_rows(self, cur: Any, rows: list[tuple]) -> None:
        cur.executemany(_INSERT, rows)

    def close(self) -> None:
        with self._checkpoint_lock:
            self._closed = True
            if self._checkpoint_conn is not None:
                self._checkpoint_conn.close()
        with self._write_lock, self._read_lock:
            for conn in (self._writer, self._reader):
                conn.close()


class PostgresStore(AuditStore):
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
        except psycopg.Error as exc:
            raise BackendError(f"cannot connect to the audit database: {_first_line(exc)}") from exc
        with self._write_lock, self._errors():
            with self._write_transaction(init=True):
                pass

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def _ddl(self) -> list[str]:
        types = {"seq_type": "BIGINT", "float_type": "DOUBLE PRECISION", "int_type": "BIGINT"}
        return [_TABLE_DDL.format(**types), _CHAIN_DDL.format(**types), *_INDEXES]

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
    def _read_cursor(self):
        with self._reader.cursor() as cur:
            yield cur

    def _insert_rows(self, cur: Any, rows: list[tuple]) -> None:
        # COPY is several times faster than INSERTs for batches.
        with cur.copy(f"COPY audit_events ({COLUMN_LIST}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def copy_out_csv(self, sql: str, params: tuple) -> bytes:
        """Run ``COPY (sql) TO STDOUT`` as CSV with a header (columnar export)."""
        query = self._psycopg.sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true)").format(
            self._psycopg.sql.SQL(self.sql(sql))
        )
        chunks = []
        with self._read_lock, self._errors(), self._reader.cursor() as cur:
            # COPY does not take bind parameters: bind them client-side first.
            text = self._psycopg.ClientCursor(self._reader).mogrify(query, params)
            with cur.copy(text) as copy:
                for data in copy:
                    chunks.append(bytes(data))
        return b"".join(chunks)

    def close(self) -> None:
        with self._write_lock, self._read_lock:
            for conn in (self._writer, self._reader):
                conn.close()


def open_store(url: str | None, path: str | os.PathLike | None, synchronous: str = "normal") -> AuditStore:
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
