"""A worker that runs one tick after another, with the one failure policy every service loop shares.

A PostgreSQL or Kafka outage is ridden out: backoff with jitter, one warning when it starts, one info line when it
ends, a counter and a gauge per worker. Any other exception is a bug; it leaves `run()` and takes the process down
(see `run_service`), so the orchestrator restarts it and the crash is noticed instead of retried forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, KafkaUnavailableError
from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)

OUTAGES = Counter(
    "worker_outages_total", "Outages of PostgreSQL or Kafka a worker rode out (counted once each)", ["worker"]
)
IN_OUTAGE = Gauge("worker_in_outage", "1 while a worker is waiting for PostgreSQL or Kafka to come back", ["worker"])
LAST_SUCCESS = Gauge(
    "worker_last_success_timestamp_seconds", "When a worker's tick last completed without an error", ["worker"]
)

_FIRST_BACKOFF = 0.5

# Server-side codes that mean "the server is going away, restarting or full", never "your query is wrong".
_POSTGRES_OUTAGES = (
    asyncpg.PostgresConnectionError,  # class 08, e.g. ConnectionDoesNotExistError mid-query
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.InsufficientResourcesError,  # too many connections, disk full
)
_KAFKA_OUTAGES = (KafkaConnectionError, KafkaTimeoutError, KafkaUnavailableError)
_OUTAGES = (OSError, TimeoutError, *_POSTGRES_OUTAGES, *_KAFKA_OUTAGES)


def is_outage(exc: BaseException) -> bool:
    """True when `exc` says PostgreSQL or Kafka is unreachable or restarting, rather than that our code is wrong."""
    if isinstance(exc, BaseExceptionGroup):
        return all(is_outage(e) for e in exc.exceptions)
    if isinstance(exc, _OUTAGES):
        return True
    # Plain InterfaceError is "connection is closed" or "pool is closing"; its subclasses are misuse (bad arguments).
    if type(exc) is asyncpg.InterfaceError:
        return True
    # Kafka marks the errors a client should retry (no leader yet, request timed out, broker not ready).
    return isinstance(exc, KafkaError) and bool(exc.retriable)


class PeriodicWorker:
    """Runs `tick` every `every` seconds until `stop()`; `tick` may return the delay before the next one.

    `wake()` runs the next tick now (a writer in this process has new work); it is ignored while an outage is being
    ridden out, so a stream of wakes cannot turn the backoff into a busy loop.
    """

    def __init__(
        self,
        name: str,
        tick: Callable[[], Awaitable[float | None]],
        *,
        every: float,
        first_delay: float = 0.0,
        max_backoff: float = 30.0,
    ) -> None:
        if every < 0 or first_delay < 0 or max_backoff <= 0:
            raise ValueError("every and first_delay must be >= 0 and max_backoff > 0")
        self.name = name
        self._tick = tick
        self._every = every
        self._first_delay = first_delay
        self._max_backoff = max_backoff
        self._stopping = asyncio.Event()
        self._woken = asyncio.Event()

    def wake(self) -> None:
        self._woken.set()

    async def stop(self) -> None:
        """Interrupts the wait between ticks; a tick under way finishes first, then `run()` returns."""
        self._stopping.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        outage_started = 0.0
        IN_OUTAGE.labels(self.name).set(0)
        await self._wait(self._first_delay, wakeable=True)
        while not self._stopping.is_set():
            self._woken.clear()
            try:
                requested = await self._tick()
            except Exception as exc:
                if not is_outage(exc):
                    raise
                failures += 1
                if failures == 1:
                    outage_started = loop.time()
                    OUTAGES.labels(self.name).inc()
                    IN_OUTAGE.labels(self.name).set(1)
                    log.warning(
                        "%s: PostgreSQL or Kafka unreachable (%s); retrying with backoff",
                        self.name,
                        type(exc).__name__,
                        extra={"worker": self.name, "error": type(exc).__name__},
                    )
                await self._wait(self._backoff(failures), wakeable=False)
                continue
            LAST_SUCCESS.labels(self.name).set_to_current_time()
            if failures:
                log.info(
                    "%s: recovered after %.1fs and %d failed attempts",
                    self.name,
                    loop.time() - outage_started,
                    failures,
                    extra={"worker": self.name, "failed_attempts": failures},
                )
                IN_OUTAGE.labels(self.name).set(0)
                failures = 0
            await self._wait(self._every if requested is None else max(0.0, requested), wakeable=True)

    def _backoff(self, failures: int) -> float:
        ceiling = min(self._max_backoff, _FIRST_BACKOFF * 2.0 ** min(failures - 1, 30))
        # Jitter keeps replicas that lost the same server from reconnecting in lockstep.
        return ceiling * random.uniform(0.5, 1.0)

    async def _wait(self, seconds: float, *, wakeable: bool) -> None:
        if seconds <= 0 or self._stopping.is_set():
            return
        waits = [asyncio.ensure_future(self._stopping.wait())]
        if wakeable:
            waits.append(asyncio.ensure_future(self._woken.wait()))
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
            for w in waits:
                with contextlib.suppress(asyncio.CancelledError):
                    await w
