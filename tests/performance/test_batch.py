"""BatchProcessor and TransactionBatch: results, pools, fail-fast, progress, rollback."""

from __future__ import annotations

import os
import threading
import time

import pytest

from ipfs_kit_py.batch_operations import BatchProcessor, TransactionBatch
from ipfs_kit_py.errors import InvalidInput


# Module-level so they pickle into worker processes.
def square_with_pid(x):
    return x * x, os.getpid()


def divide(a, b=1):
    return a / b


def make_unpicklable():
    return threading.Lock()


def test_seed_usage_and_per_operation_results():
    processor = BatchProcessor(max_workers=4)
    processor.add_operation(divide, 10, 2)
    processor.add_operation(divide, 1, b=0)
    processor.add_operation(sum, [1, 2, 3])
    result = processor.execute_batch(parallel=True)
    assert result.success_rate() == pytest.approx(200 / 3)
    assert result.total == 3 and result.succeeded == 2 and result.failed == 1
    ops = result.operations
    assert [op.status for op in ops] == ["success", "failed", "success"]
    assert ops[0].result == 5.0 and ops[2].result == 6
    assert ops[1].error == "ZeroDivisionError: division by zero"
    assert isinstance(ops[1].exception, ZeroDivisionError)
    assert all(op.duration_ms is not None and op.duration_ms >= 0 for op in ops)
    assert processor.pending == 0  # the queue was consumed
    assert result.to_dict()["operations"][0]["name"] == "divide"


def test_parallel_threads_overlap_io():
    processor = BatchProcessor(max_workers=4)
    for _ in range(8):
        processor.add_operation(time.sleep, 0.05)
    start = time.perf_counter()
    result = processor.execute_batch(parallel=True)
    parallel = time.perf_counter() - start
    assert result.succeeded == 8
    assert parallel < 0.05 * 8 / 2  # sequential would take 0.4 s


def test_process_pool_really_runs_in_other_processes():
    processor = BatchProcessor(max_workers=2, executor="process")
    for x in range(6):
        processor.add_operation(square_with_pid, x)
    processor.add_operation(divide, 1, 0)
    result = processor.execute_batch(parallel=True)
    assert result.executor == "process"
    assert [op.result[0] for op in result.operations[:6]] == [0, 1, 4, 9, 16, 25]
    pids = {op.result[1] for op in result.operations[:6]}
    assert os.getpid() not in pids
    assert result.operations[6].status == "failed"
    assert result.operations[6].error == "ZeroDivisionError: division by zero"


def test_process_pool_refuses_lambdas_and_closures_up_front():
    processor = BatchProcessor(executor="process")
    processor.add_operation(square_with_pid, 2)
    factor = 3
    processor.add_operation(lambda x: x * factor, 2)
    with pytest.raises(InvalidInput, match=r"operation 1 \(.*<lambda>\) cannot run in a process pool"):
        processor.execute_batch(parallel=True)
    assert processor.pending == 2  # nothing ran; the batch is still queued
    result = processor.execute_batch(parallel=False)  # sequential runs in this process
    assert [op.result for op in result.operations][1] == 6


def test_process_pool_result_that_cannot_come_back_is_a_failure():
    processor = BatchProcessor(executor="process", max_workers=2)
    processor.add_operation(make_unpicklable)
    processor.add_operation(square_with_pid, 3)
    result = processor.execute_batch()
    assert result.operations[0].status == "failed"
    assert "pickle" in result.operations[0].error.lower()
    assert result.operations[1].result[0] == 9


def test_fail_fast_sequential_stops_at_the_first_failure():
    ran = []

    def step(i):
        ran.append(i)
        if i == 2:
            raise RuntimeError("boom")
        return i

    processor = BatchProcessor(fail_fast=True)
    for i in range(6):
        processor.add_operation(step, i)
    result = processor.execute_batch(parallel=False)
    assert ran == [0, 1, 2]
    assert [op.status for op in result.operations] == ["success", "success", "failed", "cancelled",
                                                       "cancelled", "cancelled"]
    assert (result.succeeded, result.failed, result.cancelled) == (2, 1, 3)


def test_fail_fast_parallel_cancels_what_has_not_started():
    def slow_fail():
        time.sleep(0.05)
        raise RuntimeError("boom")

    processor = BatchProcessor(max_workers=2, fail_fast=True)
    processor.add_operation(slow_fail)
    for _ in range(20):
        processor.add_operation(time.sleep, 0.05)
    result = processor.execute_batch(parallel=True)
    assert result.failed == 1
    assert result.cancelled >= 15
    assert result.succeeded + result.failed + result.cancelled == 21


@pytest.mark.parametrize("parallel", [False, True])
def test_progress_callback_sees_every_operation(parallel):
    calls = []
    processor = BatchProcessor(max_workers=3)
    for i in range(5):
        processor.add_operation(divide, i, 1)
    result = processor.execute_with_callback(lambda cur, total, op: calls.append((cur, total, op.status)),
                                             parallel=parallel)
    assert [c[0] for c in calls] == [1, 2, 3, 4, 5]
    assert all(total == 5 and status == "success" for _, total, status in calls)
    assert result.succeeded == 5


def test_transaction_rolls_back_in_reverse_order_with_correct_counts():
    log = []

    def do(i):
        if i == 3:
            raise ValueError("step 3 failed")
        log.append(f"do {i}")
        return f"result {i}"

    def undo(result):
        log.append(f"undo {result}")

    tx = TransactionBatch()
    for i in range(5):
        tx.add_operation(do, i, rollback=undo)
    result = tx.execute_batch()
    assert log == ["do 0", "do 1", "do 2", "undo result 2", "undo result 1", "undo result 0"]
    assert [op.status for op in result.operations] == ["rolled_back"] * 3 + ["failed", "cancelled"]
    assert (result.succeeded, result.rolled_back, result.failed, result.cancelled) == (0, 3, 1, 1)
    assert result.success_rate() == 0.0
    assert not result.committed


def test_transaction_keeps_undoing_when_one_rollback_fails():
    undone = []

    def undo_or_fail(result):
        if result == 1:
            raise OSError("disk gone")
        undone.append(result)

    tx = TransactionBatch()
    tx.add_operation(divide, 0, 1, rollback=undo_or_fail)
    tx.add_operation(divide, 1, 1, rollback=undo_or_fail)
    tx.add_operation(divide, 2, 1, rollback=None)  # nothing to undo
    tx.add_operation(divide, 1, 0, rollback=undo_or_fail)
    result = tx.execute_batch()
    assert undone == [0.0]
    statuses = [op.status for op in result.operations]
    assert statuses == ["rolled_back", "rollback_failed", "rolled_back", "failed"]
    assert result.operations[1].rollback_error == "OSError: disk gone"
    assert (result.rolled_back, result.rollback_failed, result.succeeded) == (2, 1, 0)


def test_transaction_commits_when_everything_succeeds():
    tx = TransactionBatch()
    tx.add_operation(divide, 4, 2, rollback=lambda r: pytest.fail("must not roll back"))
    result = tx.execute_batch()
    assert result.committed and result.succeeded == 1 and result.rolled_back == 0


def test_transaction_requires_an_explicit_rollback_keyword():
    tx = TransactionBatch()
    with pytest.raises(TypeError, match="rollback"):
        tx.add_operation(divide, 1, 2)
    with pytest.raises(InvalidInput, match="rollback must be callable"):
        tx.add_operation(divide, 1, rollback="undo")


def test_statistics_persist_across_instances(tmp_path):
    path = tmp_path / "batch-stats.json"
    first = BatchProcessor(stats_path=path)
    first.add_operation(divide, 1, 1)
    first.add_operation(divide, 1, 0)
    first.execute_batch()
    tx = TransactionBatch(stats_path=path)
    tx.add_operation(divide, 1, 1, rollback=None)
    tx.add_operation(divide, 1, 0, rollback=None)
    tx.execute_batch()
    stats = BatchProcessor(stats_path=path).get_statistics()
    assert stats["batches"] == 2 and stats["operations"] == 4
    assert (stats["succeeded"], stats["failed"], stats["rolled_back"]) == (1, 2, 1)
    assert stats["transactions"] == 1 and stats["transactions_committed"] == 0
    assert stats["success_rate"] == 25.0
    assert stats["last_batch"]["transaction"] is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"max_workers": 0}, "max_workers"), ({"max_workers": -2}, "max_workers"),
     ({"executor": "gpu"}, "unknown executor 'gpu'")],
)
def test_bad_configuration(kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        BatchProcessor(**kwargs)


def test_bad_operations():
    processor = BatchProcessor()
    with pytest.raises(InvalidInput, match="callable"):
        processor.add_operation("not a function")
    with pytest.raises(InvalidInput, match="progress"):
        processor.execute_with_callback(None)
    assert processor.execute_batch().success_rate() == 100.0  # empty batch
