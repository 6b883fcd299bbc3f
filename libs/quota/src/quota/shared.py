"""Rate limits held across every replica: each replica leases a few tokens at a time from a token bucket row in
PostgreSQL and spends them locally, so all replicas together never exceed `burst + rate * window`.

How the bound holds. A limit (rate R, burst B) keeps a shared bucket of R and B_s = B // 2 tokens in its row; a
lease takes what the row holds (at most what was asked), in one UPDATE that computes the refill from the server's
clock. A leased token is spent within `ttl = (B - B_s) / R` seconds of the moment the lease was asked for, or never
(it expires, so a dead or idle replica hoards nothing). Calls in any window of W seconds therefore spend tokens
granted within W + ttl seconds: at most B_s + R * (W + ttl) = B + R * W, whatever the number of replicas.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg
from servicekit import Outage, is_outage

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Plan(Protocol):
    """A limit: `rate` tokens per second into a bucket of `burst` (spapi.RateLimit is one)."""

    @property
    def rate(self) -> float: ...

    @property
    def burst(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Grant:
    """One lease: `granted` tokens, `tokens` left in the shared bucket, `asked_at` (clock) before it was asked for."""

    granted: int
    tokens: float
    asked_at: float


class Store(Protocol):
    """Where the shared buckets live: PostgreSQL in production, a dict under a fake clock in unit tests."""

    async def lease(self, name: str, rate: float, burst: int, want: int, *, clock: Clock) -> Grant: ...


# One statement: lock the row, refill it from the time since its last lease (never backwards, so two leases that
# cross cannot both count the same second), grant what it holds up to what was asked for.
_LEASE = """
WITH refilled AS (
    SELECT least($3::float8, b.tokens
                 + $2::float8 * greatest(0, extract(epoch FROM now() - b.updated_at)::float8)) AS tokens,
           greatest(b.updated_at, now()) AS at
      FROM quota_buckets b
     WHERE b.name = $1
       FOR UPDATE
)
UPDATE quota_buckets b
   SET tokens = r.tokens - least($4::int, floor(r.tokens)::int), updated_at = r.at
  FROM refilled r
 WHERE b.name = $1
RETURNING least($4::int, floor(r.tokens)::int) AS granted, b.tokens AS tokens
"""
_CREATE = "INSERT INTO quota_buckets (name, tokens, updated_at) VALUES ($1, $2, now()) ON CONFLICT (name) DO NOTHING"


class PostgresStore:
    """The buckets in `quota_buckets` of the pool's schema (MIGRATIONS_DIR): one row per limit, created full."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def lease(self, name: str, rate: float, burst: int, want: int, *, clock: Clock) -> Grant:
        async with self._pool.acquire() as conn:
            for _ in range(2):
                # Taken after the connection is ours: a wait for the pool does not eat into the lease's lifetime.
                asked_at = clock()
                row = await conn.fetchrow(_LEASE, name, rate, burst, want)
                if row is not None:
                    return Grant(int(row["granted"]), float(row["tokens"]), asked_at)
                await conn.execute(_CREATE, name, float(burst))
        raise RuntimeError(f"quota bucket {name!r} vanished while it was leased")


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    wake: asyncio.Event = field(compare=False, default_factory=asyncio.Event)


class _LeasedBucket:
    """One limit in one replica: the tokens leased and not yet spent, and its waiters by priority."""

    def __init__(self, name: str, plan: Plan, store: Store, outage: Outage, clock: Clock, sleep: Sleep) -> None:
        if plan.rate <= 0 or plan.burst < 2:
            raise ValueError(f"{name}: a shared limit needs a positive rate and a burst of at least 2")
        self.name = name
        self.rate = plan.rate
        self.burst = plan.burst
        self.shared_burst = plan.burst // 2
        self.ttl = (plan.burst - self.shared_burst) / plan.rate
        self._store = store
        self._outage = outage
        self._clock = clock
        self._sleep = sleep
        self._tokens = 0
        self._expires = 0.0
        self._refilled_at = 0.0  # before this, the shared bucket is not worth asking
        self._empty = 0  # leases in a row that found the shared bucket empty
        self._used = 0  # of the current lease
        self._want = (
            1  # how many tokens the next lease asks for: doubles while leases run dry, shrinks when they expire
        )
        self._waiters: list[_Waiter] = []
        self._seq = itertools.count()
        self._leasing = asyncio.Lock()  # one lease in flight per limit and replica
        self.leases = 0  # round trips to the store, for benchmarks and tests
        self.expired = 0  # tokens leased and never spent

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def _take(self) -> bool:
        if self._tokens and self._clock() < self._expires:
            self._tokens -= 1
            self._used += 1
            if not self._tokens:
                self._want = min(self.shared_burst, self._want * 2)
            return True
        if self._tokens:
            self.expired += self._tokens
            self._want = max(1, self._used)
            self._tokens = 0
        return False

    async def acquire(self, priority: int, max_wait: float | None) -> float | None:
        if not self._waiters and self._take():
            return None
        deadline = None if max_wait is None else self._clock() + max_wait
        waiter = _Waiter(int(priority), next(self._seq))
        heapq.heappush(self._waiters, waiter)
        try:
            while True:
                left = None if deadline is None else deadline - self._clock()
                if self._waiters[0] is waiter:
                    if self._take():
                        return None
                    async with self._leasing:
                        # Another head's lease may have landed while this one waited for the lock.
                        if self._tokens and self._clock() < self._expires:
                            continue
                        pause = await self._lease()
                    if pause <= 0:
                        continue
                    left = None if deadline is None else deadline - self._clock()
                    if left is not None and pause > left:
                        return pause
                    await self._sleep(pause)
                    continue
                if left is not None and left <= 0:
                    return self.wait_estimate()
                waiter.wake.clear()
                if left is None:
                    await waiter.wake.wait()
                else:
                    await _first_of(waiter.wake.wait(), self._sleep(left))
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                heapq.heapify(self._waiters)
            if self._waiters:
                self._waiters[0].wake.set()

    def wait_estimate(self) -> float:
        """Seconds until every waiter here is served at the full rate: a lower bound (other replicas share it)."""
        return max(0.0, (len(self._waiters) + 1 - self._tokens) / self.rate)

    async def _lease(self) -> float:
        """Asks the store for tokens; 0 when some came, else the seconds to wait before asking again."""
        want = max(1, min(self.shared_burst, max(self._want, len(self._waiters))))
        # What the last lease left in the shared bucket says when asking again is worth a round trip.
        early = self._refilled_at - self._clock()
        if early > 0:
            return early
        self.leases += 1
        try:
            grant = await self._store.lease(self.name, self.rate, self.shared_burst, want, clock=self._clock)
        except Exception as exc:
            if not is_outage(exc):
                raise
            # Wait it out: without the database no replica knows what the others spend, and Amazon's limit holds.
            return self._outage.failed(exc)
        self._outage.recovered()
        # Ask again once a few tokens have refilled, so a busy replica makes one round trip per few calls rather
        # than one per call; at most 3/4 of the bucket (with the jitter, which keeps replicas from asking in
        # lockstep, still under it), so the bucket does not overflow meanwhile and lose tokens.
        # Other replicas emptied it first: each empty answer in a row waits one batch longer (up to 4), so
        # contending replicas spread out instead of each polling for single tokens.
        self._empty = 0 if grant.granted else min(self._empty + 1, 3)
        batch = max(1, min(want, self.shared_burst * 3 // 4))
        pause = max(0.0, batch - grant.tokens) / self.rate * random.uniform(1.0, 1.25) * (1 + self._empty)
        self._refilled_at = self._clock() + pause
        if grant.granted > 0:
            self._tokens = grant.granted
            self._used = 0
            self._expires = grant.asked_at + self.ttl
            return 0.0
        return pause


class SharedLimits:
    """Limits per operation that every replica of a service draws from together (spapi's `ApplicationLimits`).

    An operation without a limit here is let through at once, without touching the database. While PostgreSQL
    is unreachable, calls of limited operations wait (servicekit's outage policy: one warning, backoff, one line
    when it is back) or, with `max_wait`, are refused with the seconds to wait.
    """

    def __init__(
        self,
        store: Store | asyncpg.Pool,
        limits: Mapping[str, Plan],
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        worker: str = "shared rate limits",
    ) -> None:
        self._store: Store = PostgresStore(store) if isinstance(store, asyncpg.Pool) else store
        self._outage = Outage(worker, max_backoff=5.0, first_backoff=0.2)
        self._buckets = {
            name: _LeasedBucket(name, plan, self._store, self._outage, clock, sleep) for name, plan in limits.items()
        }

    def limited(self, operation: str) -> bool:
        return operation in self._buckets

    def bucket(self, operation: str) -> _LeasedBucket:
        return self._buckets[operation]

    async def acquire(self, operation: str, priority: int = 1, *, max_wait: float | None = None) -> float | None:
        """Take a token of `operation`'s shared limit; None once taken, or the seconds to wait when `max_wait`
        would run out first (nothing taken). Lower `priority` values are served first among this replica's calls."""
        bucket = self._buckets.get(operation)
        if bucket is None:
            return None
        return await bucket.acquire(priority, max_wait)

    def __repr__(self) -> str:
        return f"SharedLimits({sorted(self._buckets)})"


async def _first_of(*waits: Awaitable[Any]) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
