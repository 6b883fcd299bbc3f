"""The outbox relay rides out a PostgreSQL restart: one warning, one recovery line, one outage counted, nothing lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from messaging import MIGRATIONS_DIR, KafkaSettings, OutboxRelay, add
from prometheus_client import REGISTRY
from servicekit import MigrationSource, migrate
from testkit import PrivatePostgres, eventually, private_postgres, read_topic

from .conftest import stock_event


@pytest.fixture
def cluster(repo_root: Path) -> Iterator[PrivatePostgres]:
    with private_postgres(repo_root) as pg:
        yield pg


def _records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "servicekit.outages" and r.levelno == level and r.getMessage().startswith("outbox-relay:")
    ]


async def _add(url: str, n: int) -> None:
    conn = await asyncpg.connect(url, server_settings={"search_path": "relay_outage"})
    try:
        async with conn.transaction():
            await add(conn, stock_event(n))
    finally:
        await conn.close()


@pytest.mark.slow
async def test_the_relay_rides_out_a_postgres_restart_and_logs_it_once(
    cluster: PrivatePostgres,
    producer: AIOKafkaProducer,
    kafka: KafkaSettings,
    topic: str,
    kafka_bootstrap: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = cluster.url
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE SCHEMA relay_outage")
        await migrate(conn, "relay_outage", [MigrationSource("messaging", MIGRATIONS_DIR)])
    finally:
        await conn.close()
    outages_before = REGISTRY.get_sample_value("worker_outages_total", {"worker": "outbox-relay"}) or 0.0
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2, server_settings={"search_path": "relay_outage"})
    relay = OutboxRelay(pool, producer, namespace=kafka.namespace, max_backoff=0.3)
    with caplog.at_level(logging.DEBUG, logger="servicekit.outages"):
        task = asyncio.create_task(relay.run())
        try:
            await _add(url, 1)
            await eventually(lambda: asyncio.sleep(0, result=relay.is_leader), timeout=10)
            assert len(await read_topic(kafka_bootstrap, topic, expect=1)) == 1

            await asyncio.to_thread(cluster.stop)

            async def retried_a_few_times() -> bool:
                return len(_records(caplog, logging.DEBUG)) >= 4

            await eventually(retried_a_few_times, timeout=30)
            assert not task.done()
            await asyncio.to_thread(cluster.start)
            await _add(url, 2)
            assert len(await read_topic(kafka_bootstrap, topic, expect=2)) == 2
        finally:
            await relay.stop()
            await asyncio.wait_for(task, timeout=10)
            await pool.close()

    waiting = [m for m in _records(caplog, logging.WARNING) if "unreachable" in m]
    assert len(waiting) == 1, "one warning per outage, not one per retry"
    assert len([m for m in _records(caplog, logging.INFO) if "recovered" in m]) == 1
    assert REGISTRY.get_sample_value("worker_outages_total", {"worker": "outbox-relay"}) == outages_before + 1
    assert REGISTRY.get_sample_value("worker_in_outage", {"worker": "outbox-relay"}) == 0
