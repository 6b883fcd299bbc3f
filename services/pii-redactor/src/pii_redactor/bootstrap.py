"""Composition root of pii-redactor: builds its pool, producer, consumer, redaction job and admin app from Settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

import asyncpg
import httpx
import messaging
import sellers
import servicekit
import spapi
from fastapi import FastAPI

from pii_redactor import admin, amazon_pii, handlers
from pii_redactor.clock import Clock
from pii_redactor.crypto import VaultCipher
from pii_redactor.redaction import RedactionJob
from pii_redactor.settings import Settings, parse_service_tokens

SERVICE = "pii-redactor"
SCHEMA = "pii_redactor"
MIGRATIONS = [
    servicekit.MigrationSource("messaging", messaging.MIGRATIONS_DIR),
    # Before our own: the schedule reads each connection's retention from the lib's table.
    servicekit.MigrationSource("sellers", sellers.MIGRATIONS_DIR),
    servicekit.MigrationSource(SERVICE, Path(__file__).resolve().parents[2] / "migrations"),
]


@dataclass(frozen=True, kw_only=True, slots=True)
class Service:
    app: FastAPI
    workers: list[servicekit.Worker]
    pool: asyncpg.Pool
    consumer: messaging.Consumer
    relay: messaging.OutboxRelay
    job: RedactionJob
    clock: Clock


@asynccontextmanager
async def build(
    settings: Settings, *, clock: Clock | None = None, token_sources: spapi.TokenSources | None = None
) -> AsyncIterator[Service]:
    """`clock` and `token_sources` are test seams: tests move time forward instead of waiting 30 days, and take
    Amazon tokens from the sandbox instead of connector-auth."""
    clock = clock or Clock()
    kafka = messaging.KafkaSettings.of(settings, SERVICE)
    cipher = VaultCipher.from_spec(settings.pii_encryption_keys)
    hard_max = settings.hard_max_days
    async with (
        servicekit.postgres_pool(settings.postgres(SCHEMA)) as pool,
        messaging.kafka_producer(kafka) as producer,
        httpx.AsyncClient(timeout=30.0) as http,
    ):
        fetch_pii = None
        if token_sources is None and settings.connector_auth_url and settings.service_token:
            token_sources = spapi.ConnectorAuthTokens(
                http, settings.connector_auth_url, settings.service_token
            ).for_connection
        if token_sources is not None:
            clients = spapi.SpApiClients(
                http, token_sources, endpoint_url=settings.spapi_endpoint_url, speedup=settings.sandbox_speedup
            )
            fetch_pii = partial(_fetch_pii, pool, clients)
        relay = messaging.OutboxRelay(pool, producer, namespace=kafka.namespace)
        job = RedactionJob(pool, now=clock, batch_size=settings.redaction_batch_size, published=relay.wake)
        worker = servicekit.PeriodicWorker("redaction", job.tick, every=settings.redaction_interval_seconds)
        projection = sellers.consumer_routes(pool, on_saved=partial(handlers.connection_saved, hard_max_days=hard_max))
        consumer = messaging.Consumer(
            kafka,
            service=SERVICE,
            group_id=settings.consumer_group,
            routes={
                **projection.routes,
                "order.received": partial(handlers.order_received, pool=pool, cipher=cipher, hard_max_days=hard_max),
                "order.completed": partial(handlers.order_completed, pool=pool, hard_max_days=hard_max),
                "order.cancelled": partial(handlers.order_cancelled, pool=pool, hard_max_days=hard_max),
                "shipment.confirmed": partial(handlers.shipment_confirmed, pool=pool, hard_max_days=hard_max),
            },
            tombstones=projection.tombstones,
            producer=producer,
        )
        app = servicekit.create_admin_app(
            SERVICE,
            checks={
                "postgres": partial(servicekit.ping, pool),
                "kafka": partial(messaging.kafka_reachable, producer),
                "consumer": consumer.ready,
            },
            routers=admin.create_routers(
                pool,
                cipher=cipher,
                clock=clock,
                due_soon=timedelta(days=settings.due_soon_days),
                test_clock_enabled=settings.test_clock_enabled,
                service_tokens=parse_service_tokens(settings.service_tokens) if settings.service_tokens else {},
                published=relay.wake,
                clock_moved=worker.wake,
                fetch_pii=fetch_pii,
            ),
            principals=settings.admin_principals(),
        )
        yield Service(
            app=app, workers=[consumer, relay, worker], pool=pool, consumer=consumer, relay=relay, job=job, clock=clock
        )


async def _fetch_pii(
    pool: asyncpg.Pool, clients: spapi.SpApiClients, connection_id: str, amazon_order_id: str
) -> dict[str, object]:
    async with pool.acquire() as conn:
        connection = await sellers.connection(conn, connection_id)
    if connection is None or not connection.callable:
        raise amazon_pii.AddressUnavailable(f"connection {connection_id} is unknown or cannot call Amazon")
    return await amazon_pii.fetch(clients, connection, amazon_order_id)
