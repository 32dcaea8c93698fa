"""The one instrumentation point: every Kit operation is timed and audited here.

``@operation(...)`` wraps a Kit method. It checks the caller's role, times the
call, feeds the performance monitor and writes exactly one audit event with
the operation's resource, bytes, duration and outcome. Nested operations (a
``files write`` that adds content) share the outer ``operation_id`` and point
at their parent event through ``parent_id``. Methods add facts about their
work with ``note(resource=..., bytes=..., **details)``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from .audit.events import new_event_id
from .errors import IpfsKitError, PermissionDenied, Unauthenticated

ROLES = {"reader": 0, "writer": 1, "admin": 2}


@dataclass
class Operation:
    action: str
    event_id: str
    operation_id: str
    parent_id: str | None
    resource: str | None = None
    resource_type: str | None = None
    bytes: int | None = None
    backend: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    kit: Any = field(default=None, repr=False, compare=False)  # whose operation: children are recorded by it


_current: ContextVar[Operation | None] = ContextVar("ipfs_kit_operation", default=None)


def current_operation() -> Operation | None:
    return _current.get()


def set_current_operation(op: Operation | None, token=None):
    """Make ``op`` the running operation in this context (another thread's, say); reset with the token."""
    if token is not None:
        _current.reset(token)
        return None
    return _current.set(op)


def note(resource: Any = None, bytes: int | None = None, resource_type: str | None = None, **details: Any) -> None:
    """Record facts about the running operation for its audit event."""
    op = _current.get()
    if op is None:
        return
    if resource is not None:
        op.resource = str(resource)
    if resource_type is not None:
        op.resource_type = resource_type
    if bytes is not None:
        op.bytes = (op.bytes or 0) + int(bytes)
    op.details.update({k: v for k, v in details.items() if v is not None})


@contextmanager
def tracked(kit, action: str, event_type: str = "data", role: str = "reader",
            resource_type: str | None = "cid") -> Iterator[Operation]:
    """Run a block as one operation of ``kit``: role check, timing, one audit event.

    Interfaces that are not Kit methods (an MCP tool call, an HTTP request)
    use this directly, so nested Kit operations become its children.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role}")
    parent = _current.get()
    if parent is None:
        kit.services.current_settings()  # a config.json change applies from the next operation on
    event_id = new_event_id()
    op = Operation(
        action=action,
        event_id=event_id,
        operation_id=parent.operation_id if parent else event_id,
        parent_id=parent.event_id if parent else None,
        resource_type=resource_type,
        kit=kit,
    )
    token = _current.set(op)
    start = time.perf_counter()
    status, error = "success", None
    try:
        kit.check_role(role, action)
        yield op
    except (PermissionDenied, Unauthenticated) as exc:
        status, error = "denied", str(exc)
        raise
    except IpfsKitError as exc:
        status, error = "failure", str(exc)
        raise
    except BaseException as exc:
        status, error = "error", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        _current.reset(token)
        duration_ms = (time.perf_counter() - start) * 1000.0
        kit._record_operation(op, event_type, status, duration_ms, error)


def operation(action: str, event_type: str = "data", role: str = "reader", resource_type: str | None = "cid"):
    """Decorator for Kit methods: the method body runs inside ``tracked``."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role}")

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(kit, *args, **kwargs):
            with tracked(kit, action, event_type, role, resource_type):
                return fn(kit, *args, **kwargs)

        wrapper.audit_action = action
        wrapper.required_role = role
        return wrapper

    return decorate
