"""How events sit in storage blocks, and how a query filters them. Pure code, no database.

A block holds a run of consecutive events (``first_seq`` .. ``last_seq``):

- ``bodies``: the canonical JSON of each event (exactly the bytes its hash
  covers, see ``events``), joined by ``\\n``. Canonical JSON never contains a
  raw newline (JSON escapes it inside strings), so the split is exact.
- ``links``: per event, ``prev_hash`` then ``hash`` (64 lowercase hex
  characters each), concatenated.

Each sealed block also keeps ``keys``: the sorted, distinct 32-bit XXH32
hashes of its values of the fields in ``KEY_FIELDS`` (action, user, resource,
operation, parent, session), each field hashed with its own seed.
An exact lookup (``resource=...``, ``operation_id=...``) reads only the
blocks whose keys hold the value's hash: a few KB per block instead of its
bodies. XXH32 is a fixed, documented function, so keys written by one version
are read by any other.

Why blocks and not a row per event: a row per event with B-tree indexes on
time, user, status, type, operation and resource costs SQLite ~50 µs of work
per event (20k events/s on this class of machine, measured in
``benchmarks/bench_audit.py``); one row per block costs it ~1 µs per event.
Queries find blocks by their time range (``min_ts``/``max_ts``, indexed) and
skip blocks that cannot match an equality filter by searching the raw bytes
for the JSON-encoded value (a necessary condition, checked exactly after
decoding). Decoding a block parses all its bodies in one ``orjson`` call.

Decoded rows have the shape ``(seq, *17 EVENT_FIELDS (details as JSON text),
prev_hash, hash)`` (``store.COLUMNS``).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import xxhash

from ..errors import InvalidInput
from .events import EVENT_FIELDS
from .timeparse import parse_time

HASH_CHARS = 64
# Fields whose values a block's keys hold (indexes into EVENT_FIELDS).
# Not source_ip: nearly one per event, so its hashing would cost ingest more than its lookups gain.
KEY_FIELDS = (3, 5, 7, 10, 11, 12)  # action, user_id, resource, operation_id, parent_id, session_id
LINK_CHARS = 2 * HASH_CHARS
_FIELD = {name: i for i, name in enumerate(EVENT_FIELDS)}


@contextmanager
def gc_paused() -> Iterator[None]:
    """No garbage collection while blocks are decoded or a batch is validated and encoded.

    Both make many short-lived objects and no reference cycles, and a
    collection in the middle walks every object the process holds: decoding
    98k events cost 12.5 µs each with collections and 5.9 µs without, in a
    process holding the 98k event dicts it had logged. Collection resumes
    afterwards; a process that turned it off itself keeps it off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class DamagedBlock(Exception):
    """A block's bytes do not decode into its events (edited by hand)."""

    def __init__(self, first_seq: int, reason: str):
        super().__init__(f"block seq {first_seq}: {reason}")
        self.first_seq = first_seq
        self.reason = reason


def value_key(field: int, value: str) -> int:
    return xxhash.xxh32_intdigest(value.encode("utf-8", "surrogatepass"), field)


def block_keys(rows: Sequence[Sequence]) -> bytes:
    """The keys of a block's events (rows with the 17 event fields first, as stored or decoded)."""
    columns = list(zip(*rows, strict=False))  # rows -> columns, in C
    keys: set[int] = set()
    h = xxhash.xxh32_intdigest
    for field in KEY_FIELDS:
        # Each distinct value hashed once (a block repeats users, actions, addresses).
        keys.update([h(v.encode("utf-8", "surrogatepass"), field) for v in set(columns[field]) if v.__class__ is str])
    return np.sort(np.fromiter(keys, dtype="<u4", count=len(keys))).tobytes()


def merge_keys(parts: Sequence[bytes]) -> bytes:
    arrays = [np.frombuffer(bytes(p), dtype="<u4") for p in parts]
    return np.unique(np.concatenate(arrays)).astype("<u4").tobytes() if arrays else b""


def encode(bodies: Sequence[bytes], links: Sequence[tuple[int, str, str]]) -> tuple[bytes, str]:
    """(bodies blob, links text) of a run of events; ``links`` are (seq, prev_hash, hash)."""
    return b"\n".join(bodies), "".join([prev + digest for _seq, prev, digest in links])


def parse_line(first_seq: int, line: bytes) -> list:
    """One event line's 17 field values; DamagedBlock if it is not an event (edited by hand)."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise DamagedBlock(first_seq, f"not canonical event JSON ({exc})") from None
    if not _is_event(value):
        raise DamagedBlock(first_seq, "an entry is not an event (17 fields)")
    return value


def parse_lenient(bodies: bytes) -> list[list | None]:
    """Each line's 17 field values, or None for a line that is not an event.

    Such a line was edited by hand; reads pass over it (``verify`` names it)
    instead of failing every query and every write that touches its block.
    """
    try:
        values = orjson.loads(b"[" + bodies.replace(b"\n", b",") + b"]")
        if len(values) == bodies.count(b"\n") + 1 and all(_is_event(v) for v in values):
            return values
    except orjson.JSONDecodeError:
        pass
    out: list[list | None] = []
    for line in bodies.split(b"\n"):
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            value = None
        out.append(value if _is_event(value) else None)
    return out


def _is_event(value: Any) -> bool:
    return value.__class__ is list and len(value) == 17 and value[1].__class__ is float


def rows(first_seq: int, bodies: bytes, links: str, wanted: EventFilter | None = None) -> list[tuple]:
    """Decoded rows of a block, only those matching ``wanted`` when given (lines that are not
    events are passed over: see ``parse_lenient``)."""
    if wanted is not None and wanted.needles:
        # Cheap necessary condition on the raw bytes before any parsing.
        if not all(n in bodies for n in wanted.needles):
            return []
        found = _lines_with(bodies, wanted.needles)
        if not found:
            return []
        positions = [i for i, _line in found]
        values = parse_lenient(b"\n".join(line for _i, line in found))
    else:
        values = parse_lenient(bodies)
        positions = range(len(values))
    out = []
    match = None if wanted is None else wanted.match
    for i, v in zip(positions, values, strict=True):
        if v is not None and (match is None or match(v)):
            o = i * LINK_CHARS
            out.append((first_seq + i, *v, links[o:o + HASH_CHARS], links[o + HASH_CHARS:o + LINK_CHARS]))
    return out


def block_columns(first_seq: int, bodies: bytes, links: str, after: int = 0) -> list[list]:
    """A block's events with seq > ``after`` as the 20 columns of ``store.COLUMNS`` (seq, the 17
    fields, prev_hash, hash), transposed in C: no tuple per event (the bulk path for analytics)."""
    values = parse_lenient(bodies)
    index = [i for i, v in enumerate(values) if v is not None and first_seq + i > after]
    if len(index) != len(values):
        values = [values[i] for i in index]
    if not values:
        return [[] for _ in range(20)]
    h, n = HASH_CHARS, LINK_CHARS
    return [[first_seq + i for i in index], *(list(c) for c in zip(*values, strict=True)),
            [links[i * n:i * n + h] for i in index], [links[i * n + h:(i + 1) * n] for i in index]]


def _lines_with(bodies: bytes, needles: tuple[bytes, ...]) -> list[tuple[int, bytes]]:
    """(index, line) of the lines holding every needle, found from the first needle's occurrences
    (a search in C; no split of the whole block when the value is rare)."""
    first, rest = needles[0], needles[1:]
    out = []
    index = counted = 0
    at = bodies.find(first)
    while at >= 0:
        start = bodies.rfind(b"\n", 0, at) + 1
        end = bodies.find(b"\n", at)
        if end < 0:
            end = len(bodies)
        index += bodies.count(b"\n", counted, start)
        counted = start
        line = bodies[start:end]
        if all(n in line for n in rest):
            out.append((index, line))
        at = bodies.find(first, end + 1)
    return out


def line_row(first_seq: int, line: bytes, links: str, seq: int, offset: int) -> tuple:
    """The row at ``seq`` from its own line (``offset``: its position in the block)."""
    v = parse_line(first_seq, line)
    o = offset * LINK_CHARS
    return (seq, *v, links[o:o + HASH_CHARS], links[o + HASH_CHARS:o + LINK_CHARS])


# ---- filters ------------------------------------------------------------------------------

EQUALITY_FILTERS = ("user_id", "resource", "operation_id", "parent_id", "session_id", "source_ip", "severity")


def as_list(name: str, value: Any) -> list[str]:
    values = [value] if isinstance(value, str) else list(value)
    if not values or not all(isinstance(v, str) for v in values):
        raise InvalidInput(f"{name} must be a string or a non-empty list of strings")
    return values


@dataclass(frozen=True)
class EventFilter:
    """The filters shared by ``query_events``, ``count``, ``export`` and ``export_columns``."""

    start: float | None = None  # inclusive
    end: float | None = None  # exclusive
    event_types: frozenset[str] | None = None
    statuses: frozenset[str] | None = None
    action: str | None = None
    action_prefix: str | None = None
    equal: tuple[tuple[int, str], ...] = ()  # (field index, value)
    needles: tuple[bytes, ...] = ()
    keys: tuple[bytes, ...] = ()  # value keys a block must hold (exact filters on KEY_FIELDS), as stored

    @classmethod
    def build(cls, start_time: Any = None, end_time: Any = None, event_types: Any = None,
              user_id: Any = None, status: Any = None, action: Any = None, resource: Any = None,
              operation_id: Any = None, filters: dict[str, Any] | None = None) -> EventFilter:
        filters = dict(filters or {})
        unknown = set(filters) - set(EQUALITY_FILTERS)
        if unknown:
            raise InvalidInput(f"unknown filter(s): {', '.join(sorted(unknown))}")
        start = None if start_time is None else parse_time(start_time)
        end = None if end_time is None else parse_time(end_time)
        types = None if event_types is None else frozenset(as_list("event_type", event_types))
        statuses = None if status is None else frozenset(as_list("status", status))
        exact = prefix = None
        if action is not None:
            if not isinstance(action, str) or not action:
                raise InvalidInput("action filter must be a non-empty string")
            if action.endswith("*"):
                prefix = action[:-1]
            else:
                exact = action
        given = dict(filters, user_id=user_id, resource=resource, operation_id=operation_id)
        equal = []
        for name in ("user_id", "resource", "operation_id", *sorted(filters)):
            value = given.get(name)
            if value is not None:
                if not isinstance(value, str):
                    raise InvalidInput(f"{name} filter must be a string")
                equal.append((_FIELD[name], value))
        needles = [_needle(v) for _i, v in equal]
        if exact is not None:
            needles.append(_needle(exact))
        for group in (types, statuses):
            if group is not None and len(group) == 1:
                needles.append(_needle(next(iter(group))))
        keys = [value_key(i, v) for i, v in equal if i in KEY_FIELDS]
        if exact is not None:
            keys.append(value_key(_FIELD["action"], exact))
        keys = [k.to_bytes(4, "little") for k in keys]
        return cls(start, end, types, statuses, exact, prefix, tuple(equal),
                   tuple(n for n in needles if n is not None), tuple(keys))

    def may_hold(self, keys: Any) -> bool:
        """False when a block's keys show it holds no event this filter wants."""
        if not self.keys or keys is None:
            return True
        stored = bytes(keys)
        for key in self.keys:  # a search in C for the 4 bytes, at a multiple of 4
            at = stored.find(key)
            while at >= 0 and at % 4:
                at = stored.find(key, at + 1)
            if at < 0:
                return False
        return True

    @property
    def time_only(self) -> bool:
        """True when only the time range filters (a whole block inside it matches entirely)."""
        return (self.event_types is None and self.statuses is None and self.action is None
                and self.action_prefix is None and not self.equal)

    def covers(self, min_ts: float, max_ts: float) -> bool:
        return (self.start is None or min_ts >= self.start) and (self.end is None or max_ts < self.end)

    def match(self, v: list) -> bool:
        ts = v[1]
        if (self.start is not None and ts < self.start) or (self.end is not None and ts >= self.end):
            return False
        if self.event_types is not None and v[2] not in self.event_types:
            return False
        if self.statuses is not None and v[4] not in self.statuses:
            return False
        if self.action is not None and v[3] != self.action:
            return False
        if self.action_prefix is not None and not v[3].startswith(self.action_prefix):
            return False
        for index, value in self.equal:
            if v[index] != value:
                return False
        return True


def _needle(value: str) -> bytes | None:
    """The bytes a stored string value shows as, when that is certain (else no prefilter)."""
    if any(c in value for c in '"\\') or any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f or c in "\u2028\u2029"
                                             for c in value):
        return None
    return b'"' + value.encode("utf-8", "surrogatepass") + b'"'
