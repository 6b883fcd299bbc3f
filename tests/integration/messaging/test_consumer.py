import asyncio
import json

import asyncpg
import contracts
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from messaging import Consumer, KafkaSettings, Rejected, RetryPolicy, dead_letter
from testkit import eventually, read_topic

from .conftest import STOCK, stock_event
from .effects import counting_handler


def _consumer(kafka: KafkaSettings, service, handler, producer, **kw) -> Consumer:
    return Consumer(kafka, service=service, group_id=service, routes={STOCK: handler}, producer=producer, **kw)


async def _send(producer: AIOKafkaProducer, topic: str, event: contracts.CloudEvent, partition: int = 0) -> None:
    record = contracts.encode(event)
    await producer.send_and_wait(topic, record.value, key=record.key, headers=record.headers, partition=partition)


async def _committed(kafka: KafkaSettings, service: str, topic: str) -> int:
    probe = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers, group_id=kafka.group(service), enable_auto_commit=False
    )
    await probe.start()
    try:
        return await probe.committed(TopicPartition(topic, 0)) or 0
    finally:
        await probe.stop()


async def _effects(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as conn:
        return [r["sku"] for r in await conn.fetch("SELECT sku FROM effects ORDER BY sku")]


async def test_poison_events_go_to_the_dead_letter_topic_and_the_consumer_goes_on(
    pool, producer, kafka, topic, service, dead_letters, kafka_bootstrap
) -> None:
    valid = stock_event(1)
    invalid = json.loads(contracts.encode(stock_event(2)).value)
    invalid["data"]["available"] = -3
    await producer.send_and_wait(topic, b"{not json", key=b"k", partition=0)
    await producer.send_and_wait(topic, json.dumps(invalid).encode(), key=b"SKU-2", partition=0)
    await _send(producer, topic, valid)

    consumer = _consumer(kafka, service, counting_handler(pool, service), producer)
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(lambda: _effects(pool))
    finally:
        await consumer.stop()
        await task

    assert await _effects(pool) == ["SKU-1"]
    letters = await read_topic(kafka_bootstrap, dead_letters, expect=2)
    assert [r.value for r in letters] == [b"{not json", json.dumps(invalid).encode()]
    first, second = (dict(r.headers) for r in letters)
    assert first[dead_letter.REASON] == b"invalid-event"
    assert b"JSON" in first[dead_letter.ERROR]
    assert b"available" in second[dead_letter.ERROR]
    assert (
        second[dead_letter.SOURCE_TOPIC],
        second[dead_letter.SOURCE_PARTITION],
        second[dead_letter.SOURCE_OFFSET],
    ) == (
        topic.encode(),
        b"0",
        b"1",
    )
    assert await _committed(kafka, service, topic) == 3


async def test_a_rejected_event_is_dead_lettered_with_the_handlers_reason(
    producer, kafka, topic, service, dead_letters, kafka_bootstrap
) -> None:
    async def refuse(event: contracts.CloudEvent) -> None:
        raise Rejected(f"sku {event.data.sku} is fulfilled by Amazon")

    await _send(producer, topic, stock_event(5))
    consumer = _consumer(kafka, service, refuse, producer)
    task = asyncio.create_task(consumer.run())
    try:
        letters = await read_topic(kafka_bootstrap, dead_letters, expect=1)
    finally:
        await consumer.stop()
        await task
    headers = dict(letters[0].headers)
    assert headers[dead_letter.REASON] == b"rejected"
    assert headers[dead_letter.ERROR] == b"sku SKU-5 is fulfilled by Amazon"


async def test_a_failing_handler_stops_the_consumer_without_committing_and_the_event_comes_back(
    pool, producer, kafka, topic, service, dead_letters, kafka_bootstrap
) -> None:
    calls = 0

    async def broken(event: contracts.CloudEvent) -> None:
        nonlocal calls
        calls += 1
        # A bug, not an outage: outages are ridden out (test_consumer_outage.py), bugs stop the consumer.
        raise RuntimeError("the handler has a bug")

    await _send(producer, topic, stock_event(7))
    failing = _consumer(kafka, service, broken, producer, retry=RetryPolicy(attempts=3, first_delay=0.01))
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(failing.run(), timeout=30)
    assert calls == 3
    assert await _committed(kafka, service, topic) == 0

    healthy = _consumer(kafka, service, counting_handler(pool, service), producer)
    task = asyncio.create_task(healthy.run())
    try:
        await eventually(lambda: _effects(pool))
    finally:
        await healthy.stop()
        await task
    assert await _effects(pool) == ["SKU-7"]
    assert await _committed(kafka, service, topic) == 1


async def test_a_rebalance_hands_partitions_over_without_redelivering_applied_events(
    pool, producer, kafka, topic, service, dead_letters, kafka_bootstrap
) -> None:
    events = [stock_event(n) for n in range(150)]
    for n, event in enumerate(events):
        await _send(producer, topic, event, partition=n % 3)
    first = _consumer(kafka, service, counting_handler(pool, service, delay=0.05), producer, max_records=30)
    second = _consumer(kafka, service, counting_handler(pool, service, delay=0.05), producer, max_records=30)
    tasks = [asyncio.create_task(first.run())]
    try:
        await eventually(lambda: _effects(pool))
        tasks.append(asyncio.create_task(second.run()))

        async def done() -> bool:
            return len(await _effects(pool)) == 150

        await eventually(done, timeout=60)
    finally:
        for c in (first, second):
            await c.stop()
        await asyncio.gather(*tasks)
    async with pool.acquire() as conn:
        seen = await conn.fetch("SELECT seen, count(*) AS n FROM effects GROUP BY seen")
    assert {r["seen"]: r["n"] for r in seen} == {1: 150}, "revoked partitions were committed before hand-over"


async def test_a_handler_that_finds_the_event_invalid_dead_letters_it_and_the_partition_flows_on(
    pool, producer, kafka, topic, service, dead_letters, kafka_bootstrap
) -> None:
    counting = counting_handler(pool, service)

    async def strict(event: contracts.CloudEvent) -> None:
        if event.data.available == 0:
            # e.g. a service-level rule checked by a model of its own
            contracts.StockChangedV1.model_validate({"sku": event.data.sku, "available": "none"})
        await counting(event)

    await _send(producer, topic, stock_event(0))
    await _send(producer, topic, stock_event(3))
    consumer = _consumer(kafka, service, strict, producer)
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(lambda: _effects(pool))
    finally:
        await consumer.stop()
        await task
    assert await _effects(pool) == ["SKU-3"]
    (letter,) = await read_topic(kafka_bootstrap, dead_letters, expect=1)
    headers = dict(letter.headers)
    assert headers[dead_letter.REASON] == dead_letter.INVALID_EVENT.encode()
    assert b"invalid for its handler" in headers[dead_letter.ERROR]
    assert b"none" not in headers[dead_letter.ERROR], "the error names fields, never their input"
    assert await _committed(kafka, service, topic) == 2
