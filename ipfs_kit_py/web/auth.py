"""Who is calling: the one dependency every API endpoint and page goes through.

``require(role)`` reads the API token (``Authorization: Bearer <token>`` for
the API, or the HttpOnly cookie the login form sets for pages), checks the
role and gives the handler a ``RequestContext`` holding a Kit bound to that
caller (user, role, source IP, session = token id, interface ``web``).

Audit: each request yields exactly one top-level event for its caller. A
refused request is the token store's ``auth.token`` failure or the role
check's ``denied`` event. An accepted one is the handler's own operation:
either the one instrumented Kit/Dashboard method it calls, or
``ctx.track()`` (``http.<route>``) around handlers doing anything else — Kit
methods called inside become its child events. That is why tokens are checked
here with a token store that does not log successes (the login form logs the
one successful sign-in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlparse

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from ..audit.auth import Principal, TokenStore, require_role
from ..errors import PermissionDenied, Unauthenticated

COOKIE_NAME = "ipfs_kit_token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

bearer_scheme = HTTPBearer(auto_error=False, description="An API token: `ipfs-kit auth token create`.")
cookie_scheme = APIKeyCookie(name=COOKIE_NAME, auto_error=False, description="Set by the login form.")


@dataclass
class RequestContext:
    kit: Any
    principal: Principal
    request: Request
    action: str
    role: str

    def track(self):
        """This request as one audited operation (``http.<route>``, event type ``api``)."""
        return self.kit.track(self.action, event_type="api", role=self.role, resource_type=None)


def route_action(request: Request) -> str:
    route = request.scope.get("route")
    name = getattr(route, "name", None) or request.url.path.strip("/").replace("/", "_") or "root"
    return f"http.{name}"


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def token_from(request: Request, bearer: HTTPAuthorizationCredentials | None, cookie: str | None) -> tuple[str | None, bool]:
    """(token, whether it came from the cookie)."""
    if bearer is not None and bearer.credentials:
        return bearer.credentials, False
    return (cookie, True) if cookie else (None, False)


def authenticate(request: Request, token: str | None) -> Principal:
    """The caller's principal; an invalid token is logged (once) by the audited token store."""
    app = request.app
    quiet: TokenStore = app.state.quiet_tokens
    try:
        return quiet.authenticate(token, client_ip(request))
    except Unauthenticated:
        # Repeat through the audited store: it logs the failure and raises
        # the same Unauthenticated error.
        app.state.kit.auth.authenticate(token, client_ip(request))
        raise


def _check_origin(request: Request, principal: Principal, action: str) -> None:
    """Cookie-authenticated writes must come from our own pages (CSRF)."""
    origin = request.headers.get("origin")
    if origin is None or urlparse(origin).netloc == request.headers.get("host"):
        return
    request.app.state.kit.audit.log_permission_check(
        principal.user_id, action, False, source_ip=client_ip(request), session_id=principal.token_id,
        details={"reason": "cross-site request", "origin": origin})
    raise PermissionDenied(f"cross-site request from {origin} refused")


def require(role: str):
    """Dependency: authenticate, check ``role`` (reader < writer < admin), bind a Kit."""

    def dependency(request: Request,
                   bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
                   cookie: Annotated[str | None, Depends(cookie_scheme)]) -> RequestContext:
        token, from_cookie = token_from(request, bearer, cookie)
        principal = authenticate(request, token)
        kit = request.app.state.kit
        action = route_action(request)
        require_role(principal, role, action, kit.audit, source_ip=client_ip(request),
                     session_id=principal.token_id)
        if from_cookie and request.method not in SAFE_METHODS:
            _check_origin(request, principal, action)
        bound = kit.as_principal(principal.user_id, principal.role, client_ip(request),
                                 session_id=principal.token_id, interface="web")
        ctx = RequestContext(bound, principal, request, action, role)
        request.state.ctx = ctx
        return ctx

    dependency.__name__ = f"require_{role}"
    return dependency


# Handler parameter types: ``ctx: Reader`` etc.
Reader = Annotated[RequestContext, Depends(require("reader"))]
Writer = Annotated[RequestContext, Depends(require("writer"))]
Admin = Annotated[RequestContext, Depends(require("admin"))]
