"""Unit fixtures: the official models compiled once, a fresh world per test, and an in-process HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from spapi_sandbox import DEFAULT_REFRESH_TOKEN, SandboxConfig
from spapi_sandbox.app import build_world, create_app
from spapi_sandbox.config import find_models_dir
from spapi_sandbox.models import Models, load_models
from spapi_sandbox.world import World


@pytest.fixture(scope="session")
def models() -> Models:
    return load_models(find_models_dir())


@pytest.fixture
def world(models: Models) -> World:
    return build_world(SandboxConfig(seed=7), models)


@pytest.fixture
def app_config() -> SandboxConfig:
    return SandboxConfig(
        seed=7,
        feed_queue_seconds=0.01,
        feed_processing_seconds=0.01,
        report_processing_seconds=0.02,
        order_visibility_lag_seconds=0,
        write_apply_seconds=0.1,  # long enough to see a write accepted but not applied
    )


@pytest_asyncio.fixture
async def api(models: Models, app_config: SandboxConfig) -> AsyncIterator[httpx.AsyncClient]:
    """An SP-API client already holding an access token of the default seller."""
    app = create_app(app_config, models=models)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
        token = await client.post(
            "/auth/o2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": DEFAULT_REFRESH_TOKEN,
                "client_id": "id",
                "client_secret": "secret",
            },
        )
        client.headers["x-amz-access-token"] = token.json()["access_token"]
        client.world = app.state.world  # type: ignore[attr-defined]
        yield client
