"""The audit log: one event model, a tamper-evident store, identities and tokens.

Modules: ``events`` (the event and its canonical form), ``chain`` (hashing
and verification), ``store`` (SQLite / PostgreSQL schema, locking,
durability), ``logger`` (``AuditLogger``: the API), ``importers`` (JSONL and
sshd/auth.log), ``columns`` (polars export), ``auth`` (tokens and roles),
``timeparse`` (times as users type them). ``event_schema.json`` is the JSON
Schema of one exported event.
"""

from .chain import ChainHead, VerifyResult, verify_export_file, verify_records
from .events import EVENT_FIELDS, EVENT_TYPES, SEVERITIES, STATUSES, AuditEvent, new_event_id
from .importers import ImportReport, SkippedLine
from .logger import AuditLogger, EventPage, PruneResult

__all__ = [
    "EVENT_FIELDS", "EVENT_TYPES", "SEVERITIES", "STATUSES", "AuditEvent", "AuditLogger",
    "ChainHead", "EventPage", "ImportReport", "PruneResult", "SkippedLine", "VerifyResult",
    "new_event_id", "verify_export_file", "verify_records",
]
