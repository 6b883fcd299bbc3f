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


# The batch arrives coalesced (one row per (item, warehouse), its newest event), so the statement neither sorts
# nor windows; `prior` is the stored as_of the upsert compared against (every CTE sees the statement's snapshot),
# which the caller needs to count the batch's events that were older than it.
_SAVE = """
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[]) WITH ORDINALITY
        AS i (item_id, warehouse_id, available, as_of, ord)
),
prior AS (
    SELECT i.ord, s.as_of FROM input i JOIN stock_levels s USING (item_id, warehouse_id)
),
saved AS (
    INSERT INTO stock_levels AS s (item_id, warehouse_id, available, as_of)
    SELECT item_id, warehouse_id, available, as_of FROM input
    ON CONFLICT (item_id, warehouse_id) DO UPDATE SET available = excluded.available, as_of = excluded.as_of
    WHERE s.as_of < excluded.as_of
    RETURNING s.item_id, s.warehouse_id
),
saved_items AS (
    SELECT DISTINCT item_id FROM saved
),
unlisted AS (
    INSERT INTO unlisted_items (item_id)
    SELECT s.item_id FROM saved_items s
    WHERE NOT EXISTS (SELECT 1 FROM listings l WHERE l.item_id = s.item_id)
    ORDER BY s.item_id
    ON CONFLICT DO NOTHING
    RETURNING item_id
),
due AS (
    -- Per connection, the first written row that feeds it is enough (connections are few, rows many).
    SELECT c.connection_id FROM connections c
    WHERE c.settings->'stock_cadence'->>'mode' = 'near_real_time'
      AND coalesce((c.settings->>'stock_sync_enabled')::boolean, true)
      AND EXISTS (SELECT 1 FROM saved s JOIN listings l ON l.item_id = s.item_id
                  WHERE l.connection_id = c.connection_id AND (c.settings->'stock_warehouse_ids') ? s.warehouse_id)
)
SELECT ARRAY(SELECT i.ord FROM input i JOIN saved s USING (item_id, warehouse_id)) AS saved,
       ARRAY(SELECT ord FROM prior ORDER BY ord) AS prior_ord,
       ARRAY(SELECT as_of FROM prior ORDER BY ord) AS prior_as_of,
       ARRAY(SELECT item_id FROM unlisted ORDER BY item_id) AS unlisted,
       ARRAY(SELECT connection_id FROM due ORDER BY connection_id) AS due
"""


async def save_stock_batch(conn: asyncpg.Connection, changes: list[tuple[str, str, int, datetime]]) -> Intake:
    """changes: (item_id, warehouse_id, available, as_of) in the order consumed. One round trip."""
    # Coalesced here, per (item, warehouse): an event not newer than an earlier one of its key is stale; the
    # others are kept, and only the newest kept one goes to the statement.
    kept: dict[tuple[str, str], list[datetime]] = {}
    newest: dict[tuple[str, str], tuple[str, str, int, datetime]] = {}
    stale = 0
    for change in changes:
        key = (change[0], change[1])
        times = kept.get(key)
        if times is None:
            kept[key] = [change[3]]
        elif change[3] > times[-1]:
            times.append(change[3])
        else:
            stale += 1
            continue
        newest[key] = change
    rows = list(newest.values())
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
    row = await conn.fetchrow(_SAVE, *(list(c) for c in columns))
    assert row is not None
    saved = set(row["saved"])
    prior = dict(zip(row["prior_ord"], row["prior_as_of"], strict=True))
    for ord_, key in enumerate(newest, start=1):
        if ord_ in saved:
            # Kept events not newer than what was stored count as stale, as they would one at a time.
            stored = prior.get(ord_)
            if stored is not None:
                stale += sum(1 for at in kept[key] if at <= stored)
        else:
            stale += len(kept[key])
    return Intake(stale=stale, unlisted=list(row["unlisted"]), due=list(row["due"]))
