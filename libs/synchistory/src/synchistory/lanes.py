"""Lanes: one connection's kind of work (polls, notifications), run by one replica at a time.

A pass over a lane holds the lane's PostgreSQL advisory lock. It first closes runs a dead process left `running`
(requested ones are queued again), then starts runs while there is work, a few at most, and finally records when
the lane is next due. What a run does is the service's (`SyncWork`); how it ends is the lib's:

- the service raises `RunFailed(text)` for a failure it expected (Amazon refused, a shutdown between pages);
- any other exception (a bug, data nobody foresaw) fails the run with the error's type, never its text, and the
  lane backs off, doubling, so a run that always breaks neither spins nor takes the process down;
- a PostgreSQL outage leaves the run `running` and propagates: the scheduler rides it out, and the next holder of
  the lock closes the run as interrupted.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar

import asyncpg
import servicekit

from synchistory.history import Run, SyncHistory
from synchistory.tally import describe

log = logging.getLogger(__name__)

C = TypeVar("C")


class RunFailed(Exception):
    """A run failed the way its service expected; `error` is recorded as the run's error (no input values)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class SyncWork(Protocol[C]):
    """What a service's sync does; `C` is what it needs to know of a connection (loaded once per run)."""

    async def context(self, conn: asyncpg.Connection, connection_id: str) -> C | None:
        """The connection as the service needs it, or None when it may not sync now (unknown, inactive)."""

    async def due_run(self, conn: asyncpg.Connection, connection_id: str, lane: StrEnum, context: C) -> Run | None:
        """Starts (`SyncHistory.start_run`) the lane's own work if it is due; queued runs come first anyway."""

    async def execute(self, run: Run, context: C) -> Any:
        """Does the run; its result goes to `finished`. Records outcomes with `SyncHistory.record` as it goes."""

    async def finished(self, conn: asyncpg.Connection, run: Run, context: C, result: Any, error: str | None) -> None:
        """In the transaction that closes the run (`result` is None when it failed): move watermarks, back off."""

    async def next_due(
        self, conn: asyncpg.Connection, connection_id: str, lane: StrEnum, context: C
    ) -> datetime | None:
        """When the lane's own work is next due (queued runs aside); None: not until something nudges it."""


class Locks:
    """The advisory locks of every lane this process runs, on one session of their own.

    One session for all of them, so a running lane holds no pool connection and concurrency is not bounded by the
    pool's size. The keys held are tracked here too: a session may take its own lock twice, a lane may not.
    The session goes back to the pool when no lock is held. If it dies its locks go with it (PostgreSQL releases
    them) and the next lock opens a new one.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: Any = None  # a connection acquired from the pool for good
        self._guard = asyncio.Lock()
        self._held: set[int] = set()

    async def try_lock(self, key: int) -> bool:
        async with self._guard:
            if key in self._held:
                return False
            if self._conn is None or self._conn.is_closed():
                await self._drop()
                self._conn = await self._pool.acquire()
            if not await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                return False
            self._held.add(key)
            return True

    async def unlock(self, key: int) -> None:
        async with self._guard:
            self._held.discard(key)
            if self._conn is not None and not self._conn.is_closed():
                try:
                    await self._conn.execute("SELECT pg_advisory_unlock($1)", key)
                except Exception:
                    await self._drop()  # a broken session: its locks went with it
                    raise
            if not self._held:
                await self._drop()  # idle: the session goes back to the pool

    async def close(self) -> None:
        async with self._guard:
            await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._held.clear()
        if conn is not None:
            await self._pool.release(conn)


@dataclass(eq=False)
class Lanes:
    """Runs passes over lanes for `work`; `stopping` ends each pass after its current run."""

    pool: asyncpg.Pool
    history: SyncHistory
    work: SyncWork[Any]
    _: KW_ONLY
    runs_per_pass: int = 5
    backoff: timedelta = timedelta(minutes=1)  # after a pass that broke unexpectedly; doubles while that lasts
    max_backoff: timedelta = timedelta(minutes=30)
    stopping: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    def __post_init__(self) -> None:
        self._locks = Locks(self.pool)

    async def close(self) -> None:
        """Ends the locks' session; call once no pass runs any more."""
        await self._locks.close()

    async def run_lane(self, connection_id: str, lane: StrEnum) -> bool:
        """One pass over the lane; False at once when another replica (or this one) holds it."""
        key = self.history.lock_key(connection_id, lane)
        if not await self._locks.try_lock(key):
            return False
        try:
            async with self.pool.acquire() as conn:
                seen = await nudges(conn, connection_id, lane)
            troubled = False
            try:
                next_due, troubled = await self._pass(connection_id, lane)
            except Exception as exc:
                if servicekit.is_outage(exc):
                    raise
                # The service's bookkeeping broke (a bug, a row it cannot read): back off, do not spin.
                log.error(
                    "sync lane failed", extra={"connection_id": connection_id, "lane": lane, "error": describe(exc)}
                )
                next_due, troubled = None, True
            async with self.pool.acquire() as conn:
                await settle(conn, connection_id, lane, next_due, seen=seen, troubled=troubled,
                             backoff=self.backoff, max_backoff=self.max_backoff)  # fmt: skip
        finally:
            await self._locks.unlock(key)
        return True

    async def _pass(self, connection_id: str, lane: StrEnum) -> tuple[datetime | None, bool]:
        async with self.pool.acquire() as conn, conn.transaction():
            recovered = await self.history.recover(conn, connection_id, lane)
        if recovered.interrupted:
            log.warning(
                "closed runs of a stopped process",
                extra={"runs": recovered.interrupted, "requeued": recovered.requeued, "lane": lane},
            )
        started = 0
        while not self.stopping.is_set() and started < self.runs_per_pass:
            async with self.pool.acquire() as conn, conn.transaction():
                context = await self.work.context(conn, connection_id)
                if context is None:
                    break
                run = await self.history.claim_queued(conn, connection_id, lane)
                if run is None:
                    run = await self.work.due_run(conn, connection_id, lane, context)
            if run is None:
                break
            started += 1
            if not await self.execute(run, context):
                return None, True
        async with self.pool.acquire() as conn, conn.transaction():
            context = await self.work.context(conn, connection_id)
            if context is None:
                return None, False
            if started >= self.runs_per_pass or await self.history.has_queued(conn, connection_id, lane):
                # More work: due again now, behind the lanes that have waited longer.
                return await conn.fetchval("SELECT now()"), False
            return await self.work.next_due(conn, connection_id, lane, context), False

    async def execute(self, run: Run, context: Any) -> bool:
        """Runs one started run to its end and closes it; False when it broke unexpectedly."""
        result: Any = None
        error: str | None = None
        expected = True
        with servicekit.log_context(connection_id=run.connection_id, run_id=run.id, trigger=run.trigger.value):
            try:
                result = await self.work.execute(run, context)
            except RunFailed as exc:
                error = exc.error
                log.warning("sync run failed", extra={"error": error})
            except Exception as exc:
                if servicekit.is_outage(exc):
                    raise
                error, expected = describe(exc), False
                log.error("sync run broke unexpectedly", extra={"error": error})
            async with self.pool.acquire() as conn, conn.transaction():
                status = await self.history.finish_run(conn, run.id, error=error)
                await self.work.finished(conn, run, context, None if error else result, error)
            log.info("sync run finished", extra={"status": status.value, "run_id": run.id})
        return expected


# --- the lanes' due times ---------------------------------------------------------------------------------


async def nudges(conn: asyncpg.Connection, connection_id: str, lane: StrEnum) -> int:
    value = await conn.fetchval(
        "SELECT nudges FROM sync_lanes WHERE connection_id = $1 AND lane = $2", connection_id, lane.value
    )
    return int(value or 0)


async def settle(
    conn: asyncpg.Connection,
    connection_id: str,
    lane: StrEnum,
    next_due: datetime | None,
    *,
    seen: int,
    troubled: bool,
    backoff: timedelta,
    max_backoff: timedelta,
) -> None:
    """Records when the lane is next due. A nudge since the pass began makes it due now (its work may have
    arrived after the pass looked); trouble pushes it out by a backoff that doubles while trouble lasts."""
    await conn.execute(
        """INSERT INTO sync_lanes AS l (connection_id, lane, due_at, failures)
           VALUES ($1, $2, CASE WHEN $4 THEN now() + $5::interval ELSE $3 END, CASE WHEN $4 THEN 1 ELSE 0 END)
           ON CONFLICT (connection_id, lane) DO UPDATE SET
               failures = CASE WHEN $4 THEN l.failures + 1 ELSE 0 END,
               due_at = CASE
                   WHEN $4 THEN GREATEST(coalesce($3, now()),
                                         now() + LEAST($6::interval, $5::interval * power(2, LEAST(l.failures, 30))))
                   WHEN l.nudges <> $7 THEN now()
                   ELSE $3 END""",
        connection_id,
        lane.value,
        next_due,
        troubled,
        backoff,
        max_backoff,
        seen,
    )


async def claim_due(conn: asyncpg.Connection, *, limit: int, lease: timedelta) -> list[tuple[str, str]]:
    """Up to `limit` due lanes, longest overdue first; each is pushed out by `lease`, so other replicas leave it
    while this one works it (the pass sets the real next due time; a dead replica's lease simply runs out)."""
    rows = await conn.fetch(
        """WITH due AS (
               SELECT connection_id, lane, due_at FROM sync_lanes
               WHERE due_at <= now() ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
           UPDATE sync_lanes l SET due_at = now() + $2::interval
           FROM due WHERE l.connection_id = due.connection_id AND l.lane = due.lane
           RETURNING l.connection_id, l.lane, due.due_at""",
        limit,
        lease,
    )
    return [(r["connection_id"], r["lane"]) for r in sorted(rows, key=lambda r: r["due_at"])]


async def seconds_until_due(conn: asyncpg.Connection) -> float | None:
    """Seconds until the earliest lane is due (<= 0: now); None when no lane has a due time."""
    value = await conn.fetchval(
        """SELECT extract(epoch FROM due_at - now()) FROM sync_lanes WHERE due_at IS NOT NULL
           ORDER BY due_at LIMIT 1"""
    )
    return None if value is None else float(value)
