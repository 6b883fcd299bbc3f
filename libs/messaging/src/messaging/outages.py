"""Telling an outage (PostgreSQL or Kafka away, restarting, full) from a bug, for the outbox relay's loop.

servicekit.is_outage draws the same line for service loops; messaging keeps its own because libs built on
messaging (sellers) must not depend on servicekit.
"""

from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, KafkaUnavailableError

_POSTGRES = (
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.InsufficientResourcesError,
)
_KAFKA = (KafkaConnectionError, KafkaTimeoutError, KafkaUnavailableError)


def is_outage(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return all(is_outage(e) for e in exc.exceptions)
    if isinstance(exc, (OSError, TimeoutError, *_POSTGRES, *_KAFKA)):
        return True
    # Plain InterfaceError is "connection is closed" or "pool is closing"; its subclasses are misuse.
    if type(exc) is asyncpg.InterfaceError:
        return True
    return isinstance(exc, KafkaError) and bool(exc.retriable)
