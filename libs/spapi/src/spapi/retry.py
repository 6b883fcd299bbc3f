"""When to try an Amazon call again, and how long to wait first."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

# Amazon: 429 is retryable with back-off, 500/503 with back-off; 400/401/403/404/413/415 are not
# (spapi-brief.md §12). Anything else (409, 502, 504, ...) is surfaced rather than guessed at.
RETRYABLE_STATUSES = frozenset({429, 500, 503})
NEVER_RETRIED_STATUSES = frozenset({400, 401, 403, 404, 413, 415})

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded exponential back-off with full jitter.

    `max_attempts` counts the first try. The wait before retry n (n = 1, 2, ...) is uniform in
    [0, min(max_delay, base_delay * 2**(n-1))], raised to Retry-After when Amazon sends one
    (capped at `max_retry_after` so a hostile or broken header cannot park a worker for hours).
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    retry_statuses: frozenset[int] = field(default=RETRYABLE_STATUSES)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.retry_statuses & NEVER_RETRIED_STATUSES:
            raise ValueError("400, 401, 403, 404, 413 and 415 are never retried unchanged")

    def backoff(self, retry_number: int, rng: random.Random) -> float:
        cap = min(self.max_delay, self.base_delay * (2 ** (retry_number - 1)))
        return rng.uniform(0.0, cap)

    def delay(self, retry_number: int, retry_after: float | None, rng: random.Random) -> float:
        wait = self.backoff(retry_number, rng)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


def never_sent(exc: httpx.TransportError) -> bool:
    """True when the request cannot have reached the server, so repeating it is always safe."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def is_retryable_transport_error(exc: httpx.TransportError, *, request_is_idempotent: bool) -> bool:
    if never_sent(exc):
        return True
    # A read/write timeout on a write leaves the outcome unknown: only idempotent calls repeat.
    return isinstance(exc, httpx.TimeoutException) and request_is_idempotent


async def send_with_retries(
    send: Callable[[], Awaitable[httpx.Response]],
    *,
    policy: RetryPolicy,
    rng: random.Random,
    sleep: Sleep = asyncio.sleep,
    idempotent: bool = True,
) -> httpx.Response:
    """Retry a plain HTTP call (token endpoints, presigned S3 URLs) by the same rules.

    Returns the last response, whatever its status; raises the last transport error.
    """
    retry_number = 0
    while True:
        try:
            response = await send()
        except httpx.TransportError as exc:
            if retry_number + 1 >= policy.max_attempts or not is_retryable_transport_error(
                exc, request_is_idempotent=idempotent
            ):
                raise
            retry_number += 1
            await sleep(policy.delay(retry_number, None, rng))
            continue
        if response.status_code in policy.retry_statuses and retry_number + 1 < policy.max_attempts:
            retry_number += 1
            await response.aclose()
            await sleep(policy.delay(retry_number, parse_retry_after(response.headers.get("retry-after")), rng))
            continue
        return response
