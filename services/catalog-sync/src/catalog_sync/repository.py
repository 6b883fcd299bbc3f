"""SQL over schema catalog_sync: schedules, published listing and FBA state, SKU links, warehouse stock, mismatches.

Every function takes the caller's connection; none commits. Nothing here is PII (listings are the seller's).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from catalog_sync.sync_history import HISTORY, Lane


@dataclass(frozen=True, slots=True)
class Known:
    row_hash: str
    content_hash: str
    revision: int
    gone: bool


# --- schedules ---------------------------------------------------------------------------------------


async def ensure_schedule(conn: asyncpg.Connection, connection_id: str) -> None:
    await conn.execute(
        # A new revision (say, another FBA warehouse) makes the cheap FBA read due now; the import keeps its time.
        """INSERT INTO catalog_schedules (connection_id) VALUES ($1)
           ON CONFLICT (connection_id) DO UPDATE SET next_fba_at = LEAST(catalog_schedules.next_fba_at, now())""",
        connection_id,
    )
    await HISTORY.nudge(conn, connection_id, Lane.CATALOG)
    await HISTORY.nudge(conn, connection_id, Lane.FBA)


async def schedule(conn: asyncpg.Connection, connection_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM catalog_schedules WHERE connection_id = $1", connection_id
    )
    return row


async def catalog_done(conn: asyncpg.Connection, connection_id: str, *, next_at: datetime, imported: bool) -> None:
    await conn.execute(
        """UPDATE catalog_schedules SET next_catalog_at = $2,
                  catalog_failures = CASE WHEN $3 THEN 0 ELSE catalog_failures + 1 END,
                  imported_at = CASE WHEN $3 THEN now() ELSE imported_at END
           WHERE connection_id = $1""",
        connection_id,
        next_at,
        imported,
    )


async def fba_done(conn: asyncpg.Connection, connection_id: str, *, next_at: datetime, ok: bool) -> None:
    await conn.execute(
        """UPDATE catalog_schedules SET next_fba_at = $2,
                  fba_failures = CASE WHEN $3 THEN 0 ELSE fba_failures + 1 END
           WHERE connection_id = $1""",
        connection_id,
        next_at,
        ok,
    )


# --- listings ----------------------------------------------------------------------------------------


async def known_listings(conn: asyncpg.Connection, connection_id: str) -> dict[str, Known]:
    rows = await conn.fetch(
        """SELECT sku, row_hash, content_hash, revision, gone_at IS NOT NULL AS gone
           FROM listings WHERE connection_id = $1""",
        connection_id,
    )
    return {r["sku"]: Known(r["row_hash"], r["content_hash"], r["revision"], r["gone"]) for r in rows}


async def lock_listing(conn: asyncpg.Connection, connection_id: str, sku: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM listings WHERE connection_id = $1 AND sku = $2 FOR UPDATE", connection_id, sku
    )
    return row


async def save_listing(
    conn: asyncpg.Connection,
    *,
    connection_id: str,
    sku: str,
    marketplace_id: str,
    row_hash: str,
    content_hash: str,
    revision: int,
    payload: dict[str, Any],
    channel: str,
) -> None:
    await conn.execute(
        """INSERT INTO listings (connection_id, sku, marketplace_id, row_hash, content_hash, revision, payload,
                                 fulfillment_channel)
           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)
           ON CONFLICT (connection_id, sku) DO UPDATE SET marketplace_id = $3, row_hash = $4, content_hash = $5,
               revision = $6, payload = $7::jsonb, fulfillment_channel = $8, published_at = now(), gone_at = NULL""",
        connection_id,
        sku,
        marketplace_id,
        row_hash,
        content_hash,
        revision,
        json.dumps(payload),
        channel,
    )


async def touch_row(conn: asyncpg.Connection, connection_id: str, sku: str, row_hash: str) -> None:
    await conn.execute(
        "UPDATE listings SET row_hash = $3 WHERE connection_id = $1 AND sku = $2", connection_id, sku, row_hash
    )


async def mark_gone(conn: asyncpg.Connection, connection_id: str, sku: str) -> None:
    await conn.execute(
        "UPDATE listings SET gone_at = now(), content_hash = '', row_hash = '' WHERE connection_id = $1 AND sku = $2",
        connection_id,
        sku,
    )


async def listing_views(conn: asyncpg.Connection, sku: str, connection_id: str | None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT connection_id, sku, marketplace_id, revision, payload, fulfillment_channel, first_seen_at,
                  published_at, gone_at FROM listings
           WHERE sku = $1 AND ($2::text IS NULL OR connection_id = $2) ORDER BY connection_id""",
        sku,
        connection_id,
    )
    return [
        {
            "connection_id": r["connection_id"],
            "sku": r["sku"],
            "marketplace_id": r["marketplace_id"],
            "revision": r["revision"],
            "fulfillment_channel": r["fulfillment_channel"],
            "listing": None if r["gone_at"] else json.loads(r["payload"]),
            "amazon_last_updated": json.loads(r["payload"]).get("amazon_last_updated"),
            "first_seen_at": r["first_seen_at"],
            "published_at": r["published_at"],
            "gone_at": r["gone_at"],
        }
        for r in rows
    ]


# --- SKU links ---------------------------------------------------------------------------------------


async def link_of(conn: asyncpg.Connection, connection_id: str, sku: str) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT item_id FROM sku_links WHERE connection_id = $1 AND sku = $2", connection_id, sku
    )
    return value


async def set_link(conn: asyncpg.Connection, connection_id: str, sku: str, item_id: str | None) -> bool:
    """True when the link changed. None (or the SKU itself) unlinks."""
    if item_id is None or item_id == sku:
        status = await conn.execute("DELETE FROM sku_links WHERE connection_id = $1 AND sku = $2", connection_id, sku)
        return bool(status != "DELETE 0")
    status = await conn.execute(
        """INSERT INTO sku_links (connection_id, sku, item_id) VALUES ($1, $2, $3)
           ON CONFLICT (connection_id, sku) DO UPDATE SET item_id = $3, linked_at = now()
           WHERE sku_links.item_id <> $3""",
        connection_id,
        sku,
        item_id,
    )
    return bool(status != "INSERT 0 0")


# --- FBA -----------------------------------------------------------------------------------------------


async def fba_hashes(conn: asyncpg.Connection, connection_id: str) -> dict[str, str]:
    rows = await conn.fetch("SELECT sku, content_hash FROM fba_inventory WHERE connection_id = $1", connection_id)
    return {r["sku"]: r["content_hash"] for r in rows}


async def save_fba(
    conn: asyncpg.Connection,
    *,
    connection_id: str,
    sku: str,
    marketplace_id: str,
    content_hash: str,
    fulfillable: int,
    payload: dict[str, Any],
    as_of: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO fba_inventory (connection_id, sku, marketplace_id, content_hash, fulfillable, payload, as_of)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
           ON CONFLICT (connection_id, sku) DO UPDATE SET marketplace_id = $3, content_hash = $4, fulfillable = $5,
               payload = $6::jsonb, as_of = $7, read_at = now()""",
        connection_id,
        sku,
        marketplace_id,
        content_hash,
        fulfillable,
        json.dumps(payload),
        as_of,
    )


async def save_warehouse_stock(
    conn: asyncpg.Connection, warehouse_id: str, sku: str, available: int, as_of: datetime
) -> bool:
    """False when an as-new or newer count is already stored (a replay or an out-of-order event)."""
    status = await conn.execute(
        """INSERT INTO warehouse_stock (warehouse_id, sku, available, as_of) VALUES ($1, $2, $3, $4)
           ON CONFLICT (warehouse_id, sku) DO UPDATE SET available = $3, as_of = $4
           WHERE warehouse_stock.as_of < $4""",
        warehouse_id,
        sku,
        available,
        as_of,
    )
    return bool(status != "INSERT 0 0")


async def connections_mirroring(conn: asyncpg.Connection, warehouse_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT connection_id FROM connections WHERE settings->>'fba_warehouse_id' = $1 ORDER BY connection_id",
        warehouse_id,
    )
    return [r["connection_id"] for r in rows]


async def refresh_mismatches(conn: asyncpg.Connection, connection_id: str) -> None:
    """Recomputes the connection's mismatches; a difference that persists keeps its `since`."""
    await conn.execute(
        """WITH current AS (
               SELECT f.sku, w.available AS ours, f.fulfillable AS amazon
               FROM fba_inventory f
               JOIN connections c ON c.connection_id = f.connection_id
               LEFT JOIN sku_links l ON l.connection_id = f.connection_id AND l.sku = f.sku
               JOIN warehouse_stock w ON w.warehouse_id = c.settings->>'fba_warehouse_id'
                                     AND w.sku = coalesce(l.item_id, f.sku)
               WHERE f.connection_id = $1
           ), resolved AS (
               DELETE FROM fba_mismatches m WHERE m.connection_id = $1
                 AND NOT EXISTS (SELECT 1 FROM current WHERE current.sku = m.sku AND current.ours <> current.amazon)
           )
           INSERT INTO fba_mismatches (connection_id, sku, ours, amazon)
           SELECT $1, sku, ours, amazon FROM current WHERE ours <> amazon
           ON CONFLICT (connection_id, sku) DO UPDATE SET ours = EXCLUDED.ours, amazon = EXCLUDED.amazon""",
        connection_id,
    )


async def mismatches(conn: asyncpg.Connection, connection_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT sku, ours, amazon, since FROM fba_mismatches WHERE connection_id = $1 ORDER BY sku", connection_id
    )
    return [
        {"sku": r["sku"], "ours": r["ours"], "amazon": r["amazon"], "difference": r["ours"] - r["amazon"],
         "since": r["since"]}
        for r in rows
    ]  # fmt: skip


def backoff(failures: int, base: timedelta, cap: timedelta) -> timedelta:
    return min(base * 2 ** min(failures, 20), cap)
