"""``BatchProcessor`` and ``TransactionBatch``: run many calls, sequentially or in a pool.

Results are per operation (status, result, error, duration); counts are
derived from those statuses, so they can never go stale after a rollback.
With ``executor='process'`` every function and its arguments must pickle: that
is checked before anything runs, and a lambda or closure is refused with a
clear ``InvalidInput`` instead of silently doing nothing.
"""

from __future__ import annotations

import os
import pickle
import threading
import time
from collections.abc import Callable
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput
from .stats_file import StatsFile

EXECUTORS = ("thread", "process")

Progress = Callable[[int, int, "Operation"], None]


@dataclass
class Operation:
    """One queued call and, after execution, its outcome."""

    index: int
    func: Callable = field(repr=False)
    args: tuple = field(default=(), repr=False)
    kwargs: dict = field(default_factory=dict, repr=False)
    rollback: Callable | None = field(default=None, repr=False)
    status: str = "pending"  # success | failed | cancelled | rolled_back | rollback_failed
    result: Any = None
    error: str | None = None
    exception: BaseException | None = field(default=None, repr=False)
    duration_ms: float | None = None
    rollback_error: str | None = None

    @property
    def name(self) -> str:
        return getattr(self.func, "__qualname__", None) or getattr(self.func, "__name__", None) or repr(self.func)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "status": self.status,
            "result": self.result,
            "error": self.error,
            "duration_ms": None if self.duration_ms is None else round(self.duration_ms, 3),
            "rollback_error": self.rollback_error,
        }


@dataclass
class BatchResult:
    operations: list[Operation]
    parallel: bool
    executor: str
    duration_ms: float
    transaction: bool = False

    def _count(self, status: str) -> int:
        return sum(1 for op in self.operations if op.status == status)

    @property
    def total(self) -> int:
        return len(self.operations)

    @property
    def succeeded(self) -> int:
        return self._count("success")

    @property
    def failed(self) -> int:
        return self._count("failed")

    @property
    def cancelled(self) -> int:
        return self._count("cancelled")

    @property
    def rolled_back(self) -> int:
        return self._count("rolled_back")

    @property
    def rollback_failed(self) -> int:
        return self._count("rollback_failed")

    @property
    def committed(self) -> bool:
        """For a transaction: every operation succeeded and nothing was undone."""
        return self.succeeded == self.total

    def success_rate(self) -> float:
        """Percent of operations that succeeded (and were not rolled back); 100.0 for an empty batch."""
        return 100.0 if not self.operations else 100.0 * self.succeeded / self.total

    @property
    def results(self) -> list[Any]:
        return [op.result for op in self.operations]

    @property
    def errors(self) -> list[Operation]:
        return [op for op in self.operations if op.status == "failed"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "rolled_back": self.rolled_back,
            "rollback_failed": self.rollback_failed,
            "success_rate": round(self.success_rate(), 2),
            "parallel": self.parallel,
            "executor": self.executor,
            "transaction": self.transaction,
            "duration_ms": round(self.duration_ms, 3),
            "operations": [op.to_dict() for op in self.operations],
        }


def _call_timed(func: Callable, args: tuple, kwargs: dict) -> tuple[bool, Any, float]:
    """Run one call, in this thread or a worker process; never raises.

    Exceptions come back as text: an exception object may not pickle back
    from a worker process, its message always does.
    """
    start = time.perf_counter()
    try:
        result = func(*args, **kwargs)
        return True, result, (time.perf_counter() - start) * 1000.0
    except Exception as exc:  # noqa: BLE001 - every failure is the operation's outcome
        return False, exc, (time.perf_counter() - start) * 1000.0


def _call_in_process(func: Callable, args: tuple, kwargs: dict) -> tuple[bool, Any, float]:
    ok, value, ms = _call_timed(func, args, kwargs)
    if not ok:
        value = f"{type(value).__name__}: {value}"
    return ok, value, ms


_STAT_NAMES = (
    "batches", "operations", "succeeded", "failed", "cancelled", "rolled_back", "rollback_failed",
    "operation_ms_total", "batch_ms_total", "parallel_batches", "sequential_batches",
    "thread_batches", "process_batches", "transactions", "transactions_committed",
)


class BatchProcessor:
    def __init__(self, max_workers: int = 4, executor: str = "thread", fail_fast: bool = False,
                 *, stats_path: str | os.PathLike | None = None, mp_context: Any = None):
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise InvalidInput(f"max_workers must be a positive whole number, not {max_workers!r}")
        if executor not in EXECUTORS:
            raise InvalidInput(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
        self.max_workers = max_workers
        self.executor = executor
        self.fail_fast = fail_fast
        self._mp_context = mp_context
        self._queue: list[Operation] = []
        self._lock = threading.Lock()
        self._stats_file = StatsFile(stats_path) if stats_path is not None else None
        self._local: dict[str, float] = {}
        self._last_batch: dict[str, Any] | None = None

    # ---- queue -----------------------------------------------------------
    def add_operation(self, func: Callable, /, *args: Any, **kwargs: Any) -> int:
        """Queue ``func(*args, **kwargs)``; returns its index in the batch."""
        return self._enqueue(func, args, kwargs, None)

    def _enqueue(self, func: Callable, args: tuple, kwargs: dict, rollback: Callable | None) -> int:
        if not callable(func):
            raise InvalidInput(f"operation must be callable, not {type(func).__name__}")
        with self._lock:
            op = Operation(len(self._queue), func, args, kwargs, rollback)
            self._queue.append(op)
            return op.index

    @property
    def pending(self) -> int:
        return len(self._queue)

    def clear(self) -> None:
        with self._lock:
            self._queue = []

    # ---- execution ---------------------------------------------------------
    def execute_batch(self, parallel: bool = True) -> BatchResult:
        """Run every queued operation; the queue is empty afterwards."""
        return self._execute(parallel, None)

    def execute_with_callback(self, progress: Progress, parallel: bool = True) -> BatchResult:
        """Like ``execute_batch``; ``progress(current, total, operation)`` after each one finishes.

        The callback runs in the calling thread, so it may drive a terminal
        progress bar. If it raises, operations not yet started are cancelled
        and the exception propagates.
        """
        if not callable(progress):
            raise InvalidInput("progress must be callable as progress(current, total, operation)")
        return self._execute(parallel, progress)

    def _take_queue(self) -> list[Operation]:
        with self._lock:
            ops, self._queue = self._queue, []
        return ops

    def _check_picklable(self, ops: list[Operation]) -> None:
        for op in ops:
            try:
                pickle.dumps((op.func, op.args, op.kwargs))
            except Exception as exc:
                raise InvalidInput(
                    f"operation {op.index} ({op.name}) cannot run in a process pool: functions and "
                    f"arguments must pickle (module-level functions, no lambdas or closures): {exc}; "
                    "use executor='thread'"
                ) from None

    def _execute(self, parallel: bool, progress: Progress | None, *, stop_on_failure: bool | None = None,
                 transaction: bool = False) -> BatchResult:
        ops = self._take_queue()
        use_process = parallel and self.executor == "process"
        if use_process:
            try:
                self._check_picklable(ops)
            except InvalidInput:
                with self._lock:  # leave the batch queued so the caller can switch executor
                    self._queue = ops + self._queue
                raise
        fail_fast = self.fail_fast if stop_on_failure is None else stop_on_failure
        start = time.perf_counter()
        finished: list[Operation] = []  # completion order, for rollbacks
        try:
            if parallel and len(ops) > 1:
                self._run_pool(ops, progress, fail_fast, use_process, finished)
            else:
                self._run_sequential(ops, progress, fail_fast, finished)
            if transaction and any(op.status == "failed" for op in ops):
                self._roll_back(finished)
        finally:
            for op in ops:
                if op.status == "pending":
                    op.status = "cancelled"
        executor = ("process" if use_process else "thread") if parallel else "sequential"
        result = BatchResult(ops, parallel, executor, (time.perf_counter() - start) * 1000.0, transaction)
        self._record(result)
        return result

    def _finish(self, op: Operation, ok: bool, value: Any, ms: float) -> None:
        op.duration_ms = ms
        if ok:
            op.status, op.result = "success", value
        else:
            op.status = "failed"
            if isinstance(value, BaseException):
                op.exception = value
                op.error = f"{type(value).__name__}: {value}"
            else:
                op.error = str(value)

    def _run_sequential(self, ops: list[Operation], progress: Progress | None, fail_fast: bool,
                        finished: list[Operation]) -> None:
        for done, op in enumerate(ops, 1):
            self._finish(op, *_call_timed(op.func, op.args, op.kwargs))
            finished.append(op)
            if progress is not None:
                progress(done, len(ops), op)
            if fail_fast and op.status == "failed":
                return

    def _make_pool(self, use_process: bool, n: int) -> Executor:
        workers = min(self.max_workers, n)
        if use_process:
            return ProcessPoolExecutor(max_workers=workers, mp_context=self._mp_context)
        return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ipfs-kit-batch")

    def _run_pool(self, ops: list[Operation], progress: Progress | None, fail_fast: bool,
                  use_process: bool, finished: list[Operation]) -> None:
        call = _call_in_process if use_process else _call_timed
        pool = self._make_pool(use_process, len(ops))
        futures: dict[Future, Operation] = {}
        try:
            for op in ops:
                futures[pool.submit(call, op.func, op.args, op.kwargs)] = op
            remaining = set(futures)
            stopping = False
            while remaining:
                done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for future in done:
                    op = futures[future]
                    if future.cancelled():
                        continue  # stays pending -> cancelled
                    try:
                        self._finish(op, *future.result())
                    except Exception as exc:  # the result could not come back (e.g. does not pickle)
                        self._finish(op, False, f"{type(exc).__name__}: {exc}", 0.0)
                    finished.append(op)
                    if progress is not None:
                        progress(len(finished), len(ops), op)
                    if fail_fast and op.status == "failed" and not stopping:
                        stopping = True
                        for other in remaining:
                            other.cancel()  # only calls that have not started; running ones finish
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _roll_back(self, finished: list[Operation]) -> None:
        """Undo completed operations, last finished first."""
        for op in reversed(finished):
            if op.status != "success":
                continue
            if op.rollback is None:
                op.status = "rolled_back"  # nothing to undo, but its effect is no longer a success
                continue
            try:
                op.rollback(op.result)
                op.status = "rolled_back"
            except Exception as exc:  # noqa: BLE001 - report and keep undoing the others
                op.status = "rollback_failed"
                op.rollback_error = f"{type(exc).__name__}: {exc}"

    # ---- statistics ------------------------------------------------------------
    def _record(self, result: BatchResult) -> None:
        deltas = {
            "batches": 1,
            "operations": result.total,
            "succeeded": result.succeeded,
            "failed": result.failed,
            "cancelled": result.cancelled,
            "rolled_back": result.rolled_back,
            "rollback_failed": result.rollback_failed,
            "operation_ms_total": sum(op.duration_ms or 0.0 for op in result.operations),
            "batch_ms_total": result.duration_ms,
            "parallel_batches": int(result.parallel),
            "sequential_batches": int(not result.parallel),
            "thread_batches": int(result.executor == "thread"),
            "process_batches": int(result.executor == "process"),
            "transactions": int(result.transaction),
            "transactions_committed": int(result.transaction and result.committed),
        }
        last = {k: v for k, v in result.to_dict().items() if k != "operations"}
        last["finished_at"] = time.time()
        with self._lock:
            self._last_batch = last
            if self._stats_file is None:
                for name, value in deltas.items():
                    self._local[name] = self._local.get(name, 0) + value
                return
        self._stats_file.add(deltas, {"last_batch": last})

    def get_statistics(self) -> dict[str, Any]:
        """Totals over every batch run with this ``stats_path`` (all processes)."""
        if self._stats_file is not None:
            data = self._stats_file.load()
            counters, last = data["counters"], data["meta"].get("last_batch")
        else:
            counters, last = dict(self._local), self._last_batch
        stats: dict[str, Any] = {name: counters.get(name, 0) for name in _STAT_NAMES}
        for name in _STAT_NAMES:
            if not name.endswith("_ms_total"):
                stats[name] = int(stats[name])
        ops = stats["operations"]
        stats["operation_ms_total"] = round(float(stats["operation_ms_total"]), 3)
        stats["batch_ms_total"] = round(float(stats["batch_ms_total"]), 3)
        stats["success_rate"] = round(100.0 * stats["succeeded"] / ops, 2) if ops else None
        stats["mean_operation_ms"] = round(stats["operation_ms_total"] / ops, 3) if ops else None
        stats["max_workers"] = self.max_workers
        stats["executor"] = self.executor
        stats["pending"] = self.pending
        stats["last_batch"] = last
        stats["stats_path"] = str(self._stats_file.path) if self._stats_file else None
        return stats

    def reset_statistics(self) -> None:
        with self._lock:
            self._local = {}
            self._last_batch = None
        if self._stats_file is not None:
            self._stats_file.reset()

    def close(self) -> None:
        """Nothing is held between batches (pools live for one batch); kept for symmetry."""
        self.clear()


class TransactionBatch(BatchProcessor):
    """All or nothing: the first failure stops the batch and undoes what completed.

    Each operation names its undo explicitly: ``add_operation(func, *args,
    rollback=undo, **kwargs)``; ``undo(result)`` receives the operation's
    result and runs in this process, last completed first. ``rollback=None``
    marks an operation with nothing to undo. Transactions run sequentially
    unless ``parallel=True`` is asked for.
    """

    def add_operation(self, func: Callable, /, *args: Any, rollback: Callable | None, **kwargs: Any) -> int:
        if rollback is not None and not callable(rollback):
            raise InvalidInput("rollback must be callable as rollback(result), or None")
        return self._enqueue(func, args, kwargs, rollback)

    def execute_batch(self, parallel: bool = False) -> BatchResult:
        return self._execute(parallel, None, stop_on_failure=True, transaction=True)

    def execute_with_callback(self, progress: Progress, parallel: bool = False) -> BatchResult:
        if not callable(progress):
            raise InvalidInput("progress must be callable as progress(current, total, operation)")
        return self._execute(parallel, progress, stop_on_failure=True, transaction=True)
