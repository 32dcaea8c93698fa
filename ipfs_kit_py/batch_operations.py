"""Seed import path: ``from ipfs_kit_py.batch_operations import BatchProcessor``."""

from .performance.batch import BatchProcessor, BatchResult, Operation, TransactionBatch

__all__ = ["BatchProcessor", "BatchResult", "Operation", "TransactionBatch"]
