"""HTML pages: a shared layout around a small body per page, plus login/logout.

Pages are shells: their data comes from the JSON API, fetched by
``static/app.js`` with the login cookie, so the browser and API clients see
the same numbers. The cookie holds the API token (HttpOnly, SameSite=Strict,
so page scripts cannot read it and other sites cannot send it).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .. import __version__
from ..errors import Unauthenticated
from ..instrument import ROLES
from .auth import COOKIE_NAME, Admin, Reader, RequestContext, client_ip

router = APIRouter(include_in_schema=False)
PAGES_DIR = Path(__file__).parent / "pages"
COOKIE_MAX_AGE = 12 * 3600

# (path, title, role needed)
NAV = (
    ("overview", "Overview", "reader"),
    ("content", "Content", "reader"),
    ("performance", "Performance", "reader"),
    ("audit", "Audit", "admin"),
    ("analytics", "Analytics", "admin"),
    ("wizards", "Wizards", "admin"),
)


def _layout(title: str, body: str, page: str, ctx: RequestContext | None = None) -> str:
    nav = ""
    user = ""
    if ctx is not None:
        links = [f'<a href="/{p}"{" class=active" if p == page else ""}>{t}</a>'
                 for p, t, role in NAV if ROLES[ctx.principal.role] >= ROLES[role]]
        nav = f'<nav>{"".join(links)}</nav>'
        user = (f'<div class="user"><span id="whoami">{html.escape(ctx.principal.user_id)}</span>'
                f' <span class="role">{ctx.principal.role}</span>'
                '<form method="post" action="/logout"><button type="submit">Log out</button></form></div>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · ipfs-kit</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script>
</head><body data-page="{page}" data-role="{ctx.principal.role if ctx else ''}">
<header><a class="brand" href="/overview">ipfs-kit</a>{nav}{user}</header>
<main>{body}</main>
<footer>ipfs-kit {__version__}</footer>
</body></html>"""


def _page(name: str, title: str, ctx: RequestContext) -> HTMLResponse:
    with ctx.track():
        body = (PAGES_DIR / f"{name}.html").read_text(encoding="utf-8")
        return HTMLResponse(_layout(title, body, name, ctx))


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(target, safe='')}"


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    body = (f'<section class="card error-page"><h1>{status} {"Forbidden" if status == 403 else "Error"}</h1>'
            f'<p class="error" id="error-message">{html.escape(message)}</p>'
            '<p><a href="/overview">Back to the overview</a></p></section>')
    return HTMLResponse(_layout(f"Error {status}", body, "error"), status_code=status)


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never an open redirect to another host.
    if not target or not target.startswith("/") or target.startswith("//") or urlparse(target).netloc:
        return "/overview"
    return target


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/overview", status_code=303)


@router.get("/overview")
def page_overview(ctx: Reader) -> HTMLResponse:
    from ..dashboard import Dashboard

    with ctx.track():
        board = Dashboard(ctx.kit, widgets=ctx.request.app.state.widgets.bind(ctx.kit))
        # JSON in a data block (never executed); "<" escaped so no text can close the tag.
        data = json.dumps(board.overview(), default=str).replace("<", "\\u003c")
        body = (PAGES_DIR / "overview.html").read_text(encoding="utf-8")
        body += f'<script type="application/json" id="initial-overview">{data}</script>'
        return HTMLResponse(_layout("Overview", body, "overview", ctx))


@router.get("/content")
def page_content(ctx: Reader) -> HTMLResponse:
    return _page("content", "Content", ctx)


@router.get("/performance")
def page_performance(ctx: Reader) -> HTMLResponse:
    return _page("performance", "Performance", ctx)


@router.get("/audit")
def page_audit(ctx: Admin) -> HTMLResponse:
    return _page("audit", "Audit explorer", ctx)


@router.get("/analytics")
def page_analytics(ctx: Admin) -> HTMLResponse:
    return _page("analytics", "Analytics", ctx)


@router.get("/wizards")
def page_wizards(ctx: Admin) -> HTMLResponse:
    return _page("wizards", "Wizards", ctx)


def _login_form(next_path: str, error: str | None = None) -> str:
    message = f'<p class="error" id="login-error">{html.escape(error)}</p>' if error else ""
    return f"""<section class="card login"><h1>Log in</h1>
<p>Paste an API token. Create one with <code>ipfs-kit auth token create --user NAME --role admin</code>.</p>
{message}
<form method="post" action="/login">
<input type="hidden" name="next" value="{html.escape(next_path)}">
<label>API token <input type="password" name="token" id="token" autocomplete="off" required></label>
<button type="submit" id="login-button">Log in</button>
</form></section>"""


@router.get("/login")
def login_page(next: str | None = None) -> HTMLResponse:
    return HTMLResponse(_layout("Log in", _login_form(_safe_next(next)), "login"))


@router.post("/login")
async def login(request: Request) -> Response:
    body = (await request.body())[:16384].decode("utf-8", "replace")
    form = {k: v[0] for k, v in parse_qs(body).items()}
    next_path = _safe_next(form.get("next"))
    token = form.get("token", "").strip()
    kit = request.app.state.kit
    try:
        # The audited store: a sign-in, good or bad, is an authentication event.
        kit.auth.authenticate(token, client_ip(request))
    except Unauthenticated as exc:
        return HTMLResponse(_layout("Log in", _login_form(next_path, str(exc)), "login"), status_code=401)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(COOKIE_NAME, token, max_age=COOKIE_MAX_AGE, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    return response


@router.post("/logout")
def logout(ctx: Reader) -> Response:
    with ctx.track():
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE_NAME, path="/")
        return response
