"""``create_app(kit)``: the dashboard web app and JSON API served by ``ipfs-kit serve``.

- ``/api/...``: JSON API (OpenAPI document at ``/api/openapi.json``);
- ``/``, ``/overview``, ``/content``, ``/audit``, ``/analytics``,
  ``/performance``, ``/wizards``: pages (HTML shells whose script fetches the
  API and draws charts with the vendored Chart.js), ``/login``, ``/logout``;
- ``/metrics``: Prometheus text (404 while ``monitoring.prometheus`` is false);
  ``/mcp``: the MCP server's streamable HTTP app, when
  ``ipfs_kit_py.mcp.unified_mcp_server.create_http_app`` exists;
- ``/static/...``: this package's CSS, JS and vendored libraries (no CDN).

Errors: an ``IpfsKitError`` becomes ``{"error": message}`` with its
``http_status``; invalid parameters or bodies a 400 with a one-line message;
pages answer a missing login with a redirect to ``/login`` and a refused role
with a 403 page. Anything else is a bug: logged, and a 500 saying so.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from .. import __version__
from ..audit.auth import TokenStore
from ..backends.background import replication_loop
from ..dashboard.providers import builtin_widget_manager
from ..errors import IpfsKitError, NotFound, PermissionDenied, Unauthenticated
from . import api, pages
from .auth import Reader

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
PROMETHEUS_OFF = ("Prometheus metrics are off (monitoring.prometheus is false in config.json); "
                  "turn them on with `ipfs-kit dashboard wizard --wizard-id monitoring_setup` "
                  "and answer yes to 'Expose /metrics for Prometheus'")


def create_app(kit) -> FastAPI:
    """The web app for ``kit``'s home; each request runs as its token's principal."""
    mcp_app = _mcp_app(kit)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with AsyncExitStack() as stack:
            stack.callback(app.state.quiet_tokens.close)
            if mcp_app is not None:
                # A mounted app's lifespan does not run by itself: start the
                # MCP session manager for the life of this app.
                await stack.enter_async_context(mcp_app.router.lifespan_context(mcp_app))
            tasks = await stack.enter_async_context(anyio.create_task_group())
            tasks.start_soon(replication_loop, kit)
            yield
            tasks.cancel_scope.cancel()

    app = FastAPI(title="ipfs-kit", version=__version__, lifespan=lifespan,
                  description="The ipfs-kit dashboard API. Authenticate with `Authorization: Bearer <token>` "
                              "(`ipfs-kit auth token create --user NAME --role reader|writer|admin`).",
                  openapi_url=None, docs_url=None, redoc_url=None)
    app.state.kit = kit
    # Checks tokens without logging each success: the request's own event
    # says who made it (see auth.py).
    app.state.quiet_tokens = TokenStore(kit.settings.auth_db)
    app.state.widgets = builtin_widget_manager(kit)

    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi_document(ctx: Reader) -> dict[str, Any]:
        with ctx.track():
            return app.openapi()

    @app.get("/metrics", tags=["performance"], summary="Prometheus metrics (text exposition format)",
             responses={200: {"content": {"text/plain": {}}}})
    def metrics(ctx: Reader) -> Response:
        from ..performance.metrics_export import CONTENT_TYPE_LATEST, render_prometheus

        with ctx.track():
            if not ctx.kit.services.current_settings().prometheus_enabled:
                raise NotFound(PROMETHEUS_OFF)
            body = render_prometheus(ctx.kit.monitor, ctx.kit.cache, ctx.kit.batch)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    if mcp_app is not None:
        # The exact path too, so clients posting to /mcp skip a 307 to /mcp/.
        app.router.routes.insert(0, Route("/mcp", endpoint=mcp_app, methods=["GET", "POST", "DELETE"]))
        app.mount("/mcp", mcp_app)

    _install_error_handlers(app)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app


def _mcp_app(kit):
    from ..mcp.unified_mcp_server import create_http_app

    return create_http_app(kit)


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith("/api") or path.startswith("/metrics") or path.startswith("/mcp")
                or path.startswith("/static"))


def _error(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    if _wants_html(request):
        if status == 401:
            return RedirectResponse(pages.login_url(request), status_code=303)
        return pages.error_page(request, status, message)
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _audit_refusal(request: Request, message: str) -> None:
    """A request refused before its handler ran is still one audited event."""
    ctx = getattr(request.state, "ctx", None)
    if ctx is None:
        return
    try:
        ctx.kit.audit.log_event("api", ctx.action, "failure", user_id=ctx.kit.user, source_ip=ctx.kit.source_ip,
                                session_id=ctx.kit.session_id, details={"error": message, "interface": "web"})
    except IpfsKitError:
        log.exception("could not audit a refused request")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(IpfsKitError)
    async def kit_error(request: Request, exc: IpfsKitError) -> Response:
        status = exc.http_status
        if isinstance(exc, Unauthenticated):
            status = 401
        elif isinstance(exc, PermissionDenied):
            status = 403
        return _error(request, status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        message = _validation_message(exc)
        _audit_refusal(request, message)
        return _error(request, 400, message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such page or endpoint: {request.url.path}"
        elif exc.status_code == 405 and exc.headers and exc.headers.get("Allow"):
            message = f"{request.method} is not allowed on {request.url.path}; use {exc.headers['Allow']}"
        return _error(request, exc.status_code, message, headers=exc.headers)

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> Response:
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(request, 500, f"internal error ({type(exc).__name__}); see the server log")


def _validation_message(exc: RequestValidationError) -> str:
    """One line: the first problem, where it is, and how many more there are."""
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    kind, loc = first.get("type"), tuple(first.get("loc", ()))
    if kind == "json_invalid":
        return f"the request body is not valid JSON ({first.get('ctx', {}).get('error', 'decode error')}); " \
               "send a JSON object with Content-Type: application/json"
    if loc == ("body",) and kind in ("missing", "model_attributes_type", "dict_type"):
        return "the request body must be a JSON object sent with Content-Type: application/json"
    where = ".".join(str(p) for p in loc if p not in ("body",)) or "request"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"invalid {where}: {first.get('msg', 'invalid value')}{more}"
