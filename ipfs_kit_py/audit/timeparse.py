"""Times and durations as users type them (CLI options, API arguments).

- A point in time: epoch seconds (``1700000000.5``), an ISO 8601 date or
  datetime (``2024-05-01``, ``2024-05-01T12:00:00Z``; without an offset it is
  taken as UTC), ``now``, or a duration meaning "that long ago" (``90m``,
  ``24h``, ``7d``, ``2w``). Python callers may also pass a timezone-aware
  ``datetime`` or a number.
- A duration: a number with a unit ``s``, ``m``, ``h``, ``d`` or ``w``, or
  plain seconds.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import InvalidInput

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)\Z")


def parse_duration(value: Any) -> float:
    """Seconds in ``value`` (``"30d"``, ``"12h"``, ``3600``, a timedelta)."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION_RE.match(value.strip().lower())):
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    else:
        raise InvalidInput(f"invalid duration {value!r}: use e.g. 90m, 24h, 30d, 2w or seconds")
    if seconds <= 0:
        raise InvalidInput(f"duration must be positive, not {value!r}")
    return seconds


def parse_time(value: Any, now: float | None = None) -> float:
    """UTC epoch seconds for a point in time given in any of the forms above."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"invalid time {value!r}")
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
            f"invalid time {value!r}: use an ISO date (2024-05-01T12:00Z), epoch seconds, or an age like 24h"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def format_time(ts: float) -> str:
    """ISO 8601 UTC with milliseconds, for human output."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
