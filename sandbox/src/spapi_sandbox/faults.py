"""Injected failures: per-operation error rates and latency, and feeds forced to end FATAL.

Latency comes in two places: `latency_ms` delays a request before it is handled (a client that gives up
first leaves nothing applied), `latency_after_ms` delays the answer after the operation has been applied
(a client that gives up first has lost the answer of a write Amazon did make).

Token faults (expired, revoked) act on the token store at once and are handled in lwa.py.
"""

from __future__ import annotations

import dataclasses
import random

from spapi_sandbox.errors import ApiError

_ERRORS = {429: ApiError.quota_exceeded, 500: ApiError.internal, 503: ApiError.unavailable}


@dataclasses.dataclass(slots=True, kw_only=True)
class Fault:
    operation: str = "*"
    error_rate: float = 1.0
    status: int | None = None
    latency_ms: int = 0
    latency_after_ms: int = 0
    count: int | None = None  # how many more requests this fault may hit; None = no limit

    def matches(self, operation: str) -> bool:
        return self.count != 0 and self.operation in ("*", operation)


@dataclasses.dataclass(slots=True)
class Decision:
    latency_s: float
    error: ApiError | None
    latency_after_s: float = 0.0


class Faults:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._faults: list[Fault] = []
        self._fatal_feeds: int | None = 0  # None = every feed

    def add(self, fault: Fault) -> None:
        if fault.status is not None and fault.status not in _ERRORS:
            raise ValueError(f"status must be one of {sorted(_ERRORS)}")
        self._faults.append(fault)

    def fail_feeds(self, count: int | None) -> None:
        self._fatal_feeds = None if count is None else (self._fatal_feeds or 0) + count

    def clear(self) -> None:
        self._faults.clear()
        self._fatal_feeds = 0

    def decide(self, operation: str) -> Decision:
        latency_ms, latency_after_ms, error = 0, 0, None
        for fault in self._faults:
            if not fault.matches(operation):
                continue
            hit = False
            if fault.latency_ms:
                latency_ms += fault.latency_ms
                hit = True
            if fault.latency_after_ms:
                latency_after_ms += fault.latency_after_ms
                hit = True
            if error is None and fault.status is not None and self._rng.random() < fault.error_rate:
                error = _ERRORS[fault.status]()
                hit = True
            if hit and fault.count is not None:
                fault.count -= 1
        return Decision(latency_ms / 1000, error, latency_after_ms / 1000)

    def next_feed_fatal(self) -> bool:
        if self._fatal_feeds is None:
            return True
        if self._fatal_feeds > 0:
            self._fatal_feeds -= 1
            return True
        return False

    def describe(self) -> list[dict[str, object]]:
        return [dataclasses.asdict(f) for f in self._faults if f.count != 0]
