"""Loading audit events as columns, and the vectorised helpers every detector shares.

Analytics never loop in Python over events: they work on the ``polars``
DataFrame that ``AuditLogger.export_columns`` returns (one column per event
field, ``details`` as JSON text, plus ``seq``). ``normalize`` makes any such
frame (or one built from event dicts) uniform: every column present with its
dtype, sorted by time, with two derived integer columns (``hour``: UTC
hour-of-day, ``day``: days since the epoch).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from ..errors import InvalidInput

EVENT_COLUMNS = (
    "event_id", "timestamp", "event_type", "action", "status", "user_id", "source_ip",
    "resource", "resource_type", "backend", "operation_id", "parent_id", "session_id",
    "duration_ms", "bytes", "severity", "details", "seq",
)
_DTYPES = {name: pl.Utf8 for name in EVENT_COLUMNS}
_DTYPES.update(timestamp=pl.Float64, duration_ms=pl.Float64, bytes=pl.Int64, seq=pl.Int64)
SCHEMA = {name: _DTYPES[name] for name in EVENT_COLUMNS}

DAY = 86400.0
HOUR = 3600.0

# Source addresses that say "this machine", not a network peer.
LOCAL_SOURCES = ("local", "localhost", "127.0.0.1", "::1")

# Action families, as regular expressions on ``action`` (documented in patterns.py).
READ_ACTIONS = r"(?:^|\.)(?:cat|get|read|export|download|fetch)$"
DELETE_ACTIONS = r"(?:^|\.)(?:rm|remove|unpin|delete|gc|prune|purge)$"
NON_SUCCESS = ("failure", "denied", "error")


def empty_frame() -> pl.DataFrame:
    return normalize(pl.DataFrame(schema=SCHEMA))


def normalize(df: pl.DataFrame) -> pl.DataFrame:
    """Every event column with its dtype (missing ones null), sorted by time; adds hour/day."""
    exprs = []
    for name in EVENT_COLUMNS:
        if name in df.columns:
            col = pl.col(name)
            exprs.append(col if df.schema[name] == SCHEMA[name] else col.cast(SCHEMA[name], strict=False))
        else:
            exprs.append(pl.lit(None, dtype=SCHEMA[name]).alias(name))
    out = df.select(exprs)
    if "seq" in df.columns and out["seq"].null_count() == 0:
        if _in_time_order(out):
            # Already ordered by (timestamp, seq), as a log in chain order usually is: skip the sort.
            out = out.with_columns(pl.col("timestamp").set_sorted())
        else:
            out = out.sort("timestamp", "seq")
    else:
        # Frames built from dicts have no chain position: keep their given order for ties.
        out = out.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("seq")).sort(
            "timestamp", "seq", maintain_order=True)
    return out.with_columns(
        ((pl.col("timestamp") % 86400) // 3600).cast(pl.Int32).alias("hour"),
        (pl.col("timestamp") // 86400).cast(pl.Int32).alias("day"),
    )


def _in_time_order(df: pl.DataFrame) -> bool:
    """True when rows are sorted by timestamp, ties by strictly increasing seq (what the sort would give)."""
    if df.height < 2:
        return False
    ts = df.get_column("timestamp")
    if ts.null_count() or not ts.is_sorted():
        return False
    return bool(df.select(((pl.col("seq").diff() > 0) | (pl.col("timestamp").diff() > 0)).slice(1).all()).item())


def export_frame(source: Any, start: float | None, end: float | None,
                 event_types: Iterable[str] | None = None) -> pl.DataFrame:
    """``source.export_columns`` of the event columns the analyses use (not the chain hashes), normalised."""
    types = list(event_types) if event_types else None
    return normalize(source.export_columns(start_time=start, end_time=end, event_types=types,
                                           columns=list(EVENT_COLUMNS)))


def frame_from_events(events: Iterable[Any]) -> pl.DataFrame:
    """A normalised frame from AuditEvents or event dicts (e.g. a scenario before it is logged)."""
    rows = []
    for event in events:
        data = event.to_dict() if hasattr(event, "to_dict") else dict(event)
        rows.append({name: _column_value(name, data.get(name)) for name in EVENT_COLUMNS})
    if not rows:
        return empty_frame()
    return normalize(pl.DataFrame(rows, schema=SCHEMA, strict=False))


def _column_value(name: str, value: Any) -> Any:
    if name == "details":
        import json

        if value is None or isinstance(value, str):
            return value or "{}"
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    if value == "":
        return None
    return value


def load_frame(source: Any, start: float | None, end: float | None,
               event_types: Iterable[str] | None = None) -> pl.DataFrame:
    """Events in ``[start, end]`` from an audit logger's columnar export, normalised."""
    return export_frame(source, start, end, event_types)


# ---- time arguments -------------------------------------------------------------

# Times datetime can show (years 1 to 9999), as audit.timeparse accepts them.
MIN_TIME = -62135596800.0
MAX_TIME = 253402300800.0
MAX_WINDOW = 100 * 365.25 * DAY  # the longest look-back any analysis accepts: 100 years
_UNIT_NAMES = {1.0: "seconds", HOUR: "hours", DAY: "days"}


def window(value: Any, name: str, unit: float = 1.0) -> float:
    """A look-back window in seconds: a ``timedelta``, or a number of ``unit`` seconds.

    The one check for every analytics window (``timeframe``, ``hours``,
    ``days``, ``time_window``), so every interface gets the same message: it
    must be finite, > 0 and at most ``MAX_WINDOW`` (100 years).
    """
    if isinstance(value, timedelta):
        span = value.total_seconds()
    elif isinstance(value, bool) or not isinstance(value, int | float):
        span = math.nan
    else:
        try:
            span = float(value) * unit
        except OverflowError:  # an int beyond the float range
            span = math.inf
    if not (math.isfinite(span) and 0 < span <= MAX_WINDOW):
        units = _UNIT_NAMES.get(unit, f"x {unit:g} seconds")
        raise InvalidInput(f"{name} must be a number > 0 and at most {MAX_WINDOW / unit:,.0f} {units} (100 years),"
                           f" not {show(value)}")
    return span


def seconds(value: Any, name: str) -> float:
    """A positive duration: a timedelta or a number of seconds (at most 100 years)."""
    return window(value, name, 1.0)


def span_of(timeframe: Any = None, *, hours: Any = None, days: Any = None, default: float) -> float:
    """Seconds in whichever of ``timeframe`` (timedelta or seconds), ``hours`` or ``days`` was given."""
    given = [(n, v, u) for n, v, u in (("timeframe", timeframe, 1.0), ("hours", hours, HOUR), ("days", days, DAY))
             if v is not None]
    if len(given) > 1:
        raise InvalidInput(f"give only one of {', '.join(n for n, _, _ in given)}")
    if not given:
        return default
    name, value, unit = given[0]
    return window(value, name, unit)


def show(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, for one-line messages."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def epoch(value: Any, name: str = "end_time") -> float:
    """A point in time: None (now), epoch seconds, or an aware datetime (years 1 to 9999)."""
    if value is None:
        return time.time()
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInput(f"{name} must be timezone-aware (UTC)")
        try:
            return value.timestamp()
        except (OverflowError, ValueError):
            raise InvalidInput(f"{name} is out of range (years 1 to 9999)") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise InvalidInput(f"{name} must be epoch seconds or a datetime, not {show(value)}")
    if not MIN_TIME <= value < MAX_TIME:
        raise InvalidInput(f"{name} {show(value)} is out of range (years 1 to 9999)")
    return float(value)


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond the float range
        return False


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{name} must be an integer >= 1, not {value!r}")
    return value


def number(value: Any, name: str, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise InvalidInput(f"{name} must be a number, not {show(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise InvalidInput(f"{name} must be between {low} and {high}, not {show(value)}")
    return float(value)


# ---- vectorised building blocks ------------------------------------------------

def with_episodes(df: pl.DataFrame, key: str | list[str], gap: float) -> pl.DataFrame:
    """Split each key's events (frame sorted by time) into episodes: a new one after a gap > ``gap`` s.

    Adds ``episode`` (number within the key) so ``group_by([*key, "episode"])`` yields bursts.
    """
    keys = [key] if isinstance(key, str) else key
    new = pl.col("timestamp").diff().over(keys)
    return df.with_columns(
        (new.is_null() | (new > gap)).cast(pl.Int32).cum_sum().over(keys).alias("episode")
    )


def burst_flag(key: str | list[str], count: int, window: float) -> pl.Expr:
    """True on an event that closes a run of ``count`` events of its key within ``window`` s."""
    keys = [key] if isinstance(key, str) else key
    if count <= 1:
        return pl.lit(True)
    earlier = pl.col("timestamp").shift(count - 1).over(keys)
    return (pl.col("timestamp") - earlier) <= window


def confidence_from_ratio(ratio: float) -> float:
    """Confidence of a rule that fired with ``ratio`` = observed / threshold (>= 1).

    Exactly at the threshold: 0.7; twice the threshold: 0.85; ten times: 0.97.
    Capped at 0.99: a rule is evidence, not proof.
    """
    if not math.isfinite(ratio):
        return 0.99
    return round(min(0.99, max(0.0, 1.0 - 0.3 / max(ratio, 1e-9))), 4)


def is_present(column: str) -> pl.Expr:
    """Non-null and not a placeholder: two missing values never count as 'the same'."""
    return pl.col(column).is_not_null() & (pl.col(column) != "")


def remote_source() -> pl.Expr:
    return is_present("source_ip") & ~pl.col("source_ip").is_in(LOCAL_SOURCES)


def rows_as_events(df: pl.DataFrame) -> list[dict[str, Any]]:
    """Events of a (small) frame as dicts in the event schema, ``details`` parsed."""
    import json

    out = []
    for row in df.select([c for c in EVENT_COLUMNS if c in df.columns]).iter_rows(named=True):
        text = row.get("details")
        row["details"] = json.loads(text) if text and text != "{}" else {}
        out.append(row)
    return out
