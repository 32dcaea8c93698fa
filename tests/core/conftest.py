"""Fixtures for tests/core: the JS reference importer and Debian's ipfs_cid.

External references skip only on a developer machine (``CI`` unset); under
CI a missing reference is a failure, so a green CI always means the CIDs
were checked against an independent implementation.
"""

from __future__ import annotations

import os
import shutil

import pytest
from core_testlib import MemoryStore, js_available, reference_cases, run_js


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required when CI is set)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def js_results() -> dict[str, dict]:
    """Root and entry CIDs of every reference case, computed by the JS importer."""
    reason = js_available()
    if reason:
        _missing(reason)
    return run_js(reference_cases())


@pytest.fixture(scope="session")
def ipfs_cid_bin() -> str:
    """Debian's ipfs-cid tool (CIDv0 of a file with kubo's defaults)."""
    path = shutil.which("ipfs_cid") or shutil.which("ipfs-cid")
    if path is None:
        _missing("ipfs_cid is not installed (apt-get install ipfs-cid)")
    return path


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()
