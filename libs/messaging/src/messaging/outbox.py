"""Transactional outbox: `add` writes in the caller's transaction; `OutboxRelay` publishes and marks rows sent.

A crash between publish and mark re-publishes the same event (same id) later: at-least-once, deduped by inboxes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from contracts import CloudEvent, encode

from messaging.metrics import OUTBOX_BACKLOG, OUTBOX_PUBLISHED
from messaging.settings import namespaced

log = logging.getLogger(__name__)
_OUTAGES = (
    OSError,
    TimeoutError,
    KafkaError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
)


async def add(conn: asyncpg.Connection, event: CloudEvent) -> None:  # type: ignore[type-arg]
    """Never commits: the row lands exactly when the caller's change does. The row keeps the registry topic."""
    record = encode(event)
    await conn.execute(
        "INSERT INTO outbox (topic, key, value, header_keys, header_values, event_id) VALUES ($1, $2, $3, $4, $5, $6)",
        record.topic,
        record.key,
        record.value,
        [k for k, _ in record.headers],
        [v for _, v in record.headers],
        str(event.id),
    )


async def add_tombstone(conn: asyncpg.Connection, topic: str, key: bytes) -> None:
    """A null value on a compacted topic deletes the key (e.g. a disconnected connection)."""
    await conn.execute("INSERT INTO outbox (topic, key, value) VALUES ($1, $2, NULL)", topic, key)


class OutboxRelay:
    """Polling publisher. SKIP LOCKED lets replicas share the table without publishing a row twice at once."""

    name = "outbox-relay"

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        *,
        batch_size: int = 500,
        idle_seconds: float = 0.1,
        keep_sent_hours: int = 24,
        after_publish: Callable[[int], Awaitable[None]] | None = None,
        namespace: str = "",
    ) -> None:
        """`namespace` is the KafkaSettings' one: rows hold registry topics, the wire gets namespaced names."""
        self._pool = pool
        self._producer = producer
        self._batch_size = batch_size
        self._idle = idle_seconds
        self._keep_sent_hours = keep_sent_hours
        # Test seam: runs after the broker acknowledged a batch and before it is marked sent.
        self._after_publish = after_publish
        self._namespace = namespace
        self._stopping = asyncio.Event()
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """Lets a writer in this process skip the idle wait after committing an outbox row."""
        self._wakeup.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_purge = 0.0
        outage = 0
        while not self._stopping.is_set():
            try:
                published = await self.publish_batch()
                if loop.time() >= next_purge:
                    await self._purge_and_measure()
                    next_purge = loop.time() + 60
                outage = 0
            except _OUTAGES as exc:
                # Nothing is lost while Kafka or PostgreSQL is away: rows stay unsent and /readyz says so.
                outage += 1
                log.warning("outbox relay waiting for Kafka/PostgreSQL: %s", type(exc).__name__)
                await asyncio.sleep(min(5.0, 0.2 * 2**outage))
                continue
            if published == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._idle)
                self._wakeup.clear()

    async def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()

    async def publish_batch(self) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, topic, key, value, header_keys, header_values FROM outbox"
                " WHERE sent_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                self._batch_size,
            )
            if not rows:
                return 0
            acks = [
                await self._producer.send(
                    namespaced(self._namespace, r["topic"]),
                    value=r["value"],
                    key=r["key"],
                    headers=list(zip(r["header_keys"], r["header_values"], strict=True)),
                )
                for r in rows
            ]
            await asyncio.gather(*acks)
            if self._after_publish is not None:
                await self._after_publish(len(rows))
            await conn.execute(
                "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", [r["id"] for r in rows]
            )
        for r in rows:
            OUTBOX_PUBLISHED.labels(r["topic"]).inc()
        return len(rows)

    async def _purge_and_measure(self) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM outbox WHERE sent_at < now() - make_interval(hours => $1)", self._keep_sent_hours
            )
            OUTBOX_BACKLOG.set(await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
