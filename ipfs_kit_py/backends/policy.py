"""The replication policy (``Settings.replication``): its defaults, its effective values, its changes.

Keys: ``targets`` (backends new pins are copied to, in order of preference),
``replicas`` (copies in all, the local one included; default: one per
target plus the local one), ``read_order`` (backends missing blocks are read
from; default: every backend in config order), ``sync_interval_seconds`` (the
server's background sync), retry and circuit-breaker knobs, ``concurrency``.
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from ..errors import InvalidInput

DEFAULTS: dict[str, Any] = {
    "retry_base_seconds": 1.0, "retry_max_seconds": 300.0, "circuit_threshold": 5,
    "circuit_cooldown_seconds": 30.0, "concurrency": 4, "sync_interval_seconds": 60.0,
}
_LISTS = ("targets", "read_order")
_NUMBERS = {"replicas": int, **{k: type(v) for k, v in DEFAULTS.items()}}


def effective(settings: Settings) -> dict[str, Any]:
    """Every policy value, defaults filled in; backend lists keep only configured backends."""
    configured = settings.backends
    policy = {**DEFAULTS, **settings.replication}
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
        try:
            number = _NUMBERS[key](value)
        except (TypeError, ValueError):
            raise InvalidInput(f"{key} must be a number, not {value!r}") from None
        if number <= 0 or (key == "replicas" and number > 10):
            raise InvalidInput(f"{key} must be positive{' and at most 10' if key == 'replicas' else ''}")
        policy[key] = number
    return policy


def without_backend(settings: Settings, name: str) -> dict[str, Any]:
    """``Settings.replication`` once backend ``name`` is gone (empty when no target is left)."""
    policy = dict(settings.replication)
    for key in _LISTS:
        if key in policy:
            policy[key] = [t for t in policy[key] if t != name]
    return policy if policy.get("targets") else {}
