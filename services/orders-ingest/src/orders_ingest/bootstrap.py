"""Composition root of orders-ingest: builds its pool, producer, Amazon clients, workers and admin app from Settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import asyncpg
import httpx
import messaging
import servicekit
import spapi
from fastapi import FastAPI

from orders_ingest import admin, handlers
from orders_ingest.notifications import NotificationIntake
from orders_ingest.settings import Settings
from orders_ingest.sync import AmazonClients, RetentionJob, Scheduler, SyncEngine, Tuning

SERVICE = "orders-ingest"
SCHEMA = "orders_ingest"
CONNECTIONS = "connection.updated"
MIGRATIONS = [
    servicekit.MigrationSource("messaging", messaging.MIGRATIONS_DIR),
    servicekit.MigrationSource(SERVICE, Path(__file__).resolve().parents[2] / "migrations"),
]

TokenSources = Callable[[str], spapi.TokenSource]


@dataclass(frozen=True, kw_only=True, slots=True)
class Service:
    app: FastAPI
    workers: list[servicekit.Worker]
    pool: asyncpg.Pool
    engine: SyncEngine
    scheduler: Scheduler
    retention: RetentionJob
    consumer: messaging.Consumer
    relay: messaging.OutboxRelay


@asynccontextmanager
async def build(
    settings: Settings,
    *,
    token_sources: TokenSources | None = None,
    tuning: Tuning | None = None,
) -> AsyncIterator[Service]:
    """`token_sources` is a test seam; production gets tokens from connector-auth's token API."""
    tuning = tuning or Tuning(speedup=settings.sandbox_speedup)
    kafka = messaging.KafkaSettings(
        bootstrap_servers=settings.kafka_bootstrap_servers, client_id=SERVICE, namespace=settings.kafka_namespace
    )
    async with (
        servicekit.postgres_pool(settings.postgres(SCHEMA)) as pool,
        messaging.kafka_producer(kafka) as producer,
        httpx.AsyncClient(timeout=30.0) as http,
    ):
        if token_sources is None:
            token_sources = spapi.ConnectorAuthTokens(
                http, settings.connector_auth_url, settings.service_token
            ).for_connection
        speedup = tuning.speedup
        clients = AmazonClients(
            http=http,
            token_sources=token_sources,
            endpoint_override=settings.spapi_endpoint_url,
            limiter=spapi.RateLimiter(rate_scale=speedup),
            retry=spapi.RetryPolicy(
                max_attempts=5, base_delay=0.5 / speedup, max_delay=30.0 / speedup, max_retry_after=120.0 / speedup
            ),
        )
        relay = messaging.OutboxRelay(pool, producer, namespace=kafka.namespace)
        engine = SyncEngine(
            pool=pool,
            clients=clients,
            tuning=tuning,
            buyer_ref_key=settings.buyer_ref_key.get_secret_value().encode(),
            published=relay.wake,
        )
        scheduler = Scheduler(pool, engine, tuning)
        retention = RetentionJob(pool, tuning)

        consumer = messaging.Consumer(
            kafka,
            service=SERVICE,
            group_id=settings.consumer_group,
            routes={
                CONNECTIONS: partial(
                    handlers.apply_connection,
                    pool=pool,
                    initial_lookback=tuning.initial_lookback,
                    changed=scheduler.wake,
                )
            },
            tombstones={CONNECTIONS: partial(handlers.remove_connection, pool=pool)},
            producer=producer,
        )
        intake = NotificationIntake(pool, queued=scheduler.wake)
        app = servicekit.create_admin_app(
            SERVICE,
            checks={
                "postgres": partial(servicekit.ping, pool),
                "kafka": partial(messaging.kafka_reachable, producer),
                "consumer": consumer.ready,
            },
            routers=admin.create_routers(pool, intake, scheduler.wake),
            principals=settings.admin_principals(),
        )
        yield Service(
            app=app,
            workers=[consumer, relay, scheduler, retention],
            pool=pool,
            engine=engine,
            scheduler=scheduler,
            retention=retention,
            consumer=consumer,
            relay=relay,
        )
