"""Retention: succeeded runs go after 30 days, failed ones after 60, with their errors; open runs stay."""

from __future__ import annotations

import asyncio

from synchistory import Retention

from .conftest import HISTORY


async def test_runs_past_retention_go_with_their_errors_and_the_service_purges_alongside(pool) -> None:
    ages = {("succeeded", 29): True, ("succeeded", 31): False, ("failed", 59): True, ("failed", 61): False,
            ("running", 400): True, ("queued", 400): True}  # fmt: skip
    ids = {}
    async with pool.acquire() as conn:
        for status, days in ages:
            ids[(status, days)] = await conn.fetchval(
                """INSERT INTO sync_history_runs (connection_id, trigger, lane, status, started_at, ended_at)
                   VALUES ('conn-old', 'scheduled', 'poll', $1, now() - make_interval(days => $2),
                           CASE WHEN $1 IN ('succeeded', 'failed') THEN now() - make_interval(days => $2) END)
                   RETURNING id""",
                status,
                days,
            )
            await conn.execute(
                "INSERT INTO sync_history_errors (run_id, record_key, error) VALUES ($1, 'K', 'x')", ids[(status, days)]
            )
    also: list[object] = []

    async def service_purge(conn) -> None:
        also.append(await conn.fetchval("SELECT 1"))

    retention = Retention(pool, HISTORY, also=[service_purge])
    assert await retention.purge() == 2
    async with pool.acquire() as conn:
        left = {r["id"] for r in await conn.fetch("SELECT id FROM sync_history_runs")}
        errors = await conn.fetchval("SELECT count(*) FROM sync_history_errors")
    assert {key for key, run_id in ids.items() if run_id in left} == {k for k, keep in ages.items() if keep}
    assert errors == 4 and also == [1]


async def test_as_a_worker_it_purges_at_start_and_stops_when_asked(pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO sync_history_runs (connection_id, trigger, lane, status, ended_at)
               VALUES ('conn-old', 'scheduled', 'poll', 'succeeded', now() - interval '31 days')"""
        )
    retention = Retention(pool, HISTORY)
    task = asyncio.create_task(retention.run())

    async def purged() -> bool:
        async with pool.acquire() as conn:
            return await conn.fetchval("SELECT count(*) FROM sync_history_runs") == 0

    from testkit import eventually

    await eventually(purged, timeout=10)
    await retention.stop()
    await asyncio.wait_for(task, 5)
