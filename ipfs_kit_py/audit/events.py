"""The one audit event model used everywhere, and its canonical form.

Fields (see ``event_schema.json`` in this package for the JSON Schema):

- ``event_id``: a ULID string (26 chars, Crockford base32, sortable by the
  millisecond it was made). Callers may pass their own id (the Kit
  pre-generates ids so nested operations can point at their parent); any
  1..128 character string without whitespace is accepted, generated ids are
  always ULIDs. Ids are unique in a log.
- ``timestamp``: UTC epoch seconds (float); default "now". Imported events keep
  their original timestamps.
- ``event_type``: authentication, authorization, data, backend, system, admin,
  mcp, config — or any other lowercase name (``[a-z][a-z0-9_.-]*``).
- ``action``: what happened, e.g. ``content.add``, ``pin.rm``, ``auth.login``.
- ``status``: success | failure | denied | error. ``failure`` is an expected,
  user-caused failure (bad input, wrong password); ``denied`` is an
  authorization refusal; ``error`` is something broken (a backend is down, a
  bug).
- ``severity``: info | low | medium | high | critical. When not given it is
  derived from the status: success → info, failure → low, denied → medium,
  error → high; an authentication failure is medium (brute force matters).
- ``user_id``, ``source_ip``, ``resource`` (CID or path), ``resource_type``,
  ``backend``, ``operation_id`` (groups the events of one operation),
  ``parent_id`` (the event that caused this one), ``session_id``: optional
  strings; an empty string means "absent" and is stored as null.
- ``duration_ms`` (float >= 0), ``bytes`` (int >= 0): optional.
- ``details``: a JSON object. Values that JSON cannot represent (paths, CIDs)
  are stored as their ``str()``.

Chain fields, set by the store when the event is committed: ``seq`` (position
in the log, 1, 2, 3, ... in insertion order), ``prev_hash`` (hash of the event
before it, or 64 zeros for the first) and ``hash``.

Canonical form (what ``hash`` covers): the JSON array of the 17 event fields
in the order of ``EVENT_FIELDS``, ``details`` given as its canonical JSON text
(keys sorted, no spaces, UTF-8, no NaN), serialised by Python's ``json`` with
``separators=(",", ":")`` and ``ensure_ascii=False`` (floats in shortest
round-trip form, e.g. ``1700000000.25``; ``timestamp`` and ``duration_ms``
are always floats). ``hash = sha256(prev_hash_hex + canonical_json)`` as
lowercase hex. ``seq`` is *not* hashed: the order is fixed by ``prev_hash``.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import orjson

from ..errors import InvalidInput

EVENT_TYPES = ("authentication", "authorization", "data", "backend", "system", "admin", "mcp", "config")
STATUSES = ("success", "failure", "denied", "error")
SEVERITIES = ("info", "low", "medium", "high", "critical")
GENESIS_HASH = "0" * 64

# The order of this tuple is part of the hash format: never reorder it.
EVENT_FIELDS = (
    "event_id", "timestamp", "event_type", "action", "status", "user_id", "source_ip",
    "resource", "resource_type", "backend", "operation_id", "parent_id", "session_id",
    "duration_ms", "bytes", "severity", "details",
)
CHAIN_FIELDS = ("seq", "prev_hash", "hash")
ALL_FIELDS = EVENT_FIELDS + CHAIN_FIELDS
OPTIONAL_TEXT_FIELDS = (
    "user_id", "source_ip", "resource", "resource_type", "backend",
    "operation_id", "parent_id", "session_id",
)

_DEFAULT_SEVERITY = {"success": "info", "failure": "low", "denied": "medium", "error": "high"}
_NAME_RE = re.compile(r"[a-z][a-z0-9_.-]{0,63}\Z")
_ID_RE = re.compile(r"[^\s]{1,128}\Z")
_MAX_TEXT = 4096

# ULID encoding: Crockford base32, two characters (10 bits) per table lookup.
# Written by hand because the batched ingest path makes one id per event and
# base64.b32encode (pure Python in 3.11) or a ULID object cost several times more.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = tuple(a + b for a in _CROCKFORD for b in _CROCKFORD)
# ULIDs need uniqueness, not secrecy: a PRNG seeded from os.urandom is much
# faster than urandom per id. Reseed in forked children so they never share
# a sequence with their parent.
_rng = random.Random()
_random_bits = _rng.getrandbits
os.register_at_fork(after_in_child=_rng.seed)


def new_event_id(timestamp: float | None = None) -> str:
    """A ULID string for an event made at ``timestamp`` (default: now).

    Same format as ``str(ulid.ULID())`` (python-ulid parses it): 10 characters
    of millisecond time, then 16 random characters (80 bits: the low 5 bits
    of 16 random bytes, each mapped to a Crockford letter).
    """
    ms = int((time.time() if timestamp is None else timestamp) * 1000)
    last = _last_time_chars
    prefix = last[1] if last[0] == ms else _time_chars(ms)
    return prefix + _random_bits(128).to_bytes(16, "little").translate(_RANDOM_CHARS).decode("ascii")


def new_event_ids(times: list[float]) -> list[str]:
    """``new_event_id`` for each timestamp; for a batch, all ids are encoded at once in numpy."""
    n = len(times)
    random_chars = _random_bits(128 * n).to_bytes(16 * n, "little").translate(_RANDOM_CHARS)
    if n < _VECTOR_IDS:  # below this, numpy's fixed cost is more than the loop
        return [_time_chars(int(t * 1000)) + random_chars[16 * i:16 * i + 16].decode("ascii")
                for i, t in enumerate(times)]
    ms = (np.asarray(times, dtype=np.float64) * 1000).astype(np.int64)  # int(t * 1000), per element
    chars = np.empty((n, 26), dtype=np.uint8)
    for k in range(10):  # 48 bits of milliseconds, 5 bits per character, most significant first
        chars[:, k] = _CROCKFORD_CODES[(ms >> (45 - 5 * k)) & 31]
    chars[:, 10:] = np.frombuffer(random_chars, dtype=np.uint8).reshape(n, 16)
    text = chars.tobytes().decode("ascii")
    return [text[i:i + 26] for i in range(0, 26 * n, 26)]


_VECTOR_IDS = 16
_CROCKFORD_CODES = np.frombuffer(_CROCKFORD.encode("ascii"), dtype=np.uint8)


def _time_chars(ms: int) -> str:
    global _last_time_chars
    p = _PAIRS
    prefix = p[ms >> 40 & 1023] + p[ms >> 30 & 1023] + p[ms >> 20 & 1023] + p[ms >> 10 & 1023] + p[ms & 1023]
    _last_time_chars = (ms, prefix)  # one tuple: a consistent pair for other threads
    return prefix


_RANDOM_CHARS = bytes(ord(_CROCKFORD[b & 31]) for b in range(256))
_last_time_chars = (-1, "")


def encode_ulid(ms: int, random80: int) -> str:
    """Crockford base32 of the 48-bit millisecond time (10 chars) and 80 further bits (16 chars)."""
    p = _PAIRS
    return (_time_chars(ms) + p[random80 >> 70 & 1023] + p[random80 >> 60 & 1023] + p[random80 >> 50 & 1023]
            + p[random80 >> 40 & 1023] + p[random80 >> 30 & 1023] + p[random80 >> 20 & 1023]
            + p[random80 >> 10 & 1023] + p[random80 & 1023])


def default_severity(event_type: str, status: str) -> str:
    if event_type == "authentication" and status == "failure":
        return "medium"
    return _DEFAULT_SEVERITY[status]


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One committed (or, before commit, prepared) audit event."""

    event_id: str
    timestamp: float
    event_type: str
    action: str
    status: str = "success"
    user_id: str | None = None
    source_ip: str | None = None
    resource: str | None = None
    resource_type: str | None = None
    backend: str | None = None
    operation_id: str | None = None
    parent_id: str | None = None
    session_id: str | None = None
    duration_ms: float | None = None
    bytes: int | None = None
    severity: str = "info"
    details: dict[str, Any] = field(default_factory=dict)
    seq: int | None = None
    prev_hash: str | None = None
    hash: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """All fields, chain fields included; ``details`` is a copy."""
        data = {name: getattr(self, name) for name in ALL_FIELDS}
        data["details"] = dict(self.details)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditEvent:
        """Validate a dict in this schema (e.g. a JSONL line); raises InvalidInput.

        Unknown keys are rejected so a typo does not silently drop a field.
        Chain fields are kept as given (they are only meaningful for events
        read back from a log or an export).
        """
        if not isinstance(data, dict):
            raise InvalidInput("an audit event must be a JSON object")
        unknown = set(data) - set(ALL_FIELDS)
        if unknown:
            raise InvalidInput(f"unknown event field(s): {', '.join(sorted(unknown))}")
        for name in ("event_type", "action"):
            if name not in data:
                raise InvalidInput(f"missing required field {name!r}")
        kwargs = {k: v for k, v in data.items() if k in EVENT_FIELDS and k not in ("event_type", "action", "status")}
        row = prepare_row(data["event_type"], data["action"], data.get("status", "success"), **kwargs)
        event = event_from_row(row)
        seq, prev_hash, digest = data.get("seq"), data.get("prev_hash"), data.get("hash")
        if seq is None and prev_hash is None and digest is None:
            return event
        if not (isinstance(seq, int) and not isinstance(seq, bool) and seq > 0):
            raise InvalidInput("seq must be a positive integer")
        for name, value in (("prev_hash", prev_hash), ("hash", digest)):
            if not (isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value)):
                raise InvalidInput(f"{name} must be 64 lowercase hex characters")
        return _with_chain(event, seq, prev_hash, digest)


def _with_chain(event: AuditEvent, seq: int, prev_hash: str, digest: str) -> AuditEvent:
    values = [getattr(event, name) for name in EVENT_FIELDS]
    return AuditEvent(*values, seq, prev_hash, digest)


# ---- validation into a storage row ----------------------------------------
# A "row" is the tuple of the 17 EVENT_FIELDS in order, with details as its
# canonical JSON text. It is what the store inserts and what the hash covers.


def prepare_row(
    event_type: str,
    action: str,
    status: str = "success",
    *,
    user_id: str | None = None,
    source_ip: str | None = None,
    resource: str | None = None,
    resource_type: str | None = None,
    backend: str | None = None,
    operation_id: str | None = None,
    parent_id: str | None = None,
    session_id: str | None = None,
    duration_ms: float | None = None,
    bytes: int | None = None,
    severity: str | None = None,
    details: dict[str, Any] | None = None,
    timestamp: float | datetime | None = None,
    event_id: str | None = None,
) -> tuple:
    """Validate one event's fields; return its storage row. Raises InvalidInput."""
    return event_row(event_type, action, status, user_id, source_ip, resource, resource_type, backend,
                     operation_id, parent_id, session_id, duration_ms, bytes, severity, details, timestamp, event_id)


_FIELD_SET = frozenset(EVENT_FIELDS)


def row_from_fields(fields: dict[str, Any]) -> tuple:
    """``prepare_row`` for an event given as a dict of its fields (the batched ingest path)."""
    if not fields.keys() <= _FIELD_SET:
        unknown = sorted(str(k) for k in fields if k not in _FIELD_SET)
        raise InvalidInput(f"unknown event field(s): {', '.join(unknown)}")
    g = fields.get
    return event_row(g("event_type"), g("action"), g("status", "success"), g("user_id"), g("source_ip"),
                     g("resource"), g("resource_type"), g("backend"), g("operation_id"), g("parent_id"),
                     g("session_id"), g("duration_ms"), g("bytes"), g("severity"), g("details"),
                     g("timestamp"), g("event_id"))


def event_row(event_type, action, status, user_id, source_ip, resource, resource_type, backend, operation_id,
              parent_id, session_id, duration_ms, bytes, severity, details, timestamp, event_id, /) -> tuple:
    """The one validation of an event's fields, in ``EVENT_FIELDS`` order except the time and id last.

    Positional only: the cheapest call, for ``log_event`` and the batch path.

    Every event of a batched ingest passes through here, so the common case
    (known names, float time, few optional fields) is checked with set
    lookups and type identity before falling back to the full checks.
    """
    if event_type.__class__ is not str or event_type not in _known_names:
        _check_name(event_type)
    if action.__class__ is not str or action not in _known_actions:
        _check_action(action)
    if status.__class__ is not str or status not in _STATUS_SET:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    if severity is None:
        severity = default_severity(event_type, status)
    elif severity.__class__ is not str or severity not in _SEVERITY_SET:
        raise InvalidInput(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")
    if timestamp.__class__ is float and 0.0 <= timestamp < _MAX_TIMESTAMP:
        ts = timestamp
    else:
        ts = _timestamp(timestamp)
    if event_id is None:
        event_id = new_event_id(ts)
    elif event_id.__class__ is not str or not _ID_RE.match(event_id):
        raise InvalidInput(f"event_id must be 1-128 characters without spaces, not {event_id!r}")
    if duration_ms is not None:
        if duration_ms.__class__ is not float or not 0.0 <= duration_ms < math.inf:
            duration_ms = _duration(duration_ms)
    if bytes is not None and (bytes.__class__ is not int or not 0 <= bytes < _MAX_BYTES):
        raise InvalidInput(f"bytes must be an integer >= 0 and < 2**63, not {_show(bytes)}")
    return (event_id, ts, event_type, action, status,
            user_id if user_id.__class__ is str and 0 < len(user_id) <= _MAX_TEXT else _text("user_id", user_id),
            source_ip if source_ip.__class__ is str and 0 < len(source_ip) <= _MAX_TEXT
            else _text("source_ip", source_ip),
            resource if resource.__class__ is str and 0 < len(resource) <= _MAX_TEXT
            else _text("resource", resource),
            None if resource_type is None else _text("resource_type", resource_type),
            None if backend is None else _text("backend", backend),
            None if operation_id is None else _text("operation_id", operation_id),
            None if parent_id is None else _text("parent_id", parent_id),
            None if session_id is None else _text("session_id", session_id),
            duration_ms, bytes, severity,
            "{}" if details is None else details_text(details))


_STATUS_SET = frozenset(STATUSES)
_SEVERITY_SET = frozenset(SEVERITIES)
MAX_TIMESTAMP = _MAX_TIMESTAMP = 32503680000.0  # year 3000: catches milliseconds passed as seconds
# Names that passed validation once; bounded so arbitrary input cannot grow them.
_known_names: set[str] = set(EVENT_TYPES)
_known_actions: set[str] = set()
_KNOWN_LIMIT = 4096
_MAX_BYTES = 1 << 63  # SQLite INTEGER (and PostgreSQL BIGINT) are signed 64-bit
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _check_name(event_type: Any) -> None:
    if not isinstance(event_type, str) or not _NAME_RE.match(event_type):
        raise InvalidInput(f"event_type must be a lowercase name like 'data', not {event_type!r}")
    if len(_known_names) < _KNOWN_LIMIT:
        _known_names.add(event_type)


def _check_action(action: Any) -> None:
    if not isinstance(action, str) or not action or len(action) > 200 or action != action.strip():
        raise InvalidInput(f"action must be a non-empty name like 'content.add', not {_show(action)}")
    if _CONTROL_RE.search(action):
        raise InvalidInput(f"action must not contain control characters, not {_show(action)}")
    if len(_known_actions) < _KNOWN_LIMIT:
        _known_actions.add(action)


def _duration(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (_finite(value) and value >= 0):
        raise InvalidInput(f"duration_ms must be a finite number >= 0, not {_show(value)}")
    return float(value)


def _finite(value: int | float) -> bool:
    """``math.isfinite`` that says False (instead of raising) for ints beyond the float range."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _timestamp(value: Any) -> float:
    if value is None:
        return time.time()
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInput("timestamp datetimes must be timezone-aware (UTC)")
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise InvalidInput(f"timestamp must be finite UTC epoch seconds, not {_show(value)}")
    if not 0 <= value < _MAX_TIMESTAMP:
        raise InvalidInput(f"timestamp {_show(value)} is out of range (epoch seconds, not milliseconds?)")
    return float(value)


def _text(name: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string, not {type(value).__name__}")
    if len(value) > _MAX_TEXT:
        raise InvalidInput(f"{name} is longer than {_MAX_TEXT} characters")
    return value


# Encoders built once (json.dumps with options builds a new encoder per call).
_DETAILS_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                                    allow_nan=False, default=str)
_CANONICAL_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


# orjson writes the same bytes as these encoders for str, None, bool, ints
# within 64 bits and floats that are 0 or in [1e-4, 1e16) (both print the
# shortest round-trip digits; outside that range Python switches to exponent
# form and orjson spells the exponent differently). It is used only when every
# value is of those kinds, so the canonical form stays exactly Python's.
_SAFE_SCALARS = frozenset((str, bool, type(None)))


ORJSON_EXACT_LOW, ORJSON_EXACT_HIGH = 1e-4, 1e16


def _orjson_safe_float(value: float) -> bool:
    return value == 0.0 or ORJSON_EXACT_LOW <= abs(value) < ORJSON_EXACT_HIGH


def _flat_safe(details: dict) -> bool:
    for key, value in details.items():
        if key.__class__ is not str:
            return False
        cls = value.__class__
        if cls in _SAFE_SCALARS or (cls is int and -(1 << 63) <= value < 1 << 63):
            continue
        if cls is float and _orjson_safe_float(value):
            continue
        return False
    return True


def details_text(details: Any) -> str:
    """Canonical JSON text of a details object (sorted keys, compact)."""
    if details is None or details == {}:
        return "{}"
    if not isinstance(details, dict):
        raise InvalidInput(f"details must be a JSON object, not {type(details).__name__}")
    if details.__class__ is dict and _flat_safe(details):
        try:
            return orjson.dumps(details, option=orjson.OPT_SORT_KEYS).decode("utf-8")
        except orjson.JSONEncodeError:
            pass  # e.g. a lone surrogate: the full encoder reports it
    try:
        text = _DETAILS_ENCODER.encode(details)
        text.encode("utf-8")
        return text
    except (ValueError, TypeError) as exc:  # NaN, non-string keys of mixed types, cycles, surrogates
        raise InvalidInput(f"details cannot be stored as JSON: {exc}") from exc


def stored_details(details: Any, text: str) -> dict[str, Any]:
    """The details an event holds once stored (``text``: ``details_text(details)``).

    A copy of ``details`` when its text was written from its values as they
    are (flat, safe scalars: they read back identical), saving the parse.
    """
    if details is None or text == "{}":
        return {}
    if details.__class__ is dict and _flat_safe(details):
        return dict(sorted(details.items()))
    return json.loads(text)


def event_from_row(row: tuple, seq: int | None = None, prev_hash: str | None = None,
                   digest: str | None = None) -> AuditEvent:
    """Build an AuditEvent from a storage row (details text parsed)."""
    details = {} if row[16] == "{}" else json.loads(row[16])
    return AuditEvent(*row[:16], details, seq, prev_hash, digest)


def canonical_body(row: tuple) -> bytes:
    """The canonical JSON bytes of a row (everything but prev_hash)."""
    ts, duration, size = row[1], row[13], row[14]
    if (_orjson_safe_float(ts) and (duration is None or _orjson_safe_float(duration))
            and (size is None or size < 1 << 63)):
        try:
            return orjson.dumps(row)
        except orjson.JSONEncodeError:
            pass
    try:
        return _CANONICAL_ENCODER.encode(row).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"event text is not valid Unicode ({exc.reason})") from exc
