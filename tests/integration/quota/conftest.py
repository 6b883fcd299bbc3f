"""Replicas of a service for the quota tests: each its own pool on one migrated database, as separate pods would be."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest_asyncio
import quota
import servicekit

SCHEMA = "quota_test"
MIGRATIONS = [servicekit.MigrationSource("quota", quota.MIGRATIONS_DIR)]

Pools = Callable[[], Awaitable[asyncpg.Pool]]


@pytest_asyncio.fixture
async def quota_database(empty_database_url: str) -> str:
    await servicekit.migrate_database(empty_database_url, SCHEMA, MIGRATIONS)
    return empty_database_url


@pytest_asyncio.fixture
async def replica_pool(quota_database: str) -> AsyncIterator[Pools]:
    pools: list[asyncpg.Pool] = []

    async def make() -> asyncpg.Pool:
        pool = await asyncpg.create_pool(
            quota_database, min_size=1, max_size=2, server_settings={"search_path": SCHEMA}
        )
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        await pool.close()


def worst_excess(times: list[float], rate: float, burst: float) -> float:
    """The largest count over any window [t_i, t_j] minus what `burst + rate * (t_j - t_i)` allows (≤ 0: held)."""
    ordered = sorted(times)
    worst = -float("inf")
    best_start = -float("inf")  # max over i <= j of (rate * t_i - i)
    for j, t in enumerate(ordered):
        best_start = max(best_start, rate * t - j)
        worst = max(worst, (j + 1 - rate * t) + best_start - burst)
    return worst
