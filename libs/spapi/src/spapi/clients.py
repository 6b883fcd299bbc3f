"""A process's Amazon clients: one SpApiClient per connection, all sharing one HTTP client, limiter and retries."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Protocol

import httpx
from pydantic import SecretStr

from .auth import ConnectorAuthTokens, TokenSource
from .client import SpApiClient
from .rate_limit import ApplicationLimits, RateLimiter
from .regions import Region, endpoint_for
from .retry import RetryPolicy

# A connection id -> that connection's token source. Production: ConnectorAuthTokens(...).for_connection.
TokenSources = Callable[[str], TokenSource]


class SellerConnection(Protocol):
    """What the pool needs to know of a connection; `sellers.Connection` is one."""

    @property
    def connection_id(self) -> str: ...

    @property
    def selling_partner_id(self) -> str | None: ...

    @property
    def region(self) -> str: ...


class NotCallable(ValueError):
    """The connection has no selling partner yet (no consent given), so nothing may call Amazon for it."""


class SpApiClients:
    """One SpApiClient per connection id, rebuilt when the connection's seller or region changes.

    Every client shares `http`, one RateLimiter (buckets per seller and operation, so two connections of a
    seller never double its quota) and one RetryPolicy. `endpoint_url` overrides every region's host (the
    sandbox); `speedup` > 1 is only for a sped-up sandbox: it multiplies Amazon's rates and divides the
    retry waits, and is refused without `endpoint_url` so it can never reach Amazon itself. `application_limits`
    holds Amazon's per-application limits across replicas (see `spapi.application_limits`).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        token_sources: TokenSources,
        *,
        endpoint_url: str | None = None,
        speedup: float = 1.0,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        application_limits: ApplicationLimits | None = None,
    ) -> None:
        if speedup <= 0:
            raise ValueError("speedup must be positive")
        if speedup != 1.0 and not endpoint_url:
            raise ValueError("a speed-up is only for a sandbox: it needs endpoint_url")
        if limiter is not None and application_limits is not None:
            raise ValueError("give the limiter its application limits, or application_limits without a limiter")
        self._http = http
        self._token_sources = token_sources
        self._endpoint_url = endpoint_url
        self.speedup = speedup
        self.limiter = limiter or RateLimiter(rate_scale=speedup, application=application_limits)
        self.retry = retry or _scaled(RetryPolicy(), speedup)
        self._clients: dict[str, tuple[tuple[str, Region], SpApiClient]] = {}

    @classmethod
    def via_connector_auth(
        cls,
        http: httpx.AsyncClient,
        connector_auth_url: str,
        service_token: str | SecretStr,
        *,
        endpoint_url: str | None = None,
        speedup: float = 1.0,
    ) -> SpApiClients:
        """Access tokens from connector-auth's token API: what every service but connector-auth uses."""
        tokens = ConnectorAuthTokens(http, connector_auth_url, service_token)
        return cls(http, tokens.for_connection, endpoint_url=endpoint_url, speedup=speedup)

    def for_connection(self, connection: SellerConnection) -> SpApiClient:
        seller = connection.selling_partner_id
        if seller is None:
            raise NotCallable(f"connection {connection.connection_id} has no selling partner yet")
        identity = (seller, Region(connection.region))
        cached = self._clients.get(connection.connection_id)
        if cached is not None and cached[0] == identity:
            return cached[1]
        client = SpApiClient(
            endpoint=endpoint_for(identity[1], self._endpoint_url),
            selling_partner_id=seller,
            token_source=self._token_sources(connection.connection_id),
            http=self._http,
            limiter=self.limiter,
            retry=self.retry,
        )
        self._clients[connection.connection_id] = (identity, client)
        return client

    def __len__(self) -> int:
        return len(self._clients)

    def __repr__(self) -> str:
        return f"SpApiClients(endpoint_url={self._endpoint_url!r}, speedup={self.speedup}, clients={len(self)})"


def _scaled(policy: RetryPolicy, speedup: float) -> RetryPolicy:
    return dataclasses.replace(
        policy,
        base_delay=policy.base_delay / speedup,
        max_delay=policy.max_delay / speedup,
        max_retry_after=policy.max_retry_after / speedup,
    )
