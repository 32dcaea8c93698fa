"""Validation of a whole batch of events at once, column by column (the batched ingest path).

``event_row`` checks one event's 17 fields with Python code per field; for
a batch that is most of the ingest cost. Here each field is checked as a
column with builtins that loop in C (``set(map(type, column))``, ``min``,
``max``, ``sum``, ``"" in column``), distinct values once (a batch repeats
event types, actions, statuses and users), and rows are made by ``zip``.

It accepts exactly what ``event_row`` accepts and builds the same rows and
canonical bytes (tested against it). Anything unusual — an unknown key, a
value of another type, a value out of range, text orjson cannot encode —
returns None, and the caller validates event by event, which finds the
first bad event and says what is wrong with it.
"""

from __future__ import annotations

import math
import time
from operator import itemgetter
from typing import Any

import orjson

from ..errors import InvalidInput
from .events import (
    _DEFAULT_SEVERITY,
    _ID_RE,
    _MAX_BYTES,
    _MAX_TEXT,
    _MAX_TIMESTAMP,
    _SEVERITY_SET,
    _STATUS_SET,
    EVENT_FIELDS,
    ORJSON_EXACT_HIGH,
    ORJSON_EXACT_LOW,
    _check_action,
    _check_name,
    _known_actions,
    _known_names,
    canonical_body,
    default_severity,
    details_text,
    new_event_ids,
)

_FIELDS = frozenset(EVENT_FIELDS)
_NONE = type(None)
_TEXT_TYPES = frozenset((str, _NONE))
_TEXT_FIELDS = ("user_id", "source_ip", "resource", "resource_type", "backend", "operation_id", "parent_id",
                "session_id")
# The floats orjson prints exactly as Python's json (see events._orjson_safe_float), as a range.
_SAFE_LOW, _SAFE_HIGH = ORJSON_EXACT_LOW, ORJSON_EXACT_HIGH


def prepare_batch(items: list[dict[str, Any]]) -> list[tuple[tuple, bytes]] | None:
    """(row, canonical body) for each event dict, or None when any event needs the per-event checks."""
    n = len(items)
    if not n:
        return []
    if not all(e.__class__ is dict for e in items):
        return None
    present = set().union(*items)
    if not present <= _FIELDS:
        return None
    missing = [None] * n
    columns = _columns(items, sorted(present))

    def column(name: str) -> list:
        return columns.get(name, missing)

    try:
        event_types = _names(column("event_type"), _known_names, _check_name)
        actions = _names(column("action"), _known_actions, _check_action)
    except (InvalidInput, TypeError):
        return None
    if event_types is None or actions is None:
        return None
    statuses = column("status") if "status" in present else ["success"] * n
    if not _distinct(statuses) <= _STATUS_SET:
        return None
    severities = _severities(column("severity"), event_types, statuses)
    times = _times(column("timestamp"), "timestamp" in present)
    durations = _durations(column("duration_ms"))
    sizes = column("bytes")
    if severities is None or times is None or durations is None or not _sizes_ok(sizes):
        return None
    (times, times_safe), (durations, durations_safe) = times, durations
    texts = [_text_column(column(name)) for name in _TEXT_FIELDS]
    if None in texts:
        return None
    ids = _ids(column("event_id"), times)
    if ids is None:
        return None
    try:
        details = [_EMPTY if d is None else details_text(d) for d in column("details")]
    except InvalidInput:
        return None
    rows = list(zip(ids, times, event_types, actions, statuses, *texts, durations, sizes, severities, details,
                    strict=True))
    try:
        if times_safe and durations_safe:
            return [(row, orjson.dumps(row)) for row in rows]
        return [(row, canonical_body(row)) for row in rows]  # a float orjson spells differently
    except (orjson.JSONEncodeError, InvalidInput):  # e.g. a lone surrogate: the per-event path reports it
        return None


def _columns(items: list[dict], names: list[str]) -> dict[str, list | tuple]:
    """Each present field's values, in event order."""
    if len(names) > 1:
        try:  # every event has the same fields (the common case): all read in one pass, in C
            return dict(zip(names, zip(*map(itemgetter(*names), items), strict=True), strict=True))
        except KeyError:  # some events leave some fields out
            pass
    return {name: [e.get(name, _DEFAULTS.get(name)) for e in items] for name in names}


_EMPTY = "{}"
_DEFAULTS = {"status": "success"}  # a field left out means this (the others: None)


def _distinct(values: list) -> set:
    try:
        return set(values)
    except TypeError:  # unhashable values: not names anyway
        return {object()}


def _names(values: list, known: set[str], check) -> list | None:
    """The column if each distinct value is a valid name (``check`` raises InvalidInput if not)."""
    for value in _distinct(values) - known:
        if value.__class__ is not str:
            return None
        check(value)  # remembers the name (bounded)
    return values


def _severities(given: list, event_types: list, statuses: list) -> list | None:
    distinct = _distinct(given)
    if not distinct <= _SEVERITY_SET | {None}:
        return None
    if None not in distinct:
        return given
    if len(distinct) == 1 and "authentication" not in event_types:  # none given: by status alone, in C
        return list(map(_DEFAULT_SEVERITY.__getitem__, statuses))
    defaults = {pair: default_severity(*pair) for pair in set(zip(event_types, statuses, strict=True))}
    return [defaults[(t, s)] if v is None else v for v, t, s in zip(given, event_types, statuses, strict=True)]


def _times(given: list, present: bool) -> tuple[list, bool] | None:
    """(the timestamps as floats, whether orjson prints them all as Python does), or None."""
    if not present:
        return [time.time()] * len(given), True
    kinds = set(map(type, given))
    if kinds == {float}:
        values = given
    elif kinds <= {float, int, _NONE}:
        now = time.time()
        try:
            values = [now if v is None else float(v) for v in given]
        except OverflowError:
            return None
    else:  # datetimes, bools, strings: the per-event path converts or refuses them
        return None
    if not math.isfinite(sum(values)):  # inf or NaN anywhere makes the sum non-finite
        return None
    low, high = min(values), max(values)
    if low < 0.0 or high >= _MAX_TIMESTAMP:
        return None
    return values, low >= _SAFE_LOW or _all_safe(values)


def _all_safe(values: list) -> bool:
    return all(v == 0.0 or v >= _SAFE_LOW for v in values)


def _durations(given: list) -> tuple[list, bool] | None:
    """(the durations, whether orjson prints them all as Python does), or None."""
    kinds = set(map(type, given))
    if kinds <= {_NONE}:
        return given, True
    if not kinds <= {float, _NONE}:
        return None  # ints are converted by the per-event path
    values = [v for v in given if v is not None] if _NONE in kinds else given
    low, high = min(values), max(values)
    if not math.isfinite(sum(values)) or low < 0.0:
        return None
    return given, high < _SAFE_HIGH and (low >= _SAFE_LOW or _all_safe(values))


def _sizes_ok(given: list) -> bool:
    kinds = set(map(type, given))
    if kinds <= {_NONE}:
        return True
    if not kinds <= {int, _NONE}:
        return False
    values = [v for v in given if v is not None] if _NONE in kinds else given
    return min(values) >= 0 and max(values) < _MAX_BYTES


def _text_column(given: list) -> list | None:
    """The column with "" as None, or None when a value is not text or too long."""
    kinds = set(map(type, given))
    if kinds <= {_NONE}:
        return given
    if not kinds <= _TEXT_TYPES:
        return None
    values = [v for v in given if v is not None] if _NONE in kinds else given
    if max(map(len, values)) > _MAX_TEXT:
        return None
    return [v or None for v in given] if "" in values else given


def _ids(given: list, times: list) -> list | None:
    kinds = set(map(type, given))
    if kinds <= {_NONE}:
        return new_event_ids(times)
    if not kinds <= _TEXT_TYPES:
        return None
    if not all(_ID_RE.match(v) for v in given if v is not None):
        return None
    if _NONE not in kinds:
        return given
    made = iter(new_event_ids([t for v, t in zip(given, times, strict=True) if v is None]))
    return [next(made) if v is None else v for v in given]
