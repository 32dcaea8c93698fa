"""Behaviour patterns in the audit log: one detector per pattern type.

Every detector takes a ``PatternContext`` (the events of the analysis window
plus history before it, as a time-sorted frame) and keyword settings with the
defaults documented on it, and returns ``Pattern`` findings whose ``evidence``
are the ids of the events that show the pattern (at most ``max_evidence``,
most telling first; ``occurrences`` counts them all). A finding is reported
when its triggering events fall inside the window; history (``HISTORY_DAYS``,
30 days before the window, loaded by ``AuditAnalytics``) is only used as a
baseline.

Confidence: detectors with a threshold report ``confidence_from_ratio``
(observed / threshold: 0.7 at the threshold, 0.85 at twice it, 0.97 at ten
times). ``analyze_patterns(confidence=c)`` keeps findings with confidence >= c.

Action families (regular expressions on ``action``):

- authentication events: ``event_type == "authentication"`` (``auth.login``,
  sshd imports, ``auth.token``);
- reads: ``...cat|get|read|export|download|fetch`` (``content.cat``, ``files.read``, ``car.export``);
- deletions: ``...rm|remove|unpin|delete|gc|prune|purge`` (``pin.rm``, ``files.rm``, ``content.gc``);
- privilege changes: ``...grant|promote|elevate|sudo``, ``role.grant|add|set|change|update``,
  ``privilege.grant|add|set|change``, and ``auth.token.create`` with ``details.role == "admin"``;
- admin actions: ``event_type`` admin or config, or actions under ``config.``,
  ``backend.``, ``auth.token.``, ``content.gc``, ``audit.prune``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from .frame import (
    DAY,
    DELETE_ACTIONS,
    READ_ACTIONS,
    burst_flag,
    confidence_from_ratio,
    is_present,
    remote_source,
    with_episodes,
)
from .results import Pattern

PRIVILEGE_ACTIONS = (
    r"(?:^|\.)(?:grant|promote|elevate|sudo)$"
    r"|(?:^|\.)role\.(?:grant|add|set|change|update)$"
    r"|(?:^|\.)privilege\.(?:grant|add|set|change)$"
)
ADMIN_ACTIONS = r"^(?:config\.|backend\.|auth\.token\.|content\.gc$|audit\.prune$)"


@dataclass
class PatternContext:
    df: pl.DataFrame          # normalised, time-sorted: history + window
    window_start: float
    window_end: float
    max_evidence: int = 200
    source: Any = None        # the audit logger, for look-ups beyond the loaded history
    history_complete: bool = False  # df holds every event of the log up to window_end: no look-ups needed

    def rows(self, cond: pl.Expr, *columns: str | pl.Expr) -> pl.DataFrame:
        """``df.filter(cond).select(*columns)``, filtering only the columns selected."""
        return self.df.lazy().filter(cond).select(*columns).collect()

    def actions_matching(self, regex: str) -> list[str]:
        """Distinct actions matching ``regex`` (matched once per name, not per event)."""
        names = self.df.get_column("action").unique().drop_nulls()
        return names.filter(names.str.contains(regex)).to_list()


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _users(values: list | None) -> list[str]:
    return sorted({v for v in (values or []) if v})


def _in_window(ctx: PatternContext) -> pl.Expr:
    return pl.col("last") >= ctx.window_start


# ---- authentication ---------------------------------------------------------------

def brute_force(ctx: PatternContext, *, min_failures: int = 10, window_seconds: float = 300) -> list[Pattern]:
    """Brute force: >= ``min_failures`` failed authentications from one source IP within
    ``window_seconds`` (default 10 in 5 minutes). One finding per source per burst
    (a burst ends after ``window_seconds`` without a failure from that source)."""
    f = ctx.df.filter((pl.col("event_type") == "authentication") & (pl.col("status") == "failure")
                      & is_present("source_ip"))
    if f.is_empty():
        return []
    f = with_episodes(f, "source_ip", window_seconds).with_columns(
        burst_flag("source_ip", min_failures, window_seconds).fill_null(False).alias("hit"))
    groups = (f.group_by("source_ip", "episode").agg(
        pl.len().alias("n"), pl.col("hit").any().alias("hit"),
        pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last"),
        pl.col("user_id").unique().alias("users"), pl.col("event_id").head(ctx.max_evidence).alias("ids"),
    ).filter(pl.col("hit") & _in_window(ctx)))
    out = []
    for g in groups.iter_rows(named=True):
        users = _users(g["users"])
        out.append(Pattern(
            "brute_force",
            f"{g['n']} failed logins from {g['source_ip']} in {g['last'] - g['first']:.0f}s "
            f"against {len(users)} account(s)",
            g["n"], g["first"], g["last"], confidence_from_ratio(g["n"] / min_failures), users, g["ids"],
            {"source_ip": g["source_ip"], "min_failures": min_failures, "window_seconds": window_seconds},
        ))
    return out


def password_spraying(ctx: PatternContext, *, min_users: int = 5, window_seconds: float = 3600) -> list[Pattern]:
    """Password spraying: one source IP fails to authenticate as >= ``min_users`` different
    accounts (default 5) in a burst with no gap longer than ``window_seconds`` (1 hour)."""
    f = ctx.df.filter((pl.col("event_type") == "authentication") & (pl.col("status") == "failure")
                      & is_present("source_ip") & is_present("user_id"))
    if f.is_empty():
        return []
    groups = (with_episodes(f, "source_ip", window_seconds).group_by("source_ip", "episode").agg(
        pl.len().alias("n"), pl.col("user_id").n_unique().alias("n_users"),
        pl.col("user_id").unique().alias("users"),
        pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last"),
        # One attempt per account first: the spread over accounts is the evidence.
        pl.col("event_id").sort_by(pl.col("user_id").is_first_distinct(), descending=True)
        .head(ctx.max_evidence).alias("ids"),
    ).filter((pl.col("n_users") >= min_users) & _in_window(ctx)))
    return [
        Pattern(
            "password_spraying",
            f"{g['source_ip']} tried {g['n_users']} different accounts ({g['n']} failures)",
            g["n"], g["first"], g["last"], confidence_from_ratio(g["n_users"] / min_users),
            _users(g["users"]), g["ids"],
            {"source_ip": g["source_ip"], "distinct_users": g["n_users"], "min_users": min_users},
        )
        for g in groups.iter_rows(named=True)
    ]


def failure_then_success(ctx: PatternContext, *, min_failures: int = 5,
                         window_seconds: float = 900) -> list[Pattern]:
    """Failure then success (compromise signal): a successful authentication of a user
    preceded by >= ``min_failures`` failed ones for that user (default 5) within
    ``window_seconds`` (15 minutes) and no success in between. Stronger when the
    success comes from an address that produced the failures."""
    auth = ctx.rows((pl.col("event_type") == "authentication") & is_present("user_id")
                    & pl.col("status").is_in(["success", "failure"]),
                    "user_id", "status", "timestamp", "event_id", "source_ip")
    if auth.is_empty():
        return []
    # Failures after success k carry run k; the next success carries run k + 1.
    auth = auth.with_columns((pl.col("status") == "success").cast(pl.Int32).cum_sum().over("user_id").alias("run"))
    succ = auth.filter((pl.col("status") == "success") & (pl.col("timestamp") >= ctx.window_start)).select(
        "user_id", (pl.col("run") - 1).alias("run"), pl.col("event_id").alias("success_id"),
        pl.col("timestamp").alias("success_ts"), pl.col("source_ip").alias("success_ip"))
    fails = auth.filter(pl.col("status") == "failure").select("user_id", "run", "event_id", "timestamp", "source_ip")
    joined = succ.join(fails, on=["user_id", "run"]).filter(
        pl.col("timestamp") >= pl.col("success_ts") - window_seconds)
    groups = joined.group_by("success_id").agg(
        pl.col("user_id").first(), pl.col("success_ts").first(), pl.col("success_ip").first(),
        pl.len().alias("n"), pl.col("timestamp").min().alias("first"),
        pl.col("source_ip").unique().alias("ips"), pl.col("event_id").head(ctx.max_evidence - 1).alias("ids"),
    ).filter(pl.col("n") >= min_failures)
    out = []
    for g in groups.iter_rows(named=True):
        same_source = g["success_ip"] is not None and g["success_ip"] in (g["ips"] or [])
        conf = confidence_from_ratio(g["n"] / min_failures * (1.5 if same_source else 1.0))
        out.append(Pattern(
            "failure_then_success",
            f"{g['user_id']} logged in after {g['n']} failed attempts"
            + (f" from the same address {g['success_ip']}" if same_source else ""),
            g["n"] + 1, g["first"], g["success_ts"], conf, [g["user_id"]], [g["success_id"], *g["ids"]],
            {"success_event": g["success_id"], "success_ip": g["success_ip"],
             "failure_ips": _users(g["ips"]), "same_source": same_source},
        ))
    return out


# ---- per-user baselines -------------------------------------------------------------

def off_hours_access(ctx: PatternContext, *, max_hour_share: float = 0.01, min_history_events: int = 100,
                     min_history_days: int = 5, gap_seconds: float = 7200) -> list[Pattern]:
    """Off-hours access: successful activity at an hour when this user, by their own
    habits (UTC), is almost never active. An event at hour h on day d is off-hours when,
    over the user's *other* loaded days, the hours h-1..h+1 hold less than
    ``max_hour_share`` (1%) of their events, given >= ``min_history_events`` (100)
    events on >= ``min_history_days`` (5) other days. Leaving the day itself out means
    one unusual night cannot make itself normal, while a habit (a job every night)
    is normal. One finding per user per burst (gap ``gap_seconds``, 2 hours)."""
    ev = ctx.rows(is_present("user_id") & (pl.col("status") == "success"),
                  "user_id", "day", "hour", "timestamp", "event_id")
    if ev.is_empty():
        return []
    per_hour = ev.group_by("user_id", "day", "hour").agg(pl.len(), pl.col("timestamp").max().alias("latest"))
    per_day = per_hour.group_by("user_id", "day").agg(pl.col("len").sum().alias("day_total"))
    per_user = per_day.group_by("user_id").agg(pl.col("day_total").sum().alias("total"), pl.len().alias("days"))
    # Counts in the 3-hour band around each hour: every (user, day, hour) count lands in h-1, h, h+1.
    spread = pl.concat([per_hour.with_columns(((pl.col("hour") + o) % 24).cast(pl.Int32).alias("hour"))
                        for o in (-1, 0, 1)])
    band_day = spread.group_by("user_id", "day", "hour").agg(pl.col("len").sum().alias("band_day"))
    band_all = band_day.group_by("user_id", "hour").agg(pl.col("band_day").sum().alias("band_all"))
    # The (user, day, hour) slots holding an event inside the window.
    probe = (per_hour.filter(pl.col("latest") >= ctx.window_start).select("user_id", "day", "hour")
             .join(per_day, on=["user_id", "day"]).join(per_user, on="user_id")
             .join(band_day, on=["user_id", "day", "hour"], how="left")
             .join(band_all, on=["user_id", "hour"], how="left")
             .with_columns((pl.col("total") - pl.col("day_total")).alias("others"),
                           (pl.col("band_all").fill_null(0) - pl.col("band_day").fill_null(0)).alias("band"),
                           (pl.col("days") - 1).alias("other_days")))
    probe = probe.with_columns((pl.col("band") / pl.col("others")).alias("share")).filter(
        (pl.col("others") >= min_history_events) & (pl.col("other_days") >= min_history_days)
        & (pl.col("share") < max_hour_share))
    if probe.is_empty():
        return []
    hits = ev.filter(pl.col("timestamp") >= ctx.window_start).join(
        probe.select("user_id", "day", "hour", "share", "others"), on=["user_id", "day", "hour"]).sort("timestamp")
    groups = with_episodes(hits, "user_id", gap_seconds).group_by("user_id", "episode").agg(
        pl.len().alias("n"), pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last"),
        pl.col("share").max().alias("share"), pl.col("hour").unique().sort().alias("hours"),
        pl.col("others").max().alias("history"), pl.col("event_id").head(ctx.max_evidence).alias("ids"))
    out = []
    for g in groups.iter_rows(named=True):
        ratio = max_hour_share / max(g["share"], max_hour_share / 20)
        out.append(Pattern(
            "off_hours_access",
            f"{g['user_id']} active at {', '.join(f'{h:02d}h' for h in g['hours'])} UTC, hours holding "
            f"{g['share'] * 100:.1f}% of their {g['history']} events on other days",
            g["n"], g["first"], g["last"], confidence_from_ratio(ratio), [g["user_id"]], g["ids"],
            {"hours_utc": g["hours"], "history_share": round(g["share"], 5), "history_events": g["history"]},
        ))
    return out


def new_source_ip(ctx: PatternContext, *, min_history_events: int = 50, min_history_days: float = 7) -> list[Pattern]:
    """New source IP: a user's first successful activity from a network address never
    seen for them before, once they have an established history (>= ``min_history_events``
    (50) events, first seen >= ``min_history_days`` (7) days earlier). Local
    addresses are ignored. Confidence falls as the user's set of known addresses grows
    (0.99 with one known address, about 0.7 for users who roam a lot)."""
    ev = ctx.rows(is_present("user_id"),
                  "user_id", "source_ip", "status", "timestamp", "event_id",
                  pl.int_range(pl.len()).over("user_id").alias("idx"),
                  pl.col("timestamp").min().over("user_id").alias("ufirst"))
    used = ev.filter((pl.col("status") == "success") & remote_source())
    if used.is_empty():
        return []
    pairs = used.group_by("user_id", "source_ip").agg(
        pl.col("timestamp").first().alias("first"), pl.col("timestamp").last().alias("last"),
        pl.col("idx").first().alias("prior_events"), pl.col("ufirst").first(), pl.len().alias("n"),
        pl.col("event_id").head(ctx.max_evidence).alias("ids"),
    ).with_columns((pl.col("first").rank("ordinal").over("user_id") - 1).alias("prior_ips")).filter(
        (pl.col("first") >= ctx.window_start) & (pl.col("prior_events") >= min_history_events)
        & (pl.col("first") - pl.col("ufirst") >= min_history_days * DAY))
    out = []
    for g in pairs.iter_rows(named=True):
        conf = round(0.7 + 0.29 * math.exp(-(max(g["prior_ips"], 1) - 1) / 4), 4)
        out.append(Pattern(
            "new_source_ip",
            f"{g['user_id']} active from {g['source_ip']} for the first time "
            f"({g['prior_ips']} known address(es), {g['prior_events']} earlier events)",
            g["n"], g["first"], g["last"], conf, [g["user_id"]], g["ids"],
            {"source_ip": g["source_ip"], "known_addresses": g["prior_ips"]},
        ))
    return out


def privilege_escalation(ctx: PatternContext, *, window_seconds: float = 3600,
                         min_admin_actions: int = 1) -> list[Pattern]:
    """Privilege change followed by admin actions: a privilege change for a user
    (target: ``details.for_user`` / ``target_user`` / ``user``, a ``user`` resource, or
    the actor) followed within ``window_seconds`` (1 hour) by >= ``min_admin_actions``
    (1) successful admin actions by that user. Confidence 0.95 when the target never
    performed an admin action before the change; 0.6 (below the default filter) when
    they already did, since then it is routine."""
    df = ctx.df
    priv_names = ctx.actions_matching(PRIVILEGE_ACTIONS)
    # Filter by action first: parsing details JSON is only worth it for the few candidates.
    priv = df.filter(pl.col("action").is_in([*priv_names, "auth.token.create"]) & (pl.col("status") == "success"))
    priv = priv.filter((pl.col("action") != "auth.token.create")
                       | (pl.col("details").str.json_path_match("$.role") == "admin"))
    if priv.is_empty():
        return []
    details = pl.col("details")
    priv = priv.select(
        pl.col("event_id").alias("priv_id"), pl.col("timestamp").alias("priv_ts"),
        pl.col("action").alias("priv_action"), pl.col("user_id").alias("actor"),
        pl.coalesce(details.str.json_path_match("$.for_user"), details.str.json_path_match("$.target_user"),
                    details.str.json_path_match("$.user"),
                    pl.when(pl.col("resource_type") == "user").then(pl.col("resource")),
                    pl.col("user_id")).alias("target"),
    ).filter(pl.col("target").is_not_null())
    admin_names = ctx.actions_matching(ADMIN_ACTIONS)
    admin = df.filter((pl.col("event_type").is_in(["admin", "config"]) | pl.col("action").is_in(admin_names))
                      & (pl.col("status") == "success") & is_present("user_id")).select(
        "user_id", "timestamp", "event_id", "action")
    joined = priv.join(admin, left_on="target", right_on="user_id").filter(pl.col("event_id") != pl.col("priv_id"))
    after = joined.filter((pl.col("timestamp") > pl.col("priv_ts"))
                          & (pl.col("timestamp") <= pl.col("priv_ts") + window_seconds))
    before = joined.filter(pl.col("timestamp") < pl.col("priv_ts")).group_by("priv_id").len().rename({"len": "prior"})
    groups = after.group_by("priv_id").agg(
        pl.col("priv_ts").first(), pl.col("priv_action").first(), pl.col("actor").first(), pl.col("target").first(),
        pl.len().alias("n"), pl.col("timestamp").max().alias("last"),
        pl.col("action").unique().sort().alias("actions"), pl.col("event_id").head(ctx.max_evidence - 1).alias("ids"),
    ).join(before, on="priv_id", how="left").filter((pl.col("n") >= min_admin_actions) & _in_window(ctx))
    out = []
    for g in groups.iter_rows(named=True):
        first_time = not g["prior"]
        conf = 0.95 if first_time else 0.6
        out.append(Pattern(
            "privilege_escalation",
            f"{g['target']} gained privileges ({g['priv_action']} by {g['actor']}) and ran {g['n']} admin "
            f"action(s) within {window_seconds:.0f}s" + (" — first admin activity ever" if first_time else ""),
            g["n"] + 1, g["priv_ts"], g["last"], conf, _users([g["target"], g["actor"]]),
            [g["priv_id"], *g["ids"]],
            {"privilege_event": g["priv_id"], "target_user": g["target"], "granted_by": g["actor"],
             "admin_actions": g["actions"], "first_admin_activity": first_time},
        ))
    return out


# ---- data ---------------------------------------------------------------------------------

def mass_deletion(ctx: PatternContext, *, min_deletions: int = 20, window_seconds: float = 600) -> list[Pattern]:
    """Mass deletion: >= ``min_deletions`` (20) successful deletions (unpin, rm, gc,
    delete, prune) by one user (or, without a user, one source) within ``window_seconds``
    (10 minutes)."""
    names = ctx.actions_matching(DELETE_ACTIONS)
    d = ctx.df.filter(pl.col("action").is_in(names) & (pl.col("status") == "success")).with_columns(
        pl.coalesce("user_id", "source_ip").alias("who")).filter(pl.col("who").is_not_null())
    if d.is_empty():
        return []
    d = with_episodes(d, "who", window_seconds).with_columns(
        burst_flag("who", min_deletions, window_seconds).fill_null(False).alias("hit"))
    groups = d.group_by("who", "episode").agg(
        pl.len().alias("n"), pl.col("hit").any().alias("hit"), pl.col("timestamp").min().alias("first"),
        pl.col("timestamp").max().alias("last"), pl.col("bytes").sum().alias("bytes"),
        pl.col("user_id").unique().alias("users"), pl.col("action").unique().sort().alias("actions"),
        pl.col("resource").n_unique().alias("resources"), pl.col("event_id").head(ctx.max_evidence).alias("ids"),
    ).filter(pl.col("hit") & _in_window(ctx))
    return [
        Pattern(
            "mass_deletion",
            f"{g['who']} deleted {g['n']} items ({', '.join(g['actions'])}) in {g['last'] - g['first']:.0f}s",
            g["n"], g["first"], g["last"], confidence_from_ratio(g["n"] / min_deletions), _users(g["users"]),
            g["ids"], {"actor": g["who"], "actions": g["actions"], "distinct_resources": g["resources"],
                       "bytes": g["bytes"]},
        )
        for g in groups.iter_rows(named=True)
    ]


def bulk_data_read(ctx: PatternContext, *, min_bytes: int = 100 * 1024 * 1024, multiplier: float = 10.0,
                   min_z: float = 6.0, min_days: int = 5) -> list[Pattern]:
    """Bulk data read (exfiltration signal): a user's bytes read in one UTC day are
    >= ``min_bytes`` (100 MiB), >= ``multiplier`` (10) times their median day and
    >= ``min_z`` (6) robust deviations (MAD) above it. The baseline is the user's
    active days in the loaded range (>= ``min_days``, 5); the median barely moves
    when one day is extreme, so the day under test may be part of it."""
    names = ctx.actions_matching(READ_ACTIONS)
    reads = ctx.rows(pl.col("action").is_in(names) & (pl.col("status") == "success")
                     & is_present("user_id") & pl.col("bytes").is_not_null(),
                     "user_id", "day", "timestamp", "bytes", "resource", "event_id")
    if reads.is_empty():
        return []
    daily = reads.group_by("user_id", "day").agg(pl.col("bytes").sum().alias("total"))
    daily = daily.with_columns(
        pl.col("total").median().over("user_id").alias("median"),
        pl.len().over("user_id").alias("days"))
    daily = daily.with_columns((pl.col("total") - pl.col("median")).abs().median().over("user_id").alias("mad"))
    scale = pl.max_horizontal(pl.col("mad") * 1.4826, pl.col("median") * 0.1, pl.lit(1.0))
    daily = daily.with_columns(((pl.col("total") - pl.col("median")) / scale).alias("z")).filter(
        (pl.col("days") >= min_days) & (pl.col("total") >= min_bytes)
        & (pl.col("total") >= multiplier * pl.col("median")) & (pl.col("z") >= min_z)
        & (pl.col("day") >= int(ctx.window_start // DAY)))
    if daily.is_empty():
        return []
    hits = reads.join(daily.select("user_id", "day", "total", "median", "z"), on=["user_id", "day"]).filter(
        pl.col("timestamp") >= ctx.window_start)
    groups = hits.group_by("user_id", "day").agg(
        pl.len().alias("n"), pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last"),
        pl.col("total").first(), pl.col("median").first(), pl.col("z").first(),
        pl.col("resource").n_unique().alias("resources"),
        pl.col("event_id").sort_by("bytes", descending=True).head(ctx.max_evidence).alias("ids"))
    out = []
    for g in groups.iter_rows(named=True):
        ratio = g["total"] / max(g["median"], 1.0)
        out.append(Pattern(
            "bulk_data_read",
            f"{g['user_id']} read {_fmt_bytes(g['total'])} in a day ({g['n']} reads, {g['resources']} resources); "
            f"their median day is {_fmt_bytes(g['median'])}",
            g["n"], g["first"], g["last"], confidence_from_ratio(min(ratio / multiplier, g["z"] / min_z)),
            [g["user_id"]], g["ids"],
            {"bytes": g["total"], "median_daily_bytes": g["median"], "robust_z": round(g["z"], 2)},
        ))
    return out


def permission_denials(ctx: PatternContext, *, min_denials: int = 5, window_seconds: float = 600) -> list[Pattern]:
    """Repeated permission denials: >= ``min_denials`` (5) denied events for one user
    (or source, without a user) within ``window_seconds`` (10 minutes) — probing
    for what an account may do."""
    d = ctx.df.filter(pl.col("status") == "denied").with_columns(
        pl.coalesce("user_id", "source_ip").alias("who")).filter(pl.col("who").is_not_null())
    if d.is_empty():
        return []
    d = with_episodes(d, "who", window_seconds).with_columns(
        burst_flag("who", min_denials, window_seconds).fill_null(False).alias("hit"))
    groups = d.group_by("who", "episode").agg(
        pl.len().alias("n"), pl.col("hit").any().alias("hit"), pl.col("timestamp").min().alias("first"),
        pl.col("timestamp").max().alias("last"), pl.col("user_id").unique().alias("users"),
        pl.col("action").unique().sort().alias("actions"), pl.col("event_id").head(ctx.max_evidence).alias("ids"),
    ).filter(pl.col("hit") & _in_window(ctx))
    return [
        Pattern(
            "permission_denials",
            f"{g['who']} was denied {g['n']} times in {g['last'] - g['first']:.0f}s ({', '.join(g['actions'][:5])})",
            g["n"], g["first"], g["last"], confidence_from_ratio(g["n"] / min_denials), _users(g["users"]),
            g["ids"], {"actor": g["who"], "actions": g["actions"]},
        )
        for g in groups.iter_rows(named=True)
    ]


def high_frequency(ctx: PatternContext, *, min_events: int = 100, window_seconds: float = 60,
                   min_ratio: float = 10.0) -> list[Pattern]:
    """High-frequency activity (rate spike): >= ``min_events`` (100) events by one user
    within ``window_seconds`` (1 minute), and that many is >= ``min_ratio`` (10) times
    the user's usual count in a busy ``window_seconds`` bucket (median over their
    non-empty buckets), so steady automation is not reported."""
    ev = ctx.rows(is_present("user_id"), "user_id", "timestamp", "event_id", "action")
    if ev.height < min_events:
        return []
    ev = ev.with_columns(burst_flag("user_id", min_events, window_seconds).fill_null(False).alias("hit"))
    hits = ev.filter(pl.col("hit") & (pl.col("timestamp") >= ctx.window_start))
    if hits.is_empty():
        return []
    flagged = hits.get_column("user_id").unique()
    mine = ev.filter(pl.col("user_id").is_in(flagged.implode()))
    usual = mine.group_by("user_id", (pl.col("timestamp") // window_seconds).alias("b")).len().group_by(
        "user_id").agg(pl.col("len").median().alias("usual"))
    # A burst spans from window_seconds before its first closing event to its last one.
    spans = with_episodes(hits, "user_id", window_seconds).group_by("user_id", "episode").agg(
        (pl.col("timestamp").min() - window_seconds).alias("lo"), pl.col("timestamp").max().alias("hi"))
    inside = mine.join(spans, on="user_id").filter(pl.col("timestamp").is_between(pl.col("lo"), pl.col("hi")))
    groups = inside.group_by("user_id", "episode").agg(
        pl.len().alias("n"), pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last"),
        pl.col("action").unique().sort().alias("actions"), pl.col("event_id").head(ctx.max_evidence).alias("ids"),
    ).join(usual, on="user_id")
    out = []
    for g in groups.iter_rows(named=True):
        duration = max(g["last"] - g["first"], 1.0)
        peak = g["n"] * min(1.0, window_seconds / duration) if duration > window_seconds else g["n"]
        ratio = peak / max(g["usual"], 1.0)
        if ratio < min_ratio:
            continue
        out.append(Pattern(
            "high_frequency",
            f"{g['user_id']} made {g['n']} requests in {duration:.0f}s; usually {g['usual']:.0f} per "
            f"{window_seconds:.0f}s",
            g["n"], g["first"], g["last"], confidence_from_ratio(min(ratio / min_ratio, g["n"] / min_events)),
            [g["user_id"]], g["ids"],
            {"rate_per_window": round(peak, 1), "usual_per_window": g["usual"], "actions": g["actions"][:10]},
        ))
    return out


# ---- sequences and lifecycle ---------------------------------------------------------------

def _gram_counts(ev: pl.DataFrame, m: int) -> pl.DataFrame:
    """Counts of every ordered run of ``m`` actions inside one session (columns a0..a{m-1}, n{m}).

    ``ev`` is sorted by session then time, so a run is valid when the event ``m − 1``
    ahead still belongs to the same session.
    """
    cols = [pl.col("code").shift(-i).alias(f"a{i}") for i in range(m)]
    same = pl.col("kid").shift(-(m - 1)) == pl.col("kid")
    runs = ev.select(*cols, same.fill_null(False).alias("ok")).filter(pl.col("ok"))
    return runs.group_by([f"a{i}" for i in range(m)]).agg(pl.len().alias(f"n{m}"))


def recurring_sequence(ctx: PatternContext, *, length: int = 3, min_support: int = 5, min_lift: float = 3.0,
                       min_excess: float = 5.0, max_results: int = 20) -> list[Pattern]:
    """Recurring sequences: ordered runs of ``length`` (3, at least 2) actions inside one
    session (``session_id``, else ``operation_id``) that recur in >= ``min_support`` (5)
    sessions of the window and are >= ``min_lift`` (3) times more frequent than chance.
    Chance for a run of 3+ is what its two shorter runs predict (the run without its
    last action followed by that action as often as it usually follows its
    predecessor, and the same from the front), so a strong pair (``content.add`` →
    ``files.write``) with random neighbours is not reported again for each neighbour;
    for a pair it is the product of the actions' frequencies. Many runs are tested, so
    the excess must also be clear of chance: (n − expected) / sqrt(expected + 1) >=
    ``min_excess`` (5, a Poisson-style bound). Runs of one repeated
    action are left to the rate detectors. At most ``max_results``, most sessions first."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 2:
        raise ValueError("length must be an integer >= 2")
    base = ctx.rows(pl.col("timestamp") >= ctx.window_start,
                    pl.coalesce("session_id", "operation_id").hash().alias("kid"), "user_id", "event_id", "timestamp",
                    pl.coalesce("session_id", "operation_id").is_null().alias("no_key"), "action")
    # Only sessions long enough to hold a sequence; action frequencies are measured there too.
    base = base.filter(~pl.col("no_key") & (pl.len().over("kid") >= length)).drop("no_key")
    if base.height < length:
        return []
    # Sorted by session, then time: shifting walks along a session (a session id hash is the key).
    # Only keys and actions are sorted; user and event ids are looked up (``orow``) for the runs reported.
    ev = base.select("kid", "timestamp", "action", pl.int_range(pl.len(), dtype=pl.UInt32).alias("orow"))
    # A stable sort by session keeps time order within it when rows already come in time order.
    ev = ev.sort("kid", maintain_order=True) if ev.get_column("timestamp").is_sorted() \
        else ev.sort("kid", "timestamp", maintain_order=True)
    ev = ev.with_columns(pl.col("action").cast(pl.Categorical).to_physical().cast(pl.UInt64).alias("code"),
                         pl.int_range(pl.len()).alias("row"))
    k = int(ev.get_column("code").max()) + 1
    steps = [pl.col("code").shift(-i).alias(f"a{i}") for i in range(length)]
    same = (pl.col("kid").shift(-(length - 1)) == pl.col("kid")).fill_null(False)
    grams = ev.select("kid", "row", "timestamp", *steps, same.alias("ok")).filter(pl.col("ok"))
    if grams.is_empty():
        return []
    code = pl.lit(0, dtype=pl.UInt64)
    for i in range(length):
        code = code * k + pl.col(f"a{i}")
    varied = pl.lit(False)
    for i in range(1, length):
        varied = varied | (pl.col(f"a{i}") != pl.col("a0"))
    grams = grams.with_columns(code.alias("gram")).filter(varied)
    stats = grams.group_by("gram").agg(
        pl.len().alias("n"), pl.col("kid").n_unique().alias("support"),
        *[pl.col(f"a{i}").first() for i in range(length)],
    ).filter(pl.col("support") >= min_support)
    if stats.is_empty():
        return []
    stats = stats.with_columns(_expected(ev, stats, length).alias("expected"))
    excess = (pl.col("n") - pl.col("expected")) / (pl.col("expected") + 1).sqrt()
    stats = stats.with_columns((pl.col("n") / pl.col("expected")).alias("lift"), excess.alias("excess")).filter(
        (pl.col("lift") >= min_lift) & (pl.col("excess") >= min_excess)).sort(
        ["support", "lift", "gram"], descending=[True, True, False]).head(max_results)
    # Evidence and users only for the runs that made it.
    per_occ = max(1, ctx.max_evidence // length)
    chosen = grams.filter(pl.col("gram").is_in(stats.get_column("gram").implode()))
    chosen = chosen.with_columns(_by_row(base, ev, "user_id", chosen.get_column("row")))
    detail = chosen.group_by("gram").agg(
        pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last"),
        pl.col("user_id").unique().alias("users"),
        pl.col("row").head(per_occ).alias("rows"))
    stats = stats.join(detail, on="gram", how="left").sort(["support", "lift", "first", "gram"],
                                                           descending=[True, True, False, False])
    names = dict(ev.select("code", "action").unique("code").iter_rows())
    out = []
    for g in stats.iter_rows(named=True):
        seq = [names[g[f"a{i}"]] for i in range(length)]
        rows = pl.Series([r + i for r in g["rows"] for i in range(length)], dtype=pl.Int64)
        evidence = _by_row(base, ev, "event_id", rows).to_list()[: ctx.max_evidence]
        out.append(Pattern(
            "recurring_sequence",
            f"{' → '.join(seq)} recurs in {g['support']} sessions ({g['lift']:.1f}× more than chance)",
            g["n"], g["first"], g["last"],
            confidence_from_ratio(min(g["lift"] / min_lift, g["support"] / min_support)), _users(g["users"]),
            evidence, {"sequence": seq, "sessions": g["support"], "lift": round(g["lift"], 2)},
        ))
    return out


def _by_row(base: pl.DataFrame, ev: pl.DataFrame, column: str, rows: pl.Series) -> pl.Series:
    """``column`` of ``base`` at these rows of ``ev`` (``base`` sorted by session)."""
    return base.get_column(column).gather(ev.get_column("orow").gather(rows))


def _expected(ev: pl.DataFrame, stats: pl.DataFrame, length: int) -> pl.Series:
    """How often each run in ``stats`` would occur by chance (see recurring_sequence)."""
    last = length - 1
    pairs = _gram_counts(ev, 2)
    if length == 2:
        uni = ev.group_by("code").len()
        total = float(pairs.get_column("n2").sum())
        out = stats.select("a0", "a1")
        for i in (0, 1):
            out = out.join(uni.select(pl.col("code").alias(f"a{i}"), (pl.col("len") / ev.height).alias(f"p{i}")),
                           on=f"a{i}", how="left")
        return out.select(total * pl.col("p0") * pl.col("p1")).to_series()
    shorter = _gram_counts(ev, length - 1)
    follows = pairs.group_by("a0").agg(pl.col("n2").sum().alias("out"))
    precedes = pairs.group_by("a1").agg(pl.col("n2").sum().alias("in"))
    prefix = shorter.rename({f"n{length - 1}": "n_prefix"})
    suffix = shorter.rename({f"a{i}": f"a{i + 1}" for i in range(length - 1)}).rename(
        {f"n{length - 1}": "n_suffix"})
    out = (stats.select([f"a{i}" for i in range(length)])
           .join(prefix, on=[f"a{i}" for i in range(length - 1)], how="left")
           .join(suffix, on=[f"a{i}" for i in range(1, length)], how="left")
           .join(pairs.rename({"a0": f"a{last - 1}", "a1": f"a{last}", "n2": "n_tail"}),
                 on=[f"a{last - 1}", f"a{last}"], how="left")
           .join(pairs.rename({"n2": "n_head"}), on=["a0", "a1"], how="left")
           .join(follows.rename({"a0": f"a{last - 1}"}), on=f"a{last - 1}", how="left")
           .join(precedes, on="a1", how="left"))
    forward = pl.col("n_prefix") * pl.col("n_tail") / pl.col("out")
    backward = pl.col("n_suffix") * pl.col("n_head") / pl.col("in")
    return out.select(pl.max_horizontal(forward, backward)).to_series()


def dormant_reactivation(ctx: PatternContext, *, dormant_days: float = 14, follow_seconds: float = DAY,
                         max_lookups: int = 200) -> list[Pattern]:
    """Dormant account reactivation: a user successfully active again after >=
    ``dormant_days`` (14) days without any successful event of theirs (failed logins
    by someone guessing at the account do not count as activity). Users whose previous activity is older than the loaded
    history are looked up in the log (at most ``max_lookups``; none when the loaded history is the whole log).
    Evidence: the reactivating event and the user's events in the ``follow_seconds`` (1 day) after it."""
    # Only what the account itself did counts: failed logins by others do not end dormancy.
    ev = ctx.rows(is_present("user_id") & (pl.col("status") == "success"),
                  "user_id", "timestamp", "event_id", pl.col("timestamp").diff().over("user_id").alias("gap"))
    gap = dormant_days * DAY
    wake = ev.filter((pl.col("timestamp") >= ctx.window_start) & (pl.col("gap") >= gap)).select(
        "user_id", "timestamp", "gap")
    # A user's first loaded event inside the window: the log may know an older one.
    fresh = ev.filter(pl.col("gap").is_null() & (pl.col("timestamp") >= ctx.window_start)).head(max_lookups)
    if ctx.source is not None and not ctx.history_complete and not fresh.is_empty():
        found = []
        for user, ts in fresh.select("user_id", "timestamp").iter_rows():
            before = ctx.source.query_events(user_id=user, status="success", end_time=ts - 1e-6, limit=1,
                                             order="desc")
            if before and ts - before[0].timestamp >= gap:
                found.append((user, ts, ts - before[0].timestamp))
        if found:
            wake = pl.concat([wake, pl.DataFrame(found, schema=wake.schema, orient="row")])
    if wake.is_empty():
        return []
    wake = wake.rename({"timestamp": "wake_ts"})
    follow = ev.join(wake, on="user_id").filter(
        pl.col("timestamp").is_between(pl.col("wake_ts"), pl.col("wake_ts") + follow_seconds))
    groups = follow.group_by("user_id", "wake_ts").agg(
        pl.len().alias("n"), pl.col("timestamp").max().alias("last"), pl.col("gap_right").first().alias("gap"),
        pl.col("event_id").head(ctx.max_evidence).alias("ids"))
    return [
        Pattern(
            "dormant_reactivation",
            f"{g['user_id']} active again after {g['gap'] / DAY:.1f} days without activity ({g['n']} events)",
            g["n"], g["wake_ts"], g["last"], confidence_from_ratio(g["gap"] / gap), [g["user_id"]], g["ids"],
            {"dormant_days": round(g["gap"] / DAY, 2)},
        )
        for g in groups.iter_rows(named=True)
    ]


DETECTORS: dict[str, Callable[..., list[Pattern]]] = {
    "brute_force": brute_force,
    "password_spraying": password_spraying,
    "failure_then_success": failure_then_success,
    "off_hours_access": off_hours_access,
    "new_source_ip": new_source_ip,
    "privilege_escalation": privilege_escalation,
    "mass_deletion": mass_deletion,
    "bulk_data_read": bulk_data_read,
    "permission_denials": permission_denials,
    "high_frequency": high_frequency,
    "recurring_sequence": recurring_sequence,
    "dormant_reactivation": dormant_reactivation,
}
PATTERN_TYPES = tuple(DETECTORS)

# History loaded before the window for the baselines (dormancy, habits, usual volumes), in days.
HISTORY_DAYS = 30
