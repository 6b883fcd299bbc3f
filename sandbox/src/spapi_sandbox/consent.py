"""The Seller Central consent page and the LWA token endpoint's HTTP side.

GET shows a real page with an Approve button; `auto_approve=true` skips it for tests. Approval redirects to
`redirect_uri` with `spapi_oauth_code`, `selling_partner_id` and `state`, as Amazon's website workflow does.
The sandbox has no app registry, so it needs `redirect_uri` in the query and accepts any application_id.
"""

from __future__ import annotations

import html
from urllib.parse import urlencode, urlsplit

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from spapi_sandbox.lwa import OAuthError, parse_form
from spapi_sandbox.state import DEFAULT_SELLER_ID
from spapi_sandbox.world import World

_NO_REFERRER = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def _problem(message: str, status: int = 400) -> HTMLResponse:
    body = f"<!doctype html><html><body><h1>Authorization error</h1><p>{html.escape(message)}</p></body></html>"
    return HTMLResponse(body, status_code=status, headers=_NO_REFERRER)


def _checked(world: World, fields: dict[str, str]) -> str | HTMLResponse:
    if not fields.get("application_id"):
        return _problem("application_id is required.")
    redirect_uri = fields.get("redirect_uri", "")
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        # Amazon answers MD5101 when the redirect URI is not one the app registered.
        return _problem("MD5101: redirect_uri must be an absolute http(s) URL.")
    seller_id = fields.get("selling_partner_id") or DEFAULT_SELLER_ID
    if seller_id not in world.state.sellers:
        return _problem(f"Unknown selling partner {seller_id}.")
    return seller_id


def _approve(world: World, fields: dict[str, str], seller_id: str) -> Response:
    redirect_uri = fields["redirect_uri"]
    code = world.tokens.issue_code(seller_id, redirect_uri)
    query = urlencode({"state": fields.get("state", ""), "selling_partner_id": seller_id, "spapi_oauth_code": code})
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{query}", status_code=302, headers=_NO_REFERRER)


async def consent_page(world: World, request: Request) -> Response:
    fields = dict(request.query_params)
    checked = _checked(world, fields)
    if isinstance(checked, HTMLResponse):
        return checked
    if fields.get("auto_approve", "").lower() == "true":
        return _approve(world, fields, checked)
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in fields.items()
        if k in ("application_id", "state", "redirect_uri", "version")
    )
    options = "".join(
        f'<option value="{html.escape(s)}"{" selected" if s == checked else ""}>{html.escape(s)}</option>'
        for s in world.state.sellers
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorize application - SP-API sandbox</title></head>
<body>
<h1>Authorize {html.escape(fields["application_id"])}</h1>
<p>This application asks to access your Amazon selling account through the Selling Partner API.</p>
<form method="post" action="/apps/authorize/consent">
{hidden}
<label>Selling account <select name="selling_partner_id">{options}</select></label>
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Cancel</button>
</form>
</body></html>"""
    return HTMLResponse(page, headers=_NO_REFERRER)


async def consent_decision(world: World, request: Request) -> Response:
    fields = parse_form(await request.body(), request.headers.get("content-type", ""))
    checked = _checked(world, fields)
    if isinstance(checked, HTMLResponse):
        return checked
    if fields.get("decision", "approve") != "approve":
        return _problem("You cancelled the authorization.", status=200)
    return _approve(world, fields, checked)


async def token_endpoint(world: World, request: Request) -> Response:
    form = parse_form(await request.body(), request.headers.get("content-type", ""))
    try:
        answer = world.tokens.grant(form, set(world.state.sellers))
    except OAuthError as error:
        return JSONResponse(error.body(), status_code=error.status, headers={"Cache-Control": "no-store"})
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})
