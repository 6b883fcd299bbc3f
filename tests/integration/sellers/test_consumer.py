"""The projection behind a real messaging.Consumer on a compacted connection.updated, in a namespace of its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import contracts
import pytest_asyncio
import sellers
from aiokafka import AIOKafkaProducer
from messaging import Consumer, KafkaSettings, ensure_topics, kafka_producer
from testkit import eventually, read_topic, unique_name

from .conftest import connection_event

SERVICE = "sellers-test"


@pytest_asyncio.fixture
async def kafka(kafka_bootstrap: str) -> KafkaSettings:
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap, client_id="tests", namespace=unique_name("ns"))
    wanted = [t for t in contracts.kafka_topics() if t.name == sellers.TOPIC]
    wanted.append(contracts.KafkaTopic(name=contracts.dead_letter_topic(SERVICE), partitions=1, configs={}))
    await ensure_topics(kafka_bootstrap, wanted, namespace=settings.namespace)
    return settings


@pytest_asyncio.fixture
async def producer(kafka: KafkaSettings) -> AsyncIterator[AIOKafkaProducer]:
    async with kafka_producer(kafka) as p:
        yield p


async def publish(producer: AIOKafkaProducer, kafka: KafkaSettings, *records: object) -> None:
    """Events are encoded; a bytes item is a tombstone with that key. One partition, so the order is the log's."""
    for record in records:
        if isinstance(record, bytes):
            await producer.send_and_wait(kafka.topic(sellers.TOPIC), None, key=record, partition=0)
        else:
            encoded = contracts.encode(record)  # type: ignore[arg-type]
            await producer.send_and_wait(
                kafka.topic(sellers.TOPIC), encoded.value, key=encoded.key, headers=encoded.headers, partition=0
            )


async def consume_until(
    kafka: KafkaSettings,
    producer: AIOKafkaProducer,
    pool: asyncpg.Pool,
    *,
    group: str,
    arrived: str,
    saved: list[tuple[str, int]],
) -> None:
    """Runs a consumer of `group` until connection `arrived` is in the table."""

    async def on_saved(conn: asyncpg.Connection, connection: sellers.Connection) -> None:
        saved.append((connection.connection_id, connection.revision))

    routes, tombstones = sellers.consumer_routes(pool, on_saved=on_saved)
    consumer = Consumer(kafka, service=SERVICE, group_id=group, routes=routes, tombstones=tombstones, producer=producer)
    task = asyncio.create_task(consumer.run())

    async def probe() -> bool:
        async with pool.acquire() as conn:
            return await sellers.connection(conn, arrived) is not None

    try:
        await eventually(probe, timeout=30)
    finally:
        await consumer.stop()
        await task


async def test_the_topic_log_becomes_the_table_and_a_replay_changes_nothing(
    kafka: KafkaSettings, producer: AIOKafkaProducer, pool: asyncpg.Pool
) -> None:
    await publish(
        producer,
        kafka,
        connection_event("conn-1", 1),
        connection_event("conn-1", 2, status="disabled"),
        connection_event("conn-1", 1),  # a producer retry of an older revision
        connection_event("conn-2", 1),
        b"conn-2",
        b"\xff\xfe",  # a tombstone whose key names nothing: dead-lettered, the partition keeps flowing
        connection_event("conn-last", 1),
    )
    saved: list[tuple[str, int]] = []
    await consume_until(kafka, producer, pool, group="first", arrived="conn-last", saved=saved)
    async with pool.acquire() as conn:
        table = [(c.connection_id, c.revision, c.status.value) for c in await sellers.connections(conn)]
    assert table == [("conn-1", 2, "disabled"), ("conn-last", 1, "active")]
    assert saved == [("conn-1", 1), ("conn-1", 2), ("conn-2", 1), ("conn-last", 1)]
    letters = await read_topic(kafka.bootstrap_servers, kafka.topic(contracts.dead_letter_topic(SERVICE)), expect=1)
    assert [(r.key, dict(r.headers)["dlq_reason"]) for r in letters] == [(b"\xff\xfe", b"rejected")]

    # A second consumer group reads the whole log again (a group reset): it ends where the first did. Only
    # conn-2 comes back for a moment, until its tombstone deletes it again.
    saved.clear()
    await publish(producer, kafka, connection_event("conn-marker", 1))
    await consume_until(kafka, producer, pool, group="replay", arrived="conn-marker", saved=saved)
    async with pool.acquire() as conn:
        again = [(c.connection_id, c.revision, c.status.value) for c in await sellers.connections(conn)]
    assert again == [*table, ("conn-marker", 1, "active")]
    assert saved == [("conn-2", 1), ("conn-marker", 1)]
