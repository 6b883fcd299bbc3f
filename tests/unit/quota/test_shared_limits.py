"""Shared limits under a fake clock: replicas together within burst + rate * window, one alone gets all of it,
priorities, refusals within max_wait, leases that expire, and a database outage waited out."""

from __future__ import annotations

import asyncio

import pytest
from quota import SharedLimits
from quota_fakes import FakeClock, MemoryStore, settle, worst_excess
from spapi import RateLimit

OP = "listings.patchListingsItem"
LIMIT = RateLimit(100.0, 10)  # shared bucket of 5, leases live 50 ms


def replica(store: MemoryStore, clock: FakeClock, limit: RateLimit = LIMIT) -> SharedLimits:
    return SharedLimits(store, {OP: limit}, clock=clock, sleep=clock.sleep)


async def hammer(limits: SharedLimits, clock: FakeClock, calls: list[float], *, until: float, priority: int = 1):
    while clock.now < until:
        assert await limits.acquire(OP, priority) is None
        if clock.now < until:
            calls.append(clock.now)
        await clock.sleep(0.001)  # the call itself


async def run_for(clock: FakeClock, seconds: float, tasks: list[asyncio.Task[None]]) -> None:
    step = 0.0005
    for _ in range(int(seconds / step) + 40):
        await clock.advance(step)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.parametrize("replicas", [2, 5])
async def test_replicas_together_stay_within_burst_plus_rate_over_every_window(replicas: int):
    clock = FakeClock()
    store = MemoryStore(clock, latency=0.002)
    calls: list[float] = []
    tasks = [
        asyncio.create_task(hammer(replica(store, clock), clock, calls, until=3.0))
        for _ in range(replicas)
        for _ in range(4)
    ]
    await run_for(clock, 3.0, tasks)
    assert worst_excess(calls, LIMIT.rate, LIMIT.burst) <= 1e-9
    # ...and together they still get the limit: no replica idles while tokens expire unused.
    assert len(calls) >= 0.9 * LIMIT.rate * 3.0


async def test_one_replica_alone_uses_the_whole_limit_in_few_round_trips():
    clock = FakeClock()
    store = MemoryStore(clock, latency=0.002)
    limits = replica(store, clock)
    calls: list[float] = []
    tasks = [asyncio.create_task(hammer(limits, clock, calls, until=5.0)) for _ in range(8)]
    await run_for(clock, 5.0, tasks)
    assert len(calls) >= 0.95 * LIMIT.rate * 5.0
    assert worst_excess(calls, LIMIT.rate, LIMIT.burst) <= 1e-9
    assert store.leases < len(calls) / 2  # tokens come several to a lease


def test_the_check_catches_replicas_that_each_keep_their_own_bucket():
    # What three replicas with only in-memory buckets do over a second: each its burst, then the full rate.
    burst, rate = LIMIT.burst, int(LIMIT.rate)
    calls = [0.0] * burst * 3 + [k / rate for k in range(1, rate + 1) for _ in range(3)]
    assert worst_excess(calls, LIMIT.rate, LIMIT.burst) > LIMIT.rate
    assert worst_excess(calls[::3], LIMIT.rate, LIMIT.burst) <= 1e-9  # one of them alone is within


async def test_an_operation_without_a_shared_limit_never_touches_the_store():
    clock = FakeClock()
    store = MemoryStore(clock)
    limits = replica(store, clock)
    for _ in range(100):
        assert await limits.acquire("orders.getOrder") is None
    assert store.leases == 0 and not limits.limited("orders.getOrder") and limits.limited(OP)


async def test_high_priority_calls_of_a_replica_go_first():
    clock = FakeClock()
    store = MemoryStore(clock)
    limits = replica(store, clock, RateLimit(10.0, 2))  # one token per lease, one every 0.1 s
    assert await limits.acquire(OP) is None  # the shared bucket is empty now
    order: list[str] = []

    async def call(name: str, priority: int) -> None:
        await limits.acquire(OP, priority)
        order.append(name)

    low = [asyncio.create_task(call(f"low{i}", 2)) for i in range(3)]
    await settle()
    high = asyncio.create_task(call("high", 0))
    for _ in range(60):
        await clock.advance(0.01)
    await asyncio.gather(*low, high)
    assert order[0] == "high" and sorted(order[1:]) == ["low0", "low1", "low2"]


async def test_max_wait_refuses_with_the_wait_and_takes_nothing():
    clock = FakeClock()
    store = MemoryStore(clock)
    limits = replica(store, clock, RateLimit(10.0, 2))
    assert await limits.acquire(OP) is None
    retry_after = await limits.acquire(OP, max_wait=0.01)
    assert retry_after is not None and retry_after >= 0.05
    assert limits.bucket(OP).waiting == 0
    await clock.advance(0.2)
    assert await limits.acquire(OP, max_wait=0.01) is None  # the token refilled meanwhile was not taken


async def test_leased_tokens_expire_so_a_replica_keeps_nothing_it_does_not_spend():
    clock = FakeClock()
    store = MemoryStore(clock)
    hoarder, other = replica(store, clock), replica(store, clock)
    bucket = hoarder.bucket(OP)
    for _ in range(4):  # leases of 1, then 2: the hoarder now asks for more than it will use
        await hoarder.acquire(OP)
        await clock.advance(bucket.ttl + 0.001)
    await hoarder.acquire(OP)
    await clock.advance(bucket.ttl + 0.001)
    await hoarder.acquire(OP)  # finds its leftovers expired
    assert bucket.expired >= 1
    # The shared bucket refilled meanwhile and serves the other replica as if the hoarder were gone.
    got = 0
    while await other.acquire(OP, max_wait=0) is None:
        got += 1
    assert got >= bucket.shared_burst - 2


async def test_a_database_outage_is_waited_out_and_never_lets_a_call_through():
    clock = FakeClock()
    store = MemoryStore(clock)
    limits = replica(store, clock)
    store.down = True
    waiting = asyncio.create_task(limits.acquire(OP))
    for _ in range(100):
        await clock.advance(0.1)
    assert not waiting.done()
    refused = asyncio.create_task(limits.acquire(OP, max_wait=0.05))
    await settle()
    await clock.advance(0.1)
    retry_after = await refused
    assert retry_after is not None and retry_after > 0
    store.down = False
    for _ in range(60):
        await clock.advance(0.1)
    assert await waiting is None


def test_a_limit_needs_a_burst_of_two():
    clock = FakeClock()
    with pytest.raises(ValueError, match="burst of at least 2"):
        replica(MemoryStore(clock), clock, RateLimit(5.0, 1))
