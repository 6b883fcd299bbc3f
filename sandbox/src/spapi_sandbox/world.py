"""Everything a handler may touch, bundled once by the composition root (app.create_app)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Coroutine, Mapping
from typing import Any

from spapi_sandbox.config import SandboxConfig
from spapi_sandbox.faults import Faults
from spapi_sandbox.ledger import Ledger
from spapi_sandbox.lwa import Tokens
from spapi_sandbox.models import Models
from spapi_sandbox.notifications import Notifier
from spapi_sandbox.ratelimit import RateLimiter
from spapi_sandbox.state import State

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """One validated SP-API request: who calls, with which typed parameters and body."""

    seller_id: str
    params: Mapping[str, Any]
    body: Any
    base_url: str


@dataclasses.dataclass(slots=True)
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(slots=True, kw_only=True)
class World:
    config: SandboxConfig
    models: Models
    state: State
    tokens: Tokens
    limiter: RateLimiter
    faults: Faults
    ledger: Ledger
    notifier: Notifier
    tasks: set[asyncio.Task[Any]] = dataclasses.field(default_factory=set)
    # Bumped on reset so background work started before it (feed processing) drops its results.
    epoch: int = 0
    orders_per_minute: float = 0.0
    violations: list[str] = dataclasses.field(default_factory=list)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        """Run in the background; outside an event loop (domain unit tests) the work is dropped."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coro.close()
            return None
        task = loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task failed", exc_info=task.exception())

    def reset(self) -> None:
        self.epoch += 1
        for task in list(self.tasks):
            if task.get_name().startswith("keep:"):
                continue
            task.cancel()
        self.state.reset()
        self.ledger.clear()
        self.faults.clear()
        self.limiter.reset()
        self.tokens.restore_default()
        self.notifier.reset()
        self.violations.clear()
