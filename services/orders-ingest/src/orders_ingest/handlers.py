"""Handlers of consumed events: plain async functions, called by the consumer or directly by tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
from contracts import CloudEvent, ConnectionStatus, ConnectionUpdatedV1

from orders_ingest import repository


async def apply_connection(
    event: CloudEvent[ConnectionUpdatedV1],
    *,
    pool: asyncpg.Pool,
    initial_lookback: timedelta,
    changed: Callable[[], None] = lambda: None,
) -> None:
    """Keeps the highest revision of a connection; an active one gets a schedule (first poll: now).

    Redelivery and replays are no-ops: an equal or lower revision changes nothing.
    """
    data = event.data
    async with pool.acquire() as conn, conn.transaction():
        if not await repository.save_connection(conn, data):
            return
        if data.status == ConnectionStatus.ACTIVE and data.selling_partner_id:
            await repository.ensure_schedule(conn, data.connection_id, datetime.now(UTC) - initial_lookback)
    changed()


async def remove_connection(key: bytes | None, *, pool: asyncpg.Pool) -> None:
    """A tombstone: the connection was disconnected and deleted. Its order bookkeeping and history stay."""
    if not key:
        return
    async with pool.acquire() as conn:
        await repository.delete_connection(conn, key.decode())
