"""SQL over schema orders_ingest: schedules, notifications, order bookkeeping, published revisions.

Sync runs and the lanes' due times are the synchistory lib's tables; the functions that change when a lane has
work nudge it here, in the same transaction.

Every function takes the caller's connection; none commits. Nothing here stores PII.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import sellers
from sellers import Connection

from orders_ingest.sync_history import HISTORY, Lane


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    connection_id: str
    watermark: datetime
    next_poll_at: datetime
    cancel_watermark: datetime
    next_cancel_check_at: datetime
    failures: int


# --- connections and schedules -----------------------------------------------------------------------


async def ensure_schedule(conn: asyncpg.Connection, connection_id: str, start_from: datetime) -> None:
    await conn.execute(
        """INSERT INTO schedules (connection_id, watermark, next_poll_at, cancel_watermark, next_cancel_check_at)
           VALUES ($1, $2, now(), $2, now()) ON CONFLICT (connection_id) DO NOTHING""",
        connection_id,
        start_from,
    )
    # A connection that is (again) active: its poll lane looks at the schedule now.
    await HISTORY.nudge(conn, connection_id, Lane.POLL)


# The connections table is the sellers lib's (its projection keeps it); these names read it for our callers.
connection = sellers.connection
connections_of_seller = sellers.active_connections_of_seller


async def connections(conn: asyncpg.Connection) -> list[tuple[Connection, Schedule | None]]:
    rows = await conn.fetch(
        """SELECT c.*, s.watermark, s.next_poll_at, s.cancel_watermark, s.next_cancel_check_at, s.failures
           FROM connections c LEFT JOIN schedules s USING (connection_id) ORDER BY c.connection_id"""
    )
    return [(Connection.from_row(r), _schedule(r) if r["watermark"] is not None else None) for r in rows]


def _schedule(row: asyncpg.Record) -> Schedule:
    return Schedule(
        connection_id=row["connection_id"],
        watermark=row["watermark"],
        next_poll_at=row["next_poll_at"],
        cancel_watermark=row["cancel_watermark"],
        next_cancel_check_at=row["next_cancel_check_at"],
        failures=row["failures"],
    )


async def schedule(conn: asyncpg.Connection, connection_id: str) -> Schedule | None:
    row = await conn.fetchrow("SELECT * FROM schedules WHERE connection_id = $1", connection_id)
    return _schedule(row) if row else None


async def poll_succeeded(
    conn: asyncpg.Connection,
    connection_id: str,
    *,
    watermark: datetime,
    next_poll_at: datetime,
    next_cancel_check_at: datetime,
) -> None:
    # A full poll asks for CANCELLED too, so it also moves the cancellation watermark.
    await conn.execute(
        """UPDATE schedules SET watermark = GREATEST(watermark, $2), next_poll_at = $3,
                  cancel_watermark = GREATEST(cancel_watermark, $2), next_cancel_check_at = $4, failures = 0
           WHERE connection_id = $1""",
        connection_id,
        watermark,
        next_poll_at,
        next_cancel_check_at,
    )


async def cancellation_check_succeeded(
    conn: asyncpg.Connection, connection_id: str, *, watermark: datetime, next_check_at: datetime
) -> None:
    await conn.execute(
        """UPDATE schedules SET cancel_watermark = GREATEST(cancel_watermark, $2), next_cancel_check_at = $3
           WHERE connection_id = $1""",
        connection_id,
        watermark,
        next_check_at,
    )


async def poll_failed(conn: asyncpg.Connection, connection_id: str, *, retry_in: timedelta, cancel: bool) -> int:
    column = "next_cancel_check_at" if cancel else "next_poll_at"
    failures: int = (
        await conn.fetchval(
            f"""UPDATE schedules SET failures = failures + 1, {column} = now() + $2
            WHERE connection_id = $1 RETURNING failures""",
            connection_id,
            retry_in,
        )
        or 0
    )
    return failures


async def purge_notifications(conn: asyncpg.Connection, *, older_than: timedelta) -> None:
    """Handled notification ids go with the history of the runs that handled them."""
    await conn.execute(
        "DELETE FROM notifications WHERE run_id IS NOT NULL AND received_at < now() - $1::interval", older_than
    )


# --- notifications -----------------------------------------------------------------------------------


async def add_notification(
    conn: asyncpg.Connection, notification_id: str, connection_id: str, amazon_order_id: str
) -> bool:
    row = await conn.fetchval(
        """INSERT INTO notifications (notification_id, connection_id, amazon_order_id) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING 1""",
        notification_id,
        connection_id,
        amazon_order_id,
    )
    if row is not None:
        await HISTORY.nudge(conn, connection_id, Lane.NOTIFY)
    return row is not None


async def pending_notifications(conn: asyncpg.Connection, connection_id: str, limit: int) -> int:
    """How many notifications of the connection wait for a run, counted up to `limit` (the partial index)."""
    count: int = await conn.fetchval(
        """SELECT count(*) FROM (SELECT 1 FROM notifications
           WHERE connection_id = $1 AND run_id IS NULL LIMIT $2) AS waiting""",
        connection_id,
        limit,
    )
    return count


async def pending_notification_orders(conn: asyncpg.Connection, connection_id: str, limit: int) -> list[str]:
    rows = await conn.fetch(
        """SELECT amazon_order_id FROM notifications
           WHERE connection_id = $1 AND run_id IS NULL AND not_before <= now()
           GROUP BY amazon_order_id ORDER BY min(received_at) LIMIT $2""",
        connection_id,
        limit,
    )
    return [r["amazon_order_id"] for r in rows]


async def next_notification_at(conn: asyncpg.Connection, connection_id: str) -> datetime | None:
    """When the earliest waiting notification of the connection may be fetched."""
    at: datetime | None = await conn.fetchval(
        "SELECT min(not_before) FROM notifications WHERE connection_id = $1 AND run_id IS NULL", connection_id
    )
    return at


async def notifications_failed(
    conn: asyncpg.Connection,
    connection_id: str,
    order_ids: list[str],
    run_id: int,
    *,
    retry_in: timedelta,
    max_attempts: int,
) -> None:
    """A run that could not read Amazon: try again later; after `max_attempts` the scheduled poll takes over."""
    await conn.execute(
        """UPDATE notifications SET attempts = attempts + 1,
                  not_before = now() + $3::interval * power(2, attempts)::int,
                  run_id = CASE WHEN attempts + 1 >= $5 THEN $4::bigint END
           WHERE connection_id = $1 AND amazon_order_id = ANY($2::text[]) AND run_id IS NULL""",
        connection_id,
        order_ids,
        retry_in,
        run_id,
        max_attempts,
    )


async def notifications_done(
    conn: asyncpg.Connection, connection_id: str, amazon_order_id: str, run_id: int, up_to: datetime
) -> None:
    await conn.execute(
        """UPDATE notifications SET run_id = $3
           WHERE connection_id = $1 AND amazon_order_id = $2 AND run_id IS NULL AND received_at <= $4""",
        connection_id,
        amazon_order_id,
        run_id,
        up_to,
    )


# --- orders and published revisions ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KnownOrder:
    last_update_date: datetime
    status: str


async def lock_order(conn: asyncpg.Connection, selling_partner_id: str, amazon_order_id: str) -> KnownOrder | None:
    row = await conn.fetchrow(
        """SELECT last_update_date, status FROM orders WHERE selling_partner_id = $1 AND amazon_order_id = $2
           FOR UPDATE""",
        selling_partner_id,
        amazon_order_id,
    )
    return KnownOrder(row["last_update_date"], row["status"]) if row else None


async def published_revision(
    conn: asyncpg.Connection, selling_partner_id: str, amazon_order_id: str, topic: str, revision: str | None
) -> str | None:
    """The revision already published on `topic` (that exact one, or any when `revision` is None)."""
    value: str | None = await conn.fetchval(
        """SELECT revision FROM published_events
           WHERE selling_partner_id = $1 AND amazon_order_id = $2 AND topic = $3 AND ($4::text IS NULL OR revision = $4)
           ORDER BY published_at LIMIT 1""",
        selling_partner_id,
        amazon_order_id,
        topic,
        revision,
    )
    return value


async def claim_revision(
    conn: asyncpg.Connection,
    selling_partner_id: str,
    amazon_order_id: str,
    topic: str,
    revision: str,
    event_id: str,
    run_id: int,
) -> bool:
    """True the first time; a concurrent or later claim of the same revision finds it taken."""
    row = await conn.fetchval(
        """INSERT INTO published_events (selling_partner_id, amazon_order_id, topic, revision, event_id, run_id)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING 1""",
        selling_partner_id,
        amazon_order_id,
        topic,
        revision,
        event_id,
        run_id,
    )
    return row is not None


async def save_order(
    conn: asyncpg.Connection,
    *,
    selling_partner_id: str,
    amazon_order_id: str,
    connection_id: str,
    marketplace_id: str,
    last_update_date: datetime,
    status: str,
    fulfillment_channel: str,
    items: list[dict[str, Any]],
) -> None:
    await conn.execute(
        """INSERT INTO orders (selling_partner_id, amazon_order_id, connection_id, marketplace_id, last_update_date,
                               status, fulfillment_channel, items)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
           ON CONFLICT (selling_partner_id, amazon_order_id) DO UPDATE SET
               connection_id = excluded.connection_id, last_update_date = excluded.last_update_date,
               status = excluded.status, fulfillment_channel = excluded.fulfillment_channel,
               items = excluded.items, updated_at = now()
           WHERE orders.last_update_date <= excluded.last_update_date""",
        selling_partner_id,
        amazon_order_id,
        connection_id,
        marketplace_id,
        last_update_date,
        status,
        fulfillment_channel,
        json.dumps(items),
    )


async def order_history(conn: asyncpg.Connection, amazon_order_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM orders WHERE amazon_order_id = $1", amazon_order_id)
    if row is None:
        return None
    events = await conn.fetch(
        """SELECT topic, revision, event_id, run_id, published_at FROM published_events
           WHERE selling_partner_id = $1 AND amazon_order_id = $2 ORDER BY published_at""",
        row["selling_partner_id"],
        amazon_order_id,
    )
    order = dict(row)
    order["items"] = json.loads(order["items"]) if isinstance(order["items"], str) else order["items"]
    order["events"] = [dict(e) for e in events]
    return order
