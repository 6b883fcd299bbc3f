"""Login with Amazon grants and the caching token sources."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

import httpx
import pytest
import spapi
from spapi import ConnectorAuthTokens, ConnectorAuthTokenSource, LwaClient, LwaCredentials, LwaTokenSource
from spapi_fakes import FakeClock, Recorder, settle

CLIENT_ID = "amzn1.application-oa2-client.unit"
CLIENT_SECRET = "unit-client-secret-do-not-log"
REFRESH_TOKEN = "Atzr|unit-refresh-token-do-not-log"
TOKEN_URL = "http://127.0.0.1:9/auth/o2/token"


def lwa_client(recorder: Recorder) -> LwaClient:
    return LwaClient(
        httpx.AsyncClient(transport=httpx.MockTransport(recorder)),
        LwaCredentials(client_id=CLIENT_ID, client_secret=CLIENT_SECRET),
        token_url=TOKEN_URL,
    )


def token_response(n: int = 1, expires_in: int = 3600, refresh: bool = False) -> httpx.Response:
    body = {"access_token": f"Atza|access-{n}", "token_type": "bearer", "expires_in": expires_in}
    if refresh:
        body["refresh_token"] = REFRESH_TOKEN
    return httpx.Response(200, json=body)


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


async def test_authorization_code_exchange_posts_the_form_amazon_documents():
    recorder = Recorder([token_response(refresh=True)])
    tokens = await lwa_client(recorder).exchange_authorization_code("ANcode", "https://app.example/cb")
    request = recorder.requests[0]
    assert request.method == "POST" and str(request.url) == TOKEN_URL
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert form(request) == {
        "grant_type": "authorization_code",
        "code": "ANcode",
        "redirect_uri": "https://app.example/cb",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    assert tokens.refresh_token is not None and tokens.refresh_token.get_secret_value() == REFRESH_TOKEN
    assert tokens.access_token.get_secret_value() == "Atza|access-1"


async def test_refresh_grant_posts_the_refresh_token():
    recorder = Recorder([token_response()])
    tokens = await lwa_client(recorder).refresh(REFRESH_TOKEN)
    assert form(recorder.requests[0]) == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH_TOKEN,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    assert tokens.expires_in == 3600


async def test_refused_grant_raises_auth_error_with_lwa_error_code():
    recorder = Recorder([httpx.Response(400, json={"error": "invalid_grant", "error_description": "bad"})])
    with pytest.raises(spapi.AuthError) as caught:
        await lwa_client(recorder).refresh(REFRESH_TOKEN)
    assert caught.value.codes == ["invalid_grant"]
    assert caught.value.status == 400
    assert len(recorder.requests) == 1


async def test_many_concurrent_callers_cause_one_refresh():
    gate = asyncio.Event()
    calls = 0

    async def slow_token_endpoint(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        await gate.wait()
        return token_response(calls)

    lwa = LwaClient(
        httpx.AsyncClient(transport=httpx.MockTransport(slow_token_endpoint)),
        LwaCredentials(client_id=CLIENT_ID, client_secret=CLIENT_SECRET),
        token_url=TOKEN_URL,
    )
    source = LwaTokenSource(lwa, REFRESH_TOKEN)
    callers = [asyncio.create_task(source.access_token()) for _ in range(50)]
    await settle()
    gate.set()
    tokens = await asyncio.gather(*callers)
    assert calls == 1
    assert set(tokens) == {"Atza|access-1"}


async def test_token_is_reused_then_refreshed_ahead_of_expiry():
    clock = FakeClock()
    recorder = Recorder([token_response(1), token_response(2)])
    source = LwaTokenSource(lwa_client(recorder), REFRESH_TOKEN, refresh_margin=300, clock=clock)
    assert await source.access_token() == "Atza|access-1"
    clock.now = 3600 - 301
    assert await source.access_token() == "Atza|access-1"
    assert len(recorder.requests) == 1
    clock.now = 3600 - 299  # inside the margin, before the real expiry
    assert await source.access_token() == "Atza|access-2"
    assert len(recorder.requests) == 2


async def test_invalidated_token_is_fetched_again_but_a_stale_invalidation_is_ignored():
    recorder = Recorder([token_response(1), token_response(2)])
    source = LwaTokenSource(lwa_client(recorder), REFRESH_TOKEN)
    first = await source.access_token()
    source.invalidate("some-older-token")
    assert await source.access_token() == first
    source.invalidate(first)
    assert await source.access_token() == "Atza|access-2"


async def test_lwa_token_source_is_refreshable():
    source = LwaTokenSource(lwa_client(Recorder()), REFRESH_TOKEN)
    assert isinstance(source, spapi.RefreshableTokenSource)
    assert not isinstance(spapi.StaticTokenSource("x"), spapi.RefreshableTokenSource)


async def test_connector_auth_source_calls_the_internal_api_and_caches():
    clock = FakeClock()
    clock.now = 1_800_000_000.0
    recorder = Recorder(
        [
            httpx.Response(200, json={"access_token": "Atza|internal-1", "expires_at": "2027-01-15T09:00:00Z"}),
            httpx.Response(200, json={"access_token": "Atza|internal-2", "expires_at": 1_800_007_200}),
        ]
    )
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    source = ConnectorAuthTokenSource(http, "http://connector-auth:8080/", "conn/1", "svc-token", clock=clock)
    assert await source.access_token() == "Atza|internal-1"
    request = recorder.requests[0]
    assert request.method == "POST"
    assert request.url.raw_path == b"/internal/connections/conn%2F1/access-token"
    assert request.headers["authorization"] == "Bearer svc-token"
    # expires_at 2027-01-15T09:00:00Z is 1_800_000_000 + 3600: still fresh at +3000 s (60 s margin).
    clock.now += 3000
    assert await source.access_token() == "Atza|internal-1"
    clock.now += 560
    assert await source.access_token() == "Atza|internal-2"
    assert len(recorder.requests) == 2


async def test_connector_auth_source_refreshes_once_under_concurrency():
    gate = asyncio.Event()
    calls = 0

    async def api(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        await gate.wait()
        return httpx.Response(200, json={"access_token": "Atza|shared", "expires_at": "2099-01-01T00:00:00Z"})

    tokens = ConnectorAuthTokens(httpx.AsyncClient(transport=httpx.MockTransport(api)), "http://ca", "svc")
    source = tokens.for_connection("c1")
    assert tokens.for_connection("c1") is source
    callers = [asyncio.create_task(source.access_token()) for _ in range(20)]
    await settle()
    gate.set()
    assert set(await asyncio.gather(*callers)) == {"Atza|shared"}
    assert calls == 1


async def test_connector_auth_refusal_is_an_auth_error():
    recorder = Recorder([httpx.Response(404, json={"detail": "unknown connection"})])
    source = ConnectorAuthTokenSource(
        httpx.AsyncClient(transport=httpx.MockTransport(recorder)), "http://ca", "c1", "svc"
    )
    with pytest.raises(spapi.AuthError) as caught:
        await source.access_token()
    assert caught.value.status == 404


async def test_caching_source_takes_any_fetch_and_renews_at_half_life_for_short_tokens():
    clock = FakeClock()
    fetched: list[int] = []

    async def fetch() -> tuple[str, float]:
        fetched.append(1)
        return f"token-{len(fetched)}", clock.now + 120

    source = spapi.CachingTokenSource(fetch, refresh_margin=300, clock=clock)
    token = await source.token()
    assert token.value.get_secret_value() == "token-1" and token.expires_at == 120 and token.renew_at == 60
    clock.now = 59
    assert await source.access_token() == "token-1"
    clock.now = 60
    assert await source.access_token() == "token-2"
    assert "token-" not in repr(source)


async def test_invalidating_everything_keeps_a_renewal_under_way_from_caching_its_token():
    gate = asyncio.Event()
    calls = 0

    async def fetch() -> tuple[str, float]:
        nonlocal calls
        calls += 1
        if calls == 1:
            await gate.wait()
        return f"token-{calls}", 4_000_000_000.0

    source = spapi.CachingTokenSource(fetch)
    under_way = asyncio.create_task(source.access_token())
    await settle()
    source.invalidate()  # e.g. the seller consented again while the old refresh token was being used
    gate.set()
    assert await under_way == "token-1"  # its caller still gets an answer
    assert await source.access_token() == "token-2"
    assert await source.access_token() == "token-2"
    assert calls == 2
