"""What every MCP tool module shares: registration, the caller's Kit, results, errors, progress.

A tool is a plain function. Its typed parameters are its input schema
(``Annotated[int, Field(ge=1, le=1000)]`` for bounds, ``Literal[...]`` for
enums, docstring and ``Field(description=...)`` for what an agent reads); its
return annotation ``Annotated[CallToolResult, SomeTypedDict]`` is its output
schema. The body calls ONE Kit or service method and returns
``structured(result)``, serialised by the same ``to_jsonable`` as the CLI's
``--json``, so both interfaces give the same data for the same operation.

The server's middleware (``unified_mcp_server``) resolves who is calling,
checks the tool's role and wraps the call in ``kit.track("mcp.<tool>")``;
inside, a tool reads that caller's Kit with ``caller()``, so every Kit method
it calls becomes a child event of the tool call's audit event.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from ...cli.common import to_jsonable
from ...errors import InvalidInput, IpfsKitError, PermissionDenied

logger = logging.getLogger("ipfs_kit_py.mcp")

T = TypeVar("T")

# Inline payloads (base64 or text) and read results are capped so one call
# cannot make the server hold or send an unbounded amount of memory.
MAX_INLINE_BYTES = 16 * 1024 * 1024
MAX_READ_BYTES = 8 * 1024 * 1024
DEFAULT_READ_BYTES = 1024 * 1024


# ---- the running call ------------------------------------------------------------
@dataclass
class CallState:
    """One tools/call as the middleware set it up for the tool body."""

    kit: Any
    tool: str
    denied: IpfsKitError | None = None  # the role check refused the call
    error: BaseException | None = None  # what the tool raised, for the audit status
    ran: bool = False  # the tool body started (so its arguments were valid)


_CALL: ContextVar[CallState | None] = ContextVar("ipfs_kit_mcp_call", default=None)


def begin_call(state: CallState):
    return _CALL.set(state)


def end_call(token) -> None:
    _CALL.reset(token)


def caller():
    """The Kit of whoever made the running tool call (set by the server middleware)."""
    state = _CALL.get()
    if state is None:
        raise RuntimeError("MCP tools run only inside the ipfs-kit MCP server")
    return state.kit


# ---- registration -------------------------------------------------------------------
@dataclass(frozen=True)
class ToolSpec:
    name: str
    fn: Callable[..., Any]
    role: str  # the least role that may call it (reader < writer < admin)
    title: str
    annotations: ToolAnnotations


def tool(*, title: str, role: str = "reader", read_only: bool = False, destructive: bool = False,
         idempotent: bool = False, open_world: bool = False, name: str | None = None):
    """Mark a function as an MCP tool (collected by ``specs_in(module)``).

    The hints follow the MCP spec: ``read_only`` tools change nothing;
    ``destructive`` tools may delete or overwrite; ``idempotent`` ones can be
    repeated with the same arguments to no further effect; ``open_world`` ones
    reach outside this home (remote backends).
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        tool_name = name or fn.__name__
        guarded = _guard(fn)
        guarded.mcp_spec = ToolSpec(
            name=tool_name,
            fn=guarded,
            role=role,
            title=title,
            annotations=ToolAnnotations(
                title=title,
                read_only_hint=read_only,
                destructive_hint=False if read_only else destructive,
                idempotent_hint=True if read_only else idempotent,
                open_world_hint=open_world,
            ),
        )
        return guarded

    return decorate


def specs_in(module) -> list[ToolSpec]:
    """The tools a module defines, in definition order."""
    return [obj.mcp_spec for obj in vars(module).values() if callable(obj) and hasattr(obj, "mcp_spec")]


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse denied calls, and turn every failure into a one-line tool error."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            state = _enter()
            try:
                return await fn(*args, **kwargs)
            except Exception as exc:
                raise _tool_error(state, exc) from exc

        return run_async

    @functools.wraps(fn)
    def run_sync(*args: Any, **kwargs: Any) -> Any:
        state = _enter()
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise _tool_error(state, exc) from exc

    return run_sync


def _enter() -> CallState:
    state = _CALL.get()
    if state is None:
        raise ToolError("MCP tools run only inside the ipfs-kit MCP server")
    if state.denied is not None:
        raise ToolError(str(state.denied))
    state.ran = True
    return state


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def _tool_error(state: CallState, exc: Exception) -> ToolError:
    state.error = exc
    if isinstance(exc, ToolError):
        return exc
    if isinstance(exc, IpfsKitError):
        return ToolError(str(exc))
    # Not an IpfsKitError: a bug. The trace goes to the server log only.
    logger.error("MCP tool %s failed", state.tool, exc_info=exc)
    return ToolError(one_line(f"internal error ({type(exc).__name__}: {exc}); see the server log"))


# ---- results ----------------------------------------------------------------------------
def structured(data: Any, key: str | None = None, text: str | None = None) -> CallToolResult:
    """A tool result whose structured content is ``to_jsonable(data)`` (as ``--json``).

    ``key`` wraps list results in a one-key object (structured content must be
    an object): ``pin ls --json`` prints ``[...]``, ``pin_ls`` returns
    ``{"pins": [...]}``. ``text`` replaces the default text block (the JSON).
    """
    payload = to_jsonable(data)
    if key is not None:
        payload = {key: payload}
    body = text if text is not None else json.dumps(payload, ensure_ascii=False)
    return CallToolResult(content=[TextContent(type="text", text=body)], structured_content=payload)


# ---- long operations: run in a worker thread, report progress --------------------------
class Progress:
    """``notifications/progress`` for a Kit call running in a worker thread.

    ``advance(n)`` may be called from any thread (the Kit imports the files of
    a directory on a thread pool) as often as it likes; a notification goes
    out at most every 0.1 s, and always at start and end. Without a progress
    token from the client the SDK sends nothing.
    """

    MIN_INTERVAL = 0.1

    def __init__(self, ctx, total: float | None, message: str):
        self.ctx = ctx
        self.total = total
        self.message = message
        self.done = 0
        self._last = 0.0
        self._lock = threading.Lock()
        self._loop = None

    async def run(self, work: Callable[[Callable[[int], None]], T]) -> T:
        """Run ``work(advance)`` in a worker thread, reporting as it advances."""
        self._loop = anyio.lowlevel.current_token()
        await self.ctx.report_progress(0, self.total, self.message)
        result = await anyio.to_thread.run_sync(work, self.advance)
        final = self.total if self.total is not None else max(self.done, 1)
        await self.ctx.report_progress(final, final, f"{self.message}: done")
        return result

    def advance(self, amount: int) -> None:
        with self._lock:
            self.done += amount
            now = time.monotonic()
            if now - self._last < self.MIN_INTERVAL:
                return
            self._last = now
            done = self.done if self.total is None else min(self.done, self.total)
        anyio.from_thread.run(self.ctx.report_progress, done, self.total, self.message, token=self._loop)


# ---- server-side paths -------------------------------------------------------------------
def server_path(kit, path: str, what: str = "path") -> str:
    """``path`` resolved (symlinks followed) if it lies under one of ``allowed_roots``.

    MCP callers are remote processes: they may name files on this machine only
    inside directories the owner listed in ``allowed_roots`` (config.json).
    """
    roots = kit.settings.allowed_roots
    if not roots:
        raise PermissionDenied(
            f"server-side {what}s are disabled: list the directories MCP clients may use in "
            f"allowed_roots in {kit.settings.config_path}"
        )
    if not os.path.isabs(path):
        raise InvalidInput(f"server-side {what} must be absolute, not {path!r}")
    real = os.path.realpath(path)
    for root in roots:
        real_root = os.path.realpath(os.path.expanduser(root))
        if os.path.commonpath([real, real_root]) == real_root:
            return real
    raise PermissionDenied(f"{path} is outside the allowed roots ({', '.join(roots)})")


def decode_inline(text: str | None, data_base64: str | None, what: str = "content") -> bytes | None:
    """The bytes given inline as ``text`` (UTF-8) or ``data_base64``; None if neither."""
    import base64
    import binascii

    if text is not None and data_base64 is not None:
        raise InvalidInput(f"give the {what} as text or as data_base64, not both")
    if text is not None:
        data = text.encode("utf-8")
    elif data_base64 is not None:
        try:
            data = base64.b64decode(data_base64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("data_base64 is not valid base64") from None
    else:
        return None
    if len(data) > MAX_INLINE_BYTES:
        raise InvalidInput(f"inline {what} is {len(data)} bytes; the limit is {MAX_INLINE_BYTES} "
                           "(use a server-side path under allowed_roots for larger files)")
    return data


def encode_read(data: bytes, encoding: str) -> tuple[str, str]:
    """(encoding used, data): UTF-8 text when asked or when ``auto`` finds valid UTF-8, else base64."""
    import base64

    if encoding in ("text", "auto"):
        try:
            return "text", data.decode("utf-8")
        except UnicodeDecodeError:
            if encoding == "text":
                raise InvalidInput("the content is not valid UTF-8 text; read it with encoding=base64") from None
    return "base64", base64.b64encode(data).decode("ascii")


# ---- parameter types shared by several groups --------------------------------------------------
Limit = Annotated[int, Field(ge=1, le=10_000, description="Maximum number of items to return.")]
Hours = Annotated[float, Field(gt=0, le=24 * 366, description="Look back this many hours.")]
