"""Login with Amazon: the token endpoint, and the check every SP-API call makes on `x-amz-access-token`.

Tokens are opaque random strings with Amazon's prefixes (Atza| access, Atzr| refresh). They survive
`/_sandbox/reset` so a client's cached token stays usable across tests.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from spapi_sandbox.errors import ApiError
from spapi_sandbox.state import DEFAULT_REFRESH_TOKEN, DEFAULT_SELLER_ID

AUTH_CODE_TTL_SECONDS = 300


@dataclasses.dataclass(slots=True)
class AccessToken:
    seller_id: str | None  # None for grantless tokens
    scope: str | None
    expires_at: float
    refresh_token: str | None
    revoked: bool = False


@dataclasses.dataclass(slots=True)
class AuthCode:
    seller_id: str
    redirect_uri: str | None
    expires_at: float


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class Tokens:
    def __init__(self, ttl_seconds: int, client_id: str | None, client_secret: str | None) -> None:
        self.ttl_seconds = ttl_seconds
        self._client = (client_id, client_secret) if client_id else None
        self._refresh: dict[str, str] = {DEFAULT_REFRESH_TOKEN: DEFAULT_SELLER_ID}
        self._access: dict[str, AccessToken] = {}
        self._codes: dict[str, AuthCode] = {}

    def restore_default(self) -> None:
        self._refresh[DEFAULT_REFRESH_TOKEN] = DEFAULT_SELLER_ID

    # --- issuing -------------------------------------------------------------------------------------
    def refresh_token_for(self, seller_id: str) -> str:
        if seller_id == DEFAULT_SELLER_ID:
            self._refresh[DEFAULT_REFRESH_TOKEN] = seller_id
            return DEFAULT_REFRESH_TOKEN
        token = "Atzr|" + secrets.token_urlsafe(48)
        self._refresh[token] = seller_id
        return token

    def issue_code(self, seller_id: str, redirect_uri: str | None) -> str:
        code = "ANsandbox" + secrets.token_urlsafe(16)
        self._codes[code] = AuthCode(seller_id, redirect_uri, time.monotonic() + AUTH_CODE_TTL_SECONDS)
        return code

    def _access_token(self, seller_id: str | None, scope: str | None, refresh: str | None) -> str:
        token = "Atza|" + secrets.token_urlsafe(64)
        self._access[token] = AccessToken(seller_id, scope, time.monotonic() + self.ttl_seconds, refresh)
        return token

    def grant(self, form: Mapping[str, str], known_sellers: set[str]) -> dict[str, Any]:
        """The LWA token endpoint's answer to one form, or OAuthError."""
        self._check_client(form)
        grant_type = form.get("grant_type")
        if grant_type == "refresh_token":
            refresh = form.get("refresh_token", "")
            seller_id = self._refresh.get(refresh)
            if seller_id is None or seller_id not in known_sellers:
                raise OAuthError(400, "invalid_grant", "The request has an invalid grant parameter : refresh_token")
            return self._answer(self._access_token(seller_id, None, refresh), refresh)
        if grant_type == "authorization_code":
            code = self._codes.pop(form.get("code", ""), None)
            if code is None or code.expires_at < time.monotonic():
                raise OAuthError(400, "invalid_grant", "The request has an invalid grant parameter : code")
            if code.redirect_uri is not None and form.get("redirect_uri") != code.redirect_uri:
                raise OAuthError(400, "invalid_grant", "The redirect_uri does not match the authorization request")
            refresh = self.refresh_token_for(code.seller_id)
            return self._answer(self._access_token(code.seller_id, None, refresh), refresh)
        if grant_type == "client_credentials":
            scope = form.get("scope")
            if not scope:
                raise OAuthError(400, "invalid_scope", "The request has an invalid parameter : scope")
            token = self._access_token(None, scope, None)
            return {"access_token": token, "token_type": "bearer", "expires_in": self.ttl_seconds, "scope": scope}
        raise OAuthError(400, "unsupported_grant_type", "The authorization grant type is not supported")

    def _answer(self, access: str, refresh: str) -> dict[str, Any]:
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "bearer",
            "expires_in": self.ttl_seconds,
        }

    def _check_client(self, form: Mapping[str, str]) -> None:
        if not form.get("client_id") or not form.get("client_secret"):
            raise OAuthError(400, "invalid_request", "The request is missing a required parameter : client_id")
        if self._client is not None:
            expected_id, expected_secret = self._client
            if not (
                secrets.compare_digest(form["client_id"], expected_id or "")
                and secrets.compare_digest(form["client_secret"], expected_secret or "")
            ):
                raise OAuthError(401, "invalid_client", "Client authentication failed")

    # --- checking ------------------------------------------------------------------------------------
    def seller_for(self, header: str | None) -> str:
        """The seller an SP-API call acts for, or the 403 Amazon answers."""
        if not header:
            raise ApiError.unauthorized()
        token = self._access.get(header)
        if token is None or token.revoked:
            raise ApiError.unauthorized("The access token you provided is revoked, malformed or invalid.")
        if token.expires_at <= time.monotonic():
            raise ApiError.expired_token()
        if token.seller_id is None:
            raise ApiError.unauthorized("A grantless access token cannot call a seller operation.")
        return token.seller_id

    def check_grantless(self, header: str | None, scope: str) -> None:
        """A grantless operation needs a live client_credentials token of its scope, or Amazon answers 403."""
        if not header:
            raise ApiError.unauthorized()
        token = self._access.get(header)
        if token is None or token.revoked:
            raise ApiError.unauthorized("The access token you provided is revoked, malformed or invalid.")
        if token.expires_at <= time.monotonic():
            raise ApiError.expired_token()
        if token.seller_id is not None or token.scope != scope:
            raise ApiError.unauthorized("This operation needs a grantless access token of its scope.")

    # --- faults --------------------------------------------------------------------------------------
    def expire_all(self, seller_id: str | None = None) -> None:
        for token in self._access.values():
            if seller_id is None or token.seller_id == seller_id:
                token.expires_at = 0.0

    def revoke(self, seller_id: str | None = None) -> None:
        """The seller withdrew consent: their refresh tokens and access tokens stop working."""
        for token in self._access.values():
            if seller_id is None or token.seller_id == seller_id:
                token.revoked = True
        for refresh, owner in list(self._refresh.items()):
            if seller_id is None or owner == seller_id:
                del self._refresh[refresh]


def parse_form(body: bytes, content_type: str) -> dict[str, str]:
    if content_type.startswith("application/json"):
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return {}
        return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
