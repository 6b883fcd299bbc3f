"""SQL of stock-publisher: stock levels, listings, per-SKU state, feeds and the push schedule."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import asyncpg

# --- listings (the consumer; stock levels are intake.py's) ---------------------------------------------


async def save_listing(conn: asyncpg.Connection, listing: Any) -> bool:
    """Keeps the highest revision; True when stored (new or newer)."""
    stored = await conn.fetchval(
        """INSERT INTO listings AS l (connection_id, sku, marketplace_id, item_id, channel, status, revision)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (connection_id, sku) DO UPDATE SET
               marketplace_id = excluded.marketplace_id, item_id = excluded.item_id, channel = excluded.channel,
               status = excluded.status, revision = excluded.revision
           WHERE l.revision < excluded.revision
           RETURNING 1""",
        listing.connection_id,
        listing.sku,
        listing.marketplace_id,
        listing.item_id,
        listing.fulfillment_channel.value,
        listing.status.value,
        listing.revision,
    )
    if stored is not None:
        await conn.execute("DELETE FROM unlisted_items WHERE item_id = $1", listing.item_id)
    return stored is not None


async def set_handling_time(conn: asyncpg.Connection, connection_id: str, sku: str, days: int | None) -> bool:
    """The SKU's own handling time (None: the connection's default again); False when the listing is unknown."""
    return (
        await conn.fetchval(
            """UPDATE listings SET handling_time_days = $3 WHERE connection_id = $1 AND sku = $2 RETURNING 1""",
            connection_id,
            sku,
            days,
        )
        is not None
    )


async def delete_listing(conn: asyncpg.Connection, connection_id: str, sku: str) -> None:
    await conn.execute("DELETE FROM listings WHERE connection_id = $1 AND sku = $2", connection_id, sku)


# --- the push schedule -------------------------------------------------------------------------------------


async def push_due_by(conn: asyncpg.Connection, connection_id: str, at: datetime | None) -> None:
    """The next push is due at `at` unless it is due earlier already (None: keep what is there)."""
    await conn.execute(
        """INSERT INTO push_schedule AS p (connection_id, next_push_at) VALUES ($1, $2)
           ON CONFLICT (connection_id) DO UPDATE
           SET next_push_at = LEAST(coalesce(p.next_push_at, excluded.next_push_at), excluded.next_push_at)""",
        connection_id,
        at,
    )


async def push_after_change(
    conn: asyncpg.Connection, connection_id: str, *, quiet: timedelta, longest: timedelta
) -> datetime | None:
    """A change arrived: push once `quiet` passed without another, at most `longest` after the first one.
    Returns when the push is due if this change opened the window (the lane must be told), else None."""
    row = await conn.fetchrow(
        """WITH old AS (SELECT pending_since FROM push_schedule WHERE connection_id = $1 FOR UPDATE)
           UPDATE push_schedule p SET
               pending_since = coalesce(p.pending_since, now()),
               next_push_at = LEAST(now() + $2::interval, coalesce(p.pending_since, now()) + $3::interval)
           FROM old WHERE p.connection_id = $1
           RETURNING old.pending_since IS NULL AS opened, p.next_push_at""",
        connection_id,
        quiet,
        longest,
    )
    return row["next_push_at"] if row is not None and row["opened"] else None


async def push_started(conn: asyncpg.Connection, connection_id: str) -> None:
    """Changes from now on open a new coalescing window."""
    await conn.execute("UPDATE push_schedule SET pending_since = NULL WHERE connection_id = $1", connection_id)


async def next_push_at(conn: asyncpg.Connection, connection_id: str) -> datetime | None:
    value: datetime | None = await conn.fetchval(
        "SELECT next_push_at FROM push_schedule WHERE connection_id = $1", connection_id
    )
    return value


async def push_done(conn: asyncpg.Connection, connection_id: str, *, started: datetime, then: datetime | None) -> None:
    """After a push that began at `started`: next one at `then`, unless a change made it due after `started`."""
    await conn.execute(
        """UPDATE push_schedule SET next_push_at = $2
           WHERE connection_id = $1 AND (next_push_at IS NULL OR next_push_at <= $3)""",
        connection_id,
        then,
        started,
    )


# --- what Amazon should show, and what it was sent -----------------------------------------------------


async def wanted_rows(
    conn: asyncpg.Connection, connection_id: str, warehouse_ids: list[str], skus: list[str] | None
) -> list[asyncpg.Record]:
    """Every MFN SKU of the connection whose item has stock in a stock warehouse: the sum and newest as_of."""
    return list(
        await conn.fetch(
            """SELECT l.sku, l.marketplace_id, l.handling_time_days,
                      sum(GREATEST(s.available, 0))::int AS total, max(s.as_of) AS as_of
               FROM listings l JOIN stock_levels s ON s.item_id = l.item_id AND s.warehouse_id = ANY($2::text[])
               WHERE l.connection_id = $1 AND l.channel = 'MFN' AND ($3::text[] IS NULL OR l.sku = ANY($3::text[]))
               GROUP BY l.sku, l.marketplace_id, l.handling_time_days""",
            connection_id,
            warehouse_ids,
            skus,
        )
    )


async def sku_states(conn: asyncpg.Connection, connection_id: str) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch("SELECT * FROM sku_state WHERE connection_id = $1", connection_id)
    return {r["sku"]: r for r in rows}


async def mark_sent(conn: asyncpg.Connection, connection_id: str, rows: list[tuple[Any, ...]], channel: str) -> None:
    """rows: (sku, quantity, handling, as_of, submission_id, in_feed). One statement however many (a feed's 25,000)."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * 6
    await conn.execute(
        """INSERT INTO sku_state AS s (connection_id, sku, sent_quantity, sent_handling, sent_as_of, sent_channel,
                                       sent_at, submission_id, in_feed)
           SELECT $1, u.sku, u.quantity, u.handling, u.as_of, $2, now(), u.submission_id, u.in_feed
           FROM unnest($3::text[], $4::int[], $5::int[], $6::timestamptz[], $7::text[], $8::bigint[])
                AS u(sku, quantity, handling, as_of, submission_id, in_feed)
           ON CONFLICT (connection_id, sku) DO UPDATE SET
               sent_quantity = excluded.sent_quantity, sent_handling = excluded.sent_handling,
               sent_as_of = excluded.sent_as_of, sent_channel = excluded.sent_channel, sent_at = now(),
               submission_id = excluded.submission_id, in_feed = excluded.in_feed""",
        connection_id,
        channel,
        *(list(c) for c in columns),
    )


async def mark_accepted(
    conn: asyncpg.Connection, connection_id: str, skus: list[tuple[str, int, int]], verify_at: datetime
) -> None:
    columns = list(zip(*skus, strict=True)) if skus else [()] * 3
    await conn.execute(
        """UPDATE sku_state s SET accepted_quantity = u.quantity, accepted_handling = u.handling, accepted_at = now(),
                                  issues = NULL, rejected_quantity = NULL, rejected_handling = NULL, in_feed = NULL,
                                  verify_at = $5
           FROM unnest($2::text[], $3::int[], $4::int[]) AS u(sku, quantity, handling)
           WHERE s.connection_id = $1 AND s.sku = u.sku""",
        connection_id,
        *(list(c) for c in columns),
        verify_at,
    )


async def mark_rejected(
    conn: asyncpg.Connection, connection_id: str, skus: list[tuple[str, int, int, list[dict[str, Any]]]]
) -> None:
    await conn.executemany(
        """UPDATE sku_state SET rejected_quantity = $3, rejected_handling = $4, rejected_at = now(), issues = $5,
                                in_feed = NULL
           WHERE connection_id = $1 AND sku = $2""",
        [(connection_id, sku, q, h, json.dumps(issues)) for sku, q, h, issues in skus],
    )


async def due_read_backs(conn: asyncpg.Connection, connection_id: str, limit: int) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            """SELECT s.*, l.marketplace_id FROM sku_state s
               JOIN listings l USING (connection_id, sku)
               WHERE s.connection_id = $1 AND s.verify_at <= now() AND s.in_feed IS NULL
               ORDER BY s.verify_at LIMIT $2""",
            connection_id,
            limit,
        )
    )


async def read_back(conn: asyncpg.Connection, connection_id: str, sku: str, shown: int | None, applied: bool) -> None:
    """Applied: Amazon shows what it accepted. Drifted: forget the acceptance, so the next push sends it again."""
    if applied:
        await conn.execute(
            """UPDATE sku_state SET applied_quantity = $3, applied_at = now(), verify_at = NULL
               WHERE connection_id = $1 AND sku = $2""",
            connection_id,
            sku,
            shown,
        )
    else:
        await conn.execute(
            """UPDATE sku_state SET applied_quantity = $3, applied_at = now(), verify_at = NULL,
                                    accepted_quantity = NULL, accepted_handling = NULL, drifts = drifts + 1
               WHERE connection_id = $1 AND sku = $2""",
            connection_id,
            sku,
            shown,
        )


async def next_read_back(conn: asyncpg.Connection, connection_id: str) -> datetime | None:
    value: datetime | None = await conn.fetchval(
        "SELECT min(verify_at) FROM sku_state WHERE connection_id = $1 AND in_feed IS NULL", connection_id
    )
    return value


# --- feeds -------------------------------------------------------------------------------------------------


async def feed_intent(
    conn: asyncpg.Connection,
    connection_id: str,
    run_id: int,
    *,
    content_hash: str,
    document: bytes,
    items: dict[str, dict[str, Any]],
    marketplace_id: str,
) -> int:
    feed_id: int = await conn.fetchval(
        """INSERT INTO feeds (connection_id, run_id, content_hash, document, items, marketplace_id)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
        connection_id,
        run_id,
        content_hash,
        document,
        json.dumps(items),
        marketplace_id,
    )
    return feed_id


async def intents(conn: asyncpg.Connection, connection_id: str) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT * FROM feeds WHERE connection_id = $1 AND status = 'intent' ORDER BY id", connection_id
        )
    )


async def feed_submitted(conn: asyncpg.Connection, feed_id: int, amazon_feed_id: str, next_poll_at: datetime) -> None:
    await conn.execute(
        """UPDATE feeds SET amazon_feed_id = $2, status = 'submitted', submitted_at = now(), next_poll_at = $3
           WHERE id = $1""",
        feed_id,
        amazon_feed_id,
        next_poll_at,
    )
    await conn.execute(
        "UPDATE sku_state SET submission_id = $2 WHERE in_feed = $1",
        feed_id,
        amazon_feed_id,
    )


async def due_feeds(conn: asyncpg.Connection, connection_id: str) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            """SELECT * FROM feeds WHERE connection_id = $1 AND status = 'submitted' AND next_poll_at <= now()
               ORDER BY id""",
            connection_id,
        )
    )


async def next_feed_poll(conn: asyncpg.Connection, connection_id: str) -> datetime | None:
    value: datetime | None = await conn.fetchval(
        "SELECT min(next_poll_at) FROM feeds WHERE connection_id = $1 AND status = 'submitted'", connection_id
    )
    return value


async def feed_poll_later(conn: asyncpg.Connection, feed_id: int, at: datetime) -> None:
    await conn.execute("UPDATE feeds SET next_poll_at = $2 WHERE id = $1", feed_id, at)


async def feed_finished(conn: asyncpg.Connection, feed_id: int, status: str) -> None:
    await conn.execute("UPDATE feeds SET status = $2, finished_at = now() WHERE id = $1", feed_id, status)
    # SKUs the report did not mention (should not happen) leave the feed too.
    await conn.execute("UPDATE sku_state SET in_feed = NULL WHERE in_feed = $1", feed_id)


# --- FEED_PROCESSING_FINISHED ------------------------------------------------------------------------------


async def feed_subscription(conn: asyncpg.Connection, connection_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM feed_subscriptions WHERE connection_id = $1", connection_id
    )
    return row


async def feed_subscribed(
    conn: asyncpg.Connection, connection_id: str, destination_id: str, subscription_id: str | None, error: str | None,
    retry_at: datetime | None,
) -> None:  # fmt: skip
    await conn.execute(
        """INSERT INTO feed_subscriptions AS f (connection_id, destination_id, subscription_id, subscribed_at,
                                                last_error, next_attempt_at)
           VALUES ($1, $2, $3, CASE WHEN $3::text IS NULL THEN NULL ELSE now() END, $4, $5)
           ON CONFLICT (connection_id) DO UPDATE SET destination_id = excluded.destination_id,
               subscription_id = excluded.subscription_id, subscribed_at = excluded.subscribed_at,
               last_error = excluded.last_error, next_attempt_at = excluded.next_attempt_at""",
        connection_id,
        destination_id,
        subscription_id,
        error,
        retry_at,
    )


async def feed_notified(conn: asyncpg.Connection, seller_id: str, amazon_feed_id: str) -> list[str]:
    """Amazon says the feed ended: it is polled now. Returns the connections whose follow lane is due now."""
    rows = await conn.fetch(
        """UPDATE feeds f SET next_poll_at = now() FROM connections c
           WHERE f.amazon_feed_id = $2 AND f.status = 'submitted' AND c.connection_id = f.connection_id
             AND c.selling_partner_id = $1
           RETURNING f.connection_id""",
        seller_id,
        amazon_feed_id,
    )
    return sorted({r["connection_id"] for r in rows})


# --- admin ---------------------------------------------------------------------------------------------------


async def sku_view(conn: asyncpg.Connection, sku: str) -> dict[str, Any] | None:
    listings = await conn.fetch("SELECT * FROM listings WHERE sku = $1 ORDER BY connection_id", sku)
    item_ids = sorted({r["item_id"] for r in listings} | {sku})
    levels = await conn.fetch(
        "SELECT * FROM stock_levels WHERE item_id = ANY($1::text[]) ORDER BY item_id, warehouse_id", item_ids
    )
    states = await conn.fetch("SELECT * FROM sku_state WHERE sku = $1 ORDER BY connection_id", sku)
    unlisted = await conn.fetchval("SELECT reported_at FROM unlisted_items WHERE item_id = $1", sku)
    if not listings and not levels and not states:
        return None
    return {
        "sku": sku,
        "listings": [dict(r) for r in listings],
        "stock": [dict(r) for r in levels],
        "states": [{**dict(r), "issues": json.loads(r["issues"]) if r["issues"] else None} for r in states],
        "unlisted_reported_at": unlisted,
    }
