"""What orders-ingest adds to the `sellers` connection projection: plain async functions, wired in bootstrap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import sellers

from orders_ingest import repository


async def connection_saved(
    conn: asyncpg.Connection, connection: sellers.Connection, *, initial_lookback: timedelta
) -> None:
    """An active connection with a seller id gets a schedule (first poll: now), in the revision's transaction."""
    if connection.callable:
        await repository.ensure_schedule(conn, connection.connection_id, datetime.now(UTC) - initial_lookback)
