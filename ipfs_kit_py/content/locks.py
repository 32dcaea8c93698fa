"""A repository lock shared by writers and taken exclusively by GC.

An add writes blocks before it pins the root; GC must not run in between.
``flock`` works across processes and is released by the kernel if a process dies.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class RepoLock:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    @contextmanager
    def _locked(self, mode: int) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, mode)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def shared(self):
        return self._locked(fcntl.LOCK_SH)

    def exclusive(self):
        return self._locked(fcntl.LOCK_EX)
