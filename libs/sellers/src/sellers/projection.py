"""Keeping the `connections` table from connection.updated: handlers for messaging.Consumer.

Redelivery and replays are no-ops (an equal or lower revision changes nothing), a tombstone deletes the row.
A service adds its own rules through hooks: `on_saved` runs in the same transaction as the stored revision,
`changed` runs after the commit (e.g. to wake a scheduler).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import NamedTuple

import asyncpg
from contracts import CloudEvent, ConnectionUpdatedV1
from messaging import Handler, Rejected

from sellers import store
from sellers.connection import Connection

TOPIC = "connection.updated"

# Called with the transaction's connection and the revision just stored; raising rolls both back.
Saved = Callable[[asyncpg.Connection, Connection], Awaitable[None]]
Changed = Callable[[], None]
Tombstone = Callable[[bytes | None], Awaitable[None]]


async def apply_update(
    event: CloudEvent[ConnectionUpdatedV1],
    *,
    pool: asyncpg.Pool,
    on_saved: Saved | None = None,
    changed: Changed | None = None,
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        saved = await store.save_connection(conn, event.data)
        if saved is None:
            return
        if on_saved is not None:
            await on_saved(conn, saved)
    if changed is not None:
        changed()


async def apply_tombstone(key: bytes | None, *, pool: asyncpg.Pool, changed: Changed | None = None) -> None:
    """The connection was disconnected and deleted at connector-auth; rows that reference it decide by their FK."""
    if not key:
        return
    try:
        connection_id = key.decode()
    except UnicodeDecodeError:
        raise Rejected("tombstone key is not UTF-8, so it names no connection") from None
    async with pool.acquire() as conn:
        deleted = await store.delete_connection(conn, connection_id)
    if deleted and changed is not None:
        changed()


class Routes(NamedTuple):
    """messaging.Consumer's `routes` and `tombstones` for connection.updated; merge them with a service's own."""

    routes: dict[str, Handler]
    tombstones: dict[str, Tombstone]


def consumer_routes(pool: asyncpg.Pool, *, on_saved: Saved | None = None, changed: Changed | None = None) -> Routes:
    return Routes(
        routes={TOPIC: partial(apply_update, pool=pool, on_saved=on_saved, changed=changed)},
        tombstones={TOPIC: partial(apply_tombstone, pool=pool, changed=changed)},
    )
