"""The one source of "now" for the schedule, the job and the admin views; tests and the demo move it forward."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Now = Callable[[], datetime]


def system_now() -> datetime:
    return datetime.now(UTC)


class Clock:
    """`now()` is `base()` plus an offset that only moves forward (POST /admin/test/clock, when enabled)."""

    def __init__(self, base: Now = system_now) -> None:
        self._base = base
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return self._base() + self.offset

    def advance(self, by: timedelta) -> datetime:
        if by < timedelta(0):
            raise ValueError("the clock only moves forward")
        self.offset += by
        return self()
