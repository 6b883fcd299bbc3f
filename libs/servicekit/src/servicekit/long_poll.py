"""A worker that long-polls a source and handles what each poll brought, with the one outage policy.

Unlike a PeriodicWorker tick, the wait is inside the poll (an SQS ReceiveMessage of up to 20 s), so `stop()`
abandons a poll in flight: whatever it would have brought stays at the source, which delivers it again. A batch
already being handled is finished first. An outage met by the poll or the handler is ridden out (backoff, one
warning, `worker_in_outage`); any other exception leaves `run()` and takes the process down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from servicekit.outages import Outage, is_outage

T = TypeVar("T")


class LongPollWorker(Generic[T]):
    def __init__(self, name: str, poll: Callable[[], Awaitable[T]], handle: Callable[[T], Awaitable[object]]) -> None:
        self.name = name
        self._poll = poll
        self._handle = handle
        self._outage = Outage(name)
        self._stopping = asyncio.Event()
        self._polling: asyncio.Future[T] | None = None

    async def stop(self) -> None:
        self._stopping.set()
        if self._polling is not None:
            self._polling.cancel()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                if self._stopping.is_set():
                    return
                raise
            except Exception as exc:
                if not is_outage(exc):
                    raise
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._outage.failed(exc))
                continue
            self._outage.recovered()

    async def poll_once(self) -> object:
        """One poll and the handling of what it brought; returns what the handler returned."""
        self._polling = asyncio.ensure_future(self._poll())
        try:
            batch = await self._polling
        finally:
            self._polling = None
        return await self._handle(batch)
