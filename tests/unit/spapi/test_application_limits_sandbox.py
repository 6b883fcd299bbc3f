"""The sandbox holds the per-application limits too, so it is as strict as Amazon: a Listings Items call passes
only while both its seller's bucket and the application's (over all sellers) hold a token."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from spapi import APPLICATION_RATE_LIMITS
from spapi_sandbox import ratelimit
from spapi_sandbox.ratelimit import APPLICATION_RATES, RATES, RateLimiter


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    clock = [1000.0]
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    return clock


def test_the_sandbox_and_the_client_agree_on_the_application_limits():
    for operation, (rate, burst) in APPLICATION_RATES.items():
        assert APPLICATION_RATE_LIMITS[f"listings.{operation}"].rate == rate
        assert APPLICATION_RATE_LIMITS[f"listings.{operation}"].burst == burst


def test_many_sellers_at_once_exhaust_the_applications_bucket(now: list[float]):
    limiter = RateLimiter()
    rate, burst = APPLICATION_RATES["getListingsItem"]  # 100 rps, burst 10; each seller 5, burst 5
    sellers = [f"SELLER{i}" for i in range(burst + 2)]
    allowed = [limiter.allow(seller, "getListingsItem") for seller in sellers]
    assert allowed == [True] * burst + [False, False]
    assert limiter.refused_for_application == 2
    now[0] += 1.5 / rate  # one application token back (and half of the next)
    assert limiter.allow(sellers[-1], "getListingsItem")
    assert not limiter.allow(sellers[0], "getListingsItem")


def test_a_call_refused_for_the_application_costs_its_seller_nothing(now: list[float]):
    limiter = RateLimiter()
    _, burst = APPLICATION_RATES["getListingsItem"]
    for i in range(burst):
        assert limiter.allow(f"OTHER{i}", "getListingsItem")
    assert not limiter.allow("SELLER", "getListingsItem")
    now[0] += 1.0  # both buckets full again: the seller still has its whole burst
    seller_burst = RATES["getListingsItem"][1]
    assert all(limiter.allow("SELLER", "getListingsItem") for _ in range(seller_burst))
    assert not limiter.allow("SELLER", "getListingsItem")
    assert limiter.refused_for_application == 1


def test_operations_without_an_application_limit_are_per_seller_only(now: list[float]):
    limiter = RateLimiter()
    assert all(limiter.allow(f"SELLER{i}", "getOrder") for i in range(200))
    assert limiter.refused_for_application == 0


def test_a_speedup_keeps_the_burst_a_tenth_of_a_second_of_rate(now: list[float]):
    limiter = RateLimiter(speedup=10)
    _, burst = APPLICATION_RATES["patchListingsItem"]
    allowed = sum(limiter.allow(f"SELLER{i}", "patchListingsItem") for i in range(burst * 10 + 5))
    assert allowed == burst * 10
    limiter.reset()
    assert limiter.allow("SELLER0", "patchListingsItem") and limiter.refused_for_application == 0
