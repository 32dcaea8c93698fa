"""The replication policy (``Settings.replication``): its defaults, its effective values, its changes.

Keys: ``targets`` (backends new pins are copied to, in order of preference),
``replicas`` (copies in all, the local one included; default: one per
target plus the local one), ``read_order`` (backends missing blocks are read
from; default: every backend in config order), ``sync_interval_seconds`` (the
server's background sync), retry and circuit-breaker knobs, ``concurrency``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from ..config import Settings
from ..errors import InvalidInput

DEFAULTS: dict[str, Any] = {
    "retry_base_seconds": 1.0, "retry_max_seconds": 300.0, "circuit_threshold": 5,
    "circuit_cooldown_seconds": 30.0, "concurrency": 4, "sync_interval_seconds": 60.0,
}
_LISTS = ("targets", "read_order")
_NUMBERS = {"replicas": int, **{k: type(v) for k, v in DEFAULTS.items()}}
# Largest accepted value per setting: finite, sane, and printable as JSON.
_YEAR = 366 * 86400.0
MAXIMA: dict[str, float] = {
    "replicas": 10, "retry_base_seconds": _YEAR, "retry_max_seconds": _YEAR, "circuit_threshold": 1_000_000,
    "circuit_cooldown_seconds": _YEAR, "concurrency": 1024, "sync_interval_seconds": _YEAR,
}
log = logging.getLogger(__name__)
_warned: set[tuple[str, str]] = set()


def check_number(key: str, value: Any) -> int | float:
    """``value`` as the setting's type if finite, > 0 and at most its maximum; else InvalidInput."""
    kind = _NUMBERS[key]
    if isinstance(value, bool):
        value = None
    try:
        number = float(value) if kind is float else _integer(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    limit = MAXIMA[key]
    if not (math.isfinite(number) and 0 < number <= limit):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        what = "an integer" if kind is int else "a number"
        unit = " seconds (366 days)" if key.endswith("_seconds") else ""
        raise InvalidInput(f"{key} must be {what} > 0 and at most {limit:,.0f}{unit}, not {shown}")
    return number


def _integer(value: Any) -> int:
    if isinstance(value, str):
        return int(value.strip())
    if isinstance(value, float):
        if not value.is_integer():  # 2.5 replicas: say so instead of rounding
            raise ValueError(value)
        return int(value)
    if isinstance(value, int):
        return value
    raise TypeError(value)


def effective(settings: Settings) -> dict[str, Any]:
    """Every policy value, defaults filled in; backend lists keep only configured backends."""
    configured = settings.backends
    policy = {**DEFAULTS, **_valid_numbers(settings.replication)}
    policy["targets"] = [t for t in policy.get("targets", []) if t in configured]
    policy["read_order"] = [n for n in (policy.get("read_order") or list(configured)) if n in configured]
    policy.setdefault("replicas", len(policy["targets"]) + 1)
    return policy


def changed(settings: Settings, changes: dict[str, Any]) -> dict[str, Any]:
    """``Settings.replication`` with ``changes`` applied and validated (lists may be "a,b" strings)."""
    unknown = sorted(set(changes) - set(_LISTS) - set(_NUMBERS))
    if unknown:
        raise InvalidInput(f"unknown policy setting(s) {', '.join(unknown)}; "
                           f"settings: {', '.join((*_LISTS, *_NUMBERS))}")
    policy = dict(settings.replication)
    for key, value in changes.items():
        if key in _LISTS:
            names = [n for n in (value.split(",") if isinstance(value, str) else value) if n]
            missing = [n for n in names if n not in settings.backends]
            if missing:
                raise InvalidInput(f"{key}: no backend named {', '.join(missing)} "
                                   f"(configured: {', '.join(settings.backends) or 'none'})")
            policy[key] = names
            continue
        policy[key] = check_number(key, value)
    # A damaged value already in config.json (NaN, a string, ...) is dropped: the default applies.
    return {k: v for k, v in policy.items() if k not in _NUMBERS or k in changes or _usable(k, v)}


def _usable(key: str, value: Any) -> bool:
    try:
        check_number(key, value)
    except InvalidInput:
        return False
    return True


def _valid_numbers(replication: dict[str, Any]) -> dict[str, Any]:
    """``replication`` with numeric settings that are not valid (NaN, inf, <= 0, text) left out.

    config.json may have been edited by hand or written by an older version:
    a bad value falls back to the default (with a warning, once per value)
    instead of producing invalid JSON output or breaking replication.
    """
    out = {}
    for key, value in replication.items():
        if key in _NUMBERS:
            try:
                value = check_number(key, value)
            except InvalidInput as exc:
                if (key, repr(value)) not in _warned:
                    _warned.add((key, repr(value)))
                    log.warning("config.json replication.%s is not valid (%s); using %r",
                                key, exc, DEFAULTS.get(key, "the default"))
                continue
        out[key] = value
    return out


def without_backend(settings: Settings, name: str) -> dict[str, Any]:
    """``Settings.replication`` once backend ``name`` is gone (empty when no target is left)."""
    policy = dict(settings.replication)
    for key in _LISTS:
        if key in policy:
            policy[key] = [t for t in policy[key] if t != name]
    return policy if policy.get("targets") else {}
