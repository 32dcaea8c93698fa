"""Detector rules on small, hand-made logs: thresholds, real sshd lines, look-ups, edge cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ipfs_kit_py.analytics import AuditAnalytics

T0 = datetime(2026, 3, 3, 14, 0, tzinfo=UTC).timestamp()


def _auth(ts, user, ip, status="failure", action="auth.login"):
    return {"event_type": "authentication", "action": action, "status": status, "user_id": user,
            "source_ip": ip, "timestamp": ts}


def _types(patterns):
    return sorted(p.pattern_type for p in patterns)


def _sshd_lines() -> str:
    lines = []

    def at(seconds: float, msg: str, pid: int = 900) -> None:
        stamp = datetime.fromtimestamp(T0 + seconds, UTC).strftime("%b %e %H:%M:%S")
        lines.append(f"{stamp} gw sshd[{pid}]: {msg}")

    at(0, "Accepted publickey for deploy from 10.0.0.5 port 50122 ssh2: ED25519 SHA256:abc")
    for i in range(30):  # a fast dictionary attack
        user = ("root", "admin", "oracle", "test")[i % 4]
        invalid = "" if user == "root" else "invalid user "
        at(60 + 4 * i, f"Failed password for {invalid}{user} from 203.0.113.5 port {40000 + i} ssh2", 1000 + i)
    at(200, "message repeated 11 times: [ Failed password for root from 198.51.100.7 port 5522 ssh2]", 2000)
    for i in range(8):  # slow and low: one guess every ten minutes
        at(300 + 600 * i, f"Failed password for root from 192.0.2.99 port {6000 + i} ssh2", 3000 + i)
    at(400, "Failed password for alice from 10.0.0.8 port 51000 ssh2", 4000)
    at(420, "Accepted password for alice from 10.0.0.8 port 51001 ssh2", 4001)
    at(430, "pam_unix(sshd:session): session opened for user alice by (uid=0)", 4001)
    return "\n".join(lines) + "\n"


def test_sshd_auth_log_brute_force_per_source_ip(logger, tmp_path):
    path = tmp_path / "auth.log"
    path.write_text(_sshd_lines())
    report = logger.import_events(path, format="sshd", year=2026, tz="UTC")
    assert report.imported == 1 + 30 + 11 + 8 + 2
    found = AuditAnalytics(logger).analyze_patterns(timedelta(hours=6), end_time=T0 + 6000)
    brute = {p.details["source_ip"]: p for p in found if p.pattern_type == "brute_force"}
    # The fast attacker and the repeated-message one; never the slow guesser or alice's typo.
    assert set(brute) == {"203.0.113.5", "198.51.100.7"}
    assert brute["203.0.113.5"].occurrences == 30
    assert brute["198.51.100.7"].occurrences == 11
    assert set(brute["203.0.113.5"].affected_users) == {"root", "admin", "oracle", "test"}
    fast_ids = {e.event_id for e in logger.query_events(limit=None) if e.source_ip == "203.0.113.5"}
    assert set(brute["203.0.113.5"].evidence) == fast_ids
    assert brute["203.0.113.5"].confidence > brute["198.51.100.7"].confidence >= 0.7
    # Four accounts from one address is below the spraying default of five.
    assert "password_spraying" not in _types(found)


def test_brute_force_threshold_is_exact(logger):
    nine = [_auth(T0 + i, "root", "203.0.113.9") for i in range(9)]
    logger.log_events(nine)
    analytics = AuditAnalytics(logger)
    assert analytics.analyze_patterns(timedelta(hours=1), end_time=T0 + 60) == []
    logger.log_events([_auth(T0 + 9, "root", "203.0.113.9")])
    (found,) = analytics.analyze_patterns(timedelta(hours=1), end_time=T0 + 60)
    assert found.pattern_type == "brute_force" and found.occurrences == 10 and found.confidence == 0.7


def test_spraying_failure_then_success_and_denials(logger):
    events = [_auth(T0 + 100 * i, f"user{i}", "198.51.100.20") for i in range(6)]
    events += [_auth(T0 + 10 * i, "carol", "192.0.2.50") for i in range(5)]
    events.append(_auth(T0 + 60, "carol", "192.0.2.50", "success"))
    events += [{"event_type": "data", "action": "pin.add", "status": "denied", "user_id": "dan",
                "timestamp": T0 + 20 * i} for i in range(5)]
    logger.log_events(events)
    found = AuditAnalytics(logger).analyze_patterns(timedelta(hours=2), end_time=T0 + 3600)
    assert _types(found) == ["failure_then_success", "password_spraying", "permission_denials"]
    (fts,) = [p for p in found if p.pattern_type == "failure_then_success"]
    assert fts.details["same_source"] is True and fts.affected_users == ["carol"]
    success_id = logger.query_events(status="success", limit=1)[0].event_id
    assert fts.evidence[0] == success_id


def test_privilege_change_then_admin_actions(logger):
    logger.log_events([
        {"event_type": "admin", "action": "auth.token.create", "user_id": "root", "timestamp": T0,
         "details": {"for_user": "mallory", "role": "admin"}},
        {"event_type": "config", "action": "config.change", "user_id": "mallory", "timestamp": T0 + 300},
        {"event_type": "admin", "action": "content.gc", "user_id": "mallory", "timestamp": T0 + 400},
        # A writer token is not a privilege escalation, and old admins are routine.
        {"event_type": "admin", "action": "auth.token.create", "user_id": "root", "timestamp": T0 + 10,
         "details": {"for_user": "bob", "role": "writer"}},
        {"event_type": "admin", "action": "content.gc", "user_id": "bob", "timestamp": T0 + 500},
    ])
    found = AuditAnalytics(logger).analyze_patterns(timedelta(hours=2), end_time=T0 + 3600)
    (p,) = found
    assert p.pattern_type == "privilege_escalation" and p.details["target_user"] == "mallory"
    assert p.details["first_admin_activity"] is True and p.confidence == 0.95
    assert p.details["admin_actions"] == ["config.change", "content.gc"]


def test_dormant_account_found_beyond_loaded_history(logger):
    # Last seen 60 days ago: older than the 30 days of history the analysis loads, so it asks the log.
    logger.log_events([{"event_type": "data", "action": "content.cat", "user_id": "ghost",
                        "timestamp": T0 - 60 * 86400}])
    logger.log_events([{"event_type": "authentication", "action": "auth.login", "user_id": "ghost",
                        "timestamp": T0}, {"event_type": "data", "action": "content.get", "user_id": "ghost",
                                          "timestamp": T0 + 30}])
    # A brand-new user is not a reactivation.
    logger.log_events([{"event_type": "authentication", "action": "auth.login", "user_id": "newbie",
                        "timestamp": T0}])
    (p,) = AuditAnalytics(logger).analyze_patterns(timedelta(hours=1), end_time=T0 + 60)
    assert p.pattern_type == "dormant_reactivation" and p.affected_users == ["ghost"]
    assert round(p.details["dormant_days"]) == 60 and p.occurrences == 2


def test_mass_deletion_needs_a_burst(logger):
    slow = [{"event_type": "data", "action": "pin.rm", "user_id": "eve", "timestamp": T0 + 120 * i,
             "resource": f"cid{i}"} for i in range(30)]
    logger.log_events(slow)
    analytics = AuditAnalytics(logger)
    assert analytics.analyze_patterns(timedelta(hours=3), end_time=T0 + 4000) == []
    fast = [{"event_type": "data", "action": "files.rm", "user_id": "eve", "timestamp": T0 + 5000 + i,
             "resource": f"/f{i}"} for i in range(25)]
    logger.log_events(fast)
    (p,) = analytics.analyze_patterns(timedelta(hours=3), end_time=T0 + 6000)
    assert p.pattern_type == "mass_deletion" and p.occurrences == 25


def _runs(session: bool) -> list[dict]:
    events = []
    for i in range(40):
        for j, action in enumerate(("a.one", "b.two", "c.three")):
            events.append({"event_type": "data", "action": action, "timestamp": T0 + 60 * i + j,
                           "session_id": f"s{i}" if session else None})
    return events


@pytest.mark.parametrize("with_sessions", [True, False])
def test_missing_ids_never_form_a_session(logger, with_sessions):
    # Without session/operation ids there is no session to find a sequence in: missing is not "the same".
    logger.log_events(_runs(with_sessions))
    found = AuditAnalytics(logger).analyze_patterns(
        timedelta(hours=2), pattern_types=["recurring_sequence"], end_time=T0 + 3000,
        settings={"recurring_sequence": {"length": 2, "min_support": 1}})
    if with_sessions:
        assert sorted(p.details["sequence"] for p in found) == [["a.one", "b.two"], ["b.two", "c.three"]]
        assert found[0].details["sessions"] == 40
    else:
        assert found == []


@pytest.mark.parametrize("timeframe", [timedelta(minutes=5), 300, 300.0])
def test_timeframe_accepts_timedelta_or_seconds(logger, timeframe):
    logger.log_events([_auth(T0 + i, "root", "203.0.113.1") for i in range(12)])
    (p,) = AuditAnalytics(logger).analyze_patterns(timeframe, end_time=T0 + 20)
    assert p.pattern_type == "brute_force"
