"""The scheduler rides out a PostgreSQL restart (servicekit's PeriodicWorker policy) and its lanes run again after."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import messaging
import pytest
import servicekit
import synchistory
from prometheus_client import REGISTRY
from testkit import PrivatePostgres, eventually, private_postgres

from .conftest import HISTORY, LIB_SCHEMA, Lane, Work


@pytest.fixture
def cluster(repo_root: Path) -> Iterator[PrivatePostgres]:
    with private_postgres(repo_root) as pg:
        yield pg


def in_outage() -> float:
    return REGISTRY.get_sample_value("worker_in_outage", {"worker": synchistory.Scheduler.name}) or 0.0


@pytest.mark.slow
async def test_the_scheduler_survives_a_postgres_restart_and_goes_on(cluster: PrivatePostgres) -> None:
    url = cluster.url
    await servicekit.migrate_database(url, LIB_SCHEMA, [
        servicekit.MigrationSource("messaging", messaging.MIGRATIONS_DIR),
        servicekit.MigrationSource("synchistory", synchistory.MIGRATIONS_DIR),
    ])  # fmt: skip
    pool = await asyncpg.create_pool(url, min_size=1, max_size=6, server_settings={"search_path": LIB_SCHEMA})
    work = Work(pool, interval=timedelta(seconds=0.3))  # a lane due again and again
    lanes = synchistory.Lanes(pool, HISTORY, work, backoff=timedelta(seconds=0.2))
    scheduler = synchistory.Scheduler(pool, lanes, concurrency=2, max_sleep=0.2, max_backoff=0.5)
    work.make_due("conn-1")
    async with pool.acquire() as conn:
        await HISTORY.nudge(conn, "conn-1", Lane.POLL)
    task = asyncio.create_task(scheduler.run())
    try:

        async def ran(at_least: int):
            async def probe() -> bool:
                return len(work.executed) >= at_least

            return probe

        await eventually(await ran(2), timeout=10)
        await asyncio.to_thread(cluster.stop)

        async def outage() -> bool:
            return in_outage() == 1

        await eventually(outage, timeout=20)
        before = len(work.executed)
        await asyncio.to_thread(cluster.start)

        async def recovered() -> bool:
            return in_outage() == 0

        await eventually(recovered, timeout=30)
        await eventually(await ran(before + 2), timeout=20)
        assert not task.done()
    finally:
        await scheduler.stop()
        await asyncio.wait_for(task, timeout=20)
        await pool.close()
