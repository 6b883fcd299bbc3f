"""SQL over schema orders_ingest: connections, schedules, order bookkeeping, published revisions, sync runs.

Every function takes the caller's connection; none commits. Nothing here stores PII.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import sellers
from sellers import Connection

MAX_ERROR_TEXT = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    connection_id: str
    watermark: datetime
    next_poll_at: datetime
    cancel_watermark: datetime
    next_cancel_check_at: datetime
    failures: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    id: int
    connection_id: str
    trigger: str
    lane: str
    status: str
    replay: bool
    window_from: datetime | None
    window_to: datetime | None
    order_ids: list[str] | None
    resync_of: int | None


def lock_key(lane: str, connection_id: str) -> int:
    """Advisory-lock key of one connection's lane: one replica at a time polls (or fetches for) a connection."""
    digest = hashlib.sha256(f"orders-ingest:{lane}:{connection_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def try_lock(conn: asyncpg.Connection, key: int) -> bool:
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", key))


async def unlock(conn: asyncpg.Connection, key: int) -> None:
    await conn.execute("SELECT pg_advisory_unlock($1)", key)


# --- connections and schedules -----------------------------------------------------------------------


async def ensure_schedule(conn: asyncpg.Connection, connection_id: str, start_from: datetime) -> None:
    await conn.execute(
        """INSERT INTO schedules (connection_id, watermark, next_poll_at, cancel_watermark, next_cancel_check_at)
           VALUES ($1, $2, now(), $2, now()) ON CONFLICT (connection_id) DO NOTHING""",
        connection_id,
        start_from,
    )


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


async def poll_now(conn: asyncpg.Connection, connection_id: str) -> None:
    await conn.execute("UPDATE schedules SET next_poll_at = now() WHERE connection_id = $1", connection_id)


# --- what is due -------------------------------------------------------------------------------------


async def due_lanes(conn: asyncpg.Connection, limit: int) -> list[tuple[str, str]]:
    """(connection_id, lane) pairs with work: a due poll or cancellation check, a queued run, a notification."""
    rows = await conn.fetch(
        """SELECT connection_id, lane FROM (
           SELECT connection_id, 'poll' AS lane FROM connections c JOIN schedules s USING (connection_id)
             WHERE c.status = 'active' AND c.selling_partner_id IS NOT NULL
               AND (s.next_poll_at <= now()
                    OR (s.next_cancel_check_at <= now() AND (c.settings->>'order_poll_interval_minutes')::int > 60))
           UNION
           SELECT r.connection_id, r.lane FROM sync_runs r JOIN connections c USING (connection_id)
             WHERE r.status IN ('queued', 'running') AND c.status = 'active'
           UNION
           SELECT n.connection_id, 'notify' FROM notifications n JOIN connections c USING (connection_id)
             WHERE n.run_id IS NULL AND n.not_before <= now() AND c.status = 'active'
           ) due
           ORDER BY random()  -- no connection's lane starves behind others that are always due
           LIMIT $1""",
        limit,
    )
    return [(r["connection_id"], r["lane"]) for r in rows]


async def interrupt_running(conn: asyncpg.Connection, connection_id: str, lane: str) -> list[int]:
    """Runs left 'running' by a process that died (the caller holds the lane's lock, so no one runs them)."""
    rows = await conn.fetch(
        """UPDATE sync_runs SET status = 'failed', ended_at = now(),
                  error = 'interrupted: the process running it stopped; its work is redone by a new run'
           WHERE connection_id = $1 AND lane = $2 AND status = 'running' RETURNING id, trigger""",
        connection_id,
        lane,
    )
    # Requested runs are requeued as new runs; scheduled polls are simply still due.
    requeued = []
    for row in rows:
        if row["trigger"] in ("manual", "resync", "custom_range"):
            new_id = await conn.fetchval(
                """INSERT INTO sync_runs (connection_id, trigger, lane, status, replay, window_from, window_to,
                                          order_ids, resync_of, requested_by)
                   SELECT connection_id, trigger, lane, 'queued', replay, window_from, window_to, order_ids,
                          resync_of, requested_by FROM sync_runs WHERE id = $1 RETURNING id""",
                row["id"],
            )
            requeued.append(new_id)
    return [r["id"] for r in rows]


# --- sync runs ---------------------------------------------------------------------------------------

_RUN_COLUMNS = "id, connection_id, trigger, lane, status, replay, window_from, window_to, order_ids, resync_of"


def _run(row: asyncpg.Record) -> Run:
    return Run(
        id=row["id"],
        connection_id=row["connection_id"],
        trigger=row["trigger"],
        lane=row["lane"],
        status=row["status"],
        replay=row["replay"],
        window_from=row["window_from"],
        window_to=row["window_to"],
        order_ids=list(row["order_ids"]) if row["order_ids"] is not None else None,
        resync_of=row["resync_of"],
    )


async def queue_run(
    conn: asyncpg.Connection,
    *,
    connection_id: str,
    trigger: str,
    lane: str = "poll",
    replay: bool = False,
    window_from: datetime | None = None,
    window_to: datetime | None = None,
    order_ids: list[str] | None = None,
    resync_of: int | None = None,
    requested_by: str | None = None,
    status: str = "queued",
) -> int:
    run_id: int = await conn.fetchval(
        """INSERT INTO sync_runs (connection_id, trigger, lane, status, replay, window_from, window_to, order_ids,
                                  resync_of, requested_by, started_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, CASE WHEN $4 = 'running' THEN now() END) RETURNING id""",
        connection_id,
        trigger,
        lane,
        status,
        replay,
        window_from,
        window_to,
        order_ids,
        resync_of,
        requested_by,
    )
    return run_id


async def next_queued_run(conn: asyncpg.Connection, connection_id: str, lane: str) -> Run | None:
    row = await conn.fetchrow(
        f"""UPDATE sync_runs SET status = 'running', started_at = now()
            WHERE id = (SELECT id FROM sync_runs WHERE connection_id = $1 AND lane = $2 AND status = 'queued'
                        ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING {_RUN_COLUMNS}""",
        connection_id,
        lane,
    )
    return _run(row) if row else None


async def start_run(conn: asyncpg.Connection, **fields: Any) -> Run:
    run_id = await queue_run(conn, status="running", **fields)
    row = await conn.fetchrow(f"SELECT {_RUN_COLUMNS} FROM sync_runs WHERE id = $1", run_id)
    return _run(row)


async def set_run_window(
    conn: asyncpg.Connection, run_id: int, window_from: datetime, window_to: datetime | None
) -> None:
    await conn.execute(
        "UPDATE sync_runs SET window_from = $2, window_to = $3 WHERE id = $1", run_id, window_from, window_to
    )


async def add_counts(
    conn: asyncpg.Connection, run_id: int, *, fetched: int, published: int, unchanged: int, skipped: int, failed: int
) -> None:
    await conn.execute(
        """UPDATE sync_runs SET records_fetched = records_fetched + $2, records_published = records_published + $3,
                  records_unchanged = records_unchanged + $4, records_skipped = records_skipped + $5,
                  records_failed = records_failed + $6
           WHERE id = $1""",
        run_id,
        fetched,
        published,
        unchanged,
        skipped,
        failed,
    )


async def add_error(conn: asyncpg.Connection, run_id: int, amazon_order_id: str | None, error: str) -> None:
    await conn.execute(
        "INSERT INTO sync_run_errors (run_id, amazon_order_id, error) VALUES ($1, $2, $3)",
        run_id,
        amazon_order_id,
        error[:MAX_ERROR_TEXT],
    )


async def finish_run(conn: asyncpg.Connection, run_id: int, *, error: str | None = None) -> str:
    status: str = await conn.fetchval(
        """UPDATE sync_runs SET ended_at = now(), error = $2,
                  status = CASE WHEN $2::text IS NULL AND records_failed = 0 THEN 'succeeded' ELSE 'failed' END
           WHERE id = $1 RETURNING status""",
        run_id,
        error[:MAX_ERROR_TEXT] if error else None,
    )
    return status


async def list_runs(
    conn: asyncpg.Connection,
    *,
    connection_id: str | None,
    status: str | None,
    trigger: str | None,
    before_id: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT * FROM sync_runs
           WHERE ($1::text IS NULL OR connection_id = $1) AND ($2::text IS NULL OR status = $2)
             AND ($3::text IS NULL OR trigger = $3) AND ($4::bigint IS NULL OR id < $4)
           ORDER BY id DESC LIMIT $5""",
        connection_id,
        status,
        trigger,
        before_id,
        limit,
    )
    return [dict(r) for r in rows]


async def get_run(conn: asyncpg.Connection, run_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM sync_runs WHERE id = $1", run_id)
    return dict(row) if row else None


async def run_errors(conn: asyncpg.Connection, run_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT amazon_order_id, error, at FROM sync_run_errors WHERE run_id = $1 ORDER BY id", run_id
    )
    return [dict(r) for r in rows]


async def purge_history(conn: asyncpg.Connection, *, succeeded: timedelta, failed: timedelta) -> int:
    """Retention: succeeded runs after `succeeded`, failed ones after `failed` (their errors go with them)."""
    deleted: int = await conn.fetchval(
        """WITH gone AS (
               DELETE FROM sync_runs
               WHERE (status = 'succeeded' AND ended_at < now() - $1::interval)
                  OR (status = 'failed' AND ended_at < now() - $2::interval)
               RETURNING 1)
           SELECT count(*) FROM gone""",
        succeeded,
        failed,
    )
    await conn.execute(
        "DELETE FROM notifications WHERE run_id IS NOT NULL AND received_at < now() - $1::interval", succeeded
    )
    return deleted


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
    return row is not None


async def pending_notification_orders(conn: asyncpg.Connection, connection_id: str, limit: int) -> list[str]:
    rows = await conn.fetch(
        """SELECT amazon_order_id FROM notifications
           WHERE connection_id = $1 AND run_id IS NULL AND not_before <= now()
           GROUP BY amazon_order_id ORDER BY min(received_at) LIMIT $2""",
        connection_id,
        limit,
    )
    return [r["amazon_order_id"] for r in rows]


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
