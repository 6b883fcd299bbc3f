"""The scheduler against the real PostgreSQL: only due lanes, bounded concurrency, no starvation, wake-ups."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
from synchistory import Lanes, Scheduler, Trigger
from testkit import eventually

from .conftest import HISTORY, Lane, Work


@contextlib.asynccontextmanager
async def scheduling(pool: asyncpg.Pool, work: Work, **kw) -> AsyncIterator[Scheduler]:
    lanes = Lanes(pool, HISTORY, work, runs_per_pass=kw.pop("runs_per_pass", 5))
    scheduler = Scheduler(pool, lanes, lease=timedelta(seconds=30), **kw)
    task = asyncio.create_task(scheduler.run())
    try:
        yield scheduler
    finally:
        await scheduler.stop()
        await asyncio.wait_for(task, 20)


async def seed_lanes(pool: asyncpg.Pool, work: Work, count: int, *, due_in: timedelta) -> None:
    at = datetime.now(UTC) + due_in
    ids = [f"idle-{n}" for n in range(count)]
    for connection_id in ids:
        work.make_due(connection_id, at=at)
    async with pool.acquire() as conn:
        await conn.executemany(
            "INSERT INTO sync_lanes (connection_id, lane, due_at) VALUES ($1, $2, $3)",
            [(c, Lane.POLL.value, at) for c in ids],
        )


async def test_a_lane_that_always_has_work_does_not_starve_the_others(pool, work: Work) -> None:
    others_due = asyncio.Event()

    async def hog(run):
        # The hog's third run holds the only slot until the others are due, so the backlog cannot drain first.
        if sum(1 for c, _, _ in work.executed if c == "hog") >= 3:
            await others_due.wait()

    # A connection with a backlog of a hundred runs: a lane that always has work.
    work.behaviour["hog"] = hog
    work.active.add("hog")
    async with pool.acquire() as conn:
        for _ in range(100):
            await HISTORY.queue_run(conn, connection_id="hog", trigger=Trigger.MANUAL, lane=Lane.POLL)
    async with scheduling(pool, work, concurrency=1, runs_per_pass=3):

        async def hog_running() -> bool:
            return sum(1 for c, _, _ in work.executed if c == "hog") >= 3

        await eventually(hog_running, timeout=10)
        others = [f"other-{n}" for n in range(5)]
        async with pool.acquire() as conn:
            for connection_id in others:
                work.make_due(connection_id)
                await HISTORY.nudge(conn, connection_id, Lane.POLL)
        others_due.set()

        async def all_ran() -> bool:
            return {c for c, _, _ in work.executed} >= set(others)

        await eventually(all_ran, timeout=15)
    order = [c for c, _, _ in work.executed]
    last_other = max(i for i, c in enumerate(order) if c != "hog")
    # Every other started within the first 17 runs, most of the hog's hundred still queued: none waited for them.
    assert order[:3] == ["hog"] * 3 and last_other < 3 * 3 + 5 + 3


async def test_no_more_lanes_run_at_once_than_its_concurrency(pool, work: Work) -> None:
    running, peak = 0, 0
    may_end = asyncio.Semaphore(0)  # a run ends only when the test lets one

    async def held(run):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await may_end.acquire()
        running -= 1

    ids = [f"conn-{n}" for n in range(10)]
    async with pool.acquire() as conn:
        for connection_id in ids:
            work.behaviour[connection_id] = held
            work.make_due(connection_id)
            await HISTORY.nudge(conn, connection_id, Lane.POLL)
    async with scheduling(pool, work, concurrency=3):
        # Let runs end one at a time, each once the free slots are full again: every slot is used, none is extra.
        for ended in range(len(ids)):

            async def slots_full(ended: int = ended) -> bool:
                return len(work.executed) >= min(len(ids), ended + 3)

            await eventually(slots_full, timeout=10, interval=0.02)
            may_end.release()

        async def all_ended() -> bool:
            return len(work.finished_with) == len(ids)

        await eventually(all_ended, timeout=10)
    assert peak == 3 and len(work.executed) == len(ids)


async def test_idle_it_sleeps_until_the_earliest_due_lane_whatever_their_number(pool, work: Work) -> None:
    await seed_lanes(pool, work, 2000, due_in=timedelta(minutes=10))
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO sync_lanes (connection_id, lane, due_at) VALUES ('soon', 'poll', now() + interval '42 s')"
        )
        plan = "\n".join(
            r[0]
            for r in await conn.fetch(
                "EXPLAIN SELECT connection_id FROM sync_lanes WHERE due_at <= now() ORDER BY due_at LIMIT 4"
            )
        )
    lanes = Lanes(pool, HISTORY, work)
    scheduler = Scheduler(pool, lanes, concurrency=4, max_sleep=300)
    wait = await scheduler.tick()
    assert wait is not None and 40 <= wait <= 42
    assert work.executed == [] and scheduler.running == 0
    assert "sync_lanes_due" in plan  # the index, not a scan of every lane


async def test_a_queued_run_starts_at_once_when_the_process_wakes_its_scheduler(pool, work: Work, monkeypatch) -> None:
    from synchistory import lanes as lane_rows

    looked: list[float | None] = []
    seconds_until_due = lane_rows.seconds_until_due

    async def spied(conn):
        looked.append(await seconds_until_due(conn))
        return looked[-1]

    monkeypatch.setattr(lane_rows, "seconds_until_due", spied)
    work.active.add("conn-1")
    async with scheduling(pool, work, concurrency=2, max_sleep=60) as scheduler:

        async def idle() -> bool:
            return looked == [None]  # it has looked, found nothing due, and sleeps up to a minute

        await eventually(idle, timeout=5, interval=0.02)
        queued_at = time.monotonic()
        async with pool.acquire() as conn:
            run = await HISTORY.queue_run(conn, connection_id="conn-1", trigger=Trigger.MANUAL, lane=Lane.POLL)
        scheduler.wake()  # what the admin route does after its commit

        async def started() -> bool:
            return any(r == run.id for _, _, r in work.executed)

        await eventually(started, timeout=5, interval=0.02)
    assert time.monotonic() - queued_at < 2


async def test_a_lane_whose_replica_died_comes_back_when_its_lease_runs_out(pool, work: Work) -> None:
    from synchistory import lanes as lane_rows

    work.make_due("conn-1")
    async with pool.acquire() as conn:
        await HISTORY.nudge(conn, "conn-1", Lane.POLL)
        # A replica claimed it and died before its pass ended.
        assert await lane_rows.claim_due(conn, limit=5, lease=timedelta(seconds=1)) == [("conn-1", "poll")]
        assert await lane_rows.claim_due(conn, limit=5, lease=timedelta(seconds=1)) == []
    async with scheduling(pool, work, concurrency=2, max_sleep=60):

        async def ran() -> bool:
            return bool(work.executed)

        await eventually(ran, timeout=5, interval=0.05)


async def test_a_run_queued_while_a_pass_ends_starts_then_not_when_the_lease_runs_out(pool, work: Work) -> None:
    # The window between a pass settling its lane and the scheduler forgetting it: a tick then claims the lane
    # (pushing it out by the lease) but must not drop it.
    work.make_due("conn-1")
    async with pool.acquire() as conn:
        await HISTORY.nudge(conn, "conn-1", Lane.POLL)
    lanes = Lanes(pool, HISTORY, work)
    ending, release = asyncio.Event(), asyncio.Event()
    unlock = lanes._locks.unlock

    async def slow_unlock(key: int) -> None:
        ending.set()
        await release.wait()
        await unlock(key)

    lanes._locks.unlock = slow_unlock  # type: ignore[method-assign]
    scheduler = Scheduler(pool, lanes, concurrency=2, lease=timedelta(seconds=30), max_sleep=60)
    task = asyncio.create_task(scheduler.run())
    try:
        await asyncio.wait_for(ending.wait(), 10)
        async with pool.acquire() as conn:
            run = await HISTORY.queue_run(conn, connection_id="conn-1", trigger=Trigger.MANUAL, lane=Lane.POLL)

            async def claimed() -> bool:
                scheduler.wake()
                return bool(await conn.fetchval("SELECT due_at > now() + interval '20 s' FROM sync_lanes"))

            await eventually(claimed, timeout=5, interval=0.05)
        lanes._locks.unlock = unlock  # type: ignore[method-assign]
        release.set()

        async def started() -> bool:
            return any(r == run.id for _, _, r in work.executed)

        await eventually(started, timeout=5, interval=0.05)
    finally:
        await scheduler.stop()
        await asyncio.wait_for(task, 20)
