"""Composition root of catalog-sync: builds its pool, producer, Amazon clients, workers and admin app from Settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import asyncpg
import httpx
import messaging
import quota
import sellers
import servicekit
import spapi
import synchistory
from fastapi import FastAPI

from catalog_sync import admin, handlers
from catalog_sync.settings import Settings
from catalog_sync.sync import CatalogEngine, Tuning, build_retention, build_scheduler

SERVICE = "catalog-sync"
SCHEMA = "catalog_sync"
MIGRATIONS = [
    servicekit.MigrationSource("messaging", messaging.MIGRATIONS_DIR),
    servicekit.MigrationSource("synchistory", synchistory.MIGRATIONS_DIR),
    servicekit.MigrationSource("quota", quota.MIGRATIONS_DIR),
    # Before our own: our tables reference `connections`.
    servicekit.MigrationSource("sellers", sellers.MIGRATIONS_DIR),
    servicekit.MigrationSource(SERVICE, Path(__file__).resolve().parents[2] / "migrations"),
]


@dataclass(frozen=True, kw_only=True, slots=True)
class Service:
    app: FastAPI
    workers: list[servicekit.Worker]
    pool: asyncpg.Pool
    engine: CatalogEngine
    scheduler: synchistory.Scheduler
    consumer: messaging.Consumer
    relay: messaging.OutboxRelay


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
        httpx.AsyncClient(timeout=60.0) as http,
    ):
        if token_sources is None:
            token_sources = spapi.ConnectorAuthTokens(
                http, settings.connector_auth_url, settings.service_token
            ).for_connection
        # Amazon's per-application limits, held with every replica through the database.
        application_limits = spapi.application_limits(
            rate_scale=tuning.speedup, shares=settings.spapi_application_shares
        )
        clients = spapi.SpApiClients(
            http,
            token_sources,
            endpoint_url=settings.spapi_endpoint_url,
            speedup=tuning.speedup,
            application_limits=quota.SharedLimits(pool, application_limits),
        )
        relay = messaging.OutboxRelay(pool, producer, namespace=kafka.namespace)
        engine = CatalogEngine(pool=pool, clients=clients, tuning=tuning, published=relay.wake)
        scheduler = build_scheduler(pool, engine, tuning)
        retention = build_retention(pool, tuning)
        projection = sellers.consumer_routes(pool, on_saved=handlers.connection_saved, changed=scheduler.wake)
        consumer = messaging.Consumer(
            kafka,
            service=SERVICE,
            group_id=settings.consumer_group,
            routes={
                **projection.routes,
                "stock.changed": partial(handlers.stock_changed, pool=pool, changed=lambda: None),
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
            routers=admin.create_routers(pool, engine, scheduler.wake),
            principals=settings.admin_principals(),
        )
        yield Service(
            app=app,
            workers=[consumer, relay, scheduler, retention],
            pool=pool,
            engine=engine,
            scheduler=scheduler,
            consumer=consumer,
            relay=relay,
        )
