"""The one MCP server of ipfs-kit, on the official MCP Python SDK (``MCPServer``).

- ``build_server(kit)``: the ``MCPServer`` with every tool of ``mcp.tools``.
- ``run_stdio(kit)``: serve it over stdio (``ipfs-kit mcp serve``); the caller
  is the local user with the Kit's role.
- ``create_http_app(kit)``: an ASGI app serving it over streamable HTTP
  (mounted at ``/mcp`` by ``ipfs-kit serve``). Every request needs
  ``Authorization: Bearer <token>``; the token is checked with
  ``kit.auth.authenticate(token, source_ip)`` and its role applies to every
  tool call (a reader token cannot call a writer/admin tool). No or a bad
  token: 401.
- ``tool_manifest()``: the tools/list entries as plain JSON
  (``ipfs-kit mcp tools --json``).

Every ``tools/call`` passes through ``ToolCallAuditor`` (SDK middleware): it
picks the caller's Kit (``kit.as_principal(...)``), checks the tool's role and
runs the call inside ``kit.track("mcp.<tool>", event_type="mcp")``, so each
call is one audit event (caller, status, duration) and the Kit operations the
tool performs are its children. Refused calls, invalid arguments and unknown
tools are audited too, and come back as tool errors with a one-line message.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
import anyio.to_thread
from jsonschema import Draft202012Validator
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import Tool as McpTool
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials
from starlette.routing import Mount

from .. import __version__
from ..audit.auth import TokenStore
from ..audit.events import new_event_id
from ..errors import InvalidInput, IpfsKitError, PermissionDenied, Unauthenticated
from .stdio import stdio_streams
from .tools import ToolSpec, all_specs
from .tools.common import CallState, begin_call, end_call, one_line

SERVER_NAME = "ipfs-kit"
INSTRUCTIONS = (
    "ipfs-kit: a local IPFS content store with a tamper-evident audit log. "
    "content_* / pin_* / files_* / car_* / repo_* work with content (CIDs and the VFS); "
    "audit_* and audit_analytics_* read and analyse the audit log; performance_* show and manage "
    "caches and operation metrics; dashboard_* return widget, chart and status data and run "
    "configuration wizards; backend_* show remote storage backends. Every call is audited."
)
# A request body must fit the largest inline upload (16 MiB as base64, plus JSON).
MAX_HTTP_BODY = 32 * 1024 * 1024
# Where the HTTP app leaves the authenticated caller for the middleware.
PRINCIPAL_SCOPE_KEY = "ipfs_kit.principal"


# ---- the server ----------------------------------------------------------------------------
def _sdk_tool(spec: ToolSpec) -> Tool:
    tool = Tool.from_function(
        spec.fn, name=spec.name, title=spec.title, description=inspect.cleandoc(spec.fn.__doc__ or ""),
        annotations=spec.annotations, structured_output=True,
    )
    # Unknown argument names are refused (by the middleware), so say so in the schema.
    tool.parameters["additionalProperties"] = False
    return tool


def build_server(kit) -> MCPServer:
    """The MCP server over ``kit`` (its user/role serve stdio; HTTP callers bring tokens)."""
    specs = all_specs()
    tools = [_sdk_tool(spec) for spec in specs]
    auditor = ToolCallAuditor(kit, specs, tools)
    return MCPServer(
        SERVER_NAME, title="ipfs-kit", version=__version__, instructions=INSTRUCTIONS,
        tools=tools, middleware=[auditor], log_level="WARNING",
    )


def run_stdio(kit) -> None:
    """Serve MCP over stdin/stdout until the client closes stdin."""
    # The low-level server behind MCPServer (what its run_stdio_async runs), over our stdio relay.
    server = build_server(kit)._lowlevel_server

    async def serve() -> None:
        async with stdio_streams() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(serve)


def tool_manifest() -> list[dict[str, Any]]:
    """Every tool as tools/list describes it: name, title, description, schemas, annotations.

    The same for every home (schemas do not depend on settings), so no Kit is needed.
    """
    listed = [
        McpTool(name=t.name, title=t.title, description=t.description, input_schema=t.parameters,
                output_schema=t.output_schema, annotations=t.annotations, icons=t.icons, _meta=t.meta)
        for t in (_sdk_tool(spec) for spec in all_specs())
    ]
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed]


class ToolCallFailed(IpfsKitError):
    """A tools/call the SDK answered with an error before the tool ran (bad arguments, unknown tool)."""

    exit_code = 2


class ToolCallAuditor:
    """SDK middleware: caller, role check and one audit event around every tools/call."""

    def __init__(self, kit, specs: list[ToolSpec], tools: list[Tool]):
        self.kit = kit
        self.specs = {s.name: s for s in specs}
        self.tools = {t.name: t for t in tools}
        # The SDK's pydantic models coerce ("yes" -> true, true -> 1, "1" -> 1); the
        # schema an agent reads does not. Wrong JSON types are refused against it.
        self.schemas = {t.name: Draft202012Validator(t.parameters) for t in tools}
        # stdio: the local user, one session per server process.
        self.local_session = new_event_id()
        self._local_kit = kit.as_principal(kit.user, kit.role, kit.source_ip, self.local_session, "mcp")

    async def __call__(self, ctx, call_next):
        if ctx.method != "tools/call" or ctx.request_id is None:
            return await call_next(ctx)
        params = ctx.params if isinstance(ctx.params, Mapping) else {}
        name = params.get("name")
        arguments = params.get("arguments") if isinstance(params.get("arguments"), Mapping) else {}
        spec = self.specs.get(name) if isinstance(name, str) else None
        try:
            kit, transport = self._caller(ctx)
        except Unauthenticated as exc:  # only reachable if the app is served without create_http_app
            state = CallState(kit=None, tool=str(name), denied=exc)
            token = begin_call(state)
            try:
                result = await call_next(ctx)
                if result.get("isError"):
                    self._failure_text(spec, arguments, state, result)
                return result
            finally:
                end_call(token)
        state = CallState(kit=kit, tool=str(name))
        token = begin_call(state)
        try:
            return await self._run(ctx, call_next, kit, transport, spec, name, arguments, state)
        finally:
            end_call(token)

    def _caller(self, ctx):
        request = ctx.request
        if request is None:
            return self._local_kit, "stdio"
        found = request.scope.get(PRINCIPAL_SCOPE_KEY)
        if found is None:
            raise Unauthenticated("an API token is required (Authorization: Bearer <token>)")
        principal, source_ip = found
        session_id = request.headers.get("mcp-session-id")
        return self.kit.as_principal(principal.user_id, principal.role, source_ip, session_id, "mcp"), "http"

    async def _run(self, ctx, call_next, kit, transport, spec, name, arguments, state):
        action = f"mcp.{spec.name}" if spec else "mcp.unknown_tool"
        result: dict[str, Any] | None = None
        failure: BaseException | None = None  # what we raise to give the audit event its status
        try:
            # Entered as reader so the event carries the tool and transport even
            # when the role check below refuses the call (audited as denied).
            with kit.track(action, event_type="mcp", role="reader") as op:
                op.details.update(tool=one_line(str(name))[:200], transport=transport)
                kit.check_role(spec.role if spec else "reader", action)
                if spec is not None:
                    unknown = sorted(set(arguments) - set(self.tools[spec.name].parameters.get("properties", {})))
                    if unknown:
                        state.denied = InvalidInput(
                            f"unknown argument(s) for {spec.name}: {', '.join(map(str, unknown))[:300]}")
                    else:
                        state.denied = self._wrong_type(spec.name, arguments)
                result = await call_next(ctx)
                if result.get("isError"):
                    message = self._failure_text(spec, arguments, state, result)
                    failure = state.error or state.denied or ToolCallFailed(message)
                    raise failure
        except Exception as exc:
            if exc is failure:
                return result
            if isinstance(exc, PermissionDenied) and result is None:
                # The role check refused the call (audited as denied): answer with the reason.
                state.denied = exc
                result = await call_next(ctx)
                self._failure_text(spec, arguments, state, result)
                return result
            raise
        return result

    def _wrong_type(self, name: str, arguments: Mapping) -> InvalidInput | None:
        """The first argument whose JSON type (or enum value) the tool's input schema refuses."""
        for error in self.schemas[name].iter_errors(dict(arguments)):
            if not error.absolute_path:
                continue
            # An optional argument is anyOf [its type, null]: refused when every branch is a type/enum miss.
            if error.validator == "anyOf":
                branches = error.context  # their paths are relative to the argument: empty for a type miss
                if not branches or any(b.validator not in ("type", "enum") or b.path for b in branches):
                    continue
            elif error.validator in ("type", "enum"):
                branches = [error]
            else:
                continue
            wanted = " or ".join(
                f"one of {', '.join(json.dumps(v) for v in b.validator_value)}" if b.validator == "enum"
                else f"of type {b.validator_value}" for b in branches)
            where = ".".join(map(str, error.absolute_path))
            return InvalidInput(f"invalid arguments for {name}: {where}: must be {wanted}, "
                                f"not {json.dumps(error.instance)[:80]}")
        return None

    def _failure_text(self, spec, arguments, state, result) -> str:
        """The one-line error of a failed call, rewriting the SDK's text where we know better.

        A refused call (role, unknown arguments) says why it was refused even if
        its arguments are also invalid; invalid arguments become one line per
        problem instead of pydantic's multi-line report.
        """
        content = result.get("content") or [{}]
        text = one_line(content[0].get("text", "tool call failed"))
        if state.denied is not None:
            text = one_line(f"Error executing tool {spec.name if spec else 'unknown'}: {state.denied}")
        elif spec is not None and not state.ran:
            try:
                self.tools[spec.name].fn_metadata.validate_arguments(dict(arguments))
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}" for err in exc.errors()
                )
                text = one_line(f"Error executing tool {spec.name}: invalid arguments for {spec.name}: {problems}")
        result["content"] = [{"type": "text", "text": text}]
        return text


# ---- streamable HTTP with bearer tokens ------------------------------------------------------------
class McpHttpHandler:
    """ASGI handler: bearer-token authentication in front of the SDK's streamable HTTP transport.

    Path-agnostic, so it answers wherever it is mounted. The SDK's session
    manager needs a running task group: ``lifespan()`` runs it (the app from
    ``create_http_app`` does so in its ASGI lifespan); if nobody ran it, the
    first request starts it in a background task of the server's event loop.
    """

    def __init__(self, kit, server: MCPServer, *, json_response: bool = False,
                 allowed_hosts: list[str] | None = None):
        self.kit = kit
        self.server = server
        # As the web app: successes are not logged per HTTP request (each tool
        # call's own mcp.<tool> event says who made it); failures are.
        self.quiet_tokens = TokenStore(kit.settings.auth_db)
        # Browsers cannot attach our bearer token, so DNS-rebinding protection
        # only matters when a deployment wants to pin Host headers.
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=bool(allowed_hosts), allowed_hosts=allowed_hosts or [],
            allowed_origins=[f"http://{h}" for h in allowed_hosts or []],
        )
        server.streamable_http_app(json_response=json_response, transport_security=security,
                                   max_request_body_size=MAX_HTTP_BODY)
        self.manager = server.session_manager
        self._started = False
        self._start_lock = asyncio.Lock()
        self._background: asyncio.Task | None = None

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Run the session manager (from the enclosing app's lifespan)."""
        self._started = True
        async with self.manager.run():
            yield

    async def _ensure_started(self) -> None:
        if self._started:
            return
        async with self._start_lock:
            if self._started:
                return
            ready = asyncio.Event()

            async def hold() -> None:
                async with self.manager.run():
                    ready.set()
                    await asyncio.Event().wait()

            self._background = asyncio.get_running_loop().create_task(hold())
            await ready.wait()
            self._started = True

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        client = scope.get("client")
        source_ip = client[0] if client else None
        token = _bearer_token(scope)
        try:
            principal = await anyio.to_thread.run_sync(self._authenticate, token, source_ip)
        except Unauthenticated as exc:
            await _send_json(send, 401, {"error": str(exc)},
                             [(b"www-authenticate", b'Bearer realm="ipfs-kit", error="invalid_token"')])
            return
        except IpfsKitError as exc:
            await _send_json(send, exc.http_status, {"error": str(exc)})
            return
        await self._ensure_started()
        scope = dict(scope)
        # The SDK binds each MCP session to the credential that opened it.
        scope["user"] = AuthenticatedUser(AccessToken(
            token=principal.token_id or principal.user_id, client_id=principal.token_id or principal.user_id,
            scopes=[principal.role], subject=principal.user_id,
        ))
        scope["auth"] = AuthCredentials([principal.role])
        scope[PRINCIPAL_SCOPE_KEY] = (principal, source_ip)
        await self.manager.handle_request(scope, receive, send)


    def _authenticate(self, token: str | None, source_ip: str | None):
        try:
            return self.quiet_tokens.authenticate(token, source_ip)
        except Unauthenticated:
            self.kit.auth.authenticate(token, source_ip)  # logs the failure, raises the same error
            raise


def _bearer_token(scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


async def _send_json(send, status: int, body: dict, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *(headers or []),
    ]})
    await send({"type": "http.response.body", "body": data})


def create_http_app(kit, *, json_response: bool = False, allowed_hosts: list[str] | None = None) -> Starlette:
    """Streamable-HTTP MCP as an ASGI (Starlette) app; bearer tokens required; mount it at ``/mcp``.

    It answers on every path below where it is mounted. Its lifespan runs the
    MCP session manager; a parent app should enter it
    (``app.router.lifespan_context(app)``), else the first request starts it.
    """
    handler = McpHttpHandler(kit, build_server(kit), json_response=json_response, allowed_hosts=allowed_hosts)
    app = Starlette(routes=[Mount("/", app=handler)], lifespan=lambda _app: handler.lifespan())
    app.state.mcp_handler = handler
    return app


def run_http(kit, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve only MCP over HTTP with uvicorn (``ipfs-kit mcp serve --transport http``)."""
    import uvicorn

    uvicorn.run(create_http_app(kit), host=host, port=port, log_level="warning", lifespan="on")


__all__ = ["McpHttpHandler", "build_server", "create_http_app", "run_http", "run_stdio", "tool_manifest"]
