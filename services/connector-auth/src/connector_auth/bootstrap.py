"""Composition root of connector-auth: builds its pool, producer, clients, workers and admin app from Settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
import messaging
import servicekit
import spapi
from fastapi import FastAPI

from connector_auth import admin_routes, internal_api, oauth_routes, subscriptions
from connector_auth.access_tokens import AccessTokens
from connector_auth.crypto import TokenCipher
from connector_auth.deadline_watch import DeadlineWatch
from connector_auth.deps import Deps
from connector_auth.oauth_state import Signer
from connector_auth.service_auth import ServiceAuthenticator, parse_service_tokens
from connector_auth.settings import Settings

SERVICE = "connector-auth"
SCHEMA = "connector_auth"
MIGRATIONS = [
    servicekit.MigrationSource("messaging", messaging.MIGRATIONS_DIR),
    servicekit.MigrationSource(SERVICE, Path(__file__).resolve().parents[2] / "migrations"),
]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True, slots=True)
class Service:
    app: FastAPI
    workers: list[servicekit.Worker]
    deps: Deps
    deadline_watch: DeadlineWatch
    # The browser-facing routes only (/setup/*, /oauth/callback), on PUBLIC_PORT: what an ingress exposes.
    public_app: FastAPI
    public: servicekit.AdminSettings
    # None without NOTIFICATIONS_QUEUE_ARN.
    subscriptions: subscriptions.Subscriptions | None = None

    @property
    def listeners(self) -> list[servicekit.Listener]:
        return [servicekit.Listener("public", self.public_app, self.public.host, self.public.port)]


@asynccontextmanager
async def build(settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> AsyncIterator[Service]:
    kafka = messaging.KafkaSettings.of(settings, SERVICE)
    cipher = TokenCipher.from_spec(settings.token_encryption_keys)
    signer = Signer(settings.state_signing_key.get_secret_value().encode())
    authenticate = ServiceAuthenticator(parse_service_tokens(settings.service_tokens))
    credentials = spapi.LwaCredentials(client_id=settings.lwa_client_id, client_secret=settings.lwa_client_secret)
    async with (
        servicekit.postgres_pool(settings.postgres(SCHEMA)) as pool,
        messaging.kafka_producer(kafka) as producer,
        httpx.AsyncClient(timeout=30.0) as http,
    ):
        relay = messaging.OutboxRelay(pool, producer, namespace=kafka.namespace)
        # Every connection change publishes an event; the same moment tells the subscription worker to look.
        woken: list[Callable[[], None]] = [relay.wake]

        def published() -> None:
            for wake in woken:
                wake()

        lwa = spapi.LwaClient(http, credentials, token_url=settings.lwa_token_url)
        deps = Deps(
            pool=pool,
            cipher=cipher,
            signer=signer,
            lwa=lwa,
            access_tokens=AccessTokens(pool=pool, cipher=cipher, lwa=lwa, clock=clock),
            http=http,
            limiter=spapi.RateLimiter(),
            clock=clock,
            public_base_url=settings.public_base_url,
            application_id=settings.spapi_application_id,
            draft_app=settings.spapi_draft_app,
            seller_central_url=settings.seller_central_url,
            spapi_endpoint_url=settings.spapi_endpoint_url,
            client_secret_rotated_at=settings.client_secret_rotated_at,
            published=published,
        )
        app = servicekit.create_admin_app(
            SERVICE,
            checks={"postgres": partial(servicekit.ping, pool), "kafka": partial(messaging.kafka_reachable, producer)},
            routers=[admin_routes.router(deps), internal_api.router(deps, authenticate)],
            principals=settings.admin_principals(),
        )
        public_app = oauth_routes.public_app(deps)
        watch = DeadlineWatch(deps)
        workers: list[servicekit.Worker] = [relay, watch]
        subscriber = None
        if settings.notifications_queue_arn:
            subscriber = subscriptions.Subscriptions(
                deps,
                queue_arn=settings.notifications_queue_arn,
                destination_name=settings.notifications_destination_name,
            )
            woken.append(subscriber.wake)
            workers.append(subscriber)
        yield Service(
            app=app,
            workers=workers,
            deps=deps,
            deadline_watch=watch,
            subscriptions=subscriber,
            public_app=public_app,
            public=servicekit.AdminSettings(host=settings.public_host, port=settings.public_port),
        )
