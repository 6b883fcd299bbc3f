"""Short-lived LWA access tokens per connection: cached in memory, renewed ahead of expiry, one renewal at a time.

Access tokens never touch the database or Kafka (infra-notes §6.3); refresh tokens are decrypted only for
the moment of a refresh-token grant. The lock is per connection and per process: with N replicas a
connection sees at most N renewals per hour.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import spapi
from prometheus_client import Counter
from pydantic import SecretStr

from connector_auth import repository
from connector_auth.crypto import TokenCipher, refresh_token_aad

log = logging.getLogger(__name__)

REFRESHES = Counter(
    "connector_auth_access_token_refreshes_total", "Refresh-token grants sent to Login with Amazon", ["outcome"]
)
# LWA tokens live an hour; renewing 5 minutes early keeps a caller's in-flight call from carrying a dying token.
DEFAULT_MARGIN = timedelta(minutes=5)


class NoRefreshToken(Exception):
    """The connection has no stored consent (pending, or disconnected)."""


class RefreshRefused(Exception):
    """Amazon refused the refresh token: the seller revoked consent or it was never valid. Re-authorize."""


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: SecretStr
    expires_at: datetime
    renew_at: datetime


class AccessTokens:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        cipher: TokenCipher,
        lwa: spapi.LwaClient,
        clock: Callable[[], datetime],
        margin: timedelta = DEFAULT_MARGIN,
    ) -> None:
        self._pool = pool
        self._cipher = cipher
        self._lwa = lwa
        self._clock = clock
        self._margin = margin
        self._cache: dict[str, AccessToken] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # Bumped by invalidate(): a renewal that started before it must not repopulate the cache.
        self._generation: dict[str, int] = {}

    async def get(self, connection_id: str) -> AccessToken:
        token = self._fresh(connection_id)
        if token is not None:
            return token
        lock = self._locks.setdefault(connection_id, asyncio.Lock())
        async with lock:
            token = self._fresh(connection_id)
            if token is not None:
                return token
            generation = self._generation.get(connection_id, 0)
            token = await self._renew(connection_id)
            if self._generation.get(connection_id, 0) == generation:
                self._cache[connection_id] = token
            return token

    def invalidate(self, connection_id: str) -> None:
        """After re-consent, disconnect or a token Amazon rejected: the next caller renews."""
        self._cache.pop(connection_id, None)
        self._generation[connection_id] = self._generation.get(connection_id, 0) + 1

    def _fresh(self, connection_id: str) -> AccessToken | None:
        token = self._cache.get(connection_id)
        if token is None or self._clock() >= token.renew_at:
            return None
        return token

    async def _renew(self, connection_id: str) -> AccessToken:
        async with self._pool.acquire() as conn:
            sealed = await repository.load_refresh_token(conn, connection_id)
            region = await conn.fetchval("SELECT region FROM connections WHERE id = $1", connection_id)
        if sealed is None or region is None:
            raise NoRefreshToken(connection_id)
        refresh_token = SecretStr(self._cipher.decrypt(sealed, refresh_token_aad(connection_id, region)))
        try:
            tokens = await self._lwa.refresh(refresh_token)
        except spapi.AuthError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                REFRESHES.labels("refused").inc()
                log.warning("LWA refused the refresh token", extra={"connection_id": connection_id, "codes": exc.codes})
                raise RefreshRefused(connection_id) from None
            REFRESHES.labels("failed").inc()
            raise
        REFRESHES.labels("ok").inc()
        now = self._clock()
        lifetime = timedelta(seconds=tokens.expires_in)
        # A short-lived token (a sandbox's) is renewed at half its life at the latest.
        margin = min(self._margin, lifetime / 2)
        log.info("access token renewed", extra={"connection_id": connection_id, "expires_in": tokens.expires_in})
        return AccessToken(value=tokens.access_token, expires_at=now + lifetime, renew_at=now + lifetime - margin)


class ConnectionTokenSource:
    """spapi's TokenSource over the cache, for connector-auth's own calls (test connection)."""

    def __init__(self, tokens: AccessTokens, connection_id: str) -> None:
        self._tokens = tokens
        self._connection_id = connection_id

    async def access_token(self) -> str:
        return (await self._tokens.get(self._connection_id)).value.get_secret_value()

    def invalidate(self, token: str) -> None:
        self._tokens.invalidate(self._connection_id)

    def __repr__(self) -> str:
        return f"ConnectionTokenSource(connection_id={self._connection_id!r})"
