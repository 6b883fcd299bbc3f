"""Consumed events: what catalog-sync adds to the connection projection, and stock.changed for FBA mirrors."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import sellers
from contracts import CloudEvent, StockChangedV1

from catalog_sync import repository


async def connection_saved(conn: asyncpg.Connection, connection: sellers.Connection) -> None:
    """An active connection with a seller id gets a schedule: its first import and FBA read are due now."""
    if connection.callable:
        await repository.ensure_schedule(conn, connection.connection_id)
    # The FBA warehouse may have changed: mismatches are against the warehouse named now.
    await repository.refresh_mismatches(conn, connection.connection_id)


async def stock_changed(event: CloudEvent[StockChangedV1], *, pool: asyncpg.Pool, changed: Callable[[], None]) -> None:
    """Kept only for warehouses a connection names as its FBA mirror; an older count than the stored is ignored."""
    data = event.data
    async with pool.acquire() as conn, conn.transaction():
        mirrors = await repository.connections_mirroring(conn, data.warehouse_id)
        if not mirrors:
            return
        if not await repository.save_warehouse_stock(conn, data.warehouse_id, data.sku, data.available, data.as_of):
            return
        for connection_id in mirrors:
            await repository.refresh_mismatches(conn, connection_id)
    changed()
