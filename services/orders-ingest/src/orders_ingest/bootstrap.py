"""Composition root of orders-ingest: builds its pool, producer, Amazon clients, workers and admin app from Settings."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
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

from orders_ingest import admin, handlers
from orders_ingest.notification_queue import NotificationQueue, QueueSettings, sqs_client
from orders_ingest.notifications import NotificationIntake
from orders_ingest.settings import Settings
from orders_ingest.sync import SyncEngine, Tuning, build_retention, build_scheduler

SERVICE = "orders-ingest"
SCHEMA = "orders_ingest"
MIGRATIONS = [
    servicekit.MigrationSource("messaging", messaging.MIGRATIONS_DIR),
    # Before our own: our 0003 moves the sync history it kept into the lib's tables.
    servicekit.MigrationSource("synchistory", synchistory.MIGRATIONS_DIR),
    servicekit.MigrationSource(SERVICE, Path(__file__).resolve().parents[2] / "migrations"),
    # After our own: our 0001 created `connections` before the lib did; the lib's 0001 adopts it (its README).
    servicekit.MigrationSource("sellers", sellers.MIGRATIONS_DIR),
]


@dataclass(frozen=True, kw_only=True, slots=True)
class Service:
    app: FastAPI
    workers: list[servicekit.Worker]
    pool: asyncpg.Pool
    engine: SyncEngine
    scheduler: synchistory.Scheduler
    retention: synchistory.Retention
    consumer: messaging.Consumer
    relay: messaging.OutboxRelay
    intake: NotificationIntake
    # None without NOTIFICATIONS_QUEUE_URL.
    notification_queue: NotificationQueue | None


@asynccontextmanager
async def build(
    settings: Settings,
    *,
    token_sources: spapi.TokenSources | None = None,
    tuning: Tuning | None = None,
) -> AsyncIterator[Service]:
    """`token_sources` is a test seam; production gets tokens from connector-auth's token API."""
    tuning = tuning or Tuning(speedup=settings.sandbox_speedup)
    kafka = messaging.KafkaSettings.of(settings, SERVICE)
    async with (
        servicekit.postgres_pool(settings.postgres(SCHEMA)) as pool,
        messaging.kafka_producer(kafka) as producer,
        httpx.AsyncClient(timeout=30.0) as http,
        contextlib.AsyncExitStack() as stack,
    ):
        if token_sources is None:
            token_sources = spapi.ConnectorAuthTokens(
                http, settings.connector_auth_url, settings.service_token
            ).for_connection
        clients = spapi.SpApiClients(
            http, token_sources, endpoint_url=settings.spapi_endpoint_url, speedup=tuning.speedup
        )
        relay = messaging.OutboxRelay(pool, producer, namespace=kafka.namespace)
        engine = SyncEngine(
            pool=pool,
            clients=clients,
            tuning=tuning,
            buyer_ref_key=settings.buyer_ref_key.get_secret_value().encode(),
            published=relay.wake,
        )
        scheduler = build_scheduler(pool, engine, tuning)
        retention = build_retention(pool, tuning)

        # A tombstone deletes the connection and, by cascade, its schedule; orders and sync history stay.
        projection = sellers.consumer_routes(
            pool,
            on_saved=partial(handlers.connection_saved, initial_lookback=tuning.initial_lookback),
            changed=scheduler.wake,
        )
        consumer = messaging.Consumer(
            kafka,
            service=SERVICE,
            group_id=settings.consumer_group,
            routes=projection.routes,
            tombstones=projection.tombstones,
            producer=producer,
        )
        intake = NotificationIntake(
            pool,
            application_id=settings.spapi_application_id,
            max_pending_per_connection=settings.notifications_max_pending_per_connection,
            queued=scheduler.wake,
        )
        notification_queue = None
        if settings.notifications_queue_url:
            queue = QueueSettings(
                queue_url=settings.notifications_queue_url,
                endpoint_url=settings.sqs_endpoint_url,
                region=settings.aws_region,
                wait_seconds=settings.notifications_wait_seconds,
                dead_letter_queue_url=settings.notifications_dead_letter_queue_url,
            )
            notification_queue = NotificationQueue(await stack.enter_async_context(sqs_client(queue)), queue, intake)
        app = servicekit.create_admin_app(
            SERVICE,
            checks={
                "postgres": partial(servicekit.ping, pool),
                "kafka": partial(messaging.kafka_reachable, producer),
                "consumer": consumer.ready,
            },
            routers=admin.create_routers(pool, scheduler.wake),
            principals=settings.admin_principals(),
        )
        yield Service(
            app=app,
            workers=[consumer, relay, scheduler, retention, *([notification_queue] if notification_queue else [])],
            pool=pool,
            engine=engine,
            scheduler=scheduler,
            retention=retention,
            consumer=consumer,
            relay=relay,
            intake=intake,
            notification_queue=notification_queue,
        )
