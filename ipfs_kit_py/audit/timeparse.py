"""Times and durations as users type them (CLI options, API arguments).

- A point in time: epoch seconds (``1700000000.5``), an ISO 8601 date or
  datetime (``2024-05-01``, ``2024-05-01T12:00:00Z``; without an offset it is
  taken as UTC), ``now``, or a duration meaning "that long ago" (``90m``,
  ``24h``, ``7d``, ``2w``). Python callers may also pass a timezone-aware
  ``datetime`` or a number.
- A duration: a number with a unit ``s``, ``m``, ``h``, ``d`` or ``w``, or
  plain seconds; finite, positive and at most ``MAX_DURATION`` (100 years).

Times must be finite and between the years 1 and 9999 (what ``datetime`` and
``format_time`` can show); anything else is an ``InvalidInput``.
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import InvalidInput

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)\Z")
MAX_DURATION = 100 * 365.25 * 86400.0  # 100 years, in seconds
# What datetime can represent: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z.
MIN_TIME = -62135596800.0
MAX_TIME = 253402300800.0


def parse_duration(value: Any) -> float:
    """Seconds in ``value`` (``"30d"``, ``"12h"``, ``3600``, a timedelta)."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = _float(value, "duration")
    elif isinstance(value, str) and (m := _DURATION_RE.match(value.strip().lower())):
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    else:
        raise InvalidInput(f"invalid duration {show(value)}: use e.g. 90m, 24h, 30d, 2w or seconds")
    if not math.isfinite(seconds):
        raise InvalidInput(f"duration must be a finite number, not {show(value)}")
    if seconds <= 0:
        raise InvalidInput(f"duration must be positive, not {show(value)}")
    if seconds > MAX_DURATION:
        raise InvalidInput(f"duration {show(value)} is too long: at most 100 years (e.g. 36500d)")
    return seconds


def parse_time(value: Any, now: float | None = None) -> float:
    """UTC epoch seconds for a point in time given in any of the forms above."""
    return _in_range(_parse_time(value, now), value)


def _parse_time(value: Any, now: float | None) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return _timestamp(value, value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _float(value, "time")
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"invalid time {show(value)}")
    text = value.strip()
    now = time.time() if now is None else now
    if text.lower() == "now":
        return now
    try:
        return float(text)
    except ValueError:
        pass
    if _DURATION_RE.match(text.lower()):
        return now - parse_duration(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"invalid time {show(value)}: use an ISO date (2024-05-01T12:00Z), epoch seconds, or an age like 24h"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return _timestamp(parsed, value)


def _float(value: int | float, what: str) -> float:
    try:
        return float(value)
    except OverflowError:  # an int beyond the float range
        raise InvalidInput(f"{what} {show(value)} is out of range") from None


def show(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, for one-line messages."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _timestamp(moment: datetime, value: Any) -> float:
    try:
        return moment.timestamp()
    except (OverflowError, ValueError, OSError):  # e.g. 0001-01-01 with a positive UTC offset
        raise InvalidInput(f"time {show(value)} is out of range (years 1 to 9999)") from None


def _in_range(ts: float, value: Any) -> float:
    if not math.isfinite(ts):
        raise InvalidInput(f"invalid time {show(value)}: must be a finite epoch time, an ISO date or an age like 24h")
    if not MIN_TIME <= ts < MAX_TIME:
        raise InvalidInput(f"time {show(value)} is out of range (years 1 to 9999)")
    return ts


def format_time(ts: float) -> str:
    """ISO 8601 UTC with milliseconds, for human output.

    Never fails: a value that is not a representable time (e.g. a damaged
    row) is shown as ``epoch <number> (out of range)``.
    """
    try:
        return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError, TypeError):
        return f"epoch {ts!r} (out of range)"
