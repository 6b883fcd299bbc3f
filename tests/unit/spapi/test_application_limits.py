"""Amazon's per-application limits in the limiter: the defaults and shares, the seller's token first, refusals
within max_wait, and the clients passing them on."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import spapi
from spapi import APPLICATION_RATE_LIMITS, Priority, RateLimit, RateLimited, RateLimiter, application_limits
from spapi.operations import GET_LISTINGS_ITEM, SEARCH_ORDERS
from spapi_fakes import ACCESS_TOKEN, ENDPOINT, SELLER, FakeClock, Recorder, ok, settle


class FakeApplication:
    """spapi.ApplicationLimits that records what it was asked, and refuses while `refuse` is set."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int, float | None]] = []
        self.refuse: float | None = None

    async def acquire(self, operation: str, priority: int = 1, *, max_wait: float | None = None) -> float | None:
        self.asked.append((operation, priority, max_wait))
        return self.refuse


def test_the_defaults_are_amazons_per_application_rates():
    assert APPLICATION_RATE_LIMITS["listings.patchListingsItem"].rate == 500
    assert APPLICATION_RATE_LIMITS["listings.getListingsItem"].rate == 100
    # No published burst: a tenth of a second of the rate.
    assert all(limit.burst == limit.rate / 10 for limit in APPLICATION_RATE_LIMITS.values())


def test_shares_and_speedup_scale_rate_and_burst():
    limits = application_limits(rate_scale=10, shares={"listings.getListingsItem": 0.5})
    assert limits["listings.getListingsItem"] == RateLimit(500.0, 50)
    assert limits["listings.patchListingsItem"] == RateLimit(5000.0, 500)
    tiny = application_limits(shares={"listings.getListingsItem": 0.01})
    assert tiny["listings.getListingsItem"] == RateLimit(1.0, 2)  # a shared limit needs a burst of 2


@pytest.mark.parametrize(
    "shares", [{"orders.getOrder": 0.5}, {"listings.getListingsItem": 0.0}, {"listings.getListingsItem": 1.5}]
)
def test_a_share_of_nothing_or_out_of_range_is_refused(shares: dict[str, float]):
    with pytest.raises(ValueError):
        application_limits(shares=shares)


async def test_the_sellers_token_comes_first_so_a_throttled_seller_holds_no_application_token():
    clock = FakeClock()
    application = FakeApplication()
    limiter = RateLimiter({"listings.getListingsItem": RateLimit(1.0, 1)}, clock=clock, sleep=clock.sleep,
                          application=application)  # fmt: skip
    await limiter.acquire(SELLER, "listings.getListingsItem", Priority.HIGH)
    assert application.asked == [("listings.getListingsItem", 0, None)]
    second = asyncio.create_task(limiter.acquire(SELLER, "listings.getListingsItem"))
    await settle()
    assert len(application.asked) == 1  # still waiting for the seller's token
    await clock.advance(1.0)
    await second
    assert application.asked[1] == ("listings.getListingsItem", 1, None)


async def test_an_application_refusal_is_rate_limited_with_its_wait_and_max_wait_counts_both_waits():
    clock = FakeClock()
    application = FakeApplication()
    limiter = RateLimiter({"listings.getListingsItem": RateLimit(1.0, 1)}, clock=clock, sleep=clock.sleep,
                          application=application)  # fmt: skip
    await limiter.acquire(SELLER, "listings.getListingsItem")
    waiting = asyncio.create_task(limiter.acquire(SELLER, "listings.getListingsItem", max_wait=1.5))
    await settle()
    await clock.advance(1.0)
    await waiting
    assert application.asked[-1][2] == pytest.approx(0.5)
    application.refuse = 7.0
    await clock.advance(1.0)
    with pytest.raises(RateLimited) as refused:
        await limiter.acquire(SELLER, "listings.getListingsItem", max_wait=2.0)
    assert refused.value.retry_after == 7.0


async def test_clients_pass_the_application_limits_on_to_every_call():
    application = FakeApplication()
    recorder = Recorder([ok({"sku": "SKU-1"}), ok({"orders": []})])
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http:
        clients = spapi.SpApiClients(
            http, lambda _: spapi.StaticTokenSource(ACCESS_TOKEN), application_limits=application
        )
        assert clients.limiter.application is application
        client = spapi.SpApiClient(
            endpoint=ENDPOINT, selling_partner_id=SELLER, token_source=spapi.StaticTokenSource(ACCESS_TOKEN),
            http=http, limiter=clients.limiter,
        )  # fmt: skip
        await client.call(GET_LISTINGS_ITEM, path_params={"sellerId": SELLER, "sku": "SKU-1"})
        await client.call(SEARCH_ORDERS)
    # Every operation asks; the application limits let through at once those they do not limit.
    assert [operation for operation, _, _ in application.asked] == [GET_LISTINGS_ITEM.key, SEARCH_ORDERS.key]


def test_a_limiter_and_application_limits_together_are_refused():
    with pytest.raises(ValueError, match="application"):
        spapi.SpApiClients(httpx.AsyncClient(), lambda _: spapi.StaticTokenSource(ACCESS_TOKEN),
                           limiter=RateLimiter(), application_limits=FakeApplication())  # fmt: skip
