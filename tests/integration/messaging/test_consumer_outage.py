"""A consumer whose handler meets a PostgreSQL restart rides it out: the event is applied once PostgreSQL is back,
the loop never stops, the outage is logged once and counted once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import contracts
import pytest
from aiokafka import AIOKafkaProducer
from messaging import MIGRATIONS_DIR, Consumer, KafkaSettings, RetryPolicy
from prometheus_client import REGISTRY
from servicekit import MigrationSource, migrate
from testkit import PrivatePostgres, eventually, private_postgres, unique_name

from .conftest import EFFECTS_DDL, STOCK, stock_event
from .effects import counting_handler

SCHEMA = "consumer_outage"


@pytest.fixture
def cluster(repo_root: Path) -> Iterator[PrivatePostgres]:
    with private_postgres(repo_root) as pg:
        yield pg


def _sample(name: str) -> float:
    return REGISTRY.get_sample_value(name, {"worker": "consumer"}) or 0.0


async def _effects(url: str) -> int:
    conn = await asyncpg.connect(url, server_settings={"search_path": SCHEMA})
    try:
        return int(await conn.fetchval("SELECT count(*) FROM effects"))
    finally:
        await conn.close()


@pytest.mark.slow
async def test_a_handler_rides_out_a_postgres_restart_instead_of_stopping_the_consumer(
    cluster: PrivatePostgres,
    producer: AIOKafkaProducer,
    kafka: KafkaSettings,
    topic: str,
    service: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    conn = await asyncpg.connect(cluster.url)
    try:
        await conn.execute(f"CREATE SCHEMA {SCHEMA}")
        await migrate(conn, SCHEMA, [MigrationSource("messaging", MIGRATIONS_DIR)])
        await conn.execute(f"SET search_path = {SCHEMA}; {EFFECTS_DDL}")
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(cluster.url, min_size=1, max_size=2, server_settings={"search_path": SCHEMA})
    outages_before = _sample("worker_outages_total")
    # Few handler retries: without the outage policy the consumer would give up within a second.
    consumer = Consumer(
        kafka,
        service=service,
        group_id=unique_name("outage"),
        routes={STOCK: counting_handler(pool, "outage-test")},
        producer=producer,
        retry=RetryPolicy(attempts=2, first_delay=0.01, max_delay=0.05),
    )

    async def send(n: int) -> None:
        record = contracts.encode(stock_event(n))
        await producer.send_and_wait(topic, record.value, key=record.key, headers=record.headers)

    with caplog.at_level(logging.DEBUG, logger="servicekit.outages"):
        task = asyncio.create_task(consumer.run())
        try:
            await eventually(consumer.ready, timeout=20)
            await send(1)
            await eventually(lambda: _effects(cluster.url), timeout=20)

            await asyncio.to_thread(cluster.stop)
            await send(2)
            await eventually(lambda: asyncio.sleep(0, result=_sample("worker_in_outage") == 1), timeout=20)

            async def retried_past_the_handler_retries() -> bool:
                waits = [r for r in caplog.records if r.getMessage().startswith("consumer: still waiting")]
                return len(waits) >= 4

            await eventually(retried_past_the_handler_retries, timeout=30)
            assert not task.done(), "the consumer stopped on an outage"

            await asyncio.to_thread(cluster.start)

            async def both_applied() -> bool:
                return await _effects(cluster.url) == 2

            await eventually(both_applied, timeout=30)
            await eventually(lambda: asyncio.sleep(0, result=_sample("worker_in_outage") == 0), timeout=10)
        finally:
            await consumer.stop()
            await asyncio.wait_for(task, timeout=15)
            await pool.close()

    lines = [r for r in caplog.records if r.getMessage().startswith("consumer:") and r.levelno >= logging.INFO]
    assert [r.levelname for r in lines] == ["WARNING", "INFO"], [r.getMessage() for r in lines]
    assert _sample("worker_outages_total") == outages_before + 1
