"""Amazon's usage plans per (seller, operation): burst, then 429 QuotaExceeded until tokens refill."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
from spapi_sandbox import ratelimit
from spapi_sandbox.ratelimit import RATES, RateLimiter, header_value
from testkit import eventually

LISTING = "/listings/2021-08-01/items/A1SANDBOXSELLER/SKU-1"


def test_burst_then_throttle_then_refill(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    # The limiter's own clock, so refilling is a step of time rather than a sleep.
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(monotonic=lambda: now[0]))
    limiter = RateLimiter(speedup=1000)  # patchListingsItem: 5000 rps, burst 5
    assert all(limiter.allow("S", "patchListingsItem") for _ in range(5))
    assert not limiter.allow("S", "patchListingsItem")
    now[0] += 0.0001  # half a token
    assert not limiter.allow("S", "patchListingsItem")
    now[0] += 0.00015  # a token and a quarter in all
    assert limiter.allow("S", "patchListingsItem")
    assert not limiter.allow("S", "patchListingsItem")


def test_buckets_are_per_seller_and_operation() -> None:
    limiter = RateLimiter()
    for _ in range(RATES["getFeedDocument"][1]):
        assert limiter.allow("A", "getFeedDocument")
    assert not limiter.allow("A", "getFeedDocument")
    assert limiter.allow("B", "getFeedDocument")
    assert limiter.allow("A", "getFeed")


def test_json_listings_feed_has_its_own_plan_of_five_per_five_minutes() -> None:
    rate, burst = RATES["createFeed:JSON_LISTINGS_FEED"]
    assert burst == 5
    assert abs(rate * 300 - 5) < 1e-9


def test_header_reports_the_effective_rate() -> None:
    assert header_value(RATES["searchOrders"][0]) == "0.0056"
    assert header_value(RateLimiter(speedup=100).rate("patchListingsItem")) == "500"


async def test_sixth_patch_in_a_burst_gets_429_without_rate_header(api: httpx.AsyncClient) -> None:
    await api.post("/_sandbox/listings", json={"sku": "SKU-1", "quantity": 1})
    body = {
        "productType": "PRODUCT",
        "patches": [
            {
                "op": "merge",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 2}],
            }
        ],
    }
    statuses = []
    for _ in range(6):
        response = await api.patch(LISTING, params={"marketplaceIds": "ATVPDKIKX0DER"}, json=body)
        statuses.append(response.status_code)
    assert statuses == [200] * 5 + [429]
    assert response.json() == {
        "errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}]
    }
    assert "x-amzn-RateLimit-Limit" not in response.headers
    world = api.world  # type: ignore[attr-defined]

    async def applied() -> bool:
        return len(world.ledger.query(kind="quantity")) == 5

    await eventually(applied, timeout=5, interval=0.01)  # the five accepted patches take effect shortly after
    throttled = [r for r in world.state.requests if r.status == 429]
    assert [r.operation for r in throttled] == ["patchListingsItem"]


async def test_sixth_get_listings_item_in_a_burst_gets_429(api: httpx.AsyncClient) -> None:
    # Amazon's current rate-limit page gives getListingsItem burst 5 (the model's text still says 10).
    assert RATES["getListingsItem"] == (5.0, 5)
    await api.post("/_sandbox/listings", json={"sku": "SKU-1", "quantity": 1})
    statuses = [(await api.get(LISTING, params={"marketplaceIds": "ATVPDKIKX0DER"})).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]


async def test_injected_faults_hit_only_their_operation_and_count(api: httpx.AsyncClient) -> None:
    await api.post("/_sandbox/faults", json={"operation": "getMarketplaceParticipations", "status": 503, "count": 2})
    first = await api.get("/sellers/v1/marketplaceParticipations")
    second = await api.get("/sellers/v1/marketplaceParticipations")
    third = await api.get("/sellers/v1/marketplaceParticipations")
    assert [first.status_code, second.status_code, third.status_code] == [503, 503, 200]
    assert first.json()["errors"][0]["code"] == "ServiceUnavailable"
    await api.post("/_sandbox/faults", json={"status": 500, "error_rate": 0.0})
    assert (await api.get("/sellers/v1/marketplaceParticipations")).status_code == 200
    await api.delete("/_sandbox/faults")
