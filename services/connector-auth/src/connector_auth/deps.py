"""What the use cases need, built once by the composition root (bootstrap.py) and passed explicitly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import httpx
import marketplaces
import spapi

from connector_auth.access_tokens import AccessTokens
from connector_auth.crypto import TokenCipher
from connector_auth.oauth_state import Signer


@dataclass(frozen=True, slots=True, kw_only=True)
class Deps:
    pool: asyncpg.Pool
    cipher: TokenCipher
    signer: Signer
    lwa: spapi.LwaClient
    access_tokens: AccessTokens
    http: httpx.AsyncClient
    limiter: spapi.RateLimiter
    clock: Callable[[], datetime]
    public_base_url: str
    application_id: str
    draft_app: bool
    seller_central_url: str | None
    spapi_endpoint_url: str | None
    client_secret_rotated_at: datetime | None
    # Called after a commit that wrote outbox rows, so the relay publishes at once instead of polling.
    published: Callable[[], None]

    @property
    def redirect_uri(self) -> str:
        return f"{self.public_base_url}/oauth/callback"

    def seller_central(self, marketplace_ids: list[str]) -> str:
        """The consent page's host: the Seller Central of the connection's first (home) marketplace.

        SELLER_CENTRAL_URL overrides it (the sandbox serves every marketplace's consent page).
        """
        return self.seller_central_url or marketplaces.marketplace(marketplace_ids[0]).seller_central

    def spapi_endpoint(self, region: str) -> str:
        return self.spapi_endpoint_url or spapi.Region(region).endpoint
