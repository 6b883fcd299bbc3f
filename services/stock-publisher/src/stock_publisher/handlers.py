"""Consumers of stock.changed and listing.updated, and stock-publisher's hook on the connection projection.

Plain async functions, wired in bootstrap. Each stores its fact and, for near-real-time connections, makes the
connection's push due a few seconds later: changes arriving meanwhile ride along in the same push (coalescing).
stock.changed is consumed in batches (`stock_changed_batch`: one transaction and one set-based statement per
fetched batch, see intake.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import sellers
from contracts import CloudEvent, ListingUpdatedV1, StockChangedV1
from messaging import Rejected
from prometheus_client import Counter

from stock_publisher import domain, intake, repository
from stock_publisher.sync_history import HISTORY, Lane

log = logging.getLogger(__name__)

UNLISTED = Counter("stock_unlisted_items_total", "Items with stock but no Amazon listing (each counted once)")
STALE = Counter("stock_changes_ignored_total", "stock.changed events older than the quantity already kept")


# A steady stream of changes is pushed at least this many coalesce windows after its first change.
LONGEST_COALESCE = 10


async def _push_soon(conn: asyncpg.Connection, connection_id: str, coalesce: timedelta) -> None:
    at = await repository.push_after_change(conn, connection_id, quiet=coalesce, longest=coalesce * LONGEST_COALESCE)
    if at is not None:
        # Only the change that opens the window tells the lane; the lane reads the (later) due time itself.
        await HISTORY.due(conn, connection_id, Lane.PUSH, at)


async def stock_changed_batch(
    events: list[CloudEvent[StockChangedV1]],
    *,
    pool: asyncpg.Pool,
    coalesce: timedelta,
    changed: Callable[[], None],
) -> None:
    """All of a consumed batch in one transaction (all or nothing, as the consumer's batch routes require)."""
    changes = [(e.data.sku, e.data.warehouse_id, e.data.available, e.data.as_of) for e in events]
    async with pool.acquire() as conn, conn.transaction():
        saved = await intake.save_stock_batch(conn, changes)
        for connection_id in saved.due:
            await _push_soon(conn, connection_id, coalesce)
    if saved.stale:
        STALE.inc(saved.stale)
    for item_id in saved.unlisted:
        UNLISTED.inc()
        # The SKU is not PII; saying which one is the point of the report.
        log.warning("stock for an item no Amazon listing has; not sent", extra={"item_id": item_id})
    if saved.due:
        changed()


async def listing_updated(
    event: CloudEvent[ListingUpdatedV1], *, pool: asyncpg.Pool, coalesce: timedelta, changed: Callable[[], None]
) -> None:
    listing = event.data
    async with pool.acquire() as conn, conn.transaction():
        if not await repository.save_listing(conn, listing):
            return
        connection = await sellers.connection(conn, listing.connection_id)
        nudge = connection is not None and domain.near_real_time(connection.settings)
        if nudge:
            await _push_soon(conn, listing.connection_id, coalesce)
    if nudge:
        changed()


async def listing_removed(key: bytes | None, *, pool: asyncpg.Pool) -> None:
    try:
        connection_id, sku = (key or b"").decode().split(":", 1)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Rejected("a listing.updated tombstone key must be '<connection_id>:<sku>'") from exc
    async with pool.acquire() as conn:
        await repository.delete_listing(conn, connection_id, sku)


async def connection_saved(conn: asyncpg.Connection, connection: sellers.Connection) -> None:
    """A new revision (cadence, warehouses, rules, the switch) pushes what differs: now in near-real-time mode,
    at the next scheduled time otherwise."""
    now = datetime.now(UTC)
    at = now if domain.near_real_time(connection.settings) else domain.next_push(connection.settings, now)
    await repository.push_due_by(conn, connection.connection_id, at)
    await HISTORY.due(conn, connection.connection_id, Lane.PUSH, at)
    await HISTORY.due(conn, connection.connection_id, Lane.FOLLOW, now)
