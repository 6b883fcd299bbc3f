"""The one way we create Kafka producers: idempotent, acks from every in-sync replica."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from messaging.settings import KafkaSettings


@asynccontextmanager
async def kafka_producer(settings: KafkaSettings) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=settings.client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
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
