"""Shared limits on a real PostgreSQL: replicas with pools of their own together stay within burst + rate over
every window, a lease serves several calls, and an outage holds calls back until the database is back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import quota
import servicekit
from prometheus_client import REGISTRY
from spapi import RateLimit
from testkit import PrivatePostgres, eventually, private_postgres

from .conftest import MIGRATIONS, SCHEMA, Pools, worst_excess

OP = "listings.getListingsItem"
LIMIT = RateLimit(200.0, 20)  # a shared bucket of 10, leases live 50 ms


async def hammer(limits: quota.SharedLimits, calls: list[float], until: float) -> None:
    while time.monotonic() < until:
        assert await limits.acquire(OP) is None
        calls.append(time.monotonic())  # same step as the token's take: no await between
        await asyncio.sleep(0)


async def test_replicas_with_their_own_pools_together_never_exceed_burst_plus_rate(replica_pool: Pools):
    replicas = [quota.SharedLimits(await replica_pool(), {OP: LIMIT}) for _ in range(3)]
    calls: list[float] = []
    until = time.monotonic() + 2.0
    await asyncio.gather(*(hammer(limits, calls, until) for limits in replicas for _ in range(4)))
    assert worst_excess(calls, LIMIT.rate, LIMIT.burst) <= 1e-6
    assert len(calls) > LIMIT.burst  # they did contend for it
    leases = sum(limits.bucket(OP).leases for limits in replicas)
    assert leases < len(calls)  # several calls per round trip to the database


async def test_one_replica_alone_may_take_the_whole_shared_bucket(replica_pool: Pools):
    alone = quota.SharedLimits(await replica_pool(), {OP: LIMIT})
    waiters = [asyncio.create_task(alone.acquire(OP)) for _ in range(LIMIT.burst // 2)]
    await asyncio.gather(*waiters)
    # No share per replica: the first lease asks for its one caller, the next for all who queued meanwhile.
    assert alone.bucket(OP).leases <= 2
    async with (await replica_pool()).acquire() as conn:
        assert await conn.fetchval("SELECT tokens FROM quota_buckets WHERE name = $1", OP) < 1


async def test_operations_without_a_limit_cost_no_round_trip(replica_pool: Pools):
    limits = quota.SharedLimits(await replica_pool(), {OP: LIMIT})
    for _ in range(50):
        assert await limits.acquire("orders.searchOrders") is None
    assert limits.bucket(OP).leases == 0


@pytest.fixture
def cluster(repo_root: Path) -> Iterator[PrivatePostgres]:
    with private_postgres(repo_root) as pg:
        yield pg


def in_outage(worker: str) -> float:
    return REGISTRY.get_sample_value("worker_in_outage", {"worker": worker}) or 0.0


@pytest.mark.slow
async def test_a_postgres_outage_holds_calls_back_until_it_is_over(cluster: PrivatePostgres):
    url = cluster.url
    await servicekit.migrate_database(url, SCHEMA, MIGRATIONS)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2, server_settings={"search_path": SCHEMA})
    worker = "quota outage test"
    limits = quota.SharedLimits(pool, {OP: LIMIT}, worker=worker)
    try:
        assert await limits.acquire(OP) is None
        await asyncio.to_thread(cluster.stop)
        await asyncio.sleep(limits.bucket(OP).ttl)  # what was leased before has expired
        held = asyncio.create_task(limits.acquire(OP))

        async def outage() -> bool:
            return in_outage(worker) == 1

        await eventually(outage, timeout=20)
        assert not held.done()  # no token without the database: the others' spending is unknown
        retry_after = await limits.acquire(OP, max_wait=0.2)
        assert retry_after is not None and retry_after > 0  # with max_wait: refused, nothing sent
        await asyncio.to_thread(cluster.start)
        assert await asyncio.wait_for(held, timeout=30) is None
        assert in_outage(worker) == 0
    finally:
        await pool.close()
