"""Tombstones (null values on compacted topics) reach a tombstone handler instead of the dead-letter topic."""

import asyncio

import contracts
import pytest
from messaging import Consumer, KafkaSettings
from testkit import eventually, read_topic

from .conftest import STOCK, stock_event


async def test_a_tombstone_goes_to_its_handler_with_the_key_and_is_committed(
    producer, kafka, topic, service, dead_letters, kafka_bootstrap
) -> None:
    handled: list[str] = []
    deleted: list[bytes | None] = []

    async def on_event(event: contracts.CloudEvent) -> None:
        handled.append(event.data.sku)

    async def on_tombstone(key: bytes | None) -> None:
        deleted.append(key)

    record = contracts.encode(stock_event(1))
    await producer.send_and_wait(topic, record.value, key=b"SKU-1", headers=record.headers, partition=0)
    await producer.send_and_wait(topic, None, key=b"SKU-1", partition=0)
    consumer = Consumer(
        kafka,
        service=service,
        group_id=service,
        routes={STOCK: on_event},
        producer=producer,
        tombstones={STOCK: on_tombstone},
    )
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(lambda: asyncio.sleep(0, result=bool(deleted)))
    finally:
        await consumer.stop()
        await task

    assert handled == ["SKU-1"]
    assert deleted == [b"SKU-1"]
    assert await read_topic(kafka_bootstrap, dead_letters, expect=0, timeout=1.5) == []


async def test_without_a_tombstone_handler_a_null_value_is_still_dead_lettered(
    producer, kafka, topic, service, dead_letters, kafka_bootstrap
) -> None:
    async def on_event(event: contracts.CloudEvent) -> None:
        return None

    await producer.send_and_wait(topic, None, key=b"SKU-9", partition=0)
    consumer = Consumer(kafka, service=service, group_id=service, routes={STOCK: on_event}, producer=producer)
    task = asyncio.create_task(consumer.run())
    try:
        letters = await read_topic(kafka_bootstrap, dead_letters, expect=1)
    finally:
        await consumer.stop()
        await task
    assert [r.key for r in letters] == [b"SKU-9"]


def test_tombstone_handlers_need_a_route_for_their_topic() -> None:
    async def noop(*_: object) -> None:
        return None

    with pytest.raises(ValueError, match="without a route"):
        Consumer(
            KafkaSettings(bootstrap_servers="127.0.0.1:1"),
            service="svc",
            group_id="svc",
            routes={"a": noop},
            producer=None,  # type: ignore[arg-type]
            tombstones={"b": noop},
        )
