"""The hash chain: how an event's hash is made and how a run of events is checked.

Pure code (no database): the store feeds it rows, and a third party can feed
it the lines of an ``audit export --format jsonl`` file.

``hash = sha256(prev_hash + canonical_json(event))`` (see ``events``). The
first event after the genesis (or after a prune anchor) links to the anchor's
hash; the genesis hash is 64 zeros.

A break is classified from what the row still proves about itself:

- ``edited``: the row's own content no longer matches its ``hash``.
- ``deleted``: a ``seq`` is missing, the row links to a hash that is nowhere in
  the log, or the log ends before the recorded head (truncated).
- ``reordered``: the row is intact but links to an event that sits elsewhere
  in the log (two rows swapped).
- ``head``: the log holds rows past the recorded head (the head row was
  rewritten).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

import orjson

from ..errors import InvalidInput
from .blocks import HASH_CHARS, LINK_CHARS, block_keys
from .events import ALL_FIELDS, GENESIS_HASH, AuditEvent, canonical_body, details_text


def chain_hash(prev_hash: str, body: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + body).hexdigest()


@dataclass(frozen=True)
class ChainHead:
    """The newest event of the log (what a checkpoint anchors)."""

    seq: int
    event_id: str | None
    hash: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    start_seq: int | None = None
    end_seq: int | None = None
    last_hash: str | None = None
    first_bad_seq: int | None = None
    first_bad_event_id: str | None = None
    problem: str | None = None  # edited | deleted | reordered | head
    reason: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        if self.ok:
            span = f" (seq {self.start_seq}..{self.end_seq})" if self.checked else ""
            return f"audit chain OK: {self.checked} events verified{span}"
        where = f"seq {self.first_bad_seq}" if self.first_bad_seq is not None else "end of log"
        return f"audit chain BROKEN at {where}, event {self.first_bad_event_id}: {self.reason}"


class ChainVerifier:
    """Checks rows one at a time, in seq order.

    A row is ``(seq, *17 event fields with details as text, prev_hash, hash)``.
    ``find_hash(h)`` returns the seq of the row whose hash is ``h`` (or None);
    it is only called after a break, to tell "reordered" from "deleted".
    """

    def __init__(self, expected_seq: int, expected_prev: str,
                 find_hash: Callable[[str], int | None] | None = None,
                 id_at: Callable[[int], str | None] | None = None):
        self.expected_seq = expected_seq
        self.expected_prev = expected_prev
        self.find_hash = find_hash or (lambda _h: None)
        self.id_at = id_at or (lambda _seq: None)
        self.checked = 0
        self.start_seq: int | None = None
        self.last_seq: int | None = None
        self.last_event_id: str | None = None
        self.failure: VerifyResult | None = None

    def feed(self, row: tuple, body: bytes | None = None) -> bool:
        """Check one row; False once the chain is broken (then stop feeding).

        ``body``: the stored canonical bytes the row was decoded from (hashed
        as they are); without it the canonical form is made from the values.
        """
        seq, event_id, prev_hash, digest = row[0], row[1], row[18], row[19]
        if seq != self.expected_seq:
            if seq > self.expected_seq:
                missing = (f"seq {self.expected_seq}" if seq == self.expected_seq + 1
                           else f"seq {self.expected_seq}..{seq - 1}")
                return self._fail(row, "deleted", f"{missing} missing before this event (deleted)")
            return self._fail(row, "reordered", f"seq {seq} appears after seq {self.expected_seq - 1}")
        if body is None:
            try:
                body = canonical_body(row[1:18])
            except Exception:  # noqa: BLE001 - any value the canonical form cannot hold was put there by hand
                return self._fail(row, "edited", "a stored value has a type no event can have (edited)")
        if not isinstance(digest, str) or not isinstance(prev_hash, str) or chain_hash(prev_hash, body) != digest:
            return self._fail(row, "edited", "event content does not match its hash (edited)")
        if prev_hash != self.expected_prev:
            at = self.find_hash(prev_hash)
            if at is not None:
                return self._fail(row, "reordered",
                                  f"event links to seq {at}, not to seq {seq - 1} (reordered)")
            return self._fail(row, "deleted",
                              "event links to an event that is not in the log (previous event deleted or rewritten)")
        if self.start_seq is None:
            self.start_seq = seq
        self.checked += 1
        self.expected_seq = seq + 1
        self.expected_prev = digest
        self.last_seq, self.last_event_id = seq, event_id
        return True

    def feed_block(self, first_seq: int, last_seq: int, min_ts: float, max_ts: float, bodies: Any,
                   links: str, keys: Any = None, *, upto: int | None = None) -> bool:
        """Check the events of one storage block (``blocks``) with seq >= the next expected, up to ``upto``.

        Each stored body is hashed as stored. When the whole block was read,
        its labels are checked too: the seq range must match the number of
        events, the time range and the value keys their content (queries
        trust all three to skip blocks).
        """
        bodies = bytes(bodies)
        lines = bodies.split(b"\n")
        times, values = [], []
        start = self.expected_seq
        for i, line in enumerate(lines):
            seq = first_seq + i
            if upto is not None and seq > upto:
                break
            try:
                v = orjson.loads(line)
                if v.__class__ is not list or len(v) != 17:
                    raise ValueError("not an event")
            except ValueError:
                return self.fail(seq, self.id_at(seq), "edited", "the stored event is not canonical event JSON (edited)")
            times.append(v[1])
            values.append(v)
            if seq < start:
                continue  # before the range being checked
            o = i * LINK_CHARS
            if not self.feed((seq, *v, links[o:o + HASH_CHARS], links[o + HASH_CHARS:o + LINK_CHARS]), line):
                return False
        if len(times) == len(lines):  # the whole block was read
            if len(lines) != last_seq - first_seq + 1 or len(links) != len(lines) * LINK_CHARS:
                fewer = len(lines) < last_seq - first_seq + 1
                return self.fail(first_seq, self.id_at(first_seq), "deleted" if fewer else "edited",
                                 f"the block labelled seq {first_seq}..{last_seq} holds {len(lines)} events"
                                 f" and {len(links) // LINK_CHARS} hash links ({'deleted' if fewer else 'edited'})")
            if not all(t.__class__ is float for t in times) or min(times) != min_ts or max(times) != max_ts:
                return self.fail(first_seq, self.id_at(first_seq), "edited",
                                 f"the time range recorded for seq {first_seq}..{last_seq} does not match its events"
                                 " (edited: queries would miss them)")
            if keys is not None and bytes(keys) != block_keys(values):
                return self.fail(first_seq, self.id_at(first_seq), "edited",
                                 f"the value keys recorded for seq {first_seq}..{last_seq} do not match its events"
                                 " (edited: lookups would miss them)")
        return True

    def _fail(self, row: tuple, problem: str, reason: str) -> bool:
        return self.fail(row[0], row[1], problem, reason)

    def fail(self, seq: int, event_id: str | None, problem: str, reason: str) -> bool:
        self.failure = self._result(False, first_bad_seq=seq, first_bad_event_id=event_id,
                                    problem=problem, reason=reason)
        return False

    def check_end(self, head: ChainHead | None, expect_hash: str | None = None) -> VerifyResult:
        """Finish: compare the last row with the recorded head and/or an expected hash."""
        if self.failure is not None:
            return self.failure
        if head is not None:
            last = self.expected_seq - 1
            if last < head.seq:
                return self._result(
                    False, first_bad_seq=head.seq, first_bad_event_id=head.event_id, problem="deleted",
                    reason=f"log ends at seq {last} but its head is seq {head.seq} (events deleted)",
                )
            if self.expected_prev != head.hash:
                return self._result(False, first_bad_seq=last, first_bad_event_id=self.last_event_id,
                                    problem="head", reason="last event does not match the recorded head hash")
        if expect_hash is not None and self.expected_prev != expect_hash:
            return self._result(False, first_bad_seq=self.last_seq, first_bad_event_id=self.last_event_id,
                                problem="edited", reason="hash of the last event does not match the expected (checkpoint) hash")
        return self._result(True)

    def _result(self, ok: bool, **kwargs) -> VerifyResult:
        return VerifyResult(ok=ok, checked=self.checked, start_seq=self.start_seq,
                            end_seq=self.last_seq, last_hash=self.expected_prev if self.checked else None,
                            **kwargs)


# ---- third-party verification of an exported JSONL file --------------------


def record_row(record: dict) -> tuple:
    """A chain row from an exported record (a dict with all fields)."""
    event = AuditEvent.from_dict(record)
    if event.seq is None:
        raise InvalidInput("exported record has no seq/prev_hash/hash (not a chain export)")
    values = [getattr(event, name) for name in ALL_FIELDS]
    values[16] = details_text(event.details)
    return (event.seq, *values[:17], event.prev_hash, event.hash)


def verify_records(records: Iterable[dict], prev_hash: str | None = None,
                   expect_hash: str | None = None) -> VerifyResult:
    """Verify a contiguous run of exported events.

    ``prev_hash``: the hash the first event must link to (genesis, a prune
    anchor or an earlier checkpoint); default: trust the first record's own
    ``prev_hash`` and check everything after it. ``expect_hash``: the hash
    the last event must have (e.g. an anchored checkpoint head).
    """
    rows = [record_row(r) for r in records]
    if not rows:
        return VerifyResult(ok=expect_hash is None, checked=0,
                            reason=None if expect_hash is None else "no events to verify")
    by_hash = {row[19]: row[0] for row in rows}
    start_prev = rows[0][18] if prev_hash is None else prev_hash
    verifier = ChainVerifier(rows[0][0], start_prev, by_hash.get)
    for row in rows:
        if not verifier.feed(row):
            break
    result = verifier.check_end(None, expect_hash)
    if result.problem == "deleted":
        # A file, unlike the log, may have been cut on purpose: say how that looks.
        result = replace(result, reason=f"{result.reason}; a file exported with --since/--until leaves out "
                                        "the events outside that time, so it checks only when they form one run")
    return result


def check_hash(value: str | None, name: str) -> None:
    """A chain hash argument is 64 lowercase hex digits; anything else is a typo, not tampering."""
    if value is not None and (not isinstance(value, str) or not _HASH_RE.fullmatch(value)):
        raise InvalidInput(f"{name} must be a chain hash (64 lowercase hex digits), not {str(value)[:80]!r}")


_HASH_RE = re.compile(r"[0-9a-f]{64}")


def verify_export_file(path: str, prev_hash: str | None = None,
                       expect_hash: str | None = None) -> VerifyResult:
    """Verify an ``audit export --format jsonl`` file (see ``verify_records``)."""
    check_hash(prev_hash, "prev_hash")
    check_hash(expect_hash, "expect_hash")
    records = []
    try:
        with open(path, encoding="utf-8-sig") as fh:  # an editor's BOM is not part of the first record
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except ValueError as exc:
                    raise InvalidInput(f"{path}:{lineno}: not valid JSON ({exc})") from exc
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return verify_records(records, prev_hash or None, expect_hash)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc}") from exc


__all__ = ["GENESIS_HASH", "ChainHead", "ChainVerifier", "VerifyResult", "chain_hash",
           "verify_export_file", "verify_records"]
