"""LongPollWorker: a poll in flight is abandoned on stop, a batch being handled is finished, outages are ridden out."""

from __future__ import annotations

import asyncio

import pytest
from servicekit import LongPollWorker


async def test_stop_abandons_a_poll_in_flight_and_nothing_of_it_is_handled() -> None:
    polling = asyncio.Event()
    handled: list[int] = []

    async def poll() -> int:
        polling.set()
        await asyncio.sleep(3600)  # a long poll that would bring something much later
        return 1

    async def handle(batch: int) -> None:
        handled.append(batch)

    worker = LongPollWorker("test-poll", poll, handle)
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(polling.wait(), 1)
    await worker.stop()
    await asyncio.wait_for(task, 1)  # returns at once, not after the poll
    assert handled == []


async def test_a_batch_being_handled_is_finished_before_run_returns() -> None:
    handling, release = asyncio.Event(), asyncio.Event()
    finished: list[int] = []

    async def poll() -> int:
        return 7

    async def handle(batch: int) -> None:
        handling.set()
        await release.wait()
        finished.append(batch)

    worker = LongPollWorker("test-poll", poll, handle)
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(handling.wait(), 1)
    await worker.stop()
    assert not task.done()
    release.set()
    await asyncio.wait_for(task, 1)
    assert finished == [7]


async def test_an_outage_is_ridden_out_and_a_bug_ends_run() -> None:
    calls = 0

    async def poll() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionRefusedError(111, "Connect call failed")
        if calls == 2:
            return calls
        raise ValueError("a bug")

    seen: list[int] = []

    async def handle(batch: int) -> None:
        seen.append(batch)

    worker = LongPollWorker("test-poll", poll, handle)
    with pytest.raises(ValueError, match="a bug"):
        await asyncio.wait_for(worker.run(), 5)
    assert seen == [2]
