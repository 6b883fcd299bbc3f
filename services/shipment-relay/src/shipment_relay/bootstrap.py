"""Composition root of shipment-relay: builds its pool, producer, Amazon clients, workers and admin app."""

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
import synchistory
from fastapi import FastAPI

from shipment_relay import admin, cancellations, handlers
from shipment_relay.cancellations import Canceller
from shipment_relay.confirmer import Confirmer, Tuning
from shipment_relay.settings import Settings
from shipment_relay.sync_history import HISTORY

SERVICE = "shipment-relay"
SCHEMA = "shipment_relay"
MIGRATIONS = [
    servicekit.MigrationSource("messaging", messaging.MIGRATIONS_DIR),
    servicekit.MigrationSource("sellers", sellers.MIGRATIONS_DIR),
    servicekit.MigrationSource("synchistory", synchistory.MIGRATIONS_DIR),
    servicekit.MigrationSource(SERVICE, Path(__file__).resolve().parents[2] / "migrations"),
]


@dataclass(frozen=True, kw_only=True, slots=True)
class Service:
    app: FastAPI
    workers: list[servicekit.Worker]
    pool: asyncpg.Pool
    confirmer: Confirmer
    canceller: Canceller
    consumer: messaging.Consumer
    relay: messaging.OutboxRelay


def tuning_of(settings: Settings) -> Tuning:
    return Tuning(
        speedup=settings.sandbox_speedup,
        apply_delay=timedelta(seconds=settings.shipment_apply_delay_seconds),
        sending_lease=timedelta(seconds=settings.shipment_sending_lease_seconds),
        concurrency=settings.shipment_concurrency,
    )


@asynccontextmanager
async def build(
    settings: Settings, *, token_sources: spapi.TokenSources | None = None, tuning: Tuning | None = None
) -> AsyncIterator[Service]:
    """`token_sources` is a test seam; production gets tokens from connector-auth's token API."""
    tuning = tuning or tuning_of(settings)
    kafka = messaging.KafkaSettings.of(settings, SERVICE)
    async with (
        servicekit.postgres_pool(settings.postgres(SCHEMA)) as pool,
        messaging.kafka_producer(kafka) as producer,
        httpx.AsyncClient(timeout=settings.spapi_timeout_seconds) as http,
    ):
        if token_sources is None:
            token_sources = spapi.ConnectorAuthTokens(
                http, settings.connector_auth_url, settings.service_token
            ).for_connection
        clients = spapi.SpApiClients(
            http, token_sources, endpoint_url=settings.spapi_endpoint_url, speedup=tuning.speedup
        )
        relay = messaging.OutboxRelay(pool, producer, namespace=kafka.namespace)
        canceller = Canceller(pool=pool, clients=clients, speedup=tuning.speedup, published=relay.wake)
        confirmer = Confirmer(pool=pool, clients=clients, tuning=tuning, published=relay.wake, redriven=canceller.wake)
        projection = sellers.consumer_routes(pool, changed=confirmer.wake)
        consumer = messaging.Consumer(
            kafka,
            service=SERVICE,
            group_id=settings.consumer_group,
            routes={
                **projection.routes,
                "order.completed": partial(
                    cancellations.order_completed, pool=pool, queued=canceller.wake, published=relay.wake
                ),
            },
            batch_routes={
                "shipment.created": partial(handlers.shipments_created, pool=pool, queued=confirmer.wake),
                "order.received": partial(handlers.orders_received, pool=pool),
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
            routers=[admin.create_router(pool, confirmer.wake), admin.sync_router(pool, confirmer.wake)],
            principals=settings.admin_principals(),
        )
        yield Service(
            app=app,
            workers=[consumer, relay, confirmer, canceller, synchistory.Retention(pool, HISTORY)],
            pool=pool,
            confirmer=confirmer,
            canceller=canceller,
            consumer=consumer,
            relay=relay,
        )
