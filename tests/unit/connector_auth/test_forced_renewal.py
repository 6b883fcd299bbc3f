"""A renewal on request is rate-limited per connection: one per 30 s, each connection on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from connector_auth.access_tokens import FORCED_RENEWAL_INTERVAL, AccessTokens


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def tokens(clock: Clock) -> AccessTokens:
    unused: Any = None  # force_renewal touches neither the database, the cipher nor LWA
    return AccessTokens(pool=unused, cipher=unused, lwa=unused, clock=clock)


def test_one_forced_renewal_per_connection_per_window() -> None:
    clock = Clock()
    access = tokens(clock)
    assert FORCED_RENEWAL_INTERVAL == timedelta(seconds=30)
    assert access.force_renewal("conn-a") is True
    assert access.force_renewal("conn-a") is False
    assert access.force_renewal("conn-b") is True
    clock.now += timedelta(seconds=29)
    assert access.force_renewal("conn-a") is False
    clock.now += timedelta(seconds=1)
    assert access.force_renewal("conn-a") is True
