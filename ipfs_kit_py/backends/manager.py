"""``BackendManager``: configured backends, replication, retries, circuit breakers, verified reads.

The Kit holds one manager per home. Its methods are synchronous; they run
the async backends on one long-lived event loop thread (an anyio blocking
portal), so HTTP connection pools survive between calls and the methods can
be called from any thread, including one that is itself running an event
loop (the MCP server).

Every backend call runs inside ``instrument.tracked`` as a child of the
caller's operation: timed by the performance monitor and audited with
``event_type`` backend, the backend's name, bytes, duration and status.

Replication (Pinning Service API statuses, see ``state``):
- ``replicate(cid)`` (called on pin) queues the CID for the policy's targets
  and makes one attempt on each, so a pin is never held up by retries;
- ``sync()`` works through everything queued or failed, retrying each copy
  ``max_retries`` times with exponential backoff, behind a circuit breaker
  per backend (``circuit_threshold`` consecutive failures open it for
  ``circuit_cooldown_seconds``; the first call after that is the trial).
Reads that miss the local blockstore try the backends in ``read_order`` and
accept only bytes that hash to the CID asked for.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio
from anyio.from_thread import start_blocking_portal

from ..config import Settings
from ..core.cid import cid_str, parse_cid, verify_block
from ..errors import BackendError, CorruptBlock, InvalidInput, IpfsKitError, NotFound
from ..instrument import Operation, current_operation, set_current_operation, tracked
from . import policy as replication_policy
from .base import Backend, BackendUnsupported, BlockMissing, CircuitOpen, PutResult
from .readahead import ReadAhead
from .state import ReplicationState

KINDS = ("local", "kubo", "s3")
_PERMANENT = (BackendUnsupported, InvalidInput, NotFound, CorruptBlock)


def make_backend(name: str, conf: dict[str, Any], settings: Settings) -> Backend:
    kind = conf.get("type")
    if kind == "local":
        from .local import LocalBackend

        return LocalBackend(name, conf, settings.home, settings.fsync)
    if kind == "kubo":
        from .kubo import KuboBackend

        return KuboBackend(name, conf)
    if kind == "s3":
        from .s3 import S3Backend

        return S3Backend(name, conf)
    raise InvalidInput(f"backend {name!r} has type {kind!r}; use one of {', '.join(KINDS)}")


class BackendManager:
    def __init__(self, settings: Settings | Callable[[], Settings]):
        """``settings``: a snapshot, or (as the Kit passes) a function returning the
        live settings, so backends added by a wizard or another process are seen."""
        self._settings = settings if callable(settings) else (lambda: settings)
        first = self._settings()
        self.state = ReplicationState(first.home / "replication.db")
        self._backends: dict[str, tuple[dict[str, Any], Backend]] = {}
        self._lock = threading.RLock()
        self._portal_cm = None
        self._portal = None
        self._readahead = ReadAhead()

    @property
    def settings(self) -> Settings:
        return self._settings()

    def names(self) -> list[str]:
        return list(self.settings.backends)

    @property
    def policy(self) -> dict[str, Any]:
        return replication_policy.effective(self.settings)

    def backend(self, name: str) -> Backend:
        conf = self.settings.backends.get(name)
        if conf is None:
            known = ", ".join(self.settings.backends) or "none"
            raise NotFound(f"no backend named {name!r} (configured: {known}); add one with `ipfs-kit backend add`")
        with self._lock:
            cached = self._backends.get(name)
            if cached is not None and cached[0] == conf:
                return cached[1]
            backend = make_backend(name, conf, self.settings)
            self._backends[name] = (dict(conf), backend)
            if cached is not None:
                self._call_soon_close(cached[1])
            return backend

    def targets(self) -> list[str]:
        """The backends new pins are copied to: ``replicas - 1`` of the targets, closed breakers first."""
        current = self.policy
        targets, wanted = current["targets"], int(current["replicas"]) - 1
        now = time.time()
        closed = [t for t in targets if self.state.breaker(t)["open_until"] <= now]
        return (closed + [t for t in targets if t not in closed])[:max(wanted, 0)]

    # ---- the event loop thread -----------------------------------------------------
    def _run(self, fn, *args):
        with self._lock:
            if self._portal is None:
                self._portal_cm = start_blocking_portal(name="ipfs-kit-backends")
                self._portal = self._portal_cm.__enter__()
        parent = current_operation()
        return self._portal.call(_within, parent, fn, *args)

    def _call_soon_close(self, backend: Backend) -> None:
        if self._portal is not None:
            with contextlib.suppress(Exception):
                self._portal.start_task_soon(backend.aclose)

    def close(self) -> None:
        with self._lock:
            if self._portal is not None:
                for _conf, backend in self._backends.values():
                    with contextlib.suppress(Exception):
                        self._portal.call(backend.aclose)
                self._portal_cm.__exit__(None, None, None)
                self._portal = self._portal_cm = None
            self._backends.clear()
        self.state.close()

    # ---- guarded, observed calls ---------------------------------------------------
    async def _guarded(self, name: str, action: str, fn, *args, resource: str | None = None):
        """One backend call: breaker check, audit + timing, breaker bookkeeping."""
        breaker = self.state.breaker(name)
        now = time.time()
        backend = self.backend(name)
        with _observe(action, name, resource) as op:
            if breaker["open_until"] > now:
                raise CircuitOpen(
                    f"{backend.describe()}: circuit open after {breaker['failures']} failures in a row "
                    f"(last: {breaker['last_error']}); next try in {breaker['open_until'] - now:.0f}s")
            try:
                result = await fn(*args)
            except (BlockMissing, BackendUnsupported):
                if breaker["failures"]:
                    self.state.breaker_success(name)  # it answered: the backend itself is fine
                raise
            except BackendError as exc:
                policy = self.policy
                self.state.breaker_failure(name, str(exc), int(policy["circuit_threshold"]),
                                           float(policy["circuit_cooldown_seconds"]))
                raise
            if breaker["failures"]:  # no write on the hot path when there is nothing to reset
                self.state.breaker_success(name)
            if isinstance(result, bytes):
                op.bytes = len(result)
            elif isinstance(result, PutResult):
                op.bytes = result.bytes
            elif isinstance(result, dict):  # get_blocks
                op.bytes = sum(len(v) for v in result.values() if isinstance(v, bytes))
            return result

    # ---- listing, health, test -------------------------------------------------------
    def list_backends(self) -> list[dict[str, Any]]:
        from ..dashboard.wizards import redact

        targets = set(self.targets())
        counts = self.state.counts()
        out = []
        for name, conf in self.settings.backends.items():
            breaker = self.state.breaker(name)
            out.append({
                "name": name, "type": conf.get("type"), "replication_target": name in targets,
                "config": redact(dict(conf)),
                "circuit": "open" if breaker["open_until"] > time.time() else "closed",
                "replication": counts.get(name, {}),
            })
        return out

    async def _probe(self, name: str, backend: Backend, guarded: bool = True) -> dict[str, Any]:
        """``backend.health()`` with its round trip; through the breaker unless not configured yet."""
        start = time.perf_counter()
        if guarded:
            info = await self._guarded(name, "health", backend.health)
        else:
            with _observe("health", name, None):
                info = await backend.health()
        return {"name": name, **info, "latency_ms": round((time.perf_counter() - start) * 1000, 2)}

    def test(self, name: str) -> dict[str, Any]:
        """Probe one backend; raise its one-line ``BackendError`` when it is not usable."""
        return self._run(self._probe, name, self.backend(name))

    def test_config(self, name: str, conf: dict[str, Any]) -> dict[str, Any]:
        """Probe a backend that is not configured yet (``backend add`` tests before it writes)."""
        backend = make_backend(name, conf, self.settings)

        async def probe_once():
            try:
                return await self._probe(name, backend, guarded=False)
            finally:
                await backend.aclose()

        return self._run(probe_once)

    def health(self) -> dict[str, dict[str, Any]]:
        """``{name: {"healthy": bool, ...}}`` for every configured backend, probed concurrently."""
        names = self.names()
        results: dict[str, dict[str, Any]] = {}

        async def one(name: str):
            try:
                backend = self.backend(name)
                with anyio.fail_after(min(backend.timeout, 10.0)):
                    info = await self._probe(name, backend)
                results[name] = {k: v for k, v in info.items() if k != "name"}
            except TimeoutError:
                results[name] = {"healthy": False, "error": f"{name}: no answer within 10s"}
            except IpfsKitError as exc:
                results[name] = {"healthy": False, "error": str(exc)}

        async def all_():
            async with anyio.create_task_group() as tg:
                for name in names:
                    tg.start_soon(one, name)

        if names:
            self._run(all_)
        return {name: results[name] for name in names}

    # ---- replication -----------------------------------------------------------------
    def replicate(self, cid, store, targets: list[str] | None = None, recheck: bool = False) -> dict[str, str]:
        """Queue ``cid`` for the policy's targets and try each once now; ``{backend: status}``.

        ``recheck`` (an explicit replicate): ask each backend whose copy is recorded as
        pinned whether it still has it. Adds and pins skip that round trip.
        """
        root = cid_str(parse_cid(cid) if isinstance(cid, str) else cid)
        names = self.targets() if targets is None else targets
        for name in names:
            if self.backend(name).is_home_blockstore:  # unknown name -> NotFound before anything is queued
                raise InvalidInput(f"backend {name!r} is the home's own blockstore (a local backend without a "
                                   "path): a copy there is no replica; give it a path on another disk")
        for name in names:
            row = self.state.get(root, name) if recheck else None
            if row is not None and row["status"] == "pinned" and not self._still_there(name, root):
                self.state.forget(root, name)  # the copy is gone (bucket emptied, directory lost): copy again
            self.state.want(root, name)
        rows = [r for r in self.state.due([root], include_not_due=True) if r["backend"] in names]
        if rows:
            self._run(self._copy_all, rows, store, 0)
        return {name: (self.state.get(root, name) or {}).get("status", "queued") for name in names}

    def _still_there(self, name: str, root: str) -> bool:
        """Whether ``name`` still holds the DAG's root; True when it cannot be asked (nothing to act on)."""
        try:
            return self._run(self.backend(name).has, parse_cid(root))
        except BackendError:
            return True

    def reconcile(self, store) -> int:
        """Queue every recursively pinned root that a policy target has no row for; how many were queued.

        This is how content pinned before a backend was added (or while the
        policy was different) reaches it: ``backend sync`` starts with it.
        """
        targets = self.targets()
        if not targets:
            return 0
        queued = 0
        for pin in store.pin_ls("recursive"):
            for name in targets:
                if self.state.get(pin["cid"], name) is None:
                    self.state.want(pin["cid"], name)
                    queued += 1
        return queued

    def sync(self, store, cids: list[str] | None = None, wait: float = 0.0,
             force: bool = False) -> dict[str, Any]:
        """Copy everything due (all of it with ``force``), with retries; keep going up to ``wait`` seconds.

        Without ``cids`` it first queues pinned content the targets lack
        (``reconcile``). Returns ``{"queued", "attempted", "pinned", "failed",
        "pending", "items"}`` where items are this run's rows.
        """
        wanted = None if cids is None else [cid_str(parse_cid(c)) for c in cids]
        queued = self.reconcile(store) if cids is None else 0
        deadline = time.monotonic() + max(wait, 0.0)
        touched: dict[tuple[str, str], None] = {}
        first = True
        while True:
            rows = self.state.due(wanted, include_not_due=force and first)
            rows = [r for r in rows if r["backend"] in self.settings.backends]
            first = False
            for row in rows:
                touched[(row["cid"], row["backend"])] = None
            if rows:
                self._run(self._copy_all, rows, store, None)
            pending = self.state.due(wanted, include_not_due=True)
            if not pending or time.monotonic() >= deadline:
                break
            next_due = min(r["next_attempt"] for r in pending)
            time.sleep(max(0.05, min(next_due - time.time(), deadline - time.monotonic())))
        items = [self.state.get(c, b) for c, b in touched]
        items = [i for i in items if i is not None]
        return {
            "queued": queued,
            "attempted": len(items),
            "pinned": sum(1 for i in items if i["status"] == "pinned"),
            "failed": sum(1 for i in items if i["status"] == "failed"),
            "pending": len(self.state.due(wanted, include_not_due=True)),
            "items": [_public_row(i) for i in items],
        }

    async def _copy_all(self, rows: list[dict[str, Any]], store, max_retries: int | None) -> None:
        limiter = anyio.CapacityLimiter(int(self.policy["concurrency"]))

        async def one(row):
            async with limiter:
                await self._copy(row["cid"], row["backend"], store, max_retries)

        async with anyio.create_task_group() as tg:
            for row in rows:
                tg.start_soon(one, row)

    async def _copy(self, root: str, name: str, store, max_retries: int | None) -> None:
        backend = self.backend(name)
        retries = int(backend.conf.get("max_retries", 3)) if max_retries is None else max_retries
        cid = parse_cid(root)
        for attempt in range(retries + 1):
            self.state.mark_pinning(root, name)
            try:
                result = await self._guarded(name, "put_dag", backend.put_dag, cid, store.get_block,
                                             resource=root)
            except _PERMANENT as exc:
                self.state.mark_failed(root, name, str(exc), float(self.policy["retry_max_seconds"]))
                return
            except CircuitOpen as exc:
                # Not an attempt (the backend was not called): try again when the circuit half-opens,
                # without the backoff that counting it would add.
                self.state.defer(root, name, str(exc), self.state.breaker(name)["open_until"])
                return
            except BackendError as exc:
                attempts = (self.state.get(root, name) or {}).get("attempts", 0) + 1
                delay = self._backoff(attempts)
                circuit_open = self.state.breaker(name)["open_until"] > time.time()
                if attempt < retries and not circuit_open:
                    self.state.mark_failed(root, name, str(exc), delay)
                    await anyio.sleep(delay)
                    continue
                self.state.mark_failed(root, name, str(exc), delay)
                return
            self.state.mark_pinned(root, name, result.bytes, result.blocks, result.method)
            return

    def _backoff(self, attempts: int) -> float:
        """Exponential backoff with jitter: base * 2^(n-1), capped, times 0.5-1.0."""
        policy = self.policy
        raw = min(float(policy["retry_base_seconds"]) * 2 ** max(attempts - 1, 0),
                  float(policy["retry_max_seconds"]))
        return raw * (0.5 + random.random() / 2)

    def status(self, cid: str | None = None, backend: str | None = None,
               status: str | None = None) -> list[dict[str, Any]]:
        root = cid_str(parse_cid(cid)) if cid else None
        if backend is not None:
            self.backend(backend)
        return [_public_row(r) for r in self.state.rows(root, backend, status)]

    def unpin(self, cid: str, names: list[str] | None = None) -> dict[str, str]:
        """Remove ``cid``'s copy from the named backends (default: every backend that has a row for it)."""
        root = cid_str(parse_cid(cid))
        if names is None:
            names = sorted({r["backend"] for r in self.state.rows(root)} & set(self.names()))
        out: dict[str, str] = {}

        async def run():
            for name in names:
                backend = self.backend(name)
                await self._guarded(name, "unpin", backend.unpin, parse_cid(root), resource=root)
                self.state.forget(root, name)
                out[name] = "removed"

        self._run(run)
        return out

    def forget_backend(self, name: str) -> None:
        self.state.forget_backend(name)
        with self._lock:
            cached = self._backends.pop(name, None)
        if cached is not None:
            self._call_soon_close(cached[1])

    # ---- one backend's contents ----------------------------------------------------------
    def get_block_from(self, name: str, cid) -> bytes:
        """A block from one backend, verified; ``CorruptBlock`` if its copy does not hash to ``cid``."""
        self.backend(name)
        return self._run(self._fetch_verified, name, cid)

    def has_on(self, name: str, cid) -> bool:
        backend = self.backend(name)
        return self._run(self._guarded, name, "has", backend.has, cid)

    def stored_on(self, name: str) -> list[str]:
        backend = self.backend(name)
        return self._run(self._guarded, name, "list", backend.list)

    # ---- verified reads -------------------------------------------------------------------
    def read_order(self) -> list[str]:
        return self.policy["read_order"]

    def get_block_verified(self, cid) -> bytes:
        """The block from the first backend whose copy hashes to ``cid``; ``NotFound`` otherwise."""
        return self._run(self._get_verified, cid)

    async def _get_verified(self, cid) -> bytes:
        ahead = self._readahead
        data = ahead.take(cid)
        if data is not None:
            return data
        siblings = ahead.window(cid)
        if siblings is not None:
            name, window = siblings
            fetched = await self._fetch_window(name, window)
            ahead.keep({c: b for c, b in fetched.items() if c != cid})
            if cid in fetched:
                return fetched[cid]
        tried: list[str] = []
        for name in self.read_order():
            try:
                data = await self._fetch_verified(name, cid)
            except CorruptBlock:
                tried.append(f"{name}: corrupt copy rejected")
                continue
            except BlockMissing:
                tried.append(f"{name}: not there")
                continue
            except BackendError as exc:
                tried.append(f"{name}: {exc}")
                continue
            ahead.learn(cid, data, name)
            return data
        where = "; ".join(tried) if tried else "no backends configured"
        raise NotFound(f"block {cid_str(cid)} is not in the local blockstore nor on any backend ({where})")

    def _hints(self, name: str, backend: Backend) -> tuple:
        """Roots pinned on ``name``, for backends that look blocks up inside stored DAGs (S3)."""
        if not backend.uses_hints:
            return ()
        return tuple(parse_cid(c) for c in self.state.pinned_roots(name, limit=50))

    async def _fetch_verified(self, name: str, cid) -> bytes:
        backend = self.backend(name)
        hints = self._hints(name, backend)

        async def fetch(cid, hints) -> bytes:
            data = await backend.get_block(cid, hints)
            verify_block(cid, data)  # inside the call's audit event: a corrupt copy makes it a failure
            return data

        return await self._guarded(name, "get_block", fetch, cid, hints, resource=cid_str(cid))

    async def _fetch_window(self, name: str, window: list) -> dict:
        """Fetch the next sibling blocks together from the backend that served their parent.

        Reads walk a DAG one block at a time; without this every block is one
        round trip. Only blocks that verify are kept; the rest are left for the
        normal per-block path (which reports what is wrong).
        """
        backend = self.backend(name)
        hints = self._hints(name, backend)
        blocks = await self._guarded(name, "get_blocks", backend.get_blocks, window, hints)
        fetched = {}
        for block_cid, data in blocks.items():
            try:
                verify_block(block_cid, data)
            except CorruptBlock:
                continue
            fetched[block_cid] = data
            self._readahead.learn(block_cid, data, name)
        return fetched


def _public_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "cid": row["cid"], "backend": row["backend"], "status": row["status"], "attempts": row["attempts"],
        "last_error": row["last_error"], "bytes": row["bytes"], "blocks": row["blocks"],
        "method": row["method"], "updated": row["updated"],
        "next_attempt": row["next_attempt"] if row["status"] == "failed" else None,
    }


async def _within(parent: Operation | None, fn, *args):
    """Run ``fn`` on the portal's loop as part of the caller's operation (contextvars do not cross threads)."""
    token = set_current_operation(parent)
    try:
        return await fn(*args)
    finally:
        set_current_operation(None, token)


@contextlib.contextmanager
def _observe(action: str, backend: str, resource: str | None) -> Iterator[Operation]:
    """A child operation of the caller's: one audit event (type backend) and one timing."""
    parent = current_operation()
    kit = parent.kit if parent is not None else None
    if kit is None:  # the manager used on its own, outside any Kit operation
        yield Operation(action=f"backend.{action}", event_id="", operation_id="", parent_id=None)
        return
    with tracked(kit, f"backend.{action}", event_type="backend", role="reader") as op:
        op.backend = backend
        if resource:
            op.resource = resource
        yield op
