"""Access tokens: Login with Amazon grants, and token sources that cache and refresh them."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote, urlencode

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from .errors import AmazonError, AuthError, AuthErrorKind, LwaClientRejected, LwaGrantRejected, lwa_error_for
from .regions import LWA_TOKEN_URL
from .retry import RetryPolicy, Sleep, send_with_retries

log = logging.getLogger("spapi.auth")

# LWA tokens live an hour; renewing five minutes early keeps a call in flight from carrying a
# token that dies on the way, and leaves room for a slow token endpoint.
DEFAULT_REFRESH_MARGIN = 300.0


@runtime_checkable
class TokenSource(Protocol):
    """Anything that can hand out a currently valid SP-API access token for one connection."""

    async def access_token(self) -> str: ...


@runtime_checkable
class RefreshableTokenSource(TokenSource, Protocol):
    """A token source that can be told a token was rejected, so the next call fetches a new one."""

    def invalidate(self, token: str) -> None: ...


class StaticTokenSource:
    """A fixed token: for scripts and tests, never for long-running services."""

    def __init__(self, token: str) -> None:
        self._token = SecretStr(token)

    async def access_token(self) -> str:
        return self._token.get_secret_value()

    def __repr__(self) -> str:
        return "StaticTokenSource(token=**********)"


class LwaCredentials(BaseModel):
    model_config = ConfigDict(frozen=True)

    client_id: str
    client_secret: SecretStr


class LwaTokens(BaseModel):
    """What the LWA token endpoint returns; secrets stay SecretStr so repr and logs mask them."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    access_token: SecretStr
    token_type: str = "bearer"  # noqa: S105 - a token kind, not a secret
    expires_in: int
    refresh_token: SecretStr | None = None


class LwaClient:
    """Login with Amazon's token endpoint: the three grants an SP-API app uses.

    `token_url` comes from the caller's settings (e.g. LWA_TOKEN_URL pointing at the sandbox).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        credentials: LwaCredentials,
        *,
        token_url: str = LWA_TOKEN_URL,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._http = http
        self._credentials = credentials
        self._token_url = token_url
        self._retry = retry or RetryPolicy(max_attempts=3)
        self._rng = rng or random.Random()  # jitter, not cryptography
        self._sleep = sleep

    async def exchange_authorization_code(self, code: str, redirect_uri: str | None = None) -> LwaTokens:
        """Turn the `spapi_oauth_code` from the consent redirect into tokens (valid 5 minutes)."""
        form = {"grant_type": "authorization_code", "code": code}
        if redirect_uri is not None:
            form["redirect_uri"] = redirect_uri
        return await self._grant("authorization_code", form, secrets=(code,))

    async def refresh(self, refresh_token: str | SecretStr) -> LwaTokens:
        value = refresh_token.get_secret_value() if isinstance(refresh_token, SecretStr) else refresh_token
        return await self._grant(
            "refresh_token", {"grant_type": "refresh_token", "refresh_token": value}, secrets=(value,)
        )

    async def client_credentials(self, scope: str) -> LwaTokens:
        """Grantless token, e.g. scope `sellingpartnerapi::notifications`."""
        return await self._grant("client_credentials", {"grant_type": "client_credentials", "scope": scope})

    async def _grant(self, grant: str, form: dict[str, str], secrets: tuple[str, ...] = ()) -> LwaTokens:
        operation = f"lwa.{grant}"
        secret = self._credentials.client_secret.get_secret_value()
        body = urlencode({**form, "client_id": self._credentials.client_id, "client_secret": secret}, quote_via=quote)
        headers = {"content-type": "application/x-www-form-urlencoded;charset=UTF-8"}

        async def send() -> httpx.Response:
            return await self._http.post(self._token_url, content=body, headers=headers)

        try:
            # Grants are safe to repeat after a timeout except the one-shot authorization code.
            response = await send_with_retries(
                send,
                policy=self._retry,
                rng=self._rng,
                sleep=self._sleep,
                idempotent=grant != "authorization_code",
            )
        except httpx.TransportError as exc:
            raise AuthError(operation, reason=f"token endpoint unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            errors = _lwa_errors(response, (*secrets, secret))
            raise lwa_error_for(response.status_code, [e.code for e in errors])(
                operation, status=response.status_code, errors=errors, reason="token endpoint refused the grant"
            )
        try:
            tokens = LwaTokens.model_validate_json(response.content)
        except ValidationError:
            raise AuthError(operation, status=response.status_code, reason="malformed token response") from None
        log.info("lwa grant succeeded", extra={"grant_type": grant, "expires_in": tokens.expires_in})
        return tokens


def _lwa_errors(response: httpx.Response, secrets: tuple[str, ...]) -> list[AmazonError]:
    try:
        payload: Any = response.json()
    except ValueError:
        return []
    if not isinstance(payload, dict) or "error" not in payload:
        return []
    description = str(payload.get("error_description") or "")
    for value in secrets:
        if value:
            description = description.replace(value, "[redacted]")
    return [AmazonError(code=str(payload["error"]), message=description)]


def _problem_kind(response: httpx.Response) -> AuthErrorKind:
    try:
        payload: Any = response.json()
    except ValueError:
        return AuthErrorKind.FAILED
    kind = payload.get("kind") if isinstance(payload, dict) else None
    return AuthErrorKind(kind) if kind in set(AuthErrorKind) else AuthErrorKind.FAILED


@dataclass(frozen=True, slots=True)
class CachedToken:
    """An access token with its expiry and the moment it is renewed (epoch seconds of the source's clock)."""

    value: SecretStr
    expires_at: float
    renew_at: float


# What a CachingTokenSource calls to get a new token: the token and its expiry (epoch seconds).
TokenFetch = Callable[[], Awaitable[tuple[str | SecretStr, float]]]


class CachingTokenSource:
    """Caches one access token and renews it ahead of expiry, one renewal at a time.

    Concurrent callers that find no fresh token queue on one asyncio.Lock; the first renews, the
    rest find the fresh token when they get the lock. Make one instance per connection.

    A renewal is `refresh_margin` seconds before expiry, or at half the token's life if that is
    sooner (a sandbox's short-lived tokens). `invalidate()` without a token drops whatever is
    cached and keeps a renewal already under way from storing its result (consent changed).
    """

    def __init__(
        self,
        fetch: TokenFetch,
        *,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetch_token = fetch
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._lock = asyncio.Lock()
        self._cached: CachedToken | None = None
        # Bumped by invalidate(): a renewal that started before it must not repopulate the cache.
        self._generation = 0

    async def access_token(self) -> str:
        return (await self.token()).value.get_secret_value()

    async def token(self) -> CachedToken:
        """The cached token while it is fresh, else a new one (one fetch for all concurrent callers)."""
        cached = self._fresh()
        if cached is not None:
            return cached
        async with self._lock:
            cached = self._fresh()
            if cached is not None:
                return cached
            generation = self._generation
            value, expires_at = await self._fetch_token()
            now = self._clock()
            margin = min(self._refresh_margin, max(0.0, expires_at - now) / 2)
            secret = value if isinstance(value, SecretStr) else SecretStr(value)
            fetched = CachedToken(value=secret, expires_at=expires_at, renew_at=expires_at - margin)
            if self._generation == generation:
                self._cached = fetched
            return fetched

    def invalidate(self, token: str | None = None) -> None:
        """Drop the cached token: the one Amazon just rejected (ignored if already replaced), or any."""
        if token is None:
            self._cached = None
            self._generation += 1
        elif self._cached is not None and self._cached.value.get_secret_value() == token:
            self._cached = None

    def _fresh(self) -> CachedToken | None:
        if self._cached is None or self._clock() >= self._cached.renew_at:
            return None
        return self._cached

    def __repr__(self) -> str:
        return f"{type(self).__name__}(cached={self._cached is not None})"


class LwaTokenSource(CachingTokenSource):
    """Access tokens from LWA's refresh-token grant: for connector-auth, which holds refresh tokens."""

    def __init__(
        self,
        lwa: LwaClient,
        refresh_token: str | SecretStr,
        *,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(self._fetch, refresh_margin=refresh_margin, clock=clock)
        self._lwa = lwa
        self._refresh_token = refresh_token if isinstance(refresh_token, SecretStr) else SecretStr(refresh_token)

    async def _fetch(self) -> tuple[str, float]:
        tokens = await self._lwa.refresh(self._refresh_token)
        return tokens.access_token.get_secret_value(), self._clock() + tokens.expires_in

    def __repr__(self) -> str:
        return "LwaTokenSource(refresh_token=**********)"


class _InternalAccessToken(BaseModel):
    model_config = ConfigDict(extra="ignore")

    access_token: SecretStr
    expires_at: datetime


class ConnectorAuthTokenSource(CachingTokenSource):
    """Access tokens from connector-auth's internal API, for services that hold no refresh token.

    Calls `POST {base_url}/internal/connections/{connection_id}/access-token` with the service's
    bearer token; the answer is `{"access_token": ..., "expires_at": ISO 8601 or epoch seconds}`.
    After `invalidate()` (Amazon rejected the token) the next fetch adds `?renew=true`, so connector-auth
    drops its cached token too instead of handing the rejected one back.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        connection_id: str,
        service_token: str | SecretStr,
        *,
        refresh_margin: float = 60.0,
        clock: Callable[[], float] = time.time,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(self._fetch, refresh_margin=refresh_margin, clock=clock)
        self._http = http
        self._url = f"{base_url.rstrip('/')}/internal/connections/{quote(connection_id, safe='')}/access-token"
        self.connection_id = connection_id
        self._service_token = service_token if isinstance(service_token, SecretStr) else SecretStr(service_token)
        self._retry = retry or RetryPolicy(max_attempts=3)
        self._rng = rng or random.Random()  # jitter, not cryptography
        self._sleep = sleep
        self._renew_next = False

    def invalidate(self, token: str | None = None) -> None:
        cached = self._cached
        if token is None or (cached is not None and cached.value.get_secret_value() == token):
            self._renew_next = True
        super().invalidate(token)

    async def _fetch(self) -> tuple[str, float]:
        operation = "connector-auth.access-token"
        headers = {"authorization": f"Bearer {self._service_token.get_secret_value()}"}
        renew = self._renew_next
        params = {"renew": "true"} if renew else None

        async def send() -> httpx.Response:
            return await self._http.post(self._url, headers=headers, params=params)

        try:
            response = await send_with_retries(send, policy=self._retry, rng=self._rng, sleep=self._sleep)
        except httpx.TransportError as exc:
            raise AuthError(operation, reason=f"token API unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            # connector-auth relays LWA's verdict in its problem body's `kind`; without one it is a failure.
            kind = _problem_kind(response)
            error = {AuthErrorKind.CLIENT_REJECTED: LwaClientRejected, AuthErrorKind.GRANT_REJECTED: LwaGrantRejected}
            raise error.get(kind, AuthError)(operation, status=response.status_code, reason="token API refused")
        try:
            issued = _InternalAccessToken.model_validate_json(response.content)
        except ValidationError:
            raise AuthError(operation, status=response.status_code, reason="malformed token response") from None
        if renew:
            self._renew_next = False
        return issued.access_token.get_secret_value(), issued.expires_at.timestamp()

    def __repr__(self) -> str:
        return f"ConnectorAuthTokenSource(connection_id={self.connection_id!r})"


class ConnectorAuthTokens:
    """One cached ConnectorAuthTokenSource per connection, sharing an HTTP client."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        service_token: str | SecretStr,
        *,
        refresh_margin: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._base_url = base_url
        self._service_token = service_token
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._sources: dict[str, ConnectorAuthTokenSource] = {}

    def for_connection(self, connection_id: str) -> ConnectorAuthTokenSource:
        source = self._sources.get(connection_id)
        if source is None:
            source = ConnectorAuthTokenSource(
                self._http,
                self._base_url,
                connection_id,
                self._service_token,
                refresh_margin=self._refresh_margin,
                clock=self._clock,
            )
            self._sources[connection_id] = source
        return source

    def __repr__(self) -> str:
        return f"ConnectorAuthTokens(base_url={self._base_url!r}, connections={len(self._sources)})"
