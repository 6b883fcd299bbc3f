"""Fixtures for the spapi unit tests."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from spapi import RateLimiter, RetryPolicy, SpApiClient, StaticTokenSource, TokenSource
from spapi_fakes import ACCESS_TOKEN, ENDPOINT, SELLER, Recorder, unlimited


@dataclass
class Harness:
    client: SpApiClient
    recorder: Recorder
    slept: list[float]


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., Harness]]:
    clients: list[SpApiClient] = []

    def build(
        *script: httpx.Response | Exception | Callable[[httpx.Request], httpx.Response],
        token_source: TokenSource | None = None,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        default: httpx.Response | None = None,
    ) -> Harness:
        recorder = Recorder(list(script), default=default)
        slept: list[float] = []

        async def record_sleep(seconds: float) -> None:
            slept.append(seconds)

        client = SpApiClient(
            endpoint=ENDPOINT,
            selling_partner_id=SELLER,
            token_source=token_source or StaticTokenSource(ACCESS_TOKEN),
            http=httpx.AsyncClient(transport=httpx.MockTransport(recorder)),
            # Unit tests check call rules, not pacing: a huge bucket never makes them wait.
            limiter=limiter or RateLimiter({}, fallback=unlimited()),
            retry=retry or RetryPolicy(max_attempts=4, base_delay=0.1, max_delay=1.0),
            sleep=record_sleep,
        )
        clients.append(client)
        return Harness(client, recorder, slept)

    yield build
    for client in clients:
        await client.aclose()
