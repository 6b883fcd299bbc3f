"""Retention of sync history: succeeded runs are kept 30 days, failed ones 60, by a periodic worker."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import KW_ONLY, dataclass
from datetime import timedelta
from typing import ClassVar

import asyncpg
import servicekit

from synchistory.history import SyncHistory

log = logging.getLogger(__name__)

KEEP_SUCCEEDED = timedelta(days=30)
KEEP_FAILED = timedelta(days=60)

Purge = Callable[[asyncpg.Connection], Awaitable[object]]


@dataclass(eq=False)
class Retention:
    """`also` are the service's own purges that belong with its history (e.g. handled notifications)."""

    pool: asyncpg.Pool
    history: SyncHistory
    _: KW_ONLY
    keep_succeeded: timedelta = KEEP_SUCCEEDED
    keep_failed: timedelta = KEEP_FAILED
    every: timedelta = timedelta(hours=1)
    also: Sequence[Purge] = ()
    name: ClassVar[str] = "sync-history-retention"

    def __post_init__(self) -> None:
        self._worker = servicekit.PeriodicWorker(self.name, self._tick, every=self.every.total_seconds())

    async def purge(self) -> int:
        """Deletes what is past retention now; returns how many runs went."""
        async with self.pool.acquire() as conn:
            deleted = await self.history.purge(conn, succeeded=self.keep_succeeded, failed=self.keep_failed)
            for purge in self.also:
                await purge(conn)
        if deleted:
            log.info("sync history purged", extra={"runs": deleted})
        return deleted

    async def _tick(self) -> None:
        await self.purge()

    async def run(self) -> None:
        await self._worker.run()

    async def stop(self) -> None:
        await self._worker.stop()
