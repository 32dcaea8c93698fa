"""Seed import path: ``from ipfs_kit_py.audit_logger import AuditLogger``.

The implementation lives in ``ipfs_kit_py.audit``; this module re-exports it.
"""

from .audit import (
    EVENT_FIELDS,
    EVENT_TYPES,
    SEVERITIES,
    STATUSES,
    AuditEvent,
    AuditLogger,
    ChainHead,
    EventPage,
    ImportReport,
    PruneResult,
    VerifyResult,
    new_event_id,
)
from .audit.auth import ROLES, Principal, TokenInfo, TokenStore, local_principal, require_role

__all__ = [
    "EVENT_FIELDS", "EVENT_TYPES", "ROLES", "SEVERITIES", "STATUSES", "AuditEvent", "AuditLogger",
    "ChainHead", "EventPage", "ImportReport", "Principal", "PruneResult", "TokenInfo", "TokenStore",
    "VerifyResult", "local_principal", "new_event_id", "require_role",
]
