"""Shared application limits (quota) against the in-memory limiter, in the same run, on the local PostgreSQL.

Prints:
- acquires per second with a limit too high to bind: spapi's in-memory RateLimiter (the baseline), and quota's
  SharedLimits through PostgreSQL (the cost of holding the limit across replicas);
- at getListingsItem's application limit (100 rps, burst 10) for 1 and 3 replicas (each its own pool): the calls
  per second they got together as a fraction of the limit, database round trips per second, and the worst excess
  over burst + rate * window (<= 0: the limit held).
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import quota
import servicekit
import spapi

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "bench_quota"
OP = "listings.getListingsItem"


def postgres_url() -> str:
    return subprocess.run(
        [str(ROOT / "infra/postgres/postgres.sh"), "url"], capture_output=True, text=True, check=True
    ).stdout.strip()


@contextlib.asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    server = postgres_url()
    name = f"bench_quota_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    try:
        await servicekit.migrate_database(url, SCHEMA, [servicekit.MigrationSource("quota", quota.MIGRATIONS_DIR)])
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def pool_of(url: str) -> asyncpg.Pool:
    return await asyncpg.create_pool(url, min_size=1, max_size=2, server_settings={"search_path": SCHEMA})


def worst_excess(times: list[float], rate: float, burst: float) -> float:
    ordered = sorted(times)
    worst, best_start = -float("inf"), -float("inf")
    for j, t in enumerate(ordered):
        best_start = max(best_start, rate * t - j)
        worst = max(worst, (j + 1 - rate * t) + best_start - burst)
    return worst


async def unbound_rate(acquire, seconds: float = 2.0, tasks: int = 8) -> float:
    count = 0
    until = time.monotonic() + seconds

    async def loop() -> None:
        nonlocal count
        while time.monotonic() < until:
            await acquire()
            count += 1
            await asyncio.sleep(0)

    started = time.monotonic()
    await asyncio.gather(*(loop() for _ in range(tasks)))
    return count / (time.monotonic() - started)


async def at_the_limit(url: str, replicas: int, seconds: float = 3.0) -> tuple[float, float, float]:
    limit = spapi.APPLICATION_RATE_LIMITS[OP]
    pools = [await pool_of(url) for _ in range(replicas)]
    limits = [quota.SharedLimits(pool, {OP: limit}) for pool in pools]
    async with pools[0].acquire() as conn:
        await conn.execute("DELETE FROM quota_buckets")
    calls: list[float] = []
    until = time.monotonic() + seconds

    async def loop(shared: quota.SharedLimits) -> None:
        while time.monotonic() < until:
            await shared.acquire(OP)
            calls.append(time.monotonic())
            await asyncio.sleep(0)

    started = time.monotonic()
    await asyncio.gather(*(loop(shared) for shared in limits for _ in range(6)))
    elapsed = time.monotonic() - started
    leases = sum(shared.bucket(OP).leases for shared in limits)
    for pool in pools:
        await pool.close()
    fraction = (len(calls) - limit.burst) / (limit.rate * elapsed)
    return fraction, leases / elapsed, worst_excess(calls, limit.rate, limit.burst)


async def main() -> None:
    huge = spapi.RateLimit(1e6, 200_000)  # leases live 0.1 s, as at 100 rps with burst 20
    memory = spapi.RateLimiter({OP: huge})
    baseline = await unbound_rate(lambda: memory.acquire("SELLER", OP))
    async with scratch_database() as url:
        pool = await pool_of(url)
        shared = quota.SharedLimits(pool, {OP: huge})
        through_db = await unbound_rate(lambda: shared.acquire(OP))
        leases = shared.bucket(OP).leases
        await pool.close()
        print(f"in-memory RateLimiter (baseline): {baseline:,.0f} acquires/s")
        print(f"quota.SharedLimits via PostgreSQL: {through_db:,.0f} acquires/s ({through_db / baseline:.2f} of the "
              f"baseline; {leases} round trips)")  # fmt: skip
        for replicas in (1, 3):
            fraction, trips, excess = await at_the_limit(url, replicas)
            print(
                f"{replicas} replica(s) at getListingsItem's 100 rps: {fraction:.2f} of the rate used, "
                f"{trips:.0f} round trips/s, worst excess over burst + rate * window {excess:.2f} (<= 0: held)"
            )


if __name__ == "__main__":
    asyncio.run(main())
