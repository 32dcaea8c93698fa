"""Counters that add up across processes, kept in a small JSON file.

Each process keeps its own increments in memory and periodically *adds* them
to the file under an exclusive ``flock``: read, add, write atomically, unlock.
So a CLI process, a service and a test run that share a home never overwrite
each other's counts, and a crash loses at most the increments since the last
flush. Stats are advisory: an unreadable file is reported and replaced, never
fatal.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..config import atomic_write_text

log = logging.getLogger(__name__)


class StatsFile:
    """``{"counters": {name: number}, "meta": {...}}`` at ``path``."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"counters": {}, "meta": {}}
        except (OSError, ValueError) as exc:
            log.warning("stats file %s is unreadable (%s); starting from zero", self.path, exc)
            return {"counters": {}, "meta": {}}
        if not isinstance(data, dict) or not isinstance(data.get("counters"), dict):
            log.warning("stats file %s has an unexpected shape; starting from zero", self.path)
            return {"counters": {}, "meta": {}}
        data["counters"] = {
            k: v for k, v in data["counters"].items() if isinstance(v, int | float) and not isinstance(v, bool)
        }
        if not isinstance(data.get("meta"), dict):
            data["meta"] = {}
        return data

    def load(self) -> dict[str, Any]:
        """The persisted counters and meta (no lock needed: writes are atomic renames)."""
        return self._read()

    def add(self, deltas: dict[str, int | float], meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """Add ``deltas`` to the stored counters, merge ``meta``; return the new totals."""
        with self._locked():
            data = self._read()
            counters = data["counters"]
            for name, delta in deltas.items():
                if delta:
                    counters[name] = counters.get(name, 0) + delta
            data["meta"].update(meta or {})
            data["meta"]["saved_at"] = time.time()
            data["meta"]["saved_by_pid"] = os.getpid()
            atomic_write_text(self.path, json.dumps(data, sort_keys=True))
            return data

    def reset(self) -> None:
        with self._locked():
            atomic_write_text(
                self.path,
                json.dumps({"counters": {}, "meta": {"reset_at": time.time(), "saved_by_pid": os.getpid()}}),
            )
