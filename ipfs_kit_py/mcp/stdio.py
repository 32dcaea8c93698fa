"""stdio for the MCP server: the SDK's transport, plus an answer for every line it cannot parse.

The SDK's stdio transport turns a line that does not validate as JSON-RPC
into an exception for the server, which logs it and answers nothing, so the
client waits forever. That happens to well-formed JSON too: a string with an
unpaired UTF-16 surrogate escape (``"\\ud800"``) is valid JSON that Python's
``json`` reads but pydantic's parser refuses. Here such a line gets the
JSON-RPC error its sender can match: the request's own id when the line is
JSON with one (-32602, or -32600 when it is not a request we know), else a
parse error with id null (-32700). Notifications get no answer, as JSON-RPC
says.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import mcp_types as types
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

log = logging.getLogger(__name__)


@asynccontextmanager
async def stdio_streams() -> AsyncIterator[tuple]:
    """(read stream, write stream) for ``Server.run``, over the process's stdin/stdout."""
    async with stdio_server() as (sdk_read, sdk_write):
        to_server, from_stdin = anyio.create_memory_object_stream[SessionMessage | Exception](0)

        async def relay() -> None:
            async with to_server:
                async for item in sdk_read:
                    if isinstance(item, ValidationError):
                        refusal = _refusal(item)
                        if refusal is not None:
                            await sdk_write.send(SessionMessage(refusal))
                        continue
                    await to_server.send(item)

        async with anyio.create_task_group() as tg:
            tg.start_soon(relay)
            yield from_stdin, sdk_write
            tg.cancel_scope.cancel()


def _refusal(exc: ValidationError) -> types.JSONRPCError | None:
    """The error answer for a line the SDK could not validate (None for a notification)."""
    errors = exc.errors()
    line = errors[0].get("input") if errors else None
    try:
        message = json.loads(line) if isinstance(line, str) else None
    except ValueError:
        message = None
    if not isinstance(message, dict):
        return _error(None, types.PARSE_ERROR, "Parse error: the line is not a JSON-RPC message")
    request_id = message.get("id")
    if "method" not in message or isinstance(request_id, bool) or not isinstance(request_id, int | str):
        log.warning("dropped an invalid JSON-RPC notification or response: %s", errors[0].get("msg"))
        return None
    if _has_lone_surrogate(message):
        return _error(request_id, types.INVALID_PARAMS,
                      "Invalid params: text with an unpaired UTF-16 surrogate (e.g. \\ud800) is not valid Unicode")
    return _error(request_id, types.INVALID_REQUEST, f"Invalid request: {errors[0].get('msg', 'not JSON-RPC 2.0')}")


def _error(request_id: int | str | None, code: int, message: str) -> types.JSONRPCError:
    return types.JSONRPCError(jsonrpc="2.0", id=request_id, error=types.ErrorData(code=code, message=message))


def _has_lone_surrogate(value) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False
