"""The redaction job: due orders lose their PII in batches, each with its order.redacted in the same transaction.

Safe with several replicas: a batch is claimed with FOR UPDATE SKIP LOCKED, so two replicas never take the same
row, and a row is redacted only while `redacted_at IS NULL`. A crash rolls its batch back whole (PII still held,
no event), so a restart loses nothing and redacts nothing twice. order.redacted's id is derived from the order,
so even a re-published outbox row is the same event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import asyncpg
import messaging
from contracts import OrderRedactedV1, new_event
from prometheus_client import Counter, Gauge

from pii_redactor import vault
from pii_redactor.clock import Now

log = logging.getLogger(__name__)
SERVICE = "pii-redactor"

REDACTIONS = Counter("pii_redactions_total", "Orders whose PII was redacted", ["basis"])
OVERDUE = Gauge("pii_redactions_overdue", "Orders past their redaction time that still hold PII (must stay 0)")


async def publish_redacted(conn: asyncpg.Connection, done: list[vault.Redacted], *, now: datetime, reason: str) -> None:
    for order in done:
        payload = OrderRedactedV1(
            connection_id=order.connection_id,
            amazon_order_id=order.amazon_order_id,
            reason=reason,  # type: ignore[arg-type]
            redacted_at=now,
        )
        # One fact per order: the revision is constant, so the event id is too.
        event = new_event("order.redacted", payload, source=SERVICE, revision=f"{order.connection_id}:redacted")
        await messaging.add(conn, event)


class RedactionJob:
    def __init__(
        self, pool: asyncpg.Pool, *, now: Now, batch_size: int, published: Callable[[], None] = lambda: None
    ) -> None:
        self._pool = pool
        self._now = now
        self._batch_size = batch_size
        self._published = published

    async def run_batch(self) -> int:
        """One transaction: claims up to a batch of due rows, redacts them, queues their events. Returns how many."""
        now = self._now()
        async with self._pool.acquire() as conn, conn.transaction():
            claimed = await vault.claim_due(conn, now, self._batch_size)
            if not claimed:
                return 0
            done = await vault.redact_rows(
                conn, [(r["connection_id"], r["amazon_order_id"]) for r in claimed], now=now, reason="retention_elapsed"
            )
            await publish_redacted(conn, done, now=now, reason="retention_elapsed")
        for order in done:
            REDACTIONS.labels(order.basis).inc()
        self._published()
        return len(done)

    async def tick(self) -> None:
        total = 0
        while (n := await self.run_batch()) > 0:
            total += n
        if total:
            log.info("redacted due orders", extra={"count": total})
        await self.measure()

    async def measure(self) -> int:
        async with self._pool.acquire() as conn:
            overdue: int = await conn.fetchval(
                "SELECT count(*) FROM vault WHERE redacted_at IS NULL AND redact_at <= $1", self._now()
            )
        OVERDUE.set(overdue)
        return overdue
