"""Compliance scoring: the audit log measured against a policy.

A policy is a JSON or YAML document (schema: ``policies/policy_schema.json``;
examples: ``policies/baseline.yaml``, ``policies/strict.json``)::

    name: baseline
    user_roles: {alice: admin}           # roles for allowed_hours / except_roles
    rules:
      require_mfa:        {field: details.mfa, accepted_values: [true], actions: [auth.login]}
      max_failed_logins:  {count: 5, window_seconds: 300, per: user_id}
      forbidden_actions:  {actions: [content.gc, "backend.*"], except_roles: [admin]}
      allowed_hours:      {default: {start: 7, end: 19, days: [mon, tue, wed, thu, fri]},
                           roles: {admin: {start: 0, end: 24}}}
      allowed_networks:   {networks: [10.0.0.0/8], allow_local: true}
      require_tls:        {field: details.tls, accepted_values: [true], actions: [auth.login]}
      max_bulk_read_bytes: {bytes: 1073741824, window_seconds: 86400}
      retention_days:     {min_days: 90, max_days: 400}
      audit_integrity:    true

Every rule takes ``enabled`` (default true) and ``weight`` (default 1). Each
rule counts what it checked and what violated it, in its own unit, and scores
``100 × (1 − violations / checked)`` (100 when nothing applied: status
``not_applicable``):

===================  ==============================  =================================================
rule                 unit checked                    violation
===================  ==============================  =================================================
require_mfa          successful logins               the details field is missing or not accepted
max_failed_logins    accounts (or sources) seen      more than ``count`` failures within ``window_seconds``
forbidden_actions    active users                    a user ran a matching action (globs like ``backend.*``)
allowed_hours        active user-days                activity outside the user's / role's / default hours
allowed_networks     (user, address) pairs           an address outside every listed network
require_tls          matching remote events          the details field is missing or not accepted
max_bulk_read_bytes  user-windows with reads         bytes read in one window above ``bytes``
retention_days       the log (+ each prune)          a prune cut events younger than ``min_days``, or
                                                     events older than ``max_days`` are still kept
audit_integrity      the log                         the hash chain does not verify
===================  ==============================  =================================================

Hours are UTC, ``end`` exclusive; ``start > end`` wraps past midnight.
The overall score is the weight-averaged score of the applicable rules.
A bad policy raises ``InvalidInput`` naming the field (``rules.max_failed_logins.count``).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import InvalidInput
from .frame import DAY, READ_ACTIONS, burst_flag, is_present, remote_source, with_episodes
from .results import ComplianceScore, RuleScore, Violation

RULES = ("require_mfa", "max_failed_logins", "forbidden_actions", "allowed_hours", "allowed_networks",
         "require_tls", "max_bulk_read_bytes", "retention_days", "audit_integrity")
SHIPPED_POLICIES = ("baseline", "strict")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MAX_EVIDENCE = 100


# ---- loading and validating --------------------------------------------------------

def _schema() -> dict:
    return json.loads(resources.files(__package__).joinpath("policies/policy_schema.json").read_text("utf-8"))


def load_policy(policy: Any) -> dict[str, Any]:
    """A validated policy from a dict, a JSON/YAML file path, or a shipped name (``baseline``, ``strict``)."""
    if isinstance(policy, str | Path) and str(policy) in SHIPPED_POLICIES:
        name = str(policy)
        suffix = "yaml" if name == "baseline" else "json"
        text = resources.files(__package__).joinpath(f"policies/{name}.{suffix}").read_text("utf-8")
        policy = _parse(text, f"{name}.{suffix}", suffix)
    elif isinstance(policy, str | Path):
        path = Path(policy)
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            raise InvalidInput(f"policy file not found: {path} (or use a shipped policy: "
                               f"{', '.join(SHIPPED_POLICIES)})") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read policy file {path}: {exc}") from None
        policy = _parse(text, str(path), "yaml" if path.suffix.lower() in (".yaml", ".yml") else "json")
    if not isinstance(policy, dict):
        raise InvalidInput(f"a policy must be a mapping with a 'rules' field, not {type(policy).__name__}")
    if "rules" not in policy and policy and set(policy) <= set(RULES):
        policy = {"rules": policy}  # a bare mapping of rules
    validate_policy(policy)
    return policy


def _parse(text: str, where: str, kind: str) -> Any:
    try:
        if kind == "yaml":
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except Exception as exc:  # yaml.YAMLError / json.JSONDecodeError, both with positions
        first = " ".join(str(exc).split())
        raise InvalidInput(f"policy file {where} is not valid {kind.upper()}: {first}") from None


def validate_policy(policy: dict[str, Any]) -> None:
    """Raise ``InvalidInput`` naming the first bad field (JSON Schema, then meaning)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(policy), key=lambda e: (len(e.absolute_path), list(map(str, e.path))))
    if errors:
        err = errors[0]
        if err.validator == "oneOf" and err.context:  # audit_integrity: report the object branch's error
            err = sorted(err.context, key=lambda e: -len(e.absolute_path))[0]
        where = _path(err.absolute_path) or "(top level)"
        raise InvalidInput(f"invalid policy field {where}: {err.message}")
    rules = policy["rules"]
    for i, net in enumerate(rules.get("allowed_networks", {}).get("networks", [])):
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            raise InvalidInput(f"invalid policy field rules.allowed_networks.networks[{i}]: "
                               f"{net!r} is not a network like 10.0.0.0/8") from None
    retention = rules.get("retention_days", {})
    if isinstance(retention, dict) and "min_days" in retention and "max_days" in retention \
            and retention["min_days"] > retention["max_days"]:
        raise InvalidInput("invalid policy field rules.retention_days.min_days: larger than max_days")


def _path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _rule_config(policy: dict, name: str) -> dict | None:
    cfg = policy["rules"].get(name)
    if cfg is None or cfg is False:
        return None
    cfg = {} if cfg is True else dict(cfg)
    return cfg if cfg.get("enabled", True) else None


# ---- scoring -------------------------------------------------------------------------

def score(df: pl.DataFrame, policy: dict[str, Any], start: float, end: float, source: Any = None) -> ComplianceScore:
    """Score the events of ``[start, end]`` (``df``) against a validated policy."""
    roles = policy.get("user_roles", {})
    results: list[RuleScore] = []
    violations: list[Violation] = []
    for name in RULES:
        cfg = _rule_config(policy, name)
        if cfg is None:
            continue
        checked, found, describe = _CHECKS[name](df, cfg, roles, source, end)
        count = sum(v.count for v in found) if name in _EVENT_COUNTED else len(found)
        count = min(count, checked) if checked else count
        if checked == 0:
            status, value = "not_applicable", 100.0
        else:
            value = round(100.0 * (1 - count / checked), 2)
            status = "pass" if not found else "fail"
        results.append(RuleScore(name, value, float(cfg.get("weight", 1)), checked, count, status, describe))
        violations += found
    applicable = [r for r in results if r.status != "not_applicable" and r.weight > 0]
    total_weight = sum(r.weight for r in applicable)
    overall = round(sum(r.score * r.weight for r in applicable) / total_weight, 2) if total_weight else 100.0
    violations.sort(key=lambda v: (_SEVERITY_ORDER[v.severity], -(v.count or 0)))
    return ComplianceScore(policy.get("name", "policy"), overall, _grade(overall), start, end, results, violations,
                           _recommendations(results, violations))


_EVENT_COUNTED = {"require_mfa", "require_tls"}
_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


def _grade(value: float) -> str:
    for limit, grade in ((90, "A"), (80, "B"), (70, "C"), (60, "D")):
        if value >= limit:
            return grade
    return "F"


def _detail(field: str) -> pl.Expr:
    return pl.col("details").str.json_path_match("$." + field.split(".", 1)[1])


def _accepted(values: list) -> list[str]:
    # json_path_match yields JSON scalars as text: true -> "true", "https" -> "https", 1 -> "1".
    return [v if isinstance(v, str) else json.dumps(v) for v in values]


def _field_rule(df, cfg, default_types, default_actions, remote_only) -> pl.DataFrame:
    cond = pl.col("status") == "success"
    types = cfg.get("event_types", default_types)
    if types:
        cond &= pl.col("event_type").is_in(types)
    actions = cfg.get("actions", default_actions)
    if actions:
        cond &= pl.col("action").is_in(actions)
    if remote_only:
        cond &= remote_source()
    applicable = df.filter(cond)
    value = _detail(cfg.get("field", "details.mfa"))
    return applicable.with_columns(value.is_in(_accepted(cfg.get("accepted_values", [True]))).fill_null(False)
                                   .alias("ok"))


def _per_user(bad: pl.DataFrame, rule: str, severity: str, text) -> list[Violation]:
    groups = bad.group_by(pl.col("user_id").fill_null("(unknown)")).agg(
        pl.len().alias("n"), pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last"),
        pl.col("event_id").head(_MAX_EVIDENCE).alias("ids")).sort("n", descending=True)
    return [Violation(rule, text(g), severity, g["n"], g["ids"], g["user_id"], g["first"], g["last"])
            for g in groups.iter_rows(named=True)]


def _require_mfa(df, cfg, roles, source, end):
    ev = _field_rule(df, {"field": "details.mfa", **cfg}, ["authentication"], None, remote_only=False)
    bad = ev.filter(~pl.col("ok"))
    field = cfg.get("field", "details.mfa")
    return ev.height, _per_user(bad, "require_mfa", "high",
                                lambda g: f"{g['user_id']} logged in {g['n']} time(s) without {field}"), \
        f"successful logins must carry {field} in {cfg.get('accepted_values', [True])}"


def _require_tls(df, cfg, roles, source, end):
    exempt = cfg.get("exempt_local", True)
    ev = _field_rule(df, {"field": "details.tls", **cfg}, None, None, remote_only=exempt)
    bad = ev.filter(~pl.col("ok"))
    field = cfg.get("field", "details.tls")
    return ev.height, _per_user(bad, "require_tls", "high",
                                lambda g: f"{g['n']} event(s) of {g['user_id']} arrived without {field}"), \
        f"{'remote ' if exempt else ''}events{' ' + ','.join(cfg['actions']) if 'actions' in cfg else ''} " \
        f"must carry {field} in {cfg.get('accepted_values', [True])}"


def _max_failed_logins(df, cfg, roles, source, end):
    per, limit = cfg.get("per", "user_id"), cfg["count"]
    window = cfg.get("window_seconds", 300)
    auth = df.filter((pl.col("event_type") == "authentication") & is_present(per))
    checked = auth.get_column(per).n_unique() if auth.height else 0
    fails = auth.filter(pl.col("status") == "failure")
    found: list[Violation] = []
    if fails.height:
        fails = with_episodes(fails, per, window).with_columns(
            burst_flag(per, limit + 1, window).fill_null(False).alias("hit"))
        groups = fails.group_by(per, "episode").agg(
            pl.len().alias("n"), pl.col("hit").any().alias("hit"), pl.col("timestamp").min().alias("first"),
            pl.col("timestamp").max().alias("last"), pl.col("user_id").first().alias("user"),
            pl.col("event_id").head(_MAX_EVIDENCE).alias("ids")).filter(pl.col("hit"))
        # One violation per account (or source), with its worst burst.
        best = groups.sort("n", descending=True).unique(per, keep="first", maintain_order=True)
        for g in best.iter_rows(named=True):
            found.append(Violation("max_failed_logins",
                                   f"{g[per]}: {g['n']} failed logins within {g['last'] - g['first']:.0f}s "
                                   f"(limit {limit} per {window:.0f}s)", "high", g["n"], g["ids"],
                                   g["user"], g["first"], g["last"]))
    return checked, found, f"at most {limit} failed logins per {per} within {window:.0f}s"


def _glob_regex(patterns: list[str]) -> str:
    return "|".join(f"(?:{fnmatch.translate(p)})" for p in patterns)


def _role_expr(roles: dict[str, str]) -> pl.Expr:
    return pl.col("user_id").replace_strict(roles, default="default", return_dtype=pl.Utf8) if roles \
        else pl.lit("default")


def _forbidden_actions(df, cfg, roles, source, end):
    users = df.filter(is_present("user_id"))
    checked = users.get_column("user_id").n_unique() if users.height else 0
    names = users.get_column("action").unique().to_list()
    regex = _glob_regex(cfg["actions"])
    import re

    matching = [n for n in names if re.match(regex, n)]
    cond = pl.col("action").is_in(matching)
    if not cfg.get("include_attempts", False):
        cond &= pl.col("status") == "success"
    if cfg.get("except_users"):
        cond &= ~pl.col("user_id").is_in(cfg["except_users"])
    if cfg.get("except_roles"):
        cond &= ~_role_expr(roles).is_in(cfg["except_roles"])
    bad = users.filter(cond)
    found = []
    groups = bad.group_by("user_id").agg(
        pl.len().alias("n"), pl.col("action").unique().sort().alias("actions"),
        pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last"),
        pl.col("event_id").head(_MAX_EVIDENCE).alias("ids")).sort("n", descending=True)
    for g in groups.iter_rows(named=True):
        found.append(Violation("forbidden_actions", f"{g['user_id']} ran forbidden {', '.join(g['actions'])} "
                               f"({g['n']} time(s))", "critical", g["n"], g["ids"], g["user_id"], g["first"],
                               g["last"]))
    return checked, found, f"nobody{' outside ' + ', '.join(cfg['except_roles']) if cfg.get('except_roles') else ''}" \
        f" may run {', '.join(cfg['actions'])}"


def _allowed_hours(df, cfg, roles, source, end):
    users = df.filter(is_present("user_id") & (pl.col("status") == "success"))
    if users.is_empty():
        return 0, [], "activity only in allowed hours"
    # Resolve each user's window: the user's own, else their role's, else the default.
    names = users.get_column("user_id").unique().to_list()
    rows = []
    for user in names:
        hours = cfg.get("users", {}).get(user) or cfg.get("roles", {}).get(roles.get(user, "default")) \
            or cfg.get("default")
        if hours is None:
            continue
        days = hours.get("days", list(_WEEKDAYS))
        rows.append((user, hours["start"], hours["end"], [_WEEKDAYS.index(d) for d in days]))
    checked = users.select("user_id", "day").unique().height
    if not rows:
        return checked, [], "activity only in allowed hours"
    windows = pl.DataFrame(rows, schema={"user_id": pl.Utf8, "start": pl.Int32, "end": pl.Int32,
                                         "days": pl.List(pl.Int32)}, orient="row")
    ev = users.join(windows, on="user_id").with_columns(((pl.col("day") + 3) % 7).cast(pl.Int32).alias("weekday"))
    in_hours = pl.when(pl.col("start") < pl.col("end")).then(
        (pl.col("hour") >= pl.col("start")) & (pl.col("hour") < pl.col("end"))).otherwise(
        (pl.col("hour") >= pl.col("start")) | (pl.col("hour") < pl.col("end")))
    on_day = pl.col("days").list.contains(pl.col("weekday"))
    bad = ev.filter(~(in_hours & on_day))
    groups = bad.group_by("user_id", "day").agg(
        pl.len().alias("n"), pl.col("hour").unique().sort().alias("hours"), pl.col("start").first(),
        pl.col("end").first(), pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last"),
        pl.col("event_id").head(_MAX_EVIDENCE).alias("ids")).sort("first")
    found = [Violation("allowed_hours", f"{g['user_id']} active at {', '.join(f'{h:02d}h' for h in g['hours'])} UTC "
                       f"(allowed {g['start']:02d}-{g['end']:02d}h)", "medium", g["n"], g["ids"], g["user_id"],
                       g["first"], g["last"]) for g in groups.iter_rows(named=True)]
    return checked, found, "activity only in the allowed hours of each user's role (UTC)"


def _allowed_networks(df, cfg, roles, source, end):
    networks = [ipaddress.ip_network(n, strict=False) for n in cfg["networks"]]
    cond = is_present("source_ip")
    if cfg.get("allow_local", True):
        cond &= remote_source()
    ev = df.filter(cond)
    pairs = ev.select(pl.col("user_id").fill_null("(unknown)"), "source_ip").unique()
    outside = []
    for ip in ev.get_column("source_ip").unique().to_list():  # distinct addresses, not events
        try:
            addr = ipaddress.ip_address(ip)
            if not any(addr in net for net in networks):
                outside.append(ip)
        except ValueError:
            outside.append(ip)  # not an address at all: cannot be inside a network
    bad = ev.filter(pl.col("source_ip").is_in(outside))
    groups = bad.group_by(pl.col("user_id").fill_null("(unknown)"), "source_ip").agg(
        pl.len().alias("n"), pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last"),
        pl.col("event_id").head(_MAX_EVIDENCE).alias("ids")).sort("n", descending=True)
    found = [Violation("allowed_networks", f"{g['user_id']} from {g['source_ip']}, outside "
                       f"{', '.join(cfg['networks'])} ({g['n']} event(s))", "high", g["n"], g["ids"],
                       None if g["user_id"] == "(unknown)" else g["user_id"], g["first"], g["last"])
             for g in groups.iter_rows(named=True)]
    return pairs.height, found, f"source addresses only in {', '.join(cfg['networks'])}"


def _max_bulk_read_bytes(df, cfg, roles, source, end):
    limit, window = cfg["bytes"], cfg.get("window_seconds", DAY)
    names = df.get_column("action").unique().drop_nulls()
    reads = df.filter(pl.col("action").is_in(names.filter(names.str.contains(READ_ACTIONS)).implode())
                      & (pl.col("status") == "success") & is_present("user_id") & pl.col("bytes").is_not_null())
    groups = reads.group_by("user_id", (pl.col("timestamp") // window).alias("w")).agg(
        pl.col("bytes").sum().alias("total"), pl.len().alias("n"), pl.col("timestamp").min().alias("first"),
        pl.col("timestamp").max().alias("last"),
        pl.col("event_id").sort_by("bytes", descending=True).head(_MAX_EVIDENCE).alias("ids"))
    bad = groups.filter(pl.col("total") > limit).sort("total", descending=True)
    found = [Violation("max_bulk_read_bytes", f"{g['user_id']} read {g['total']:,} bytes in {window:.0f}s "
                       f"(limit {limit:,})", "high", g["n"], g["ids"], g["user_id"], g["first"], g["last"])
             for g in bad.iter_rows(named=True)]
    return groups.height, found, f"at most {limit:,} bytes read per user per {window:.0f}s"


def _retention_days(df, cfg, roles, source, end):
    found: list[Violation] = []
    checked = 1
    if "min_days" in cfg:
        min_age = cfg["min_days"] * DAY
        if source is not None:
            prunes = source.query_events(action="audit.prune", limit=None, order="asc")
            prune_rows = [(e.event_id, e.timestamp, (e.details or {}).get("before"), e.user_id) for e in prunes]
        else:
            p = df.filter(pl.col("action") == "audit.prune")
            prune_rows = [(r[0], r[1], json.loads(r[2] or "{}").get("before"), r[3])
                          for r in p.select("event_id", "timestamp", "details", "user_id").iter_rows()]
        checked += len(prune_rows)
        for event_id, ts, before, user in prune_rows:
            if isinstance(before, int | float) and before > ts - min_age:
                found.append(Violation(
                    "retention_days", f"{user or 'someone'} pruned events up to {(ts - before) / DAY:.1f} days old "
                    f"(must keep {cfg['min_days']} days)", "critical", 1, [event_id], user, ts, ts))
    if "max_days" in cfg and source is not None:
        cutoff = end - cfg["max_days"] * DAY
        stale = source.count(end_time=cutoff)
        if stale:
            oldest = source.query_events(end_time=cutoff, limit=_MAX_EVIDENCE, order="asc")
            found.append(Violation(
                "retention_days", f"{stale} event(s) older than {cfg['max_days']} days are still kept; "
                f"prune them (ipfs-kit audit prune --before {cfg['max_days']:g}d)", "medium", stale,
                [e.event_id for e in oldest], None, oldest[0].timestamp if oldest else None,
                oldest[-1].timestamp if oldest else None))
    limits = [f"keep >= {cfg['min_days']} days" if "min_days" in cfg else "",
              f"keep <= {cfg['max_days']} days" if "max_days" in cfg else ""]
    return checked, found, "; ".join(x for x in limits if x)


def _audit_integrity(df, cfg, roles, source, end):
    if source is None or not callable(getattr(source, "verify", None)):
        return 0, [], "the audit hash chain verifies (no chain to check in this source)"
    result = source.verify()
    if result.ok:
        return 1, [], "the audit hash chain verifies"
    bad_id = getattr(result, "first_bad_event_id", None)
    reason = getattr(result, "reason", None) or "chain broken"
    return 1, [Violation("audit_integrity", f"audit chain broken at event {bad_id}: {reason}", "critical", 1,
                         [bad_id] if bad_id else [])], "the audit hash chain verifies"


_CHECKS = {
    "require_mfa": _require_mfa, "max_failed_logins": _max_failed_logins, "forbidden_actions": _forbidden_actions,
    "allowed_hours": _allowed_hours, "allowed_networks": _allowed_networks, "require_tls": _require_tls,
    "max_bulk_read_bytes": _max_bulk_read_bytes, "retention_days": _retention_days,
    "audit_integrity": _audit_integrity,
}

_ADVICE = {
    "require_mfa": "Enforce a second factor for {users}: {n} login(s) had no proof of one.",
    "max_failed_logins": "Lock out or rate-limit after repeated failures; worst offenders: {users}.",
    "forbidden_actions": "Revoke the rights behind forbidden actions for {users}, and review what they did.",
    "allowed_hours": "Confirm the out-of-hours activity of {users}, or widen their allowed hours.",
    "allowed_networks": "Block or investigate access from outside the allowed networks ({users}).",
    "require_tls": "Serve the API only over TLS; {n} event(s) arrived without it ({users}).",
    "max_bulk_read_bytes": "Investigate large reads by {users} (possible exfiltration); consider quotas.",
    "retention_days": "Fix the retention schedule: {first}",
    "audit_integrity": "The audit log was altered: restore from a verified export and investigate ({first}).",
}


def _recommendations(results: list[RuleScore], violations: list[Violation]) -> list[str]:
    out = []
    for rule in results:
        if rule.status != "fail":
            continue
        mine = [v for v in violations if v.rule == rule.rule]
        users = sorted({v.user for v in mine if v.user})
        shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "") or "unknown users"
        out.append(_ADVICE[rule.rule].format(users=shown, n=sum(v.count for v in mine),
                                             first=mine[0].description if mine else ""))
    return out
