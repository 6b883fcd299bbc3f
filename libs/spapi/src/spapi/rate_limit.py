"""Client-side token buckets per (selling partner, operation), with priorities among waiters."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Protocol

from .errors import RateLimited

log = logging.getLogger("spapi.rate_limit")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Amazon's usage plan: `rate` tokens per second refill a bucket of `burst` tokens."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("rate must be positive and burst at least 1")


class Priority(IntEnum):
    """Who gets the next token of a bucket when several calls wait on it (lower goes first)."""

    HIGH = 0  # order cancellations and shipment confirmations: late ones cost the seller
    NORMAL = 1  # stock updates: overselling risk
    LOW = 2  # catalog and reporting work: can always wait


# Amazon's default usage plans (spapi-brief.md §4, §12; each model's operation description).
# Keys are "<api>.<operationId>"; a feed type with its own plan adds ":<feedType>".
DEFAULT_RATE_LIMITS: Mapping[str, RateLimit] = {
    "orders.searchOrders": RateLimit(0.0056, 20),
    "orders.getOrder": RateLimit(0.5, 30),
    "ordersV0.confirmShipment": RateLimit(2.0, 10),
    "feeds.createFeedDocument": RateLimit(0.5, 15),
    "feeds.createFeed": RateLimit(0.0083, 15),
    # 5 submissions per 5 minutes per region since 2025-05-06, instead of createFeed's plan.
    "feeds.createFeed:JSON_LISTINGS_FEED": RateLimit(5 / 300, 5),
    "feeds.getFeed": RateLimit(2.0, 15),
    "feeds.getFeeds": RateLimit(0.0222, 10),
    "feeds.getFeedDocument": RateLimit(0.0222, 10),
    # Burst 5 on Amazon's current rate-limit page (the model text still says 10).
    "listings.getListingsItem": RateLimit(5.0, 5),
    "listings.patchListingsItem": RateLimit(5.0, 5),
    "sellers.getMarketplaceParticipations": RateLimit(0.016, 15),
    "reports.createReport": RateLimit(0.0167, 15),
    "reports.getReport": RateLimit(2.0, 15),
    "reports.getReportDocument": RateLimit(0.0167, 15),
    # Every Notifications operation: 1 per second, burst 5 (notifications.json).
    "notifications.createDestination": RateLimit(1.0, 5),
    "notifications.getDestinations": RateLimit(1.0, 5),
    "notifications.deleteDestination": RateLimit(1.0, 5),
    "notifications.createSubscription": RateLimit(1.0, 5),
    "notifications.getSubscription": RateLimit(1.0, 5),
    "notifications.getSubscriptionById": RateLimit(1.0, 5),
    "notifications.deleteSubscriptionById": RateLimit(1.0, 5),
}

# Amazon's limits per application, whichever seller (listings-items-api-rate-limits: "Requests are rate-limited by
# whichever threshold you reach first"). Amazon publishes a per-application rate but no per-application burst
# (its Burst column is the account's); we assume a tenth of a second of rate, which a sped-up sandbox keeps.
APPLICATION_RATE_LIMITS: Mapping[str, RateLimit] = {
    "listings.getListingsItem": RateLimit(100.0, 10),
    "listings.patchListingsItem": RateLimit(500.0, 50),
    "listings.putListingsItem": RateLimit(100.0, 10),
    "listings.deleteListingsItem": RateLimit(100.0, 10),
}


def application_limits(
    *,
    rate_scale: float = 1.0,
    shares: Mapping[str, float] | None = None,
    limits: Mapping[str, RateLimit] = APPLICATION_RATE_LIMITS,
) -> dict[str, RateLimit]:
    """This service's part of the application limits: rate and burst times `rate_scale` and the operation's share.

    Services that call the same operation split Amazon's application limit through `shares` (0 < share <= 1,
    default 1), so together they stay within it. Bursts stay at least 2, what a shared limit needs.
    """
    shares = dict(shares or {})
    unknown = set(shares) - set(limits)
    if unknown:
        raise ValueError(f"no application limit to share for {sorted(unknown)}")
    if rate_scale <= 0 or any(not 0 < share <= 1 for share in shares.values()):
        raise ValueError("rate_scale must be positive and every share in (0, 1]")
    scaled = {}
    for operation, limit in limits.items():
        factor = rate_scale * shares.get(operation, 1.0)
        scaled[operation] = RateLimit(limit.rate * factor, max(2, int(limit.burst * factor)))
    return scaled


class ApplicationLimits(Protocol):
    """Limits of the whole application, held across every replica (quota.SharedLimits is one).

    `acquire` returns None once it took a token of `operation` (at once for an operation it does not limit) or,
    when `max_wait` would run out first, the seconds until one is expected, having taken nothing.
    """

    async def acquire(self, operation: str, priority: int = ..., *, max_wait: float | None = None) -> float | None: ...


Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    wake: asyncio.Event = field(compare=False, default_factory=asyncio.Event)


class TokenBucket:
    """A token bucket whose waiters are served by priority, then first come first served.

    Only the waiter at the head of the queue watches the clock; the others sleep on an event
    until they reach the head, so a HIGH call that arrives late still gets the next token.
    """

    def __init__(
        self, limit: RateLimit, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep, name: str = "bucket"
    ) -> None:
        self.name = name  # the operation it limits, named in RateLimited
        self._rate = limit.rate
        self._burst = float(limit.burst)
        self._tokens = float(limit.burst)
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._waiters: list[_Waiter] = []
        self._seq = itertools.count()

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def burst(self) -> int:
        return int(self._burst)

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def available(self) -> float:
        self._refill()
        return self._tokens

    def wait_estimate(self, priority: Priority = Priority.NORMAL) -> float:
        """Seconds until a call of `priority` arriving now would get a token, if nothing else arrives."""
        self._refill()
        ahead = sum(1 for w in self._waiters if w.priority <= priority)
        return max(0.0, (ahead + 1 - self._tokens) / self._rate)

    async def acquire(self, priority: Priority = Priority.NORMAL, *, max_wait: float | None = None) -> None:
        """Take a token, waiting for it; with `max_wait`, raise RateLimited rather than wait longer.

        A call whose token is further away than `max_wait` is refused at once; one that queues and is
        then overtaken (a HIGH call, a 429 that drained the bucket) is refused when `max_wait` is up.
        """
        self._refill()
        if not self._waiters and self._tokens >= 1:
            self._tokens -= 1
            return
        deadline: float | None = None
        if max_wait is not None:
            estimate = self.wait_estimate(priority)
            if estimate > max_wait:
                raise RateLimited(self.name, retry_after=estimate)
            deadline = self._clock() + max_wait
        waiter = _Waiter(int(priority), next(self._seq))
        heapq.heappush(self._waiters, waiter)
        try:
            while True:
                if self._waiters[0] is waiter:
                    self._refill()
                    if self._tokens >= 1:
                        self._tokens -= 1
                        heapq.heappop(self._waiters)
                        self._wake_head()
                        return
                    needed = (1 - self._tokens) / self._rate
                    if deadline is None:
                        await self._sleep(needed)
                        continue
                    left = deadline - self._clock()
                    if left <= 0:
                        raise RateLimited(self.name, retry_after=needed)
                    await self._sleep(min(needed, left))
                elif deadline is None:
                    # Checked and cleared in one step of the event loop, so no wake-up is lost.
                    waiter.wake.clear()
                    await waiter.wake.wait()
                else:
                    left = deadline - self._clock()
                    if left <= 0:
                        raise RateLimited(self.name, retry_after=self.wait_estimate(priority))
                    waiter.wake.clear()
                    await _first_of(waiter.wake.wait(), self._sleep(left))
        except BaseException:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                heapq.heapify(self._waiters)
                self._wake_head()
            raise

    def set_rate(self, rate: float) -> None:
        """Adopt the rate Amazon reports for this seller (x-amzn-RateLimit-Limit)."""
        if rate <= 0:
            return
        self._refill()
        self._rate = rate

    def drain(self) -> None:
        """Amazon said 429: its bucket is empty, so ours should be too."""
        self._refill()
        self._tokens = min(self._tokens, 0.0)

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._updated = now
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate)

    def _wake_head(self) -> None:
        if self._waiters:
            self._waiters[0].wake.set()


async def _first_of(*waits: Awaitable[Any]) -> None:
    """Run until the first of `waits` finishes; cancel the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class RateLimiter:
    """All buckets of one process, created on first use from Amazon's defaults.

    `rate_scale` multiplies the default rates: 1.0 for Amazon, the sandbox's speed-up factor when
    tests run it faster than real time. A rate reported in `x-amzn-RateLimit-Limit` is taken as is:
    it is what the server enforces for this seller right now.

    `application` adds Amazon's limits per application: a call takes its seller's token first, then the
    application's, so a throttled seller never holds application tokens while it waits.
    """

    def __init__(
        self,
        limits: Mapping[str, RateLimit] = DEFAULT_RATE_LIMITS,
        *,
        rate_scale: float = 1.0,
        fallback: RateLimit = RateLimit(1.0, 1),
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        application: ApplicationLimits | None = None,
    ) -> None:
        if rate_scale <= 0:
            raise ValueError("rate_scale must be positive")
        self.application = application
        self._limits = dict(limits)
        self._rate_scale = rate_scale
        self._fallback = fallback
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def limit_for(self, operation: str) -> RateLimit:
        return self._limits.get(operation, self._fallback)

    def bucket(self, selling_partner: str, operation: str) -> TokenBucket:
        key = (selling_partner, operation)
        bucket = self._buckets.get(key)
        if bucket is None:
            limit = self.limit_for(operation)
            bucket = TokenBucket(
                RateLimit(limit.rate * self._rate_scale, limit.burst),
                clock=self._clock,
                sleep=self._sleep,
                name=operation,
            )
            self._buckets[key] = bucket
        return bucket

    async def acquire(
        self,
        selling_partner: str,
        operation: str,
        priority: Priority = Priority.NORMAL,
        *,
        max_wait: float | None = None,
    ) -> None:
        """Wait for a token of (seller, operation), then of the application's limit of `operation` if it has one;
        with `max_wait` (for both together), RateLimited rather than longer."""
        started = self._clock()
        await self.bucket(selling_partner, operation).acquire(priority, max_wait=max_wait)
        if self.application is None:
            return
        left = None if max_wait is None else max(0.0, max_wait - (self._clock() - started))
        retry_after = await self.application.acquire(operation, int(priority), max_wait=left)
        if retry_after is not None:
            # The seller's token stays spent: refusing costs its bucket one call, never Amazon's limit.
            raise RateLimited(operation, retry_after=retry_after)

    def observe(self, selling_partner: str, operation: str, rate_limit_header: str | None) -> None:
        """Adjust a bucket from `x-amzn-RateLimit-Limit` (best effort: Amazon may omit it)."""
        if not rate_limit_header:
            return
        try:
            rate = float(rate_limit_header)
        except ValueError:
            return
        if rate <= 0:
            return
        bucket = self.bucket(selling_partner, operation)
        if abs(bucket.rate - rate) > 1e-9 * max(1.0, rate):
            log.info("rate limit adjusted", extra={"operation": operation, "rate": rate})
            bucket.set_rate(rate)

    def throttled(self, selling_partner: str, operation: str) -> None:
        self.bucket(selling_partner, operation).drain()
