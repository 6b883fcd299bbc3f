"""The one way we create Kafka producers: idempotent, acks from every in-sync replica."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from messaging.settings import KafkaSettings

# The largest record (key, value, headers and batch overhead) our producers send; the broker's default
# message.max.bytes (1048588) admits it. The outbox relay parks larger rows instead of trying.
MAX_REQUEST_BYTES = 1_048_576


@asynccontextmanager
async def kafka_producer(settings: KafkaSettings) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(
        **settings.connection_options(),
        client_id=settings.client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_request_size=MAX_REQUEST_BYTES,
    )
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def kafka_reachable(producer: AIOKafkaProducer) -> bool:
    """Readiness: a metadata round-trip to some broker, not just an open socket."""
    try:
        await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout=2)
    except (KafkaError, TimeoutError, OSError):
        return False
    return True
