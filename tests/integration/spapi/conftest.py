"""The spapi client against the real sandbox over HTTP, sped up so Amazon's limits take seconds, not hours."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import spapi
import spapi_sandbox
from testkit.sandbox import SPEEDUP

SELLER = spapi_sandbox.DEFAULT_SELLER_ID
MARKETPLACE = spapi_sandbox.DEFAULT_MARKETPLACE_ID


@pytest.fixture(scope="session")
def spapi_sandbox_url(sandbox_url: str) -> str:
    """testkit's session sandbox; every Amazon rate and duration in it is scaled by SPEEDUP, as are our defaults."""
    return sandbox_url


@pytest.fixture
async def admin(spapi_sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox's own /_sandbox/ endpoints, reset before each test so buckets and ledger start empty."""
    async with httpx.AsyncClient(base_url=spapi_sandbox_url, timeout=30) as client:
        (await client.post("/_sandbox/reset")).raise_for_status()
        yield client


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture
def lwa(spapi_sandbox_url: str, http: httpx.AsyncClient) -> spapi.LwaClient:
    return spapi.LwaClient(
        http,
        spapi.LwaCredentials(client_id="amzn1.application-oa2-client.test", client_secret="test-secret"),
        token_url=f"{spapi_sandbox_url}/auth/o2/token",
    )


@pytest.fixture
def token_source(lwa: spapi.LwaClient) -> spapi.LwaTokenSource:
    return spapi.LwaTokenSource(lwa, spapi_sandbox.DEFAULT_REFRESH_TOKEN)


def fast_retries() -> spapi.RetryPolicy:
    # Amazon-scale back-off (0.5 s doubling) divided by the speed-up would be sub-millisecond; keep
    # it small but real so retries are still spaced and jittered.
    return spapi.RetryPolicy(max_attempts=5, base_delay=0.02, max_delay=0.5)


@pytest.fixture
def make_amazon(
    admin: httpx.AsyncClient, spapi_sandbox_url: str, token_source: spapi.LwaTokenSource, http: httpx.AsyncClient
) -> Callable[..., spapi.SpApiClient]:
    def build(http_client: httpx.AsyncClient | None = None) -> spapi.SpApiClient:
        # A fresh limiter per test, matching the sandbox's buckets that admin just reset.
        return spapi.SpApiClient(
            endpoint=spapi.endpoint_for(spapi.Region.NA, spapi_sandbox_url),
            selling_partner_id=SELLER,
            token_source=token_source,
            http=http_client or http,
            limiter=spapi.RateLimiter(rate_scale=SPEEDUP),
            retry=fast_retries(),
        )

    return build


@pytest.fixture
def amazon(make_amazon: Callable[..., spapi.SpApiClient]) -> spapi.SpApiClient:
    return make_amazon()
