"""Consumers of order and shipment events: seal an order's PII, move its clock, reschedule its redaction.

Each handler is one transaction on the order's locked row; redelivery is harmless because every step is
idempotent (same PII sealed again, the clock only moves by the rules in schedule.py).
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import sellers
from contracts import CloudEvent, OrderCancelledV1, OrderCompletedV1, OrderReceivedV1, ShipmentConfirmedV1

from pii_redactor import schedule, vault
from pii_redactor.crypto import VaultCipher

log = logging.getLogger(__name__)


async def order_received(
    event: CloudEvent[Any], *, pool: asyncpg.Pool, cipher: VaultCipher, hard_max_days: int
) -> None:
    order: OrderReceivedV1 = event.data
    async with pool.acquire() as conn, conn.transaction():
        row = await vault.lock_row(conn, order.connection_id, order.amazon_order_id)
        if row["redacted_at"] is not None:
            # The tombstone: a replay of an order already redacted brings nothing back.
            log.info("order.received for a redacted order ignored", extra={"amazon_order_id": order.amazon_order_id})
            return
        if row["last_update_date"] is not None and order.last_update_date < row["last_update_date"]:
            return
        pii = vault.pii_of(order)
        sealed = vault.seal(cipher, order.connection_id, order.amazon_order_id, pii) if pii else None
        await vault.store_order(conn, row, order, sealed, vault.held_fields(pii))
        await vault.reschedule(conn, order.connection_id, order.amazon_order_id, hard_max_days=hard_max_days)


async def order_completed(event: CloudEvent[Any], *, pool: asyncpg.Pool, hard_max_days: int) -> None:
    done: OrderCompletedV1 = event.data
    await _closed(pool, done.connection_id, done.amazon_order_id, done.occurred_at, done.status, hard_max_days)


async def order_cancelled(event: CloudEvent[Any], *, pool: asyncpg.Pool, hard_max_days: int) -> None:
    cancelled: OrderCancelledV1 = event.data
    await _closed(
        pool, cancelled.connection_id, cancelled.amazon_order_id, cancelled.last_update_date, "cancelled", hard_max_days
    )


async def _closed(
    pool: asyncpg.Pool, connection_id: str, order_id: str, at: Any, kind: Any, hard_max_days: int
) -> None:
    column = "completed_at" if kind == "completed" else "cancelled_at"
    async with pool.acquire() as conn, conn.transaction():
        row = await vault.lock_row(conn, connection_id, order_id)
        if row["redacted_at"] is not None:
            return
        start, source = schedule.after_closing(row["clock_started_at"], row["clock_source"], at, kind)
        first = at if row[column] is None else min(row[column], at)
        await vault.set_clock(conn, row, column=column, at=first, started_at=start, source=source)
        await vault.reschedule(conn, connection_id, order_id, hard_max_days=hard_max_days)


async def shipment_confirmed(event: CloudEvent[Any], *, pool: asyncpg.Pool, hard_max_days: int) -> None:
    shipment: ShipmentConfirmedV1 = event.data
    # Only packages Amazon accepted count as shipped; a fully rejected confirmation leaves the clock alone.
    if not any(p.outcome == "accepted" for p in shipment.packages):
        return
    at = shipment.confirmed_at
    async with pool.acquire() as conn, conn.transaction():
        row = await vault.lock_row(conn, shipment.connection_id, shipment.amazon_order_id)
        if row["redacted_at"] is not None:
            return
        start, source = schedule.after_shipment(row["clock_started_at"], row["clock_source"], at)
        last = at if row["last_shipped_at"] is None else max(row["last_shipped_at"], at)
        await vault.set_clock(conn, row, column="last_shipped_at", at=last, started_at=start, source=source)
        await vault.reschedule(conn, shipment.connection_id, shipment.amazon_order_id, hard_max_days=hard_max_days)


async def connection_saved(conn: asyncpg.Connection, connection: sellers.Connection, *, hard_max_days: int) -> None:
    """A changed retention reschedules every order still held, in the revision's transaction."""
    await vault.reschedule_connection(conn, connection.connection_id, hard_max_days=hard_max_days)
