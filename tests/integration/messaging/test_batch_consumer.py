"""Batch handlers against real Kafka and PostgreSQL: one call and one transaction per fetched batch, poison isolated,
an outage met mid-transaction retried whole, offsets committed only after the batch's effect."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import contracts
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from messaging import Consumer, KafkaSettings, Rejected, dead_letter
from testkit import eventually, read_topic

from .conftest import STOCK, stock_event


def _consumer(kafka: KafkaSettings, service: str, handler, producer: AIOKafkaProducer) -> Consumer:
    return Consumer(kafka, service=service, group_id=service, batch_routes={STOCK: handler}, producer=producer)


async def _send(producer: AIOKafkaProducer, topic: str, events: list[contracts.CloudEvent]) -> None:
    for event in events:
        record = contracts.encode(event)
        await producer.send_and_wait(topic, record.value, key=record.key, headers=record.headers, partition=0)


async def _committed(kafka: KafkaSettings, service: str, topic: str) -> int:
    probe = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers, group_id=kafka.group(service), enable_auto_commit=False
    )
    await probe.start()
    try:
        return await probe.committed(TopicPartition(topic, 0)) or 0
    finally:
        await probe.stop()


async def _effects(pool: asyncpg.Pool) -> dict[str, int]:
    async with pool.acquire() as conn:
        return {r["sku"]: r["seen"] for r in await conn.fetch("SELECT sku, seen FROM effects")}


def batch_handler(pool: asyncpg.Pool, calls: list[list[str]]):
    """Writes every event of the batch in one transaction; a repeated event id would count `seen` up."""

    async def apply(events: list[contracts.CloudEvent]) -> None:
        calls.append([e.data.sku for e in events])
        async with pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                """INSERT INTO effects (event_id, sku, seen) VALUES ($1, $2, 1)
                   ON CONFLICT (event_id) DO UPDATE SET seen = effects.seen + 1""",
                [(str(e.id), e.data.sku) for e in events],
            )
            if any(e.data.sku == "SKU-99" for e in events):
                raise Rejected("SKU-99 is fulfilled by Amazon")

    return apply


async def test_a_fetched_batch_is_applied_by_one_call_and_committed_after_it(
    pool, producer, kafka, topic, service
) -> None:
    await _send(producer, topic, [stock_event(n) for n in range(20)])
    calls: list[list[str]] = []
    release = asyncio.Event()
    committed_during_the_call: list[int] = []
    effect = batch_handler(pool, calls)

    async def held(events: list[contracts.CloudEvent]) -> None:
        await effect(events)
        committed_during_the_call.append(await _committed(kafka, service, topic))
        await release.wait()

    consumer = _consumer(kafka, service, held, producer)
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(lambda: asyncio.sleep(0, result=bool(committed_during_the_call)))
        assert await _committed(kafka, service, topic) == 0, "committed before the handler returned"
        release.set()

        async def committed_all() -> bool:
            return await _committed(kafka, service, topic) == 20

        await eventually(committed_all)
    finally:
        release.set()
        await consumer.stop()
        await task
    assert calls == [[f"SKU-{n}" for n in range(20)]]
    assert committed_during_the_call == [0]
    assert await _effects(pool) == {f"SKU-{n}": 1 for n in range(20)}


async def test_poison_inside_a_batch_is_dead_lettered_alone_and_the_others_are_applied(
    pool, producer, kafka, topic, service, dead_letters, kafka_bootstrap
) -> None:
    await _send(producer, topic, [stock_event(1)])
    await producer.send_and_wait(topic, b"{not json", key=b"k", partition=0)
    await _send(producer, topic, [stock_event(n) for n in (12, 99, 14)])
    calls: list[list[str]] = []
    consumer = _consumer(kafka, service, batch_handler(pool, calls), producer)
    task = asyncio.create_task(consumer.run())
    try:

        async def committed_all() -> bool:
            return await _committed(kafka, service, topic) == 5

        await eventually(committed_all)
    finally:
        await consumer.stop()
        await task

    assert await _effects(pool) == {"SKU-1": 1, "SKU-12": 1, "SKU-14": 1}, "the rejected batch was rolled back"
    assert calls[0] == ["SKU-1", "SKU-12", "SKU-99", "SKU-14"]
    assert calls[1:] == [["SKU-1"], ["SKU-12"], ["SKU-99"], ["SKU-14"]]
    letters = await read_topic(kafka_bootstrap, dead_letters, expect=2)
    assert [(dict(r.headers)[dead_letter.REASON], dict(r.headers)[dead_letter.SOURCE_OFFSET]) for r in letters] == [
        (b"invalid-event", b"1"),
        (b"rejected", b"3"),
    ]
    assert json.loads(letters[1].value)["data"]["sku"] == "SKU-99"


async def test_an_outage_in_the_middle_of_a_batch_is_retried_whole_without_loss_or_duplication(
    pool, producer, kafka, topic, service
) -> None:
    await _send(producer, topic, [stock_event(n) for n in range(30)])
    calls: list[list[str]] = []

    async def apply(events: list[contracts.CloudEvent]) -> None:
        calls.append([e.data.sku for e in events])
        async with pool.acquire() as conn, conn.transaction():
            for n, e in enumerate(events):
                await conn.execute(
                    """INSERT INTO effects (event_id, sku, seen) VALUES ($1, $2, 1)
                       ON CONFLICT (event_id) DO UPDATE SET seen = effects.seen + 1""",
                    str(e.id),
                    e.data.sku,
                )
                if len(calls) == 1 and n == 14:
                    # The server goes away half-way through the batch's transaction.
                    raise asyncpg.AdminShutdownError("terminating connection due to administrator command")

    consumer = _consumer(kafka, service, apply, producer)
    task = asyncio.create_task(consumer.run())
    try:

        async def committed_all() -> bool:
            return await _committed(kafka, service, topic) == 30

        await eventually(committed_all)
    finally:
        await consumer.stop()
        await task

    assert calls == [[f"SKU-{n}" for n in range(30)]] * 2
    assert await _effects(pool) == {f"SKU-{n}": 1 for n in range(30)}
