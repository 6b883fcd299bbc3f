"""Which responses the client retries, how often, and how long it waits."""

from __future__ import annotations

import random

import httpx
import pytest
import spapi
from spapi import RetryPolicy
from spapi.retry import parse_retry_after
from spapi_fakes import ACCESS_TOKEN, amazon_error, ok

ORDER = {
    "orderId": "902-1845936-5435065",
    "createdTime": "2026-01-01T00:00:00Z",
    "lastUpdatedTime": "2026-01-01T00:00:00Z",
    "salesChannel": {"channelName": "AMAZON"},
    "orderItems": [],
}


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_retryable_status_is_retried_until_success(make_client, status):
    h = make_client(amazon_error(status, "QuotaExceeded"), amazon_error(status, "QuotaExceeded"), ok({"order": ORDER}))
    order = await h.client.orders.get_order("902-1845936-5435065")
    assert order.order_id == "902-1845936-5435065"
    assert len(h.recorder.requests) == 3
    assert len(h.slept) == 2


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, spapi.InvalidInput),
        (401, spapi.Unauthorized),
        (403, spapi.Forbidden),
        (404, spapi.NotFound),
        (413, spapi.PayloadTooLarge),
        (415, spapi.UnsupportedMediaType),
    ],
)
async def test_client_error_is_never_retried(make_client, status, error_type):
    h = make_client(amazon_error(status, "SomeCode", "Some message"), default=ok({"order": ORDER}))
    with pytest.raises(error_type) as caught:
        await h.client.orders.get_order("902-1845936-5435065")
    assert len(h.recorder.requests) == 1
    assert h.slept == []
    assert caught.value.status == status
    assert caught.value.operation == "orders.getOrder"
    assert caught.value.errors == [spapi.AmazonError(code="SomeCode", message="Some message")]


async def test_attempts_are_bounded(make_client):
    h = make_client(default=amazon_error(503, "ServiceUnavailable"), retry=RetryPolicy(max_attempts=3, base_delay=0.1))
    with pytest.raises(spapi.ServerError) as caught:
        await h.client.orders.get_order("1")
    assert len(h.recorder.requests) == 3
    assert caught.value.status == 503


async def test_throttled_after_every_retry_raises_throttled_with_amazon_errors(make_client):
    h = make_client(default=amazon_error(429, "QuotaExceeded", "You exceeded your quota for the requested resource."))
    with pytest.raises(spapi.Throttled) as caught:
        await h.client.orders.get_order("1")
    assert caught.value.codes == ["QuotaExceeded"]
    assert len(h.recorder.requests) == 4


async def test_other_5xx_is_not_retried(make_client):
    h = make_client(amazon_error(502, "BadGateway"), default=ok({"order": ORDER}))
    with pytest.raises(spapi.ServerError):
        await h.client.orders.get_order("1")
    assert len(h.recorder.requests) == 1


async def test_retry_after_header_is_honoured(make_client):
    h = make_client(amazon_error(429, "QuotaExceeded", headers={"retry-after": "7"}), ok({"order": ORDER}))
    await h.client.orders.get_order("1")
    assert h.slept[0] >= 7


async def test_read_timeout_on_a_read_is_retried(make_client):
    h = make_client(httpx.ReadTimeout("slow"), ok({"order": ORDER}))
    await h.client.orders.get_order("1")
    assert len(h.recorder.requests) == 2


async def test_timeouts_on_every_attempt_raise_request_timeout(make_client):
    h = make_client(*[httpx.ReadTimeout("slow")] * 4)
    with pytest.raises(spapi.RequestTimeout):
        await h.client.orders.get_order("1")
    assert len(h.recorder.requests) == 4


def _shipment() -> spapi.ConfirmShipmentRequest:
    from datetime import UTC, datetime

    return spapi.ConfirmShipmentRequest(
        marketplace_id="ATVPDKIKX0DER",
        package_detail=spapi.PackageDetail(
            package_reference_id="1",
            carrier_code="UPS",
            tracking_number="1Z999",
            ship_date=datetime(2026, 1, 2, tzinfo=UTC),
            order_items=[spapi.ConfirmShipmentOrderItem(order_item_id="79039765272157", quantity=1)],
        ),
    )


async def test_read_timeout_on_a_write_is_not_repeated(make_client):
    h = make_client(httpx.ReadTimeout("slow"), default=ok(status=204))
    with pytest.raises(spapi.OutcomeUnknown):
        await h.client.orders_v0.confirm_shipment("902-1106328-1059050", _shipment())
    assert len(h.recorder.requests) == 1


async def test_connect_failure_on_a_write_is_retried_because_nothing_was_sent(make_client):
    h = make_client(httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), ok(status=204))
    await h.client.orders_v0.confirm_shipment("902-1106328-1059050", _shipment())
    assert len(h.recorder.requests) == 3


async def test_throttled_write_is_retried(make_client):
    h = make_client(amazon_error(429, "QuotaExceeded"), amazon_error(503, "Unavailable"), ok(status=204))
    await h.client.orders_v0.confirm_shipment("902-1106328-1059050", _shipment())
    assert len(h.recorder.requests) == 3


class RotatingTokens:
    def __init__(self) -> None:
        self.issued = 0
        self.invalidated: list[str] = []
        self._current: str | None = None

    async def access_token(self) -> str:
        if self._current is None:
            self.issued += 1
            self._current = f"token-{self.issued}"
        return self._current

    def invalidate(self, token: str) -> None:
        self.invalidated.append(token)
        if token == self._current:
            self._current = None


async def test_expired_token_is_renewed_once_then_the_call_succeeds(make_client):
    tokens = RotatingTokens()
    h = make_client(
        amazon_error(403, "Unauthorized", "The access token you provided has expired."),
        ok({"order": ORDER}),
        token_source=tokens,
    )
    await h.client.orders.get_order("1")
    assert tokens.invalidated == ["token-1"]
    assert [r.headers["x-amz-access-token"] for r in h.recorder.requests] == ["token-1", "token-2"]


async def test_token_refused_twice_fails_without_more_attempts(make_client):
    tokens = RotatingTokens()
    h = make_client(default=amazon_error(401, "Unauthorized"), token_source=tokens)
    with pytest.raises(spapi.Unauthorized):
        await h.client.orders.get_order("1")
    assert len(h.recorder.requests) == 2
    assert h.slept == []


async def test_static_token_refused_is_not_retried(make_client):
    h = make_client(default=amazon_error(403, "Unauthorized"))
    with pytest.raises(spapi.Forbidden):
        await h.client.orders.get_order("1")
    assert len(h.recorder.requests) == 1
    assert h.recorder.requests[0].headers["x-amz-access-token"] == ACCESS_TOKEN


class MaxRandom(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b


def test_backoff_is_exponential_up_to_the_cap():
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    assert [policy.backoff(n, MaxRandom()) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_backoff_is_full_jitter():
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    rng = random.Random(1)
    delays = [policy.backoff(4, rng) for _ in range(500)]
    assert min(delays) >= 0 and max(delays) <= 8.0
    # Full jitter spreads over the whole interval, not just near its top.
    assert min(delays) < 1.0 and max(delays) > 7.0


def test_retry_after_is_capped():
    policy = RetryPolicy(max_retry_after=60)
    assert policy.delay(1, 3600, random.Random(0)) == 60


def test_retry_after_parses_seconds_and_http_dates():
    assert parse_retry_after("12") == 12
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412470.0) == 10
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_a_policy_cannot_be_told_to_retry_client_errors():
    with pytest.raises(ValueError):
        RetryPolicy(retry_statuses=frozenset({429, 400}))
