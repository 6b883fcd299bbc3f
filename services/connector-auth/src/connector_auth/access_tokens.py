"""Short-lived LWA access tokens per connection: spapi's caching token source over the stored refresh tokens.

Access tokens never touch the database or Kafka (infra-notes §6.3); refresh tokens are decrypted only for
the moment of a refresh-token grant. The lock is per connection and per process: with N replicas a
connection sees at most N renewals per hour.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import asyncpg
import servicekit
import spapi
from prometheus_client import Counter
from pydantic import SecretStr

from connector_auth import lwa_client_alert, repository
from connector_auth.crypto import DecryptionFailed, Sealed, TokenCipher, refresh_token_aad

log = logging.getLogger(__name__)

REFRESHES = Counter(
    "connector_auth_access_token_refreshes_total", "Refresh-token grants sent to Login with Amazon", ["outcome"]
)
FORCED_RENEWALS = Counter(
    "connector_auth_access_token_forced_renewals_total",
    "Renewals a service asked for after Amazon rejected a token, by outcome (renewed, rate_limited)",
    ["outcome"],
)
# LWA tokens live an hour; renewing 5 minutes early keeps a caller's in-flight call from carrying a dying token.
DEFAULT_MARGIN = timedelta(minutes=5)
# At most one renewal on request per connection in this window: every replica of a service that saw the
# same 401 asks at once, and all of them need the one new token, not one grant each.
FORCED_RENEWAL_INTERVAL = timedelta(seconds=30)


class NoRefreshToken(Exception):
    """The connection has no stored consent (pending, or disconnected)."""


class RefreshRefused(Exception):
    """Amazon refused the refresh token (`invalid_grant`): the seller revoked consent. Re-authorize."""


class StoredConsentUnreadable(servicekit.Problem):
    """A missing key (rotation done wrong) or a ciphertext moved between rows: an operator must look (500)."""

    def __init__(self, reason: str) -> None:
        super().__init__(500, f"the stored consent cannot be decrypted: {reason}")


def unseal(cipher: TokenCipher, sealed: Sealed, aad: bytes) -> str:
    try:
        return cipher.decrypt(sealed, aad)
    except DecryptionFailed as exc:
        log.error("stored refresh token cannot be decrypted: %s", exc)
        raise StoredConsentUnreadable(str(exc)) from None


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: SecretStr
    expires_at: datetime
    renew_at: datetime


class AccessTokens:
    """One spapi.CachingTokenSource per connection, fetching with the connection's stored refresh token."""

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
        self._sources: dict[str, spapi.CachingTokenSource] = {}
        self._forced_at: dict[str, datetime] = {}

    def source(self, connection_id: str) -> spapi.CachingTokenSource:
        """The connection's token source: spapi's TokenSource for connector-auth's own calls (test connection)."""
        found = self._sources.get(connection_id)
        if found is None:
            found = spapi.CachingTokenSource(
                partial(self._renew, connection_id),
                refresh_margin=self._margin.total_seconds(),
                clock=lambda: self._clock().timestamp(),
            )
            self._sources[connection_id] = found
        return found

    async def get(self, connection_id: str) -> AccessToken:
        token = await self.source(connection_id).token()
        return AccessToken(
            value=token.value,
            expires_at=datetime.fromtimestamp(token.expires_at, UTC),
            renew_at=datetime.fromtimestamp(token.renew_at, UTC),
        )

    def force_renewal(self, connection_id: str) -> bool:
        """A service's call was rejected (401/403) with the cached token: drop it so the next get() renews.

        Returns False, renewing nothing, when a renewal was forced for this connection within the last
        FORCED_RENEWAL_INTERVAL: the token that renewal produced is the one the caller gets.
        """
        now = self._clock()
        last = self._forced_at.get(connection_id)
        if last is not None and now - last < FORCED_RENEWAL_INTERVAL:
            FORCED_RENEWALS.labels("rate_limited").inc()
            return False
        self._forced_at[connection_id] = now
        self.invalidate(connection_id)
        FORCED_RENEWALS.labels("renewed").inc()
        return True

    def invalidate(self, connection_id: str) -> None:
        """After re-consent or disconnect: the next caller renews, and a renewal under way is not cached."""
        source = self._sources.get(connection_id)
        if source is not None:
            source.invalidate()

    async def _renew(self, connection_id: str) -> tuple[SecretStr, float]:
        async with self._pool.acquire() as conn:
            sealed = await repository.load_refresh_token(conn, connection_id)
            region = await conn.fetchval("SELECT region FROM connections WHERE id = $1", connection_id)
        if sealed is None or region is None:
            raise NoRefreshToken(connection_id)
        refresh_token = SecretStr(unseal(self._cipher, sealed, refresh_token_aad(connection_id, region)))
        try:
            tokens = await self._lwa.refresh(refresh_token)
        except spapi.AuthError as exc:
            if exc.kind is spapi.AuthErrorKind.CLIENT_REJECTED:
                REFRESHES.labels("client_rejected").inc()
                lwa_client_alert.rejected("refresh_token")
                raise lwa_client_alert.ClientCredentialsRejected() from None
            if exc.kind is spapi.AuthErrorKind.GRANT_REJECTED:
                REFRESHES.labels("refused").inc()
                log.warning("LWA refused the refresh token", extra={"connection_id": connection_id, "codes": exc.codes})
                raise RefreshRefused(connection_id) from None
            REFRESHES.labels("failed").inc()
            raise
        lwa_client_alert.accepted()
        REFRESHES.labels("ok").inc()
        log.info("access token renewed", extra={"connection_id": connection_id, "expires_in": tokens.expires_in})
        return tokens.access_token, self._clock().timestamp() + tokens.expires_in
