"""Lanes against the real PostgreSQL: one replica at a time, recovery after a dead process, how runs end."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from enum import StrEnum

import asyncpg
import pytest
from synchistory import INTERRUPTED, Lanes, RunFailed, Tally, Trigger

from .conftest import HISTORY, Gate, Lane, Work, lane_row, record, runs

BACKOFF = timedelta(seconds=30)


def lanes_of(pool: asyncpg.Pool, work: Work, **kw) -> Lanes:
    return Lanes(pool, HISTORY, work, backoff=BACKOFF, max_backoff=timedelta(minutes=10), **kw)


async def test_a_lane_runs_on_one_replica_at_a_time_and_other_lanes_are_not_held_up(pool, work: Work) -> None:
    gate = Gate()
    work.behaviour["conn-1"] = gate
    work.make_due("conn-1", Lane.POLL)
    work.make_due("conn-1", Lane.PUSH)
    replica_a, replica_b = lanes_of(pool, work), lanes_of(pool, work)

    first = asyncio.create_task(replica_a.run_lane("conn-1", Lane.POLL))
    await asyncio.wait_for(gate.entered.wait(), 10)
    # The other replica finds the lock taken and leaves at once; the connection's other lane is free.
    assert await replica_b.run_lane("conn-1", Lane.POLL) is False
    # Nor does the same process start it twice (its locks share one session, which could take a lock again).
    assert await replica_a.run_lane("conn-1", Lane.POLL) is False
    push = asyncio.create_task(replica_b.run_lane("conn-1", Lane.PUSH))
    await asyncio.sleep(0)
    gate.opened.set()
    assert await first is True and await push is True
    assert sorted(lane for _, lane, _ in work.executed) == ["poll", "push"]
    assert [r["status"] for r in await runs(pool)] == ["succeeded", "succeeded"]
    # Once the pass is over the lock is free again.
    work.make_due("conn-1", Lane.POLL)
    assert await replica_b.run_lane("conn-1", Lane.POLL) is True


async def test_runs_left_running_by_a_dead_process_are_closed_and_requested_ones_queued_again(pool, work) -> None:
    work.active.add("conn-1")
    async with pool.acquire() as conn:
        scheduled = await HISTORY.start_run(conn, connection_id="conn-1", trigger=Trigger.SCHEDULED, lane=Lane.POLL)
        manual = await HISTORY.queue_run(
            conn, connection_id="conn-1", trigger=Trigger.MANUAL, lane=Lane.POLL, requested_by="ops"
        )
        await HISTORY.claim_queued(conn, "conn-1", Lane.POLL)  # the dead process had started it too
        other_lane = await HISTORY.start_run(conn, connection_id="conn-1", trigger=Trigger.SCHEDULED, lane=Lane.PUSH)

    assert await lanes_of(pool, work).run_lane("conn-1", Lane.POLL)

    history = {r["id"]: r for r in await runs(pool)}
    for dead in (scheduled.id, manual.id):
        assert (history[dead]["status"], history[dead]["error"]) == ("failed", INTERRUPTED)
    (again,) = [r for r in history.values() if r["id"] > other_lane.id]
    assert (again["trigger"], again["requested_by"], again["status"]) == ("manual", "ops", "succeeded")
    assert work.executed == [("conn-1", "poll", again["id"])]
    assert history[other_lane.id]["status"] == "running"  # another lane's run is not this pass's business


async def test_an_unexpected_exception_fails_the_run_without_its_text_and_backs_the_lane_off(pool, work) -> None:
    async def broken(run):
        raise KeyError("buyer-jane@example.invalid")

    work.behaviour["conn-1"] = broken
    work.make_due("conn-1")
    lanes = lanes_of(pool, work)

    assert await lanes.run_lane("conn-1", Lane.POLL) is True  # returns; nothing propagates
    (run,) = await runs(pool)
    assert run["status"] == "failed" and run["error"].startswith("unexpected KeyError at ")
    assert "jane" not in run["error"]
    row = await lane_row(pool, "conn-1")
    assert row["failures"] == 1 and 0.9 * BACKOFF.total_seconds() <= row["due_in"] <= BACKOFF.total_seconds()
    assert work.finished_with == [(run["id"], None, run["error"])]  # the service still closes its side

    # Still broken next time: the backoff doubles, and one pass starts one run, not a loop of them.
    work.make_due("conn-1")
    await lanes.run_lane("conn-1", Lane.POLL)
    row = await lane_row(pool, "conn-1")
    assert row["failures"] == 2 and row["due_in"] >= 1.9 * BACKOFF.total_seconds()
    assert len(await runs(pool)) == 2

    # Fixed: the next pass succeeds and the lane's trouble is forgotten.
    del work.behaviour["conn-1"]
    work.make_due("conn-1")
    await lanes.run_lane("conn-1", Lane.POLL)
    row = await lane_row(pool, "conn-1")
    assert row["failures"] == 0 and row["due_in"] > BACKOFF.total_seconds() * 10  # the work's own next time (1 h)


async def test_an_expected_failure_is_the_runs_error_and_the_service_decides_when_to_retry(pool, work) -> None:
    async def refused(run):
        raise RunFailed("Throttled: HTTP 429 from getOrders")

    work.behaviour["conn-1"] = refused
    work.make_due("conn-1")
    await lanes_of(pool, work).run_lane("conn-1", Lane.POLL)
    (run,) = await runs(pool)
    assert (run["status"], run["error"]) == ("failed", "Throttled: HTTP 429 from getOrders")
    row = await lane_row(pool, "conn-1")
    assert row["failures"] == 0 and row["due_in"] > 3000  # Work.finished moved its own due time an hour on


async def test_a_bug_in_the_services_bookkeeping_backs_off_instead_of_spinning(pool, work) -> None:
    async def no_next_due(conn, connection_id, lane, context):
        raise ValueError("settings of conn-1 could not be read: {'secret': 1}")

    work.next_due = no_next_due  # type: ignore[method-assign]
    work.make_due("conn-1")
    assert await lanes_of(pool, work).run_lane("conn-1", Lane.POLL) is True
    row = await lane_row(pool, "conn-1")
    assert row["failures"] == 1 and row["due_in"] >= 0.9 * BACKOFF.total_seconds()


async def test_record_outcomes_add_up_and_a_failed_record_fails_the_run(pool, work) -> None:
    work.make_due("conn-1")

    async def two_pages(run):
        first, second = Tally(), Tally()
        first.count("fetched", 3)
        first.success("published")
        first.success("published")
        first.failure("ORDER-1", "seller_sku: at most 40 characters")
        second.count("fetched")
        second.success("unchanged")
        try:
            {}["ORDER-2-secret-value"]
        except KeyError as exc:
            second.unexpected("ORDER-2", exc)
        await record(pool, run, first)
        await record(pool, run, second)

    work.behaviour["conn-1"] = two_pages
    await lanes_of(pool, work).run_lane("conn-1", Lane.POLL)
    (run,) = await runs(pool)
    assert run["status"] == "failed" and run["error"] is None
    assert (run["records_succeeded"], run["records_failed"]) == (3, 2)
    assert run["counts"] == {"fetched": 4, "published": 2, "unchanged": 1}
    async with pool.acquire() as conn:
        errors = await HISTORY.run_errors(conn, run["id"])
    assert [e["record_key"] for e in errors] == ["ORDER-1", "ORDER-2"]
    assert errors[1]["error"].startswith("unexpected KeyError at ") and "secret" not in errors[1]["error"]


async def test_a_nudge_while_the_lane_runs_is_not_lost(pool, work) -> None:
    gate = Gate()
    work.behaviour["conn-1"] = gate
    work.make_due("conn-1")
    running = asyncio.create_task(lanes_of(pool, work).run_lane("conn-1", Lane.POLL))
    await asyncio.wait_for(gate.entered.wait(), 10)
    async with pool.acquire() as conn:
        await HISTORY.nudge(conn, "conn-1", Lane.POLL)  # e.g. a notification arrived after the pass looked
    gate.opened.set()
    await running
    row = await lane_row(pool, "conn-1")
    assert row["due_in"] <= 0.5  # due now, not in the hour Work.finished asked for


async def test_an_inactive_connection_has_no_due_time_and_queued_runs_wait(pool, work) -> None:
    async with pool.acquire() as conn:
        await HISTORY.queue_run(conn, connection_id="conn-off", trigger=Trigger.MANUAL, lane=Lane.POLL)
    assert (await lane_row(pool, "conn-off"))["due_in"] <= 0.5
    await lanes_of(pool, work).run_lane("conn-off", Lane.POLL)
    assert (await lane_row(pool, "conn-off"))["due_at"] is None
    assert [r["status"] for r in await runs(pool)] == ["queued"]


async def test_a_pass_starts_a_few_runs_then_leaves_the_lane_due_behind_the_others(pool, work) -> None:
    work.make_due("conn-1")
    async with pool.acquire() as conn:
        for _ in range(5):
            await HISTORY.queue_run(conn, connection_id="conn-1", trigger=Trigger.MANUAL, lane=Lane.POLL)
    await lanes_of(pool, work, runs_per_pass=2).run_lane("conn-1", Lane.POLL)
    assert len(work.executed) == 2
    assert (await lane_row(pool, "conn-1"))["due_in"] <= 0.5


async def test_values_that_are_not_the_services_enums_are_refused(pool) -> None:
    class Foreign(StrEnum):
        POLL = "poll"

    async with pool.acquire() as conn:
        for trigger, lane in ((Foreign.POLL, Lane.POLL), (Trigger.MANUAL, Foreign.POLL)):
            with pytest.raises(ValueError, match="not one of this service's"):
                await HISTORY.queue_run(conn, connection_id="c", trigger=trigger, lane=lane)
    assert await runs(pool) == []
