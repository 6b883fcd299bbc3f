"""Telling an outage of PostgreSQL or Kafka from a bug, and riding one out the same way in every loop.

Every long-running loop (periodic workers, the outbox relay, the consumer) shares this: one warning when an outage
starts, one info line when it ends, `worker_outages_total{worker}` counted once per outage, `worker_in_outage{worker}`
at 1 meanwhile, and jittered exponential backoff between attempts. A loop re-raises anything `is_outage` refuses.
"""

from __future__ import annotations

import logging
import random
import time

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, KafkaUnavailableError
from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)

OUTAGES = Counter(
    "worker_outages_total", "Outages of PostgreSQL or Kafka a worker rode out (counted once each)", ["worker"]
)
IN_OUTAGE = Gauge("worker_in_outage", "1 while a worker is waiting for PostgreSQL or Kafka to come back", ["worker"])

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


class Outage:
    """One loop's outage bookkeeping: call `failed(exc)` after each failed attempt and `recovered()` after a success."""

    def __init__(self, worker: str, *, max_backoff: float = 30.0, first_backoff: float = 0.5) -> None:
        if max_backoff <= 0 or first_backoff <= 0:
            raise ValueError("backoffs must be positive")
        self.worker = worker
        self._max_backoff = max_backoff
        self._first_backoff = first_backoff
        self.failures = 0
        self._started = 0.0
        IN_OUTAGE.labels(worker).set(0)

    @property
    def active(self) -> bool:
        return self.failures > 0

    def failed(self, exc: BaseException) -> float:
        """Records one failed attempt (the caller checked `is_outage`); returns the seconds to back off."""
        self.failures += 1
        if self.failures == 1:
            self._started = time.monotonic()
            OUTAGES.labels(self.worker).inc()
            IN_OUTAGE.labels(self.worker).set(1)
            log.warning(
                "%s: PostgreSQL or Kafka unreachable (%s); retrying with backoff",
                self.worker,
                type(exc).__name__,
                extra={"worker": self.worker, "error": type(exc).__name__},
            )
        else:
            log.debug("%s: still waiting (attempt %d)", self.worker, self.failures, extra={"worker": self.worker})
        return self.backoff(self.failures)

    def recovered(self) -> None:
        if not self.failures:
            return
        log.info(
            "%s: recovered after %.1fs and %d failed attempts",
            self.worker,
            time.monotonic() - self._started,
            self.failures,
            extra={"worker": self.worker, "failed_attempts": self.failures},
        )
        IN_OUTAGE.labels(self.worker).set(0)
        self.failures = 0

    def backoff(self, failures: int) -> float:
        ceiling = min(self._max_backoff, self._first_backoff * 2.0 ** min(failures - 1, 30))
        # Jitter keeps replicas that lost the same server from reconnecting in lockstep.
        return ceiling * random.uniform(0.5, 1.0)
