"""A scenario generator: weeks of normal multi-user activity plus injected incidents.

``simulate(audit_logger, days=21, users=30, seed=0, incidents="all")`` writes the
events through ``audit_logger.log_events`` and returns an ``AnswerKey``: for every
injected incident its type, the other types its events legitimately show
(``also``: a login after failures from a new address *is* a new source IP),
the anomaly types it should raise, its time span, users, addresses and the ids
of the injected events. ``generate_scenario`` returns the same events without
writing them. Deterministic for a given ``seed`` and ``end_time``.

Normal activity: each user has a home time zone (work hours 07–16, 08–17,
09–18 UTC for most, 13–22 … 15–24 UTC for the rest), one or two usual
addresses and a role (2 admins, readers, writers). On workdays (and rarely on
weekends) they open 1–4 sessions: a login (now and then after one typo), 3–15
actions from their role's mix with realistic byte counts and durations, often a
logout. Readers now and then try a write and are denied; admins run
``content.gc``, change settings and create writer tokens. ``files.write``
always stores its data with a nested ``content.add`` (same operation, parent
link): a real recurring workflow, listed in the key's ``background``. A backend
replicates around the clock (~every 5 minutes). Rarely (0.4% of user-days), a
user works a late evening: benign, but truly off-hours, so also listed in
``background``.

Incidents (``INCIDENT_TYPES``) are placed after an 8-day warm-up so per-user
baselines exist; the brute force lands in the last 24 hours.
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import InvalidInput
from .frame import epoch, show

DAY = 86400.0
HOUR = 3600.0
MIB = 1024 * 1024
MAX_DAYS = 730  # two years of simulated activity (about 850 events a day for 30 users)
MAX_TIMESTAMP = 32503680000.0  # audit timestamps are before the year 3000
_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789ABCDEFGHJKMNPQRSTVWXYZ")

PATTERN_INCIDENTS = (
    "brute_force", "password_spraying", "failure_then_success", "off_hours_access", "new_source_ip",
    "privilege_escalation", "mass_deletion", "bulk_data_read", "permission_denials", "high_frequency",
    "recurring_sequence", "dormant_reactivation",
)
ANOMALY_INCIDENTS = ("volume_spike", "error_spike", "volume_drop")
INCIDENT_TYPES = PATTERN_INCIDENTS + ANOMALY_INCIDENTS

_FIRST = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj",
          "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yolanda")
_READ_MIX = (("content.cat", 30), ("content.get", 15), ("files.read", 12), ("pin.ls", 8), ("content.stat", 10),
             ("files.ls", 8), ("content.ls", 5))
_WRITE_MIX = _READ_MIX + (("content.add", 14), ("pin.add", 8), ("files.write", 6), ("pin.rm", 3))


@dataclass
class Incident:
    incident_id: str
    kind: str                       # "pattern" or "anomaly"
    incident_type: str
    start: float
    end: float
    users: list[str]
    source_ips: list[str]
    event_ids: list[str]
    description: str
    also: list[str] = field(default_factory=list)
    anomaly_types: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AnswerKey:
    seed: int
    days: int
    users: list[str]
    start: float
    end: float
    event_count: int
    incidents: list[Incident]
    background: list[dict[str, Any]]
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in asdict(self).items() if k != "incidents"},
                "incidents": [i.to_dict() for i in self.incidents]}

    def of_type(self, incident_type: str) -> list[Incident]:
        return [i for i in self.incidents if i.incident_type == incident_type]


@dataclass
class Scenario:
    events: list[dict[str, Any]]
    answer_key: AnswerKey


@dataclass
class _User:
    name: str
    role: str
    work_start: int
    work_hours: int
    ips: list[str]
    rate: float                     # mean sessions per workday
    active_days: tuple[int, int] | None = None   # (first, last) day index, None = always


class _Gen:
    def __init__(self, seed: int, start: float, end: float):
        self.rng = random.Random(seed)
        self.start, self.end = start, end
        self.events: list[dict[str, Any]] = []
        self.sessions = 0

    def ulid(self, ts: float) -> str:
        value = (int(ts * 1000) << 80) | self.rng.getrandbits(80)
        return base64.b32encode(b"\0\0\0\0" + value.to_bytes(16, "big"))[6:].translate(_CROCKFORD).decode()

    def cid(self, key: str) -> str:
        return "bafkrei" + base64.b32encode(hashlib.sha256(key.encode()).digest()).decode().lower().rstrip("=")[:52]

    def session_id(self, user: str) -> str:
        self.sessions += 1
        return f"sess-{user}-{self.sessions}"

    def add(self, ts: float, event_type: str, action: str, status: str = "success", **fields: Any) -> dict:
        event_id = fields.pop("event_id", None) or self.ulid(ts)
        event = {"event_id": event_id, "timestamp": round(ts, 3), "event_type": event_type, "action": action,
                 "status": status, "operation_id": fields.pop("operation_id", event_id), **fields}
        self.events.append(event)
        return event

    # -- a user's action ---------------------------------------------------------
    def action(self, ts: float, user: _User, action: str, session: str, ip: str, *, status: str = "success",
               nbytes: int | None = None) -> list[dict]:
        rng = self.rng
        kind = "data"
        resource = self.cid(f"{user.name}:{rng.randrange(40)}")
        rtype = "cid"
        if action.startswith("files."):
            resource, rtype = f"/home/{user.name}/doc{rng.randrange(30)}.txt", "path"
        if nbytes is None and status == "success":
            median = {"content.cat": 200e3, "content.get": 1e6, "files.read": 100e3, "content.add": 500e3,
                      "files.write": 300e3}.get(action)
            nbytes = int(rng.lognormvariate(math.log(median), 0.8)) if median else None
        duration = round(rng.lognormvariate(math.log(25 if nbytes is None else 25 + nbytes / 2e5), 0.5), 3)
        common = {"user_id": user.name, "source_ip": ip, "session_id": session, "resource_type": rtype}
        if action == "files.write" and status == "success":
            # files.write stores the data first: a nested content.add under the same operation.
            op = self.ulid(ts + 0.001)
            child = self.add(ts, kind, "content.add", resource=self.cid(resource + str(ts)), bytes=nbytes,
                             duration_ms=round(duration * 0.8, 3), operation_id=op, parent_id=op,
                             **{**common, "resource_type": "cid"}, details={"interface": "cli"})
            parent = self.add(ts + 0.001, kind, action, resource=resource, bytes=nbytes, duration_ms=duration,
                              event_id=op, **common, details={"interface": "cli"})
            return [child, parent]
        details = {"interface": "cli"}
        if status == "denied":
            details["error"] = f"{action} needs the writer role; {user.name} has {user.role}"
        return [self.add(ts, kind, action, status, resource=resource, bytes=nbytes if status == "success" else None,
                         duration_ms=duration, details=details, **common)]

    def login(self, ts: float, user: _User, ip: str, session: str, status: str = "success",
              mfa: bool = True) -> dict:
        details = {"method": "token", "tls": True}
        if status == "success":
            details["mfa"] = mfa
        else:
            details["reason"] = "bad credentials"
        return self.add(ts, "authentication", "auth.login", status, user_id=user.name, source_ip=ip,
                        session_id=session, details=details)


def generate_scenario(days: int = 21, users: int = 30, seed: int = 0, incidents: Any = "all",
                      end_time: float | None = None) -> Scenario:
    """The scenario's events (dicts for ``log_events``, time-ordered) and its answer key."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be an integer from 1 to {MAX_DAYS}, not {show(days)}")
    if isinstance(users, bool) or not isinstance(users, int) or not 3 <= users <= 100000:
        raise InvalidInput(f"users must be an integer between 3 and 100000, not {users!r}")
    wanted = _incident_list(incidents)
    end = epoch(end_time)
    start = end - days * DAY
    if not 0 <= start or not end < MAX_TIMESTAMP:
        raise InvalidInput(f"end_time {show(end_time)} puts the scenario outside 1970..3000 (audit timestamps)")
    gen = _Gen(seed, start, end)
    rng = gen.rng
    people = _make_users(rng, users)
    first_day = int(start // DAY)
    last_day = int(end // DAY)

    # Who is the dormant account: active only for the first three days.
    dormant = None
    if "dormant_reactivation" in wanted:
        dormant = people[-1]
        dormant.active_days = (first_day, first_day + 2)

    late_ids: list[str] = []
    for day in range(first_day, last_day + 1):
        weekend = (day + 3) % 7 >= 5
        for user in people:
            if user.active_days and not user.active_days[0] <= day <= user.active_days[1]:
                continue
            if weekend and rng.random() > 0.08:
                continue
            n_sessions = max(1, _poisson(rng, user.rate * (0.4 if weekend else 1.0)))
            late = rng.random() < 0.004
            for _ in range(n_sessions):
                span = user.work_hours * HOUR
                offset = (user.work_hours + 3) * HOUR if late else rng.uniform(0, span - 0.5 * HOUR)
                first = len(gen.events)
                _session(gen, user, day * DAY + user.work_start * HOUR + offset)
                if late:
                    late_ids += [e["event_id"] for e in gen.events[first:]]
        _backend_day(gen, day)

    background = [{
        "types": ["recurring_sequence"],
        "description": "files.write stores its data with a nested content.add (a real recurring workflow)",
        "event_ids": [e["event_id"] for e in gen.events if e["action"] == "files.write"
                      or (e["action"] == "content.add" and e.get("parent_id"))],
    }, {
        "types": ["off_hours_access"],
        "description": "benign late evenings: real activity at a user's unusual hours, not an attack",
        "event_ids": late_ids,
    }]

    planted: list[Incident] = []
    skipped: list[str] = []
    # Writers are the victims (their incidents need write rights); a reader probes for denials.
    victims = [u for u in people if u is not dormant and u.role == "writer"]
    rng.shuffle(victims)
    admins = [u for u in people if u.role == "admin"]
    slots = _slots(rng, first_day, last_day, len(wanted))
    for n, kind in enumerate(wanted):
        victim = victims[n % len(victims)]
        day = slots[n]
        inject = _INJECTORS[kind]
        incident = inject(gen, n, day, victim, people=people, admins=admins, dormant=dormant,
                          first_day=first_day, last_day=last_day)
        if incident is None:
            skipped.append(kind)
        else:
            planted.append(incident)

    # The outage removes the normal activity in its span (after all other events exist).
    injected = {i for inc in planted for i in inc.event_ids}
    for inc in planted:
        if inc.incident_type == "volume_drop":
            gen.events = [e for e in gen.events if not inc.start <= e["timestamp"] < inc.end
                          or e["event_id"] in injected]
    events = sorted((e for e in gen.events if start <= e["timestamp"] <= end), key=lambda e: e["timestamp"])
    kept = {e["event_id"] for e in events}
    for inc in planted:
        inc.event_ids = [i for i in inc.event_ids if i in kept]
    for item in background:
        item["event_ids"] = [i for i in item["event_ids"] if i in kept]
    key = AnswerKey(seed, days, [u.name for u in people], start, end, len(events), planted, background, skipped)
    return Scenario(events, key)


def simulate(audit_logger: Any, days: int = 21, users: int = 30, seed: int = 0, incidents: Any = "all",
             end_time: float | None = None, batch_size: int = 20000) -> AnswerKey:
    """Write a scenario into ``audit_logger`` (via ``log_events``) and return its answer key."""
    scenario = generate_scenario(days, users, seed, incidents, end_time)
    events = scenario.events
    for i in range(0, len(events), batch_size):
        audit_logger.log_events(events[i:i + batch_size])
    return scenario.answer_key


def write_answer_key(key: AnswerKey, path: str) -> None:
    """The answer key as JSON, written atomically (temporary file, then rename)."""
    import json
    import os
    import tempfile

    target = os.path.abspath(path)
    if not os.path.isdir(os.path.dirname(target)):
        raise InvalidInput(f"answer key directory {os.path.dirname(target)} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".answer-key-", dir=os.path.dirname(target))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(key.to_dict(), fh, indent=1)
        os.replace(tmp, target)
    except OSError as exc:
        os.unlink(tmp)
        raise InvalidInput(f"cannot write answer key to {path}: {exc}") from None


def _incident_list(incidents: Any) -> list[str]:
    if incidents in ("all", None):
        return list(INCIDENT_TYPES)
    if incidents in ("none", ()) or incidents == []:
        return []
    if isinstance(incidents, str):
        incidents = [s.strip() for s in incidents.split(",") if s.strip()]
    unknown = [i for i in incidents if i not in INCIDENT_TYPES]
    if unknown:
        raise InvalidInput(f"unknown incident type(s) {', '.join(map(str, unknown))}; "
                           f"choose from {', '.join(INCIDENT_TYPES)}")
    return list(dict.fromkeys(incidents))


def _poisson(rng: random.Random, lam: float) -> int:
    k, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _make_users(rng: random.Random, count: int) -> list[_User]:
    people = []
    for i in range(count):
        name = _FIRST[i % len(_FIRST)] + ("" if i < len(_FIRST) else str(i // len(_FIRST)))
        role = "admin" if i < 2 else ("reader" if i % 4 == 3 else "writer")
        work_start = rng.choice((7, 8, 9)) if rng.random() < 0.7 else rng.choice((13, 14, 15))
        ips = [f"10.{i // 250 + 1}.{i % 250}.{rng.randrange(2, 250)}" for _ in range(rng.choice((1, 1, 2)))]
        people.append(_User(name, role, work_start, 9, ips, rng.uniform(1.5, 3.0)))
    return people


def _session(gen: _Gen, user: _User, ts: float) -> None:
    rng = gen.rng
    ip = rng.choice(user.ips)
    session = gen.session_id(user.name)
    if rng.random() < 0.04:  # a typo first
        gen.login(ts - rng.uniform(5, 30), user, ip, session, "failure")
    gen.login(ts, user, ip, session)
    mix = _READ_MIX if user.role == "reader" else _WRITE_MIX
    actions, weights = zip(*mix, strict=True)
    for _ in range(rng.randint(3, 15)):
        ts += rng.expovariate(1 / 90)
        action = rng.choices(actions, weights)[0]
        if user.role == "reader" and rng.random() < 0.02:
            gen.action(ts, user, rng.choice(("content.add", "pin.add")), session, ip, status="denied")
            continue
        gen.action(ts, user, action, session, ip, status="success" if rng.random() > 0.01 else "failure")
    if user.role == "admin":
        if rng.random() < 0.3:
            ts += rng.expovariate(1 / 60)
            gen.add(ts, "admin", "content.gc", user_id=user.name, source_ip=ip, session_id=session,
                    duration_ms=round(rng.uniform(200, 2000), 3), details={"removed": rng.randrange(0, 50)})
        if rng.random() < 0.1:
            ts += rng.expovariate(1 / 60)
            gen.add(ts, "config", "config.change", user_id=user.name, source_ip=ip, session_id=session,
                    resource="block_cache_blocks", resource_type="setting", details={"key": "block_cache_blocks"})
        if rng.random() < 0.05:
            ts += rng.expovariate(1 / 60)
            gen.add(ts, "admin", "auth.token.create", user_id=user.name, source_ip=ip, session_id=session,
                    resource=f"tok_{rng.getrandbits(24):06x}", resource_type="token",
                    details={"for_user": rng.choice(_FIRST[2:]), "role": "writer"})
    if rng.random() < 0.6:
        gen.add(ts + rng.uniform(5, 60), "authentication", "auth.logout", user_id=user.name, source_ip=ip,
                session_id=session)


def _backend_day(gen: _Gen, day: int) -> None:
    rng = gen.rng
    ts = day * DAY + rng.uniform(0, 300)
    while ts < (day + 1) * DAY:
        status = "success" if rng.random() > 0.005 else "error"
        gen.add(ts, "backend", "backend.replicate", status, backend="s3-main", source_ip="local",
                resource=gen.cid(str(ts)), resource_type="cid", bytes=int(rng.lognormvariate(13.5, 0.6)),
                duration_ms=round(rng.lognormvariate(math.log(200), 0.4), 3), details={})
        ts += rng.expovariate(1 / 300)


def _slots(rng: random.Random, first_day: int, last_day: int, n: int) -> list[int]:
    """Incident days: after a warm-up of 8+ full days, spread over the rest (repeating if few days)."""
    lo = min(first_day + 9, last_day)
    days = list(range(lo, last_day + 1)) or [last_day]
    return [days[i % len(days)] for i in rng.sample(range(max(n, len(days))), n)] if n else []


def _work_time(gen: _Gen, user: _User, day: int, length: float = HOUR) -> float:
    """A moment in the user's working hours that leaves ``length`` before they end (and before the end)."""
    lo = day * DAY + (user.work_start + 1) * HOUR
    hi = max(lo, day * DAY + (user.work_start + user.work_hours) * HOUR - length)
    ts = gen.rng.uniform(lo, hi)
    if ts + length > gen.end:  # today, still in the future: use yesterday
        ts -= DAY
    return ts


# ---- injectors: each returns the Incident (or None when the scenario cannot host it) ----

def _brute_force(gen, n, day, victim, **_):
    rng = gen.rng
    ip = f"203.0.113.{10 + n}"
    ts0 = gen.end - rng.uniform(3, 8) * HOUR  # in the last 24 hours
    targets = ["root", "admin", victim.name]
    ids = []
    ts = ts0
    for _ in range(rng.randint(35, 50)):
        ts += rng.uniform(1, 5)
        e = gen.add(ts, "authentication", "auth.login", "failure", user_id=rng.choice(targets), source_ip=ip,
                    details={"method": "password", "reason": "bad credentials"})
        ids.append(e["event_id"])
    return Incident(f"inc-{n:02d}", "pattern", "brute_force", ts0, ts, targets, [ip], ids,
                    f"{len(ids)} password guesses from {ip} against {', '.join(targets)}",
                    anomaly_types=["user_error_spike", "error_spike"])


def _password_spraying(gen, n, day, victim, people, **_):
    rng = gen.rng
    ip = f"198.51.100.{10 + n}"
    names = [u.name for u in rng.sample(people, min(12, len(people)))] + ["test", "guest", "oracle"]
    ts0 = _work_time(gen, victim, day, 2 * HOUR)
    ts, ids = ts0, []
    for name in names:
        ts += rng.uniform(90, 150)
        ids.append(gen.add(ts, "authentication", "auth.login", "failure", user_id=name, source_ip=ip,
                           details={"method": "password", "reason": "bad credentials"})["event_id"])
    return Incident(f"inc-{n:02d}", "pattern", "password_spraying", ts0, ts, names, [ip], ids,
                    f"{ip} tried one password against {len(names)} accounts")


def _failure_then_success(gen, n, day, victim, **_):
    rng = gen.rng
    ip = f"192.0.2.{10 + n}"
    ts = ts0 = _work_time(gen, victim, day)
    session = gen.session_id(victim.name)
    ids = []
    for _ in range(rng.randint(7, 9)):
        ts += rng.uniform(10, 25)
        ids.append(gen.login(ts, victim, ip, session, "failure")["event_id"])
    ts += rng.uniform(10, 25)
    ids.append(gen.login(ts, victim, ip, session, mfa=False)["event_id"])
    for _ in range(5):
        ts += rng.uniform(20, 60)
        ids += [e["event_id"] for e in gen.action(ts, victim, "content.get", session, ip)]
    return Incident(f"inc-{n:02d}", "pattern", "failure_then_success", ts0, ts, [victim.name], [ip], ids,
                    f"{victim.name} guessed from {ip}, then logged in and read data", also=["new_source_ip"])


def _off_hours(gen, n, day, victim, **_):
    rng = gen.rng
    hour = (victim.work_start + victim.work_hours + 6) % 24  # deep in their night
    ts = ts0 = day * DAY + hour * HOUR + rng.uniform(0, 600)
    if ts0 + HOUR > gen.end:
        ts = ts0 = ts0 - DAY
    ip = victim.ips[0]
    session = gen.session_id(victim.name)
    ids = [gen.login(ts, victim, ip, session)["event_id"]]
    for _ in range(11):
        ts += rng.uniform(60, 200)
        ids += [e["event_id"] for e in gen.action(ts, victim, rng.choice(("content.cat", "files.read")), session, ip)]
    return Incident(f"inc-{n:02d}", "pattern", "off_hours_access", ts0, ts, [victim.name], [ip], ids,
                    f"{victim.name} active at {hour:02d}h UTC, far outside their hours")


def _new_source_ip(gen, n, day, victim, **_):
    rng = gen.rng
    ip = f"192.0.2.{100 + n}"
    ts = ts0 = _work_time(gen, victim, day)
    session = gen.session_id(victim.name)
    ids = [gen.login(ts, victim, ip, session)["event_id"]]
    for _ in range(8):
        ts += rng.uniform(30, 120)
        ids += [e["event_id"] for e in gen.action(ts, victim, "content.cat", session, ip)]
    return Incident(f"inc-{n:02d}", "pattern", "new_source_ip", ts0, ts, [victim.name], [ip], ids,
                    f"{victim.name} logged in from {ip}, an address never used before")


def _privilege_escalation(gen, n, day, victim, admins, **_):
    rng = gen.rng
    actor = admins[0] if admins else victim
    ts = ts0 = _work_time(gen, victim, day)
    ids = [gen.add(ts, "admin", "auth.token.create", user_id=actor.name, source_ip=actor.ips[0],
                   resource=f"tok_{rng.getrandbits(24):06x}", resource_type="token",
                   details={"for_user": victim.name, "role": "admin"})["event_id"]]
    ip = victim.ips[0]
    for action, etype in (("config.change", "config"), ("content.gc", "admin"), ("backend.add", "admin"),
                          ("auth.token.create", "admin")):
        ts += rng.uniform(120, 500)
        details = {"for_user": "ghost", "role": "writer"} if action == "auth.token.create" else {}
        ids.append(gen.add(ts, etype, action, user_id=victim.name, source_ip=ip, details=details)["event_id"])
    # The grant happens in the victim's working hours; if that is the actor's night, it is off-hours too.
    hour = int(ts0 % DAY // HOUR)
    actor_awake = (hour - actor.work_start) % 24 < actor.work_hours
    return Incident(f"inc-{n:02d}", "pattern", "privilege_escalation", ts0, ts, [victim.name, actor.name],
                    [ip], ids, f"{actor.name} gave {victim.name} an admin token; {victim.name} then ran admin actions",
                    also=[] if actor_awake else ["off_hours_access"])


def _mass_deletion(gen, n, day, victim, **_):
    rng = gen.rng
    ts = ts0 = _work_time(gen, victim, day)
    ip = victim.ips[0]
    session = gen.session_id(victim.name)
    ids = []
    for i in range(rng.randint(45, 60)):
        ts += rng.uniform(2, 6)
        action = "files.rm" if i % 10 == 9 else "pin.rm"
        ids += [e["event_id"] for e in gen.action(ts, victim, action, session, ip)]
    return Incident(f"inc-{n:02d}", "pattern", "mass_deletion", ts0, ts, [victim.name], [ip], ids,
                    f"{victim.name} removed {len(ids)} pins and files in minutes")


def _bulk_read(gen, n, day, victim, **_):
    rng = gen.rng
    ts = ts0 = day * DAY + (victim.work_start + 1) * HOUR
    if ts0 + 4 * HOUR > gen.end:
        ts = ts0 = ts0 - DAY
    ip = victim.ips[0]
    session = gen.session_id(victim.name)
    ids = []
    for i in range(400):
        ts += rng.uniform(15, 35)
        ids += [e["event_id"] for e in gen.action(ts, victim, "content.get", session, ip,
                                                  nbytes=int(rng.uniform(10, 20) * MIB) + i)]
    return Incident(f"inc-{n:02d}", "pattern", "bulk_data_read", ts0, ts, [victim.name], [ip], ids,
                    f"{victim.name} downloaded about 6 GiB in a few hours",
                    anomaly_types=["user_bytes_spike", "bytes_spike"])


def _denials(gen, n, day, victim, people, **_):
    rng = gen.rng
    reader = next((u for u in people if u.role == "reader" and u.active_days is None), victim)
    ts = ts0 = _work_time(gen, reader, day)
    ip = reader.ips[0]
    session = gen.session_id(reader.name)
    ids = []
    for _ in range(rng.randint(10, 14)):
        ts += rng.uniform(10, 30)
        action = rng.choice(("content.add", "pin.add", "pin.rm", "files.write"))
        ids += [e["event_id"] for e in gen.action(ts, reader, action, session, ip, status="denied")]
    return Incident(f"inc-{n:02d}", "pattern", "permission_denials", ts0, ts, [reader.name], [ip], ids,
                    f"{reader.name} (reader) tried {len(ids)} writes in minutes")


def _high_frequency(gen, n, day, victim, **_):
    rng = gen.rng
    ts = ts0 = _work_time(gen, victim, day)
    ip = victim.ips[0]
    session = gen.session_id(victim.name)
    ids = []
    for _ in range(500):
        ts += rng.uniform(0.1, 0.6)
        ids += [e["event_id"] for e in gen.action(ts, victim, rng.choice(("content.stat", "pin.ls")), session, ip)]
    return Incident(f"inc-{n:02d}", "pattern", "high_frequency", ts0, ts, [victim.name], [ip], ids,
                    f"{victim.name} ran a script: 500 requests in a few minutes",
                    anomaly_types=["user_volume_spike", "volume_spike"])


def _recurring(gen, n, day, victim, first_day, last_day, **_):
    rng = gen.rng
    bot = _User("svc-sync", "writer", 2, 1, ["10.9.9.9"], 1.0)
    ids = []
    steps = ("files.ls", "files.read", "car.export", "files.rm")
    days = list(range(max(first_day + 8, last_day - 11), last_day + 1))
    ts0 = None
    for d in days:
        ts = d * DAY + 2 * HOUR + rng.uniform(0, 600)
        if ts + 600 > gen.end:
            continue
        ts0 = ts0 or ts
        session = gen.session_id(bot.name)
        ids.append(gen.login(ts, bot, bot.ips[0], session)["event_id"])
        for action in steps:
            ts += rng.uniform(1, 5)
            ids += [e["event_id"] for e in gen.action(ts, bot, action, session, bot.ips[0])]
    if len(days) < 5 or ts0 is None:
        return None
    return Incident(f"inc-{n:02d}", "pattern", "recurring_sequence", ts0, ts, [bot.name], [bot.ips[0]], ids,
                    f"svc-sync runs {' → '.join(steps)} every night")


def _dormant(gen, n, day, victim, dormant, first_day, last_day, **_):
    if dormant is None or last_day - first_day < 17:
        return None
    rng = gen.rng
    wake_day = last_day - 1
    ts = ts0 = _work_time(gen, dormant, wake_day)
    ip = dormant.ips[0]
    session = gen.session_id(dormant.name)
    ids = [gen.login(ts, dormant, ip, session)["event_id"]]
    for _ in range(10):
        ts += rng.uniform(30, 120)
        ids += [e["event_id"] for e in gen.action(ts, dormant, "content.cat", session, ip)]
    return Incident(f"inc-{n:02d}", "pattern", "dormant_reactivation", ts0, ts, [dormant.name], [ip], ids,
                    f"{dormant.name}, unused for two weeks, logged in again")


def _volume_spike(gen, n, day, victim, **_):
    rng = gen.rng
    ts = ts0 = day * DAY + 3 * HOUR + rng.uniform(0, 600)  # a quiet hour
    ids = []
    while ts < ts0 + 0.75 * HOUR:
        ts += rng.expovariate(1 / 0.9)
        ids.append(gen.add(ts, "backend", "backend.replicate", backend="s3-main", source_ip="local",
                           resource=gen.cid(f"storm{ts}"), resource_type="cid", bytes=int(rng.uniform(1e4, 1e5)),
                           duration_ms=round(rng.uniform(50, 300), 3), details={"retry": True})["event_id"])
    return Incident(f"inc-{n:02d}", "anomaly", "volume_spike", ts0, ts, [], ["local"], ids,
                    f"replication storm: {len(ids)} backend events in 45 minutes", anomaly_types=["volume_spike"])


def _error_spike(gen, n, day, victim, **_):
    rng = gen.rng
    ts = ts0 = day * DAY + 11 * HOUR + rng.uniform(0, 600)
    ids = []
    while ts < ts0 + HOUR:
        ts += rng.expovariate(1 / 20)
        ids.append(gen.add(ts, "backend", "backend.replicate", "error", backend="s3-main", source_ip="local",
                           resource=gen.cid(f"down{ts}"), resource_type="cid",
                           duration_ms=round(rng.uniform(4800, 5200), 3),
                           details={"error": "BackendError: s3-main unreachable (timeout)"})["event_id"])
    return Incident(f"inc-{n:02d}", "anomaly", "error_spike", ts0, ts, [], ["local"], ids,
                    f"backend outage: {len(ids)} failed replications", anomaly_types=["error_spike", "latency_spike"])


def _volume_drop(gen, n, day, victim, **_):
    # A weekday afternoon (UTC) when both regions work: the next weekday that is over, else an earlier one.
    step = 1
    while (day + 3) % 7 >= 5 or (day + 1) * DAY > gen.end:
        if (day + 1) * DAY > gen.end:
            step = -1
        day += step
    ts0 = day * DAY + 14 * HOUR
    return Incident(f"inc-{n:02d}", "anomaly", "volume_drop", ts0, ts0 + 3 * HOUR, [], [], [],
                    "service outage: nothing logged for three busy hours", anomaly_types=["volume_drop"])


_INJECTORS = {
    "brute_force": _brute_force, "password_spraying": _password_spraying,
    "failure_then_success": _failure_then_success, "off_hours_access": _off_hours,
    "new_source_ip": _new_source_ip, "privilege_escalation": _privilege_escalation,
    "mass_deletion": _mass_deletion, "bulk_data_read": _bulk_read, "permission_denials": _denials,
    "high_frequency": _high_frequency, "recurring_sequence": _recurring, "dormant_reactivation": _dormant,
    "volume_spike": _volume_spike, "error_spike": _error_spike, "volume_drop": _volume_drop,
}
