"""Retention of sync history: succeeded runs are kept 30 days, failed ones 60, by a periodic worker."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

import asyncpg
import servicekit

from synchistory.history import SyncHistory

log = logging.getLogger(__name__)

KEEP_SUCCEEDED = timedelta(days=30)
KEEP_FAILED = timedelta(days=60)

Purge = Callable[[asyncpg.Connection], Awaitable[object]]


class Retention(servicekit.PeriodicWorker):
    """A periodic worker (hourly by default); `also` are the service's own purges that belong with its history
    (e.g. handled notifications), run in the same pass."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        history: SyncHistory,
        *,
        keep_succeeded: timedelta = KEEP_SUCCEEDED,
        keep_failed: timedelta = KEEP_FAILED,
        every: timedelta = timedelta(hours=1),
        also: Sequence[Purge] = (),
    ) -> None:
        super().__init__("sync-history-retention", self._tick, every=every.total_seconds())
        self.pool, self.history, self.also = pool, history, list(also)
        self.keep = {"succeeded": keep_succeeded, "failed": keep_failed}

    async def purge(self) -> int:
        """Deletes what is past retention now; returns how many runs went."""
        async with self.pool.acquire() as conn:
            deleted = await self.history.purge(conn, **self.keep)
            for purge in self.also:
                await purge(conn)
        if deleted:
            log.info("sync history purged", extra={"runs": deleted})
        return deleted

    async def _tick(self) -> None:
        await self.purge()
