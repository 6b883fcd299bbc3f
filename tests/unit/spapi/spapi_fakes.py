"""Fakes shared by the spapi tests: a manual clock and a scripted httpx.MockTransport."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from spapi import RateLimit

SELLER = "A1EXAMPLESELLER"
ENDPOINT = "https://sellingpartnerapi-na.amazon.com"
ACCESS_TOKEN = "Atza|unit-test-access-token-do-not-log"


class FakeClock:
    """Time that moves only when a test says so; sleepers wake in deadline order."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._seq), future))
        await future

    async def advance(self, seconds: float) -> None:
        target = self.now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, deadline)
            if not future.done():
                future.set_result(None)
            await settle()
        self.now = target
        await settle()

    @property
    def sleeping(self) -> int:
        return sum(1 for *_, f in self._sleepers if not f.done())


async def settle() -> None:
    """Let every task that can run, run."""
    for _ in range(20):
        await asyncio.sleep(0)


async def no_sleep(seconds: float) -> None:
    return None


@dataclass
class Recorder:
    """Answers requests from a script and remembers what was sent."""

    script: list[httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    default: httpx.Response | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            step = self.script.pop(0)
        elif self.default is not None:
            step = self.default
        else:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        if isinstance(step, Exception):
            raise step
        if callable(step) and not isinstance(step, httpx.Response):
            return step(request)
        return step

    def count(self, method: str | None = None, path: str | None = None) -> int:
        return sum(
            1 for r in self.requests if (method is None or r.method == method) and (path is None or r.url.path == path)
        )


def amazon_error(status: int, code: str, message: str = "", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"errors": [{"code": code, "message": message}]}, headers=headers)


def ok(body: Any = None, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(
        status, content=json.dumps(body).encode(), headers={"content-type": "application/json", **(headers or {})}
    )


def unlimited() -> RateLimit:
    return RateLimit(1e9, 1_000_000)
