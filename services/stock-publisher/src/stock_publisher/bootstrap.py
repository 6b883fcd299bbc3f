"""Composition root of stock-publisher: builds its pool, producer, Amazon clients, workers and admin app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
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

from stock_publisher import admin, feed_notifications, handlers
from stock_publisher.publisher import StockSync, Tuning
from stock_publisher.settings import Settings
from stock_publisher.sync_history import HISTORY

SERVICE = "stock-publisher"
# Records per consumer batch: a batch of stock changes is one transaction, so bigger batches mean fewer of them.
CONSUMER_MAX_RECORDS = 5000
SCHEMA = "stock_publisher"
MIGRATIONS = [
    servicekit.MigrationSource("messaging", messaging.MIGRATIONS_DIR),
    servicekit.MigrationSource("synchistory", synchistory.MIGRATIONS_DIR),
    servicekit.MigrationSource("quota", quota.MIGRATIONS_DIR),
    # Before our own: push_schedule references connections.
    servicekit.MigrationSource("sellers", sellers.MIGRATIONS_DIR),
    servicekit.MigrationSource(SERVICE, Path(__file__).resolve().parents[2] / "migrations"),
]


@dataclass(frozen=True, kw_only=True, slots=True)
class Service:
    app: FastAPI
    workers: list[servicekit.Worker]
    pool: asyncpg.Pool
    sync: StockSync
    scheduler: synchistory.Scheduler
    consumer: messaging.Consumer
    relay: messaging.OutboxRelay


def tuning_of(settings: Settings) -> Tuning:
    return Tuning(
        speedup=settings.sandbox_speedup,
        coalesce=timedelta(seconds=settings.stock_coalesce_seconds),
        patch_max_skus=settings.stock_patch_max_skus,
        apply_delay=timedelta(seconds=settings.stock_apply_delay_seconds),
        feed_poll=timedelta(seconds=settings.stock_feed_poll_seconds),
        feed_destination_id=settings.stock_notifications_destination_id,
        feed_poll_notified=timedelta(seconds=settings.stock_feed_poll_notified_seconds),
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
        httpx.AsyncClient(timeout=30.0) as http,
        AsyncExitStack() as stack,
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
        sync = StockSync(pool=pool, clients=clients, tuning=tuning, published=relay.wake)
        scheduler = synchistory.Scheduler(
            pool,
            sync.lanes,
            concurrency=tuning.max_concurrent_lanes,
            max_sleep=tuning.scheduler_max_sleep.total_seconds(),
        )
        sync.wake = scheduler.wake
        retention = synchistory.Retention(pool, HISTORY)
        notified: list[servicekit.Worker] = []
        if settings.stock_notifications_queue_url:
            queue = feed_notifications.QueueSettings(
                queue_url=settings.stock_notifications_queue_url, endpoint_url=settings.sqs_endpoint_url,
                region=settings.aws_region, wait_seconds=settings.stock_notifications_wait_seconds,
            )  # fmt: skip
            sqs = await stack.enter_async_context(feed_notifications.sqs_client(queue))
            notified.append(feed_notifications.FeedNotifications(sqs, queue, pool, scheduler.wake))
        projection = sellers.consumer_routes(pool, on_saved=handlers.connection_saved, changed=scheduler.wake)
        consumer = messaging.Consumer(
            kafka,
            service=SERVICE,
            group_id=settings.consumer_group,
            routes={
                **projection.routes,
                "listing.updated": partial(
                    handlers.listing_updated, pool=pool, coalesce=tuning.coalesce, changed=scheduler.wake
                ),
            },
            # One transaction per fetched batch of stock changes (handlers.stock_changed_batch).
            batch_routes={
                "stock.changed": partial(
                    handlers.stock_changed_batch, pool=pool, coalesce=tuning.coalesce, changed=scheduler.wake
                ),
            },
            max_records=CONSUMER_MAX_RECORDS,
            tombstones={**projection.tombstones, "listing.updated": partial(handlers.listing_removed, pool=pool)},
            producer=producer,
        )
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
            workers=[consumer, relay, scheduler, retention, *notified],
            pool=pool,
            sync=sync,
            scheduler=scheduler,
            consumer=consumer,
            relay=relay,
        )
