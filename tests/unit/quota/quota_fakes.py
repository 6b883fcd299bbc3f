"""A fake clock, an in-memory store that keeps the SQL's arithmetic, and the check every limit test makes."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
from collections.abc import Sequence

from quota import Grant


class FakeClock:
    """Time that moves only when a test says so; sleepers wake in deadline order."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._seq), future))
        await future

    async def advance(self, seconds: float) -> None:
        target = self.now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, deadline)
            if not future.done():
                future.set_result(None)
            await settle()
        self.now = target
        await settle()


async def settle() -> None:
    for _ in range(30):
        await asyncio.sleep(0)


class MemoryStore:
    """`quota.Store` as the UPDATE computes it: refill from the time since the last lease, grant what is whole.

    `latency` is the round trip (half before the row is read, half after); `down` makes every lease fail as an
    unreachable server does.
    """

    def __init__(self, clock: FakeClock, *, latency: float = 0.0) -> None:
        self.clock = clock
        self.latency = latency
        self.rows: dict[str, tuple[float, float]] = {}
        self.down = False
        self.leases = 0

    async def lease(self, name: str, rate: float, burst: int, want: int, *, clock) -> Grant:
        asked_at = clock()
        if self.latency:
            await self.clock.sleep(self.latency / 2)
        if self.down:
            raise ConnectionRefusedError("database is down")
        self.leases += 1
        now = self.clock.now
        tokens, updated = self.rows.get(name, (float(burst), now))
        tokens = min(burst, tokens + rate * max(0.0, now - updated))
        granted = min(want, math.floor(tokens))
        self.rows[name] = (tokens - granted, max(updated, now))
        if self.latency:
            await self.clock.sleep(self.latency / 2)
        return Grant(granted, tokens - granted, asked_at)


def worst_excess(times: Sequence[float], rate: float, burst: float) -> float:
    """The largest count over any window [t_i, t_j] minus what `burst + rate * (t_j - t_i)` allows (≤ 0: held)."""
    ordered = sorted(times)
    worst = -math.inf
    best_start = -math.inf  # max over i <= j of (rate * t_i - i)
    for j, t in enumerate(ordered):
        best_start = max(best_start, rate * t - j)
        worst = max(worst, (j + 1 - rate * t) + best_start - burst)
    return worst
