import asyncio
import sys
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from messaging import Consumer, KafkaSettings, OutboxRelay, add
from testkit import eventually, read_topic

from .conftest import STOCK, stock_event
from .effects import counting_handler


async def test_outbox_rows_are_published_only_when_their_transaction_commits(
    pool: asyncpg.Pool, producer: AIOKafkaProducer, kafka: KafkaSettings, topic: str, kafka_bootstrap: str
) -> None:
    relay = OutboxRelay(pool, producer, namespace=kafka.namespace)
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await add(conn, stock_event(1))
        await tx.rollback()
        async with conn.transaction():
            await add(conn, stock_event(2))
    assert await relay.publish_batch() == 1
    assert await relay.publish_batch() == 0
    records = await read_topic(kafka_bootstrap, topic, expect=1)
    assert [dict(r.headers)["ce_id"].decode() for r in records] == [str(stock_event(2).id)]
    assert records[0].key == b"SKU-2"
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0


async def test_relay_killed_between_publish_and_mark_loses_nothing_and_the_inbox_drops_the_duplicates(
    pool: asyncpg.Pool,
    producer: AIOKafkaProducer,
    kafka: KafkaSettings,
    topic: str,
    service: str,
    kafka_bootstrap: str,
    database_url: str,
) -> None:
    events = [stock_event(n) for n in range(20)]
    async with pool.acquire() as conn, conn.transaction():
        for event in events:
            await add(conn, event)

    crashed = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("relay_process.py")),
        database_url,
        kafka_bootstrap,
        kafka.namespace,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(crashed.communicate(), timeout=60)
    assert crashed.returncode == -9, stderr.decode()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 20

    # The killed relay's backend holds its row locks until PostgreSQL notices the closed socket.
    restarted = OutboxRelay(pool, producer, namespace=kafka.namespace)
    assert await eventually(restarted.publish_batch, timeout=10) == 20
    published = await read_topic(kafka_bootstrap, topic, expect=40)
    assert len(published) == 40, "the killed relay's batch and the restarted relay's batch"

    consumer = Consumer(
        kafka, service=service, group_id=service, routes={STOCK: counting_handler(pool, service)}, producer=producer
    )
    task = asyncio.create_task(consumer.run())
    try:

        async def all_seen() -> bool:
            async with pool.acquire() as conn:
                return await conn.fetchval("SELECT coalesce(sum(seen), 0) FROM effects") == 40

        await eventually(all_seen)
    finally:
        await consumer.stop()
        await task
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT event_id, seen FROM effects")
    assert sorted(r["event_id"] for r in rows) == sorted(str(e.id) for e in events)
    assert {r["seen"] for r in rows} == {2}, "each event applied once and its duplicate dropped by the inbox"
