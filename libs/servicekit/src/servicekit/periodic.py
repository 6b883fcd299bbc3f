"""A worker that runs one tick after another, with the one failure policy every service loop shares.

A PostgreSQL or Kafka outage is ridden out: backoff with jitter, one warning when it starts, one info line when it
ends, a counter and a gauge per worker. Any other exception is a bug; it leaves `run()` and takes the process down
(see `run_service`), so the orchestrator restarts it and the crash is noticed instead of retried forever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from prometheus_client import Gauge

from servicekit.outages import Outage, is_outage

LAST_SUCCESS = Gauge(
    "worker_last_success_timestamp_seconds", "When a worker's tick last completed without an error", ["worker"]
)


class PeriodicWorker:
    """Runs `tick` every `every` seconds until `stop()`; `tick` may return the delay before the next one.

    `wake()` runs the next tick now (a writer in this process has new work); it is ignored while an outage is being
    ridden out, so a stream of wakes cannot turn the backoff into a busy loop.
    """

    def __init__(
        self,
        name: str,
        tick: Callable[[], Awaitable[float | None]],
        *,
        every: float,
        first_delay: float = 0.0,
        max_backoff: float = 30.0,
    ) -> None:
        if every < 0 or first_delay < 0 or max_backoff <= 0:
            raise ValueError("every and first_delay must be >= 0 and max_backoff > 0")
        self.name = name
        self._tick = tick
        self._every = every
        self._first_delay = first_delay
        self._outage = Outage(name, max_backoff=max_backoff)
        self._stopping = asyncio.Event()
        self._woken = asyncio.Event()

    def wake(self) -> None:
        self._woken.set()

    async def stop(self) -> None:
        """Interrupts the wait between ticks; a tick under way finishes first, then `run()` returns."""
        self._stopping.set()

    async def run(self) -> None:
        await self._wait(self._first_delay, wakeable=True)
        while not self._stopping.is_set():
            self._woken.clear()
            try:
                requested = await self._tick()
            except Exception as exc:
                if not is_outage(exc):
                    raise
                await self._wait(self._outage.failed(exc), wakeable=False)
                continue
            LAST_SUCCESS.labels(self.name).set_to_current_time()
            self._outage.recovered()
            await self._wait(self._every if requested is None else max(0.0, requested), wakeable=True)

    def _backoff(self, failures: int) -> float:
        return self._outage.backoff(failures)

    async def _wait(self, seconds: float, *, wakeable: bool) -> None:
        if seconds <= 0 or self._stopping.is_set():
            return
        waits = [asyncio.ensure_future(self._stopping.wait())]
        if wakeable:
            waits.append(asyncio.ensure_future(self._woken.wait()))
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
            for w in waits:
                with contextlib.suppress(asyncio.CancelledError):
                    await w
