"""A sync of the lib's own for its tests: work kept in memory, history and lanes in the scratch schema `lib_test`.

Each test's database is a fresh copy of the template, so the lib's tables start empty.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import asyncpg
import pytest_asyncio
import synchistory
from synchistory import Run, Tally, Trigger

LIB_SCHEMA = "lib_test"


class Lane(StrEnum):
    POLL = "poll"
    PUSH = "push"


class ExtraTrigger(StrEnum):
    NUDGED = "nudged"


HISTORY = synchistory.SyncHistory("lib-test", lanes=Lane, triggers=ExtraTrigger)

Behaviour = Callable[[Run], Awaitable[Any]]


async def succeed(run: Run) -> str:
    return "done"


class Work:
    """`synchistory.SyncWork` over dicts: which connections are active, when each lane is due, what a run does."""

    def __init__(self, pool: asyncpg.Pool, *, interval: timedelta = timedelta(hours=1)) -> None:
        self.pool = pool
        self.interval = interval
        self.active: set[str] = set()
        self.due: dict[tuple[str, str], datetime | None] = {}
        self.behaviour: dict[str, Behaviour] = {}
        self.executed: list[tuple[str, str, int]] = []  # (connection, lane, run id), in start order
        self.finished_with: list[tuple[int, Any, str | None]] = []

    def make_due(self, connection_id: str, lane: Lane = Lane.POLL, at: datetime | None = None) -> None:
        self.active.add(connection_id)
        self.due[(connection_id, lane.value)] = at or datetime.now(UTC)

    async def context(self, conn: asyncpg.Connection, connection_id: str) -> str | None:
        return connection_id if connection_id in self.active else None

    async def due_run(self, conn: asyncpg.Connection, connection_id: str, lane: StrEnum, context: str) -> Run | None:
        at = self.due.get((connection_id, lane.value))
        if at is None or at > datetime.now(UTC):
            return None
        return await HISTORY.start_run(conn, connection_id=connection_id, trigger=Trigger.SCHEDULED, lane=lane)

    async def execute(self, run: Run, context: str) -> Any:
        self.executed.append((run.connection_id, run.lane.value, run.id))
        return await self.behaviour.get(run.connection_id, succeed)(run)

    async def finished(self, conn: asyncpg.Connection, run: Run, context: str, result: Any, error: str | None) -> None:
        self.finished_with.append((run.id, result, error))
        if run.trigger == Trigger.SCHEDULED:
            self.due[(run.connection_id, run.lane.value)] = datetime.now(UTC) + self.interval

    async def next_due(
        self, conn: asyncpg.Connection, connection_id: str, lane: StrEnum, context: str
    ) -> datetime | None:
        return self.due.get((connection_id, lane.value))


async def record(pool: asyncpg.Pool, run: Run, tally: Tally) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await HISTORY.record(conn, run.id, tally)


async def lane_row(pool: asyncpg.Pool, connection_id: str, lane: Lane = Lane.POLL) -> asyncpg.Record | None:
    async with pool.acquire() as conn:
        return await conn.fetchrow(
            "SELECT *, extract(epoch FROM due_at - now()) AS due_in FROM sync_lanes"
            " WHERE connection_id = $1 AND lane = $2",
            connection_id,
            lane.value,
        )


async def runs(pool: asyncpg.Pool, connection_id: str | None = None) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        return list(reversed(await HISTORY.list_runs(conn, connection_id=connection_id, limit=500)))


@pytest_asyncio.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=12, server_settings={"search_path": LIB_SCHEMA})
    yield pool
    await pool.close()


@pytest_asyncio.fixture
async def work(pool: asyncpg.Pool) -> Work:
    return Work(pool)


class Gate:
    """A run that waits until the test opens the gate, so a test can act while it is running."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()

    async def __call__(self, run: Run) -> str:
        self.entered.set()
        await self.opened.wait()
        return "done"
