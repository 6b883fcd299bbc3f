"""The batched stock.changed intake against real PostgreSQL: one statement per batch, the per-event rules kept.

The per-event queries the service used before (below: save_stock, connections_to_nudge, report_unlisted), applied
event by event, are the reference: random batches must leave the same stock levels, count the same stale events,
report the same unlisted items and nudge the same connections.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import contracts
import pytest
import pytest_asyncio
from prometheus_client import REGISTRY
from stock_publisher import handlers, intake

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
CONNECTIONS = {
    "C-NRT": {"stock_cadence": {"mode": "near_real_time"}, "stock_warehouse_ids": ["W1", "W2"]},
    "C-OFF": {"stock_cadence": {"mode": "near_real_time"}, "stock_warehouse_ids": ["W1"], "stock_sync_enabled": False},
    "C-INT": {"stock_cadence": {"mode": "interval", "minutes": 15}, "stock_warehouse_ids": ["W1", "W2"]},
    "C-W3": {"stock_cadence": {"mode": "near_real_time"}, "stock_warehouse_ids": ["W3"], "stock_sync_enabled": True},
}
LISTINGS = [("C-NRT", "I1"), ("C-OFF", "I1"), ("C-INT", "I2"), ("C-W3", "I3"), ("C-NRT", "I3"), ("C-W3", "I4")]


@pytest_asyncio.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(
        database_url, min_size=1, max_size=4, server_settings={"search_path": "stock_publisher"}
    )
    async with pool.acquire() as conn:
        for connection_id, settings in CONNECTIONS.items():
            await conn.execute(
                """INSERT INTO connections (connection_id, revision, status, region, marketplace_ids, settings)
                   VALUES ($1, 1, 'active', 'NA', '{ATVPDKIKX0DER}', $2)""",
                connection_id,
                json.dumps(settings),
            )
            await conn.execute("INSERT INTO push_schedule (connection_id) VALUES ($1)", connection_id)
        for n, (connection_id, item_id) in enumerate(LISTINGS):
            await conn.execute(
                """INSERT INTO listings (connection_id, sku, marketplace_id, item_id, channel, status, revision)
                   VALUES ($1, $2, 'ATVPDKIKX0DER', $3, 'MFN', 'BUYABLE', 1)""",
                connection_id,
                f"SKU-{n}",
                item_id,
            )
        # Stored before the batches: some events will be older than these.
        await conn.executemany(
            "INSERT INTO stock_levels (item_id, warehouse_id, available, as_of) VALUES ($1, $2, $3, $4)",
            [("I1", "W1", 5, T0 + timedelta(seconds=2)), ("I3", "W3", 1, T0), ("I9", "W2", 4, T0)],
        )
        await conn.execute("INSERT INTO unlisted_items (item_id) VALUES ('I8')")
    yield pool
    await pool.close()


def random_batch(rng: random.Random) -> list[tuple[str, str, int, datetime]]:
    return [
        (
            rng.choice(["I1", "I2", "I3", "I4", "I8", "I9", "I7"]),
            rng.choice(["W1", "W2", "W3"]),
            rng.randrange(0, 50),
            T0 + timedelta(seconds=rng.randrange(0, 5)),  # few instants: ties and older-than-stored are common
        )
        for _ in range(rng.randrange(1, 25))
    ]


# --- the reference: the per-event queries ------------------------------------------------------------


async def save_stock(
    conn: asyncpg.Connection, item_id: str, warehouse_id: str, available: int, as_of: datetime
) -> bool:
    """Keeps the newest quantity per (item, warehouse); False when `as_of` is not newer than the one kept."""
    stored = await conn.fetchval(
        """INSERT INTO stock_levels AS s (item_id, warehouse_id, available, as_of) VALUES ($1, $2, $3, $4)
           ON CONFLICT (item_id, warehouse_id) DO UPDATE SET available = excluded.available, as_of = excluded.as_of
           WHERE s.as_of < excluded.as_of
           RETURNING 1""",
        item_id,
        warehouse_id,
        available,
        as_of,
    )
    return stored is not None


async def connections_to_nudge(conn: asyncpg.Connection, item_id: str, warehouse_id: str) -> tuple[list[str], bool]:
    """Near-real-time connections with sync on whose MFN SKUs this (item, warehouse) feeds; and whether the
    item has any listing at all."""
    rows = await conn.fetch(
        """SELECT DISTINCT l.connection_id,
                  c.settings->'stock_cadence'->>'mode' = 'near_real_time'
                  AND coalesce((c.settings->>'stock_sync_enabled')::boolean, true)
                  AND (c.settings->'stock_warehouse_ids') ? $2 AS due
           FROM listings l LEFT JOIN connections c USING (connection_id)
           WHERE l.item_id = $1""",
        item_id,
        warehouse_id,
    )
    return [r["connection_id"] for r in rows if r["due"]], bool(rows)


async def report_unlisted(conn: asyncpg.Connection, item_id: str) -> bool:
    """True the first time an item with stock but no listing is seen (it is reported once)."""
    return (
        await conn.fetchval(
            "INSERT INTO unlisted_items (item_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1", item_id
        )
        is not None
    )


async def per_event(conn: asyncpg.Connection, changes: list[tuple[str, str, int, datetime]]) -> dict[str, Any]:
    stale, unlisted, due = 0, [], set()
    for item_id, warehouse_id, available, as_of in changes:
        if not await save_stock(conn, item_id, warehouse_id, available, as_of):
            stale += 1
            continue
        nudge, listed = await connections_to_nudge(conn, item_id, warehouse_id)
        if not listed and await report_unlisted(conn, item_id):
            unlisted.append(item_id)
        due |= set(nudge)
    return {"stale": stale, "unlisted": sorted(unlisted), "due": sorted(due), **await state(conn)}


async def batched(conn: asyncpg.Connection, changes: list[tuple[str, str, int, datetime]]) -> dict[str, Any]:
    result = await intake.save_stock_batch(conn, changes)
    return {"stale": result.stale, "unlisted": result.unlisted, "due": result.due, **await state(conn)}


async def state(conn: asyncpg.Connection) -> dict[str, Any]:
    levels = await conn.fetch("SELECT item_id, warehouse_id, available, as_of FROM stock_levels ORDER BY 1, 2")
    reported = await conn.fetch("SELECT item_id FROM unlisted_items ORDER BY 1")
    return {"levels": [tuple(r) for r in levels], "reported": [r["item_id"] for r in reported]}


class Rollback(Exception):
    pass


async def in_rollback(pool: asyncpg.Pool, apply: Any, changes: list[tuple[str, str, int, datetime]]) -> Any:
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                result = await apply(conn, changes)
                raise Rollback
        except Rollback:
            return result


async def test_a_batch_has_the_effect_of_its_events_applied_one_by_one(pool: asyncpg.Pool) -> None:
    rng = random.Random(12)
    for _ in range(60):
        changes = random_batch(rng)
        assert await in_rollback(pool, batched, changes) == await in_rollback(pool, per_event, changes), changes


async def test_within_a_batch_the_newest_per_item_and_warehouse_is_kept_and_the_rest_counted_as_the_per_event_path(
    pool: asyncpg.Pool,
) -> None:
    t = T0 + timedelta(seconds=10)
    changes = [
        ("I2", "W1", 7, t),
        ("I2", "W1", 8, t + timedelta(seconds=2)),  # newer: replaces 7
        ("I2", "W1", 9, t + timedelta(seconds=1)),  # older than 8: stale
        ("I2", "W1", 10, t + timedelta(seconds=2)),  # as old as 8: stale (not newer)
        ("I1", "W1", 1, T0),  # older than the stored one: stale
    ]
    async with pool.acquire() as conn, conn.transaction():
        result = await intake.save_stock_batch(conn, changes)
        level = await conn.fetchrow("SELECT available, as_of FROM stock_levels WHERE item_id = 'I2'")
        kept = await conn.fetchval("SELECT available FROM stock_levels WHERE item_id = 'I1' AND warehouse_id = 'W1'")
    assert result == intake.Intake(stale=3, unlisted=[], due=[])  # I2 is listed on an interval connection only
    assert tuple(level) == (8, t + timedelta(seconds=2))
    assert kept == 5


async def test_an_empty_batch_changes_nothing(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await intake.save_stock_batch(conn, []) == intake.Intake(stale=0, unlisted=[], due=[])


def _counter(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def _event(item_id: str, warehouse_id: str, available: int, as_of: datetime) -> contracts.CloudEvent:
    data = contracts.StockChangedV1(sku=item_id, warehouse_id=warehouse_id, available=available, as_of=as_of)
    return contracts.new_event("stock.changed", data, source="tests", revision=as_of.isoformat())


async def test_the_batch_handler_makes_each_near_real_time_push_due_once_and_reports_unlisted_items_once(
    pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    wakes: list[None] = []
    stale, unlisted = _counter("stock_changes_ignored_total"), _counter("stock_unlisted_items_total")
    t = T0 + timedelta(seconds=10)
    batch = [
        _event("I1", "W1", 3, t),
        _event("I1", "W2", 4, t),
        _event("I3", "W2", 4, t),
        _event("I1", "W1", 2, T0),  # stale
        _event("NEW-ITEM", "W1", 6, t),
        _event("NEW-ITEM", "W2", 6, t),
    ]
    with caplog.at_level(logging.WARNING, logger="stock_publisher.handlers"):
        await handlers.stock_changed_batch(
            batch, pool=pool, coalesce=timedelta(seconds=3), changed=lambda: wakes.append(None)
        )
        await handlers.stock_changed_batch(
            [_event("I1", "W1", 1, t + timedelta(seconds=1)), _event("NEW-ITEM", "W1", 0, t + timedelta(seconds=1))],
            pool=pool,
            coalesce=timedelta(seconds=3),
            changed=lambda: wakes.append(None),
        )

    async with pool.acquire() as conn:
        schedule = await conn.fetch("SELECT connection_id FROM push_schedule WHERE pending_since IS NOT NULL")
        lanes = await conn.fetch("SELECT connection_id, lane, nudges FROM sync_lanes ORDER BY connection_id")
    assert [r["connection_id"] for r in schedule] == ["C-NRT"]
    # The first batch opened the coalescing window (the lane is told once); the second only pushes it out.
    assert [tuple(r) for r in lanes] == [("C-NRT", "push", 1)]
    assert len(wakes) == 2
    assert _counter("stock_changes_ignored_total") == stale + 1
    assert _counter("stock_unlisted_items_total") == unlisted + 1
    warnings = [r for r in caplog.records if r.getMessage().startswith("stock for an item no Amazon listing has")]
    assert [r.item_id for r in warnings] == ["NEW-ITEM"]  # type: ignore[attr-defined]
