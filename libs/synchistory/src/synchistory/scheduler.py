"""The scheduler: starts due lanes a few at a time, and sleeps until the earliest due time or a wake-up.

Each tick asks PostgreSQL for due lanes only (index on `sync_lanes.due_at`, LIMIT the free slots) and for the
earliest due time, so a replica with ten thousand idle connections costs what one with ten costs. Lanes start
longest-overdue first, and a lane with endless work is due again behind the others after a few runs: none starves.
Its failure policy is servicekit's PeriodicWorker: an outage is ridden out with backoff, a bug ends the process.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import KW_ONLY, dataclass
from datetime import timedelta
from enum import StrEnum
from typing import ClassVar

import asyncpg
import servicekit

from synchistory import lanes as lane_rows
from synchistory.lanes import Lanes
from synchistory.tally import describe

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Scheduler:
    pool: asyncpg.Pool
    lanes: Lanes
    _: KW_ONLY
    concurrency: int = 4  # lanes at a time in this process
    lease: timedelta = timedelta(minutes=5)  # how long other replicas leave a lane this one took
    max_sleep: float = 30.0  # seconds; it wakes earlier for the earliest due lane or a wake()
    max_backoff: float = 30.0  # while PostgreSQL is away
    name: ClassVar[str] = "sync-scheduler"

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._inflight: dict[tuple[str, str], asyncio.Task[None]] = {}
        # Lanes claimed while their pass here was still ending: the claim pushed them out by the lease, so they
        # pass again as soon as that pass ends, or a run queued in that moment would wait for the lease.
        self._again: set[tuple[str, str]] = set()
        self._worker = servicekit.PeriodicWorker(
            self.name, self.tick, every=self.max_sleep, max_backoff=self.max_backoff
        )

    def wake(self) -> None:
        """New work in this process (a queued run, a notification, a new connection): look now."""
        self._worker.wake()

    async def stop(self) -> None:
        self.lanes.stopping.set()
        await self._worker.stop()

    async def run(self) -> None:
        try:
            await self._worker.run()
        finally:
            if self._inflight:
                await asyncio.gather(*self._inflight.values(), return_exceptions=True)
            await self.lanes.close()

    @property
    def running(self) -> int:
        return len(self._inflight)

    async def tick(self) -> float | None:
        """Starts what is due in the free slots; returns how long to sleep (None: until a lane ends)."""
        free = self.concurrency - len(self._inflight)
        if free <= 0 or self.lanes.stopping.is_set():
            return None
        async with self.pool.acquire() as conn:
            due = await lane_rows.claim_due(conn, limit=free, lease=self.lease)
            started = 0
            for connection_id, value in due:
                key = (connection_id, value)
                if key in self._inflight:
                    self._again.add(key)
                    continue
                lane = self.lanes.history.lane(value)
                self._inflight[key] = asyncio.create_task(self._lane(connection_id, lane), name=f"lane-{value}")
                started += 1
            if started == free:
                return None  # every slot busy: a lane that ends wakes the next tick
            wait = await lane_rows.seconds_until_due(conn)
        return self.max_sleep if wait is None else min(self.max_sleep, max(wait, 0.0))

    async def _lane(self, connection_id: str, lane: StrEnum) -> None:
        key = (connection_id, lane.value)
        try:
            await self.lanes.run_lane(connection_id, lane)
        except Exception as exc:
            # The lane handles its runs' errors; what gets here is an outage (or a bug in the bookkeeping). The
            # lane's lease runs out and it is tried again then: no spinning, and the other lanes go on.
            outage = servicekit.is_outage(exc)
            log.log(
                logging.WARNING if outage else logging.ERROR,
                "sync lane stopped",
                extra={"connection_id": connection_id, "lane": lane.value, "error": describe(exc)},
            )
            self._again.discard(key)
        finally:
            self._inflight.pop(key, None)
            self.wake()
        # Only a pass that ended (not one cancelled with its process, nor one that broke) goes again at once.
        if key in self._again:
            self._again.discard(key)
            if not self.lanes.stopping.is_set():
                self._inflight[key] = asyncio.create_task(self._lane(connection_id, lane), name=f"lane-{lane.value}")
