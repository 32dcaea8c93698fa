"""Storage backends: local directories, kubo nodes and S3 buckets, and replication across them."""

from .base import (
    Backend,
    BackendRefused,
    BackendUnavailable,
    BackendUnsupported,
    BlockMissing,
    PutResult,
)
from .manager import KINDS, BackendManager, make_backend

__all__ = [
    "KINDS", "Backend", "BackendManager", "BackendRefused", "BackendUnavailable", "BackendUnsupported",
    "BlockMissing", "PutResult", "make_backend",
]
