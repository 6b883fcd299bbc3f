"""Fixtures for the messaging runtime: a pool on the scratch schema, a producer, and per-test topics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import contracts
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from messaging import KafkaSettings, kafka_producer
from testkit import create_topics, unique_name

LIB_SCHEMA = "lib_test"
EFFECTS_DDL = "CREATE TABLE IF NOT EXISTS effects (event_id text PRIMARY KEY, sku text NOT NULL, seen int NOT NULL)"


def stock_event(n: int) -> contracts.CloudEvent:
    data = contracts.StockChangedV1(
        sku=f"SKU-{n}", warehouse_id="WH-1", available=n, as_of=datetime(2026, 11, 1, 12, 0, n % 60, tzinfo=UTC)
    )
    return contracts.new_event("stock.changed", data, source="tests", revision=str(n))


def decode_as_stock(topic: str, value: bytes, headers: list[tuple[str, bytes]]) -> contracts.CloudEvent:
    """Tests use unique topic names; the payload type is the registry's for stock.changed."""
    return contracts.decode("stock.changed", value, headers)


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
async def topic(kafka_bootstrap: str) -> str:
    name = unique_name("test")
    await create_topics(kafka_bootstrap, [name], partitions=3)
    return name


@pytest_asyncio.fixture
async def service(kafka_bootstrap: str) -> str:
    """A unique consuming-service name whose dead-letter topic exists."""
    name = unique_name("svc").replace(".", "-")
    await create_topics(kafka_bootstrap, [contracts.dead_letter_topic(name)])
    return name
