"""SQL of the stock.changed intake: a whole consumed batch of stock changes in one set-based statement.

The per-event rules, applied to every event of the batch in its order: an event is kept only if its `as_of` is
newer than what is stored and than every earlier event of its (item, warehouse) in the batch (else it is stale,
counted as the per-event path counts it); per (item, warehouse) only the newest kept one is written. The items
written that no listing has are reported once; the near-real-time connections with sync on whose stock
warehouses a written (item, warehouse) feeds are the ones to nudge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class Intake:
    stale: int
    """Events not newer than the stored quantity or an earlier event of the batch for their (item, warehouse)."""
    unlisted: list[str]
    """Items written that no listing has, reported for the first time."""
    due: list[str]
    """Near-real-time connections with sync on fed by a written (item, warehouse), in id order."""


_SAVE = """
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[]) WITH ORDINALITY
        AS i (item_id, warehouse_id, available, as_of, ord)
),
judged AS (
    SELECT i.*,
           i.as_of > coalesce(greatest(s.as_of, max(i.as_of) OVER earlier), '-infinity') AS fresh
    FROM input i LEFT JOIN stock_levels s USING (item_id, warehouse_id)
    WINDOW earlier AS (PARTITION BY i.item_id, i.warehouse_id ORDER BY i.ord
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
newest AS (
    SELECT DISTINCT ON (item_id, warehouse_id) item_id, warehouse_id, available, as_of
    FROM judged WHERE fresh
    ORDER BY item_id, warehouse_id, ord DESC
),
saved AS (
    INSERT INTO stock_levels AS s (item_id, warehouse_id, available, as_of)
    SELECT item_id, warehouse_id, available, as_of FROM newest
    ON CONFLICT (item_id, warehouse_id) DO UPDATE SET available = excluded.available, as_of = excluded.as_of
    WHERE s.as_of < excluded.as_of
    RETURNING s.item_id, s.warehouse_id
),
unlisted AS (
    INSERT INTO unlisted_items (item_id)
    SELECT DISTINCT s.item_id FROM saved s
    WHERE NOT EXISTS (SELECT 1 FROM listings l WHERE l.item_id = s.item_id)
    ORDER BY s.item_id
    ON CONFLICT DO NOTHING
    RETURNING item_id
),
due AS (
    SELECT DISTINCT l.connection_id
    FROM saved s
    JOIN listings l ON l.item_id = s.item_id
    JOIN connections c ON c.connection_id = l.connection_id
    WHERE c.settings->'stock_cadence'->>'mode' = 'near_real_time'
      AND coalesce((c.settings->>'stock_sync_enabled')::boolean, true)
      AND (c.settings->'stock_warehouse_ids') ? s.warehouse_id
)
SELECT (SELECT count(*) FROM judged j LEFT JOIN saved s USING (item_id, warehouse_id)
        WHERE NOT j.fresh OR s.item_id IS NULL) AS stale,
       ARRAY(SELECT item_id FROM unlisted ORDER BY item_id) AS unlisted,
       ARRAY(SELECT connection_id FROM due ORDER BY connection_id) AS due
"""


async def save_stock_batch(conn: asyncpg.Connection, changes: list[tuple[str, str, int, datetime]]) -> Intake:
    """changes: (item_id, warehouse_id, available, as_of) in the order consumed. One round trip."""
    columns = list(zip(*changes, strict=True)) if changes else [(), (), (), ()]
    row = await conn.fetchrow(_SAVE, *(list(c) for c in columns))
    assert row is not None
    return Intake(stale=int(row["stale"]), unlisted=list(row["unlisted"]), due=list(row["due"]))
