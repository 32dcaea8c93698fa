"""Shared fixtures: audit logs (real AuditLogger, SQLite in a temp dir) filled by the scenario generator."""

from __future__ import annotations

import pytest

from ipfs_kit_py.analytics import AuditAnalytics, simulate
from ipfs_kit_py.audit import AuditLogger

# A fixed "now" for deterministic scenarios (2026-09-21T...Z); analyses pass end_time=END.
END = 1_790_000_000.0
SEED = 11


@pytest.fixture(scope="session")
def scenario(tmp_path_factory):
    """21 days, 30 users, every incident type; (logger, answer key)."""
    logger = AuditLogger(path=tmp_path_factory.mktemp("scenario") / "audit.db")
    key = simulate(logger, days=21, users=30, seed=SEED, end_time=END)
    yield logger, key
    logger.close()


@pytest.fixture(scope="session")
def clean(tmp_path_factory):
    """The same population with no incidents at all."""
    logger = AuditLogger(path=tmp_path_factory.mktemp("clean") / "audit.db")
    key = simulate(logger, days=21, users=30, seed=SEED, incidents="none", end_time=END)
    yield logger, key
    logger.close()


@pytest.fixture(scope="session")
def analytics(scenario):
    return AuditAnalytics(scenario[0])


@pytest.fixture
def logger(tmp_path):
    lg = AuditLogger(path=tmp_path / "audit.db")
    yield lg
    lg.close()
