"""Token buckets under a fake clock: pacing, burst, priorities, header adjustment, 429 drain."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import spapi
from spapi import DEFAULT_RATE_LIMITS, Priority, RateLimit, RateLimited, RateLimiter, TokenBucket
from spapi_fakes import ACCESS_TOKEN, ENDPOINT, SELLER, FakeClock, Recorder, ok, settle


def test_defaults_match_amazons_published_plans():
    assert DEFAULT_RATE_LIMITS["ordersV0.confirmShipment"] == RateLimit(2.0, 10)
    assert DEFAULT_RATE_LIMITS["orders.searchOrders"] == RateLimit(0.0056, 20)
    assert DEFAULT_RATE_LIMITS["listings.patchListingsItem"] == RateLimit(5.0, 5)
    assert DEFAULT_RATE_LIMITS["listings.getListingsItem"] == RateLimit(5.0, 5)  # Amazon's rate-limit page
    assert DEFAULT_RATE_LIMITS["feeds.createFeed"] == RateLimit(0.0083, 15)
    json_feed = DEFAULT_RATE_LIMITS["feeds.createFeed:JSON_LISTINGS_FEED"]
    assert json_feed.burst == 5 and json_feed.rate * 300 == pytest.approx(5)


async def test_burst_is_free_then_calls_are_paced_at_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(rate=2.0, burst=3), clock=clock, sleep=clock.sleep)
    granted: list[float] = []

    async def call() -> None:
        await bucket.acquire()
        granted.append(clock.now)

    tasks = [asyncio.create_task(call()) for _ in range(7)]
    await settle()
    assert granted == [0.0, 0.0, 0.0]
    for _ in range(8):
        await clock.advance(0.25)
    await asyncio.gather(*tasks)
    assert granted == [0.0, 0.0, 0.0, 0.5, 1.0, 1.5, 2.0]


async def test_a_waiting_high_priority_call_gets_the_next_token_first():
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(rate=1.0, burst=1), clock=clock, sleep=clock.sleep)
    await bucket.acquire()  # the bucket is now empty
    order: list[str] = []

    async def call(name: str, priority: Priority) -> None:
        await bucket.acquire(priority)
        order.append(name)

    tasks = [asyncio.create_task(call("catalog-1", Priority.LOW))]
    await settle()
    tasks.append(asyncio.create_task(call("stock-1", Priority.NORMAL)))
    await settle()
    tasks.append(asyncio.create_task(call("catalog-2", Priority.LOW)))
    await settle()
    tasks.append(asyncio.create_task(call("shipment-1", Priority.HIGH)))
    await settle()
    assert order == []
    for _ in range(4):
        await clock.advance(1.0)
    await asyncio.gather(*tasks)
    assert order == ["shipment-1", "stock-1", "catalog-1", "catalog-2"]


async def test_a_new_call_does_not_jump_ahead_of_waiting_calls_of_the_same_priority():
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(rate=1.0, burst=1), clock=clock, sleep=clock.sleep)
    await bucket.acquire()
    order: list[int] = []

    async def call(n: int) -> None:
        await bucket.acquire(Priority.NORMAL)
        order.append(n)

    tasks = []
    for n in range(3):
        tasks.append(asyncio.create_task(call(n)))
        await settle()
    for _ in range(3):
        await clock.advance(1.0)
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]


async def test_a_cancelled_waiter_leaves_the_queue_and_the_next_one_is_served():
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(rate=1.0, burst=1), clock=clock, sleep=clock.sleep)
    await bucket.acquire()
    first = asyncio.create_task(bucket.acquire(Priority.HIGH))
    await settle()
    second = asyncio.create_task(bucket.acquire(Priority.LOW))
    await settle()
    first.cancel()
    await settle()
    assert bucket.waiting == 1
    await clock.advance(1.0)
    await second
    assert bucket.waiting == 0


async def test_header_rate_replaces_the_default():
    clock = FakeClock()
    limiter = RateLimiter({"x.op": RateLimit(1.0, 1)}, clock=clock, sleep=clock.sleep)
    limiter.observe("S1", "x.op", "4.0")
    assert limiter.bucket("S1", "x.op").rate == 4.0
    limiter.observe("S1", "x.op", "not-a-number")
    limiter.observe("S1", "x.op", None)
    assert limiter.bucket("S1", "x.op").rate == 4.0


async def test_buckets_are_per_selling_partner_and_operation():
    clock = FakeClock()
    limiter = RateLimiter({"x.a": RateLimit(1.0, 1), "x.b": RateLimit(1.0, 1)}, clock=clock, sleep=clock.sleep)
    await limiter.acquire("S1", "x.a")
    # Other seller, other operation: both still have their own full bucket.
    await asyncio.wait_for(limiter.acquire("S2", "x.a"), timeout=1)
    await asyncio.wait_for(limiter.acquire("S1", "x.b"), timeout=1)
    assert limiter.bucket("S1", "x.a").available() == 0


async def test_rate_scale_speeds_default_buckets_up_but_a_reported_rate_is_taken_as_is():
    clock = FakeClock()
    limiter = RateLimiter({"x.op": RateLimit(0.5, 1)}, rate_scale=10, clock=clock, sleep=clock.sleep)
    assert limiter.bucket("S1", "x.op").rate == 5.0
    limiter.observe("S1", "x.op", "2")
    assert limiter.bucket("S1", "x.op").rate == 2.0


async def test_a_429_empties_the_bucket():
    clock = FakeClock()
    limiter = RateLimiter({"x.op": RateLimit(1.0, 10)}, clock=clock, sleep=clock.sleep)
    limiter.throttled("S1", "x.op")
    assert limiter.bucket("S1", "x.op").available() == 0


async def test_client_adopts_the_rate_amazon_reports(make_client):
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    body = {"payload": []}
    h = make_client(ok(body, headers={"x-amzn-RateLimit-Limit": "0.5"}), limiter=limiter)
    await h.client.sellers.get_marketplace_participations()
    assert limiter.bucket(h.client.selling_partner_id, "sellers.getMarketplaceParticipations").rate == 0.5


async def test_client_waits_for_its_bucket_before_calling():
    # Driven directly so the fake clock, not the harness's no-op sleep, decides when calls go out.
    import httpx
    from spapi import SpApiClient, StaticTokenSource

    clock = FakeClock()
    sent: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(clock.now)
        return httpx.Response(204)

    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    client = SpApiClient(
        endpoint="https://sellingpartnerapi-na.amazon.com",
        selling_partner_id="S1",
        token_source=StaticTokenSource("t"),
        http=httpx.AsyncClient(transport=httpx.MockTransport(answer)),
        limiter=limiter,
    )
    from datetime import UTC, datetime

    from spapi import ConfirmShipmentOrderItem, ConfirmShipmentRequest, PackageDetail

    request = ConfirmShipmentRequest(
        marketplace_id="ATVPDKIKX0DER",
        package_detail=PackageDetail(
            package_reference_id="1",
            carrier_code="UPS",
            tracking_number="1Z",
            ship_date=datetime(2026, 1, 1, tzinfo=UTC),
            order_items=[ConfirmShipmentOrderItem(order_item_id="1", quantity=1)],
        ),
    )
    tasks = [asyncio.create_task(client.orders_v0.confirm_shipment(f"o-{n}", request)) for n in range(12)]
    await settle()
    assert len(sent) == 10  # confirmShipment: burst 10, then 2 per second
    await clock.advance(0.5)
    assert len(sent) == 11
    await clock.advance(0.5)
    await asyncio.gather(*tasks)
    assert sent[-1] == 1.0


async def test_a_bounded_wait_is_refused_at_once_when_the_next_token_is_further_away():
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(rate=0.016, burst=2), clock=clock, sleep=clock.sleep, name="sellers.op")
    await bucket.acquire(max_wait=3)
    await bucket.acquire(max_wait=3)
    with pytest.raises(RateLimited) as refused:
        await bucket.acquire(max_wait=3)
    assert refused.value.retry_after == pytest.approx(1 / 0.016)
    assert refused.value.operation == "sellers.op"
    assert clock.slept == [] and bucket.waiting == 0
    clock.now = 1 / 0.016
    await bucket.acquire(max_wait=3)  # a token has refilled


async def test_a_bounded_wait_waits_when_the_token_comes_in_time():
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(rate=1.0, burst=1), clock=clock, sleep=clock.sleep)
    await bucket.acquire()
    waiting = asyncio.create_task(bucket.acquire(max_wait=2))
    await settle()
    assert not waiting.done()
    await clock.advance(1.0)
    await waiting
    assert clock.now == 1.0


async def test_a_bounded_wait_overtaken_by_higher_priority_calls_gives_up_when_its_time_is_up():
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(rate=1.0, burst=1), clock=clock, sleep=clock.sleep)
    await bucket.acquire()
    bounded = asyncio.create_task(bucket.acquire(Priority.LOW, max_wait=1.5))
    await settle()
    urgent = [asyncio.create_task(bucket.acquire(Priority.HIGH)) for _ in range(3)]
    await settle()
    await clock.advance(1.5)
    with pytest.raises(RateLimited) as refused:
        await bounded
    assert refused.value.retry_after > 0
    assert bucket.waiting == 2  # the refused call left the queue; the others still wait their turn
    await clock.advance(3.0)
    await asyncio.gather(*urgent)


async def test_the_limiter_passes_max_wait_per_call_and_names_the_operation():
    clock = FakeClock()
    limiter = RateLimiter({"sellers.getMarketplaceParticipations": RateLimit(0.016, 1)}, clock=clock, sleep=clock.sleep)
    await limiter.acquire(SELLER, "sellers.getMarketplaceParticipations", max_wait=5)
    with pytest.raises(RateLimited) as refused:
        await limiter.acquire(SELLER, "sellers.getMarketplaceParticipations", max_wait=5)
    assert refused.value.operation == "sellers.getMarketplaceParticipations"
    assert "62.5 s" in str(refused.value)
    assert isinstance(refused.value, spapi.SpApiError)


async def test_a_client_call_with_max_wait_is_refused_before_anything_is_sent():
    clock = FakeClock()
    recorder = Recorder(default=ok({"payload": []}))
    client = spapi.SpApiClient(
        endpoint=ENDPOINT,
        selling_partner_id=SELLER,
        token_source=spapi.StaticTokenSource(ACCESS_TOKEN),
        http=httpx.AsyncClient(transport=httpx.MockTransport(recorder)),
        limiter=RateLimiter(
            {"sellers.getMarketplaceParticipations": RateLimit(0.016, 2)}, clock=clock, sleep=clock.sleep
        ),
    )
    for _ in range(2):
        assert await client.sellers.get_marketplace_participations(max_wait=3) == []
    with pytest.raises(RateLimited) as refused:
        await client.sellers.get_marketplace_participations(max_wait=3)
    assert len(recorder.requests) == 2
    assert refused.value.retry_after == pytest.approx(62.5)
