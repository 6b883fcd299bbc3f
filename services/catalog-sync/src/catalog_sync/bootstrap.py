"""Composition root of catalog-sync: builds its pool, producer, workers and admin app from Settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import messaging
import servicekit
from fastapi import FastAPI

from catalog_sync.settings import Settings

SERVICE = "catalog-sync"
SCHEMA = "catalog_sync"
MIGRATIONS = [
    servicekit.MigrationSource("messaging", messaging.MIGRATIONS_DIR),
    servicekit.MigrationSource(SERVICE, Path(__file__).resolve().parents[2] / "migrations"),
]


@dataclass(frozen=True, kw_only=True, slots=True)
class Service:
    app: FastAPI
    workers: list[servicekit.Worker]


@asynccontextmanager
async def build(settings: Settings) -> AsyncIterator[Service]:
    kafka = messaging.KafkaSettings.of(settings, SERVICE)
    async with (
        servicekit.postgres_pool(settings.postgres(SCHEMA)) as pool,
        messaging.kafka_producer(kafka) as producer,
    ):
        relay = messaging.OutboxRelay(pool, producer, namespace=kafka.namespace)
        app = servicekit.create_admin_app(
            SERVICE,
            checks={"postgres": partial(servicekit.ping, pool), "kafka": partial(messaging.kafka_reachable, producer)},
            principals=settings.admin_principals(),
        )
        yield Service(app=app, workers=[relay])
