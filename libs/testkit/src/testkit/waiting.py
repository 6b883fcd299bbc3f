"""Polling instead of sleeping: wait until a condition holds, or fail with what was last seen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T]], *, timeout: float = 20.0, interval: float = 0.1) -> T:
    """Returns the first truthy result of `probe`; AssertionError with the last result after `timeout`."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        try:
            last = await probe()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            last = None
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last result: {last!r}")
        await asyncio.sleep(interval)


def eventually_sync(probe: Callable[[], T], *, timeout: float = 20.0, interval: float = 0.1) -> T:
    """`eventually` for synchronous tests and fixtures: the same contract, blocking between probes."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        try:
            last = probe()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            last = None
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last result: {last!r}")
        time.sleep(interval)
