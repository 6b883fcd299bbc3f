"""Composition root: load the official models once, build the world, and wire every route."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request, Response

from spapi_sandbox import admin, consent, documents, gateway, generator
from spapi_sandbox.config import SandboxConfig
from spapi_sandbox.faults import Faults
from spapi_sandbox.ledger import Ledger
from spapi_sandbox.lwa import Tokens
from spapi_sandbox.models import Models, load_models
from spapi_sandbox.notifications import Notifier
from spapi_sandbox.ratelimit import RateLimiter
from spapi_sandbox.state import State
from spapi_sandbox.world import World

logger = logging.getLogger(__name__)


def build_world(config: SandboxConfig, models: Models | None = None) -> World:
    models = models or load_models(config.resolved_models_dir())
    state = State(seed=config.seed)
    return World(
        config=config,
        models=models,
        state=state,
        tokens=Tokens(config.access_token_ttl_seconds, config.lwa_client_id, config.lwa_client_secret),
        limiter=RateLimiter(config.speedup),
        faults=Faults(state.rng),
        ledger=Ledger(),
        notifier=Notifier(models.order_change, config.notify_url, config.sqs_endpoint, config.application_id),
        orders_per_minute=config.orders_per_minute,
    )


def create_app(config: SandboxConfig | None = None, *, models: Models | None = None) -> FastAPI:
    world = build_world(config or SandboxConfig(), models)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = world.spawn(generator.run(world))
        if task is not None:
            task.set_name("keep:generator")
        try:
            yield
        finally:
            for task in list(world.tasks):
                task.cancel()
            await asyncio.gather(*world.tasks, return_exceptions=True)
            await world.notifier.close()

    app = FastAPI(
        title="SP-API sandbox",
        lifespan=lifespan,
        docs_url="/_sandbox/docs",
        redoc_url=None,
        openapi_url="/_sandbox/openapi.json",
    )
    app.state.world = world
    gateway.mount(app, world)
    app.include_router(admin.router(world))

    async def token(request: Request) -> Response:
        return await consent.token_endpoint(world, request)

    async def consent_get(request: Request) -> Response:
        return await consent.consent_page(world, request)

    async def consent_post(request: Request) -> Response:
        return await consent.consent_decision(world, request)

    async def s3_put(request: Request, document_id: str) -> Response:
        return await documents.upload(world, request, document_id)

    async def s3_get(request: Request, document_id: str) -> Response:
        return await documents.download(world, request, document_id)

    app.add_api_route("/auth/o2/token", token, methods=["POST"], include_in_schema=False)
    app.add_api_route("/apps/authorize/consent", consent_get, methods=["GET"], include_in_schema=False)
    app.add_api_route("/apps/authorize/consent", consent_post, methods=["POST"], include_in_schema=False)
    app.add_api_route("/_sandbox/s3/{document_id}", s3_put, methods=["PUT"], include_in_schema=False)
    app.add_api_route("/_sandbox/s3/{document_id}", s3_get, methods=["GET"], include_in_schema=False)
    return app
