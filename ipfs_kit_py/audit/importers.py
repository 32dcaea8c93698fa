"""Reading external logs into audit events: JSONL in our schema, and sshd syslog.

Both readers turn a file into validated storage rows plus a list of the lines
they could not use (with line numbers and reasons); ``AuditLogger.import_events``
writes the rows in one transaction, so an import is all-or-nothing per call.

**JSONL**: one JSON object per line in the event schema. ``event_type``,
``action`` and ``timestamp`` are required (an imported event keeps its own
time). Chain fields (``seq``, ``prev_hash``, ``hash``) from another log are
dropped: events are re-chained in this log.

**sshd** (``/var/log/auth.log``, ``/var/log/secure``): classic syslog lines
(``Mar  3 14:02:11 host sshd[812]: ...``) and RFC 3339 ones
(``2024-03-03T14:02:11.5+01:00 host sshd[812]: ...``). Mapped messages, all
``event_type="authentication"``:

=============================================  ====================  =======
message                                        action                status
=============================================  ====================  =======
Accepted <method> for U from IP port N         auth.login            success
Failed <method> for [invalid user] U from IP   auth.login            failure
Invalid user U from IP                         auth.invalid_user     failure
User U from IP not allowed because ...         auth.login            denied
error: maximum authentication attempts ...     auth.max_attempts     failure
message repeated N times: [ <one of these> ]   N events
=============================================  ====================  =======

Other lines of sshd or other programs (cron, sudo, session open/close) are
counted as ``ignored``; a line that is not syslog at all is a skipped line.
Classic syslog timestamps have no year and no zone: the zone is ``tz``
(default: this machine's local zone, which is what the file was written in if
it comes from this machine); the year is ``year`` if given (a month going
backwards, Dec → Jan, moves to the next year), otherwise the current year, or
the previous one when that would put the line more than a day in the future.

Event ids of imported events without one are derived from the event time and
the line's text (and how often the same text occurred before in the file), so
importing the same file twice adds nothing the second time (``duplicates``).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from .events import (
    CHAIN_FIELDS,
    EVENT_FIELDS,
    MAX_TIMESTAMP,
    canonical_body,
    encode_ulid,
    prepare_row,
)

FORMATS = ("auto", "jsonl", "sshd")
MAX_REPEAT = 100_000  # "message repeated N times": more is not a real syslog line


@dataclass(frozen=True)
class SkippedLine:
    line: int
    reason: str

    def to_dict(self) -> dict:
        return {"line": self.line, "reason": self.reason}


@dataclass
class ParsedFile:
    """What a reader made of a file: rows to insert, and what it left out."""

    format: str
    rows: list[tuple] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # source line of each row
    skipped: list[SkippedLine] = field(default_factory=list)
    ignored: int = 0


@dataclass(frozen=True)
class ImportReport:
    path: str
    format: str
    imported: int
    duplicates: int
    ignored: int
    skipped: list[SkippedLine]
    first_seq: int | None = None
    last_seq: int | None = None

    def to_dict(self) -> dict:
        return {
            "path": self.path, "format": self.format, "imported": self.imported,
            "duplicates": self.duplicates, "ignored": self.ignored,
            "skipped": [s.to_dict() for s in self.skipped],
            "first_seq": self.first_seq, "last_seq": self.last_seq,
        }


def read_lines(path: str | Path) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline=None) as fh:  # -sig: a leading BOM is dropped
            return fh.read().splitlines()
    except FileNotFoundError:
        raise InvalidInput(f"import file not found: {path}") from None
    except IsADirectoryError:
        raise InvalidInput(f"import path is a directory, not a file: {path}") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None


def detect_format(lines: list[str]) -> str:
    for line in lines:
        if line.strip():
            return "jsonl" if line.lstrip().startswith("{") else "sshd"
    return "jsonl"


def parse_file(path: str | Path, format: str = "auto", *, year: int | None = None,
               tz: str | None = None) -> ParsedFile:
    if format not in FORMATS:
        raise InvalidInput(f"import format must be one of {', '.join(FORMATS)}, not {format!r}")
    lines = read_lines(path)
    if format == "auto":
        format = detect_format(lines)
    if format == "jsonl":
        return parse_jsonl(lines)
    return parse_sshd(lines, year=year, tz=tz)


def derived_event_id(timestamp: float, text: str, occurrence: int) -> str:
    """A ULID whose random part is a hash of the source text: stable across imports."""
    digest = hashlib.sha256(f"{occurrence}\n{text}".encode()).digest()
    return encode_ulid(int(timestamp * 1000), int.from_bytes(digest[:10], "big"))


# ---- JSONL ----------------------------------------------------------------


def parse_jsonl(lines: list[str]) -> ParsedFile:
    parsed = ParsedFile("jsonl")
    seen: Counter[str] = Counter()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            parsed.skipped.append(SkippedLine(lineno, f"invalid JSON: {getattr(exc, 'msg', exc)} (column {getattr(exc, 'colno', '?')})"))
            continue
        except RecursionError:
            parsed.skipped.append(SkippedLine(lineno, "invalid JSON: nested too deeply"))
            continue
        try:
            row = _jsonl_row(record, line, seen)
            canonical_body(row)  # text the hash cannot cover (lone surrogates) is this line's problem
        except InvalidInput as exc:
            parsed.skipped.append(SkippedLine(lineno, str(exc)))
            continue
        except RecursionError:
            parsed.skipped.append(SkippedLine(lineno, "details are nested too deeply"))
            continue
        parsed.rows.append(row)
        parsed.lines.append(lineno)
    return parsed


def _jsonl_row(record: Any, line: str, seen: Counter[str]) -> tuple:
    if not isinstance(record, dict):
        raise InvalidInput(f"expected a JSON object, got {type(record).__name__}")
    fields = {k: v for k, v in record.items() if k not in CHAIN_FIELDS}
    unknown = set(fields) - set(EVENT_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    for name in ("event_type", "action", "timestamp"):
        if name not in fields:
            raise InvalidInput(f"missing required field {name!r}")
    if fields.get("event_id") is None:
        ts = fields["timestamp"]
        # Only a usable time gets a derived id; any other (NaN, 1e400, negative, bool, text)
        # is left for prepare_row to reject with its message.
        if isinstance(ts, int | float) and not isinstance(ts, bool) and 0 <= ts < MAX_TIMESTAMP:
            key = line.strip()
            seen[key] += 1
            fields["event_id"] = derived_event_id(ts, key, seen[key])
    return prepare_row(**fields)


# ---- sshd / syslog -----------------------------------------------------------

_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_PROGRAM = r"(?P<prog>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?: (?P<msg>.*)"
_BSD_RE = re.compile(
    r"(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d)(?:\.\d+)? (?P<host>\S+) " + _PROGRAM
)
_ISO_RE = re.compile(
    r"(?P<iso>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) (?P<host>\S+) " + _PROGRAM
)
_SSHD_PROGRAMS = ("sshd", "sshd-session", "sshd-auth")
_FROM = r"from (?P<ip>\S+?)(?: port (?P<port>\d+))?"
_SSHD_MESSAGES = (
    (re.compile(r"Accepted (?P<method>\S+) for (?P<user>\S+) " + _FROM + r"(?: ssh2)?(?:: (?P<key>.*))?\Z"),
     "auth.login", "success", None),
    (re.compile(r"Failed (?P<method>\S+) for (?P<invalid>invalid user )?(?P<user>.*?) " + _FROM
                + r"(?: ssh2)?(?:: (?P<key>.*?))?\s*\Z"),
     "auth.login", "failure", None),
    (re.compile(r"Invalid user (?P<user>.*?) " + _FROM + r"\s*\Z"),
     "auth.invalid_user", "failure", None),
    (re.compile(r"User (?P<user>\S+) " + _FROM + r" not allowed because (?P<why>.+)\Z"),
     "auth.login", "denied", None),
    (re.compile(r"error: maximum authentication attempts exceeded for (?P<invalid>invalid user )?(?P<user>.*?) "
                + _FROM + r"(?: ssh2)?(?: \[preauth\])?\s*\Z"),
     "auth.max_attempts", "failure", "high"),
)
_REPEATED_RE = re.compile(r"message repeated (?P<n>\d+) times: \[ ?(?P<inner>.*?) ?\]\Z")


class _Clock:
    """Turns syslog dates (no year, no zone) into epoch seconds; see module doc."""

    def __init__(self, year: int | None, tz: str | None):
        self.zone = _zone(tz)
        self.year = year
        self.last_month: int | None = None
        self.now = time.time()

    def bsd(self, mon: str, day: str, hms: str) -> float:
        month = _MONTHS.get(mon)
        if month is None:
            raise InvalidInput(f"unknown month {mon!r}")
        h, m, s = (int(x) for x in hms.split(":"))
        if self.year is not None:
            if self.last_month is not None and month < self.last_month:
                self.year += 1  # Dec -> Jan: the log crossed a new year
            self.last_month = month
            return self._stamp(self.year, month, int(day), h, m, s)
        year = datetime.fromtimestamp(self.now, self.zone).year
        ts = self._stamp(year, month, int(day), h, m, s)
        if ts > self.now + 86400:
            ts = self._stamp(year - 1, month, int(day), h, m, s)
        return ts

    def _stamp(self, year: int, month: int, day: int, h: int, m: int, s: int) -> float:
        try:
            naive = datetime(year, month, day, h, m, s)
        except ValueError as exc:
            raise InvalidInput(f"invalid date: {exc}") from None
        if self.zone is None:
            return naive.astimezone().timestamp()  # this machine's local zone
        return naive.replace(tzinfo=self.zone).timestamp()

    def iso(self, text: str) -> float:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidInput(f"invalid timestamp: {exc}") from None
        if parsed.tzinfo is None:
            parsed = parsed.astimezone() if self.zone is None else parsed.replace(tzinfo=self.zone)
        return parsed.timestamp()


def _zone(tz: str | None):
    if tz is None or tz.lower() == "local":
        return None
    from datetime import UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if tz.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {tz!r}: use UTC, local, or a name like Europe/Berlin") from None


def parse_sshd(lines: list[str], *, year: int | None = None, tz: str | None = None) -> ParsedFile:
    if year is not None and not 1970 <= year <= 9999:
        raise InvalidInput(f"year must be between 1970 and 9999, not {year}")
    parsed = ParsedFile("sshd")
    clock = _Clock(year, tz)
    seen: Counter[str] = Counter()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        m = _BSD_RE.match(line) or _ISO_RE.match(line)
        if m is None:
            parsed.skipped.append(SkippedLine(lineno, "not a syslog line (expected 'Mon DD HH:MM:SS host program[pid]: message')"))
            continue
        if m.group("prog") not in _SSHD_PROGRAMS:
            parsed.ignored += 1
            continue
        msg, repeat = m.group("msg"), 1
        if rep := _REPEATED_RE.match(msg):
            msg, repeat = rep.group("inner"), int(rep.group("n"))
            if repeat > MAX_REPEAT:
                parsed.skipped.append(SkippedLine(lineno, f"repeat count {rep.group('n')[:20]} is more than {MAX_REPEAT}"))
                continue
        mapped = _match_sshd(msg)
        if mapped is None:
            parsed.ignored += 1
            continue
        try:
            ts = clock.bsd(m.group("mon"), m.group("day"), m.group("hms")) if "mon" in m.groupdict() \
                else clock.iso(m.group("iso"))
        except InvalidInput as exc:
            parsed.skipped.append(SkippedLine(lineno, str(exc)))
            continue
        key = line.strip()
        try:
            rows = []
            for _ in range(repeat):
                seen[key] += 1
                rows.append(_sshd_row(m, mapped, ts, derived_event_id(ts, key, seen[key]), lineno))
                canonical_body(rows[-1])
        except InvalidInput as exc:  # e.g. a user name longer than any event field may be
            parsed.skipped.append(SkippedLine(lineno, str(exc)))
            continue
        parsed.rows.extend(rows)
        parsed.lines.extend([lineno] * len(rows))
    return parsed


def _match_sshd(msg: str):
    for pattern, action, status, severity in _SSHD_MESSAGES:
        if found := pattern.match(msg):
            return found, action, status, severity
    return None


def _sshd_row(line_match: re.Match, mapped, ts: float, event_id: str, lineno: int) -> tuple:
    found, action, status, severity = mapped
    groups = found.groupdict()
    host, pid = line_match.group("host"), line_match.group("pid")
    details: dict[str, Any] = {"source": "sshd", "host": host, "line": lineno}
    if pid:
        details["pid"] = int(pid)
    if groups.get("port"):
        details["port"] = int(groups["port"])
    for name in ("method", "key", "why"):
        if groups.get(name):
            details[name] = groups[name]
    if "invalid" in groups:
        details["invalid_user"] = bool(groups["invalid"])
    return prepare_row(
        "authentication", action, status,
        user_id=groups.get("user") or None, source_ip=groups.get("ip"),
        resource=host, resource_type="host",
        session_id=f"sshd:{host}:{pid}" if pid else None,
        severity=severity, details=details, timestamp=ts, event_id=event_id,
    )


__all__ = ["FORMATS", "ImportReport", "ParsedFile", "SkippedLine", "parse_file"]
