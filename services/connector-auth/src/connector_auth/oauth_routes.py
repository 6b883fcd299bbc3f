"""The browser-facing part of the consent flow: setup links and Amazon's redirect back (`/oauth/callback`).

These routes carry no bearer token: the signed, single-use `state` (and, for setup links, a cookie binding
the flow to the browser that started it) is what authenticates them. Nothing here ever shows a token.
"""

from __future__ import annotations

import html

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from connector_auth import connections, oauth_state
from connector_auth.deps import Deps

# No referrer (the URL holds the state or setup token), no caching, no framing.
_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'",
}


# For OpenAPI: the browser gets a page saying what happened, never a problem body.
_REDIRECT = {"description": "To Amazon's consent page"}
_REFUSED = {"description": "Refused: a page saying why", "content": {"text/html": {"schema": {"type": "string"}}}}
_FAILED = {"description": "Amazon unreachable: a page", "content": {"text/html": {"schema": {"type": "string"}}}}


def _page(title: str, message: str, status: int) -> HTMLResponse:
    body = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )
    return HTMLResponse(body, status_code=status, headers=_HEADERS)


def public_app(deps: Deps) -> FastAPI:
    """Only these routes, nothing else: no docs, no OpenAPI, no metrics (they stay on the admin port)."""
    app = FastAPI(title="connector-auth consent", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(router(deps))
    return app


def router(deps: Deps) -> APIRouter:
    api = APIRouter(tags=["oauth"])
    secure_cookie = deps.public_base_url.startswith("https://")

    @api.get("/setup/{token}", response_class=HTMLResponse, responses={302: _REDIRECT, 400: _REFUSED, 410: _REFUSED})
    async def open_setup_link(token: str) -> Response:
        """The seller opens the link an operator sent: redirect to Amazon's consent page."""
        try:
            consent = await connections.open_setup_link(deps, token)
        except connections.SetupLinkUsed as exc:
            return _page("Setup link already used", str(exc).capitalize(), 410)
        except connections.AuthorizationRefused as exc:
            return _page("Setup link not usable", str(exc).capitalize(), 400)
        response = RedirectResponse(consent.url, status_code=302, headers=_HEADERS)
        response.set_cookie(
            oauth_state.BROWSER_COOKIE,
            consent.cookie,
            max_age=int(oauth_state.STATE_TTL.total_seconds()),
            path="/oauth/callback",
            httponly=True,
            secure=secure_cookie,
            # Lax: the cookie must come along on Amazon's top-level redirect back to us.
            samesite="lax",
        )
        return response

    @api.get("/oauth/callback", response_class=HTMLResponse, responses={400: _REFUSED, 502: _FAILED})
    async def callback(request: Request) -> Response:
        query = request.query_params
        try:
            connection = await connections.complete_authorization(
                deps,
                state_value=query.get("state", ""),
                code=query.get("spapi_oauth_code", ""),
                selling_partner_id=query.get("selling_partner_id", ""),
                browser_cookie=request.cookies.get(oauth_state.BROWSER_COOKIE),
            )
        except connections.AuthorizationRefused as exc:
            return _page("Authorization refused", str(exc).capitalize() + ".", 400)
        except connections.UpstreamFailed as exc:
            return _page("Authorization failed", str(exc) + ".", 502)
        response = _page(
            "Amazon account connected",
            f"Connection {connection.name} ({connection.id}) is authorized. You can close this window.",
            200,
        )
        response.delete_cookie(oauth_state.BROWSER_COOKIE, path="/oauth/callback")
        return response

    return api
