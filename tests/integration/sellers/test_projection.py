"""The projection against real PostgreSQL: highest revision wins, hooks in the transaction, tombstones delete."""

from __future__ import annotations

import asyncpg
import pytest
import sellers
import spapi
from contracts import ConnectionStatus

from .conftest import connection_event


class Hooks:
    def __init__(self) -> None:
        self.saved: list[tuple[str, int]] = []
        self.changes = 0

    async def on_saved(self, conn: asyncpg.Connection, connection: sellers.Connection) -> None:
        assert conn.is_in_transaction()
        self.saved.append((connection.connection_id, connection.revision))

    def changed(self) -> None:
        self.changes += 1


async def stored(pool: asyncpg.Pool, connection_id: str) -> sellers.Connection | None:
    async with pool.acquire() as conn:
        return await sellers.connection(conn, connection_id)


async def test_the_highest_revision_wins_and_redelivery_or_older_revisions_change_nothing(
    pool: asyncpg.Pool,
) -> None:
    hooks = Hooks()
    apply = sellers.consumer_routes(pool, on_saved=hooks.on_saved, changed=hooks.changed).routes[sellers.TOPIC]
    await apply(connection_event("conn-1", 2, status="disabled"))
    await apply(connection_event("conn-1", 2, status="active"))  # redelivered (same revision): ignored
    await apply(connection_event("conn-1", 1, status="active"))  # older, arriving late: ignored
    found = await stored(pool, "conn-1")
    assert found is not None and (found.revision, found.status) == (2, ConnectionStatus.DISABLED)
    await apply(connection_event("conn-1", 3, status="active", region="EU", marketplace_ids=["A1PA6795UKMFR9"]))
    found = await stored(pool, "conn-1")
    assert found is not None and (found.revision, found.status, found.region) == (3, "active", spapi.Region.EU)
    assert found.marketplace_ids == ["A1PA6795UKMFR9"]
    assert hooks.saved == [("conn-1", 2), ("conn-1", 3)]
    assert hooks.changes == 2


async def test_a_failing_hook_rolls_the_revision_back_so_a_redelivery_applies_it(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE schedules (connection_id text PRIMARY KEY REFERENCES connections)")
    failures = [RuntimeError("database hiccup")]

    async def schedule(conn: asyncpg.Connection, connection: sellers.Connection) -> None:
        await conn.execute("INSERT INTO schedules VALUES ($1)", connection.connection_id)
        if failures:
            raise failures.pop()

    event = connection_event("conn-1", 1)
    with pytest.raises(RuntimeError):
        await sellers.apply_update(event, pool=pool, on_saved=schedule)
    assert await stored(pool, "conn-1") is None
    await sellers.apply_update(event, pool=pool, on_saved=schedule)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM schedules") == 1
    assert (await stored(pool, "conn-1")) is not None


async def test_a_tombstone_deletes_and_a_redelivered_tombstone_is_a_noop(pool: asyncpg.Pool) -> None:
    hooks = Hooks()
    routes, tombstones = sellers.consumer_routes(pool, changed=hooks.changed)
    await routes[sellers.TOPIC](connection_event("conn-1", 1))
    await routes[sellers.TOPIC](connection_event("conn-2", 1))
    await tombstones[sellers.TOPIC](b"conn-1")
    await tombstones[sellers.TOPIC](b"conn-1")
    assert await stored(pool, "conn-1") is None
    assert await stored(pool, "conn-2") is not None
    assert hooks.changes == 3  # two saves, one deletion


async def test_replaying_the_compacted_topic_from_the_start_ends_where_it_was(pool: asyncpg.Pool) -> None:
    log = [
        connection_event("conn-1", 1),
        connection_event("conn-2", 1),
        connection_event("conn-1", 2, status="disabled"),
        b"conn-2",
    ]
    for _ in range(2):  # the second pass is a consumer group reset to the earliest offset
        for record in log:
            if isinstance(record, bytes):
                await sellers.apply_tombstone(record, pool=pool)
            else:
                await sellers.apply_update(record, pool=pool)
        async with pool.acquire() as conn:
            found = await sellers.connections(conn)
        assert [(c.connection_id, c.revision, c.status) for c in found] == [("conn-1", 2, "disabled")]


async def test_the_read_side_gets_one_all_and_the_active_ones_of_a_seller(pool: asyncpg.Pool) -> None:
    events = [
        connection_event("conn-b", 1, selling_partner_id="A1SELLERONE"),
        connection_event("conn-a", 1, selling_partner_id="A1SELLERONE"),
        connection_event("conn-c", 1, selling_partner_id="A1SELLERONE", status="disabled"),
        connection_event("conn-d", 1, selling_partner_id="A2SELLERTWO"),
        connection_event("conn-e", 1, selling_partner_id=None, status="pending"),
    ]
    for event in events:
        await sellers.apply_update(event, pool=pool)
    async with pool.acquire() as conn:
        everything = await sellers.connections(conn)
        active_of_one = await sellers.active_connections_of_seller(conn, "A1SELLERONE")
        one = await sellers.connection(conn, "conn-a")
        missing = await sellers.connection(conn, "conn-z")
    assert [c.connection_id for c in everything] == ["conn-a", "conn-b", "conn-c", "conn-d", "conn-e"]
    assert [c.connection_id for c in active_of_one] == ["conn-a", "conn-b"]
    assert one == sellers.Connection.of(events[1].data) and missing is None
    assert one.settings == events[1].data.settings
    assert [c.callable for c in everything] == [True, True, False, True, False]
