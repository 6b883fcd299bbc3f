"""Fixtures for the messaging runtime: a pool on the scratch schema, a producer, and a Kafka namespace per test.

Code under test speaks registry names (`stock.changed`); `topic` is that topic's name on the wire.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import contracts
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from messaging import KafkaSettings, ensure_topics, kafka_producer
from testkit import unique_name

LIB_SCHEMA = "lib_test"
EFFECTS_DDL = "CREATE TABLE IF NOT EXISTS effects (event_id text PRIMARY KEY, sku text NOT NULL, seen int NOT NULL)"


def stock_event(n: int) -> contracts.CloudEvent:
    data = contracts.StockChangedV1(
        sku=f"SKU-{n}", warehouse_id="WH-1", available=n, as_of=datetime(2026, 11, 1, 12, 0, n % 60, tzinfo=UTC)
    )
    return contracts.new_event("stock.changed", data, source="tests", revision=str(n))


STOCK = "stock.changed"


@pytest_asyncio.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=8, server_settings={"search_path": LIB_SCHEMA})
    async with pool.acquire() as conn:
        await conn.execute(EFFECTS_DDL)
    yield pool
    await pool.close()


@pytest_asyncio.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    async with kafka_producer(KafkaSettings(bootstrap_servers=kafka_bootstrap, client_id="tests")) as p:
        yield p


@pytest_asyncio.fixture
async def kafka(kafka_bootstrap: str) -> KafkaSettings:
    """Settings in a namespace of this test's own, where stock.changed exists."""
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap, client_id="tests", namespace=unique_name("ns"))
    await ensure_topics(
        kafka_bootstrap, [t for t in contracts.kafka_topics() if t.name == STOCK], namespace=settings.namespace
    )
    return settings


@pytest_asyncio.fixture
async def topic(kafka: KafkaSettings) -> str:
    return kafka.topic(STOCK)


@pytest_asyncio.fixture
async def service(kafka: KafkaSettings) -> str:
    """A consuming-service name whose dead-letter topic exists in the test's namespace."""
    name = "svc"
    dlq = contracts.KafkaTopic(name=contracts.dead_letter_topic(name), partitions=1, configs={})
    await ensure_topics(kafka.bootstrap_servers, [dlq], namespace=kafka.namespace)
    return name


@pytest_asyncio.fixture
async def dead_letters(kafka: KafkaSettings, service: str) -> str:
    """The wire name of the service's dead-letter topic."""
    return kafka.topic(contracts.dead_letter_topic(service))
