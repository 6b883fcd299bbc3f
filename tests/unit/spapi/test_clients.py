"""SpApiClients: one client per connection, rebuilt on a new seller or region, sharing limiter and retries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from spapi import (
    DEFAULT_RATE_LIMITS,
    NotCallable,
    RetryPolicy,
    SpApiClients,
    StaticTokenSource,
    TokenSource,
)
from spapi.operations import SEARCH_ORDERS
from spapi_fakes import Recorder, ok

SANDBOX = "http://127.0.0.1:8999/"


@dataclass(frozen=True)
class Seller:
    connection_id: str
    selling_partner_id: str | None
    region: str = "NA"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    recorder = Recorder(default=ok({"orders": []}))
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        client.recorder = recorder  # type: ignore[attr-defined]
        yield client


def tokens_by_connection(asked: list[str]) -> object:
    def source(connection_id: str) -> TokenSource:
        asked.append(connection_id)
        return StaticTokenSource(f"token-of-{connection_id}")

    return source


def test_one_client_per_connection_sharing_the_limiter_and_retries(http: httpx.AsyncClient) -> None:
    asked: list[str] = []
    clients = SpApiClients(http, tokens_by_connection(asked))  # type: ignore[arg-type]
    first = clients.for_connection(Seller("c1", "S1"))
    assert clients.for_connection(Seller("c1", "S1")) is first
    other = clients.for_connection(Seller("c2", "S1"))
    assert other is not first and len(clients) == 2
    assert first.limiter is other.limiter is clients.limiter
    assert first.retry is other.retry is clients.retry
    assert asked == ["c1", "c2"]
    assert first.endpoint == "https://sellingpartnerapi-na.amazon.com"


def test_a_new_seller_or_region_rebuilds_the_client(http: httpx.AsyncClient) -> None:
    clients = SpApiClients(http, lambda cid: StaticTokenSource("t"))
    first = clients.for_connection(Seller("c1", "S1", "NA"))
    reconsented = clients.for_connection(Seller("c1", "S2", "NA"))
    assert reconsented is not first and reconsented.selling_partner_id == "S2"
    moved = clients.for_connection(Seller("c1", "S2", "EU"))
    assert moved is not reconsented and moved.endpoint == "https://sellingpartnerapi-eu.amazon.com"
    assert clients.for_connection(Seller("c1", "S2", "EU")) is moved and len(clients) == 1


def test_the_endpoint_override_wins_for_every_region(http: httpx.AsyncClient) -> None:
    clients = SpApiClients(http, lambda cid: StaticTokenSource("t"), endpoint_url=SANDBOX)
    assert {clients.for_connection(Seller(f"c-{r}", "S1", r)).endpoint for r in ("NA", "EU", "FE")} == {
        SANDBOX.rstrip("/")
    }


def test_speedup_scales_rates_and_retry_waits_and_needs_a_sandbox(http: httpx.AsyncClient) -> None:
    clients = SpApiClients(http, lambda cid: StaticTokenSource("t"), endpoint_url=SANDBOX, speedup=100)
    default = DEFAULT_RATE_LIMITS["orders.searchOrders"]
    assert clients.limiter.bucket("S1", "orders.searchOrders").rate == pytest.approx(default.rate * 100)
    assert (clients.retry.base_delay, clients.retry.max_delay, clients.retry.max_retry_after) == pytest.approx(
        (0.005, 0.3, 1.2)
    )
    assert clients.retry.max_attempts == RetryPolicy().max_attempts
    with pytest.raises(ValueError, match="sandbox"):
        SpApiClients(http, lambda cid: StaticTokenSource("t"), speedup=100)
    with pytest.raises(ValueError, match="positive"):
        SpApiClients(http, lambda cid: StaticTokenSource("t"), endpoint_url=SANDBOX, speedup=0)


def test_an_explicit_retry_policy_is_taken_as_is(http: httpx.AsyncClient) -> None:
    policy = RetryPolicy(max_attempts=2, base_delay=1.0)
    clients = SpApiClients(http, lambda cid: StaticTokenSource("t"), endpoint_url=SANDBOX, speedup=10, retry=policy)
    assert clients.retry is policy


def test_a_connection_without_a_seller_is_not_callable(http: httpx.AsyncClient) -> None:
    clients = SpApiClients(http, lambda cid: StaticTokenSource("t"))
    with pytest.raises(NotCallable, match="c1"):
        clients.for_connection(Seller("c1", None))
    assert len(clients) == 0


async def test_each_client_calls_with_its_own_connections_token(http: httpx.AsyncClient) -> None:
    clients = SpApiClients(http, tokens_by_connection([]), endpoint_url=SANDBOX)  # type: ignore[arg-type]
    await clients.for_connection(Seller("c1", "S1")).call(SEARCH_ORDERS)
    await clients.for_connection(Seller("c2", "S2")).call(SEARCH_ORDERS)
    sent = http.recorder.requests  # type: ignore[attr-defined]
    assert [r.headers["x-amz-access-token"] for r in sent] == ["token-of-c1", "token-of-c2"]
    assert {r.url.host for r in sent} == {"127.0.0.1"}


async def test_via_connector_auth_asks_the_token_api_for_each_connection() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.startswith("/internal/connections/"):
            connection_id = request.url.path.split("/")[3]
            return ok({"access_token": f"Atza|{connection_id}", "expires_at": "2999-01-01T00:00:00Z"})
        return ok({"orders": []})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        clients = SpApiClients.via_connector_auth(
            http, "http://connector-auth:8000", "service-token-0123", endpoint_url=SANDBOX
        )
        await clients.for_connection(Seller("conn-1", "S1")).call(SEARCH_ORDERS)
    token_call, amazon_call = seen
    assert (token_call.method, token_call.url.path) == ("POST", "/internal/connections/conn-1/access-token")
    assert token_call.headers["authorization"] == "Bearer service-token-0123"
    assert amazon_call.headers["x-amz-access-token"] == "Atza|conn-1"
