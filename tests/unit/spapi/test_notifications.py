"""Notifications v1: what each operation sends is what notifications.json asks, with the right token."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import jsonschema
import pytest
import spapi
from spapi import (
    DEFAULT_RATE_LIMITS,
    NOTIFICATIONS_SCOPE,
    ORDER_CHANGE,
    EventFilter,
    LwaClient,
    LwaCredentials,
    ProcessingDirective,
    RateLimit,
    RateLimiter,
    RetryPolicy,
    grantless_client,
)
from spapi_fakes import ENDPOINT, amazon_error, no_sleep, ok, unlimited

MODELS = Path("/work/shared/spapi-models")
ARN = "arn:aws:sqs:us-east-1:000000000000:orders-ingest-notifications"


def validate(definition: str, instance: object) -> None:
    definitions = json.loads((MODELS / "notifications.json").read_text())["definitions"]
    jsonschema.Draft4Validator({"$ref": f"#/definitions/{definition}", "definitions": definitions}).validate(instance)


def subscription(subscription_id: str = "sub-1") -> dict:
    return {"subscriptionId": subscription_id, "payloadVersion": "1.0", "destinationId": "dest-1"}


def destination(destination_id: str = "dest-1", arn: str = ARN) -> dict:
    return {"destinationId": destination_id, "name": "orders", "resource": {"sqs": {"arn": arn}}}


class Amazon:
    """The LWA token endpoint and the Notifications API on one mock transport."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.grants: list[dict[str, list[str]]] = []
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/o2/token":
            self.grants.append(parse_qs(request.content.decode()))
            return ok({"access_token": f"Atza|grantless-{len(self.grants)}", "expires_in": 3600})
        self.calls.append(request)
        return self.answers.pop(0)


@pytest.fixture
async def http_for():
    clients: list[httpx.AsyncClient] = []

    def build(amazon: Amazon) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.MockTransport(amazon))
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.aclose()


def grantless(http: httpx.AsyncClient) -> spapi.GrantlessNotificationsApi:
    lwa = LwaClient(
        http, LwaCredentials(client_id="app", client_secret="s3cret"), token_url="https://api.amazon.com/auth/o2/token"
    )
    return grantless_client(
        endpoint=ENDPOINT,
        lwa=lwa,
        http=http,
        limiter=RateLimiter({}, fallback=unlimited()),
        retry=RetryPolicy(max_attempts=2, base_delay=0.01),
        sleep=no_sleep,
    )


async def test_destinations_use_one_cached_grantless_token_of_the_notifications_scope(http_for):
    amazon = Amazon(ok({"payload": destination()}), ok({"payload": [destination(), destination("d2", ARN + "-2")]}))
    api = grantless(http_for(amazon))

    created = await api.create_destination("orders", sqs_arn=ARN)
    listed = await api.get_destinations()

    assert created.destination_id == "dest-1" and created.resource.sqs is not None and created.resource.sqs.arn == ARN
    assert [d.destination_id for d in listed] == ["dest-1", "d2"]
    assert len(amazon.grants) == 1
    (grant,) = amazon.grants
    assert grant["grant_type"] == ["client_credentials"] and grant["scope"] == [NOTIFICATIONS_SCOPE]
    assert "refresh_token" not in grant
    create, get = amazon.calls
    assert (create.method, create.url.path) == ("POST", "/notifications/v1/destinations")
    assert (get.method, get.url.path) == ("GET", "/notifications/v1/destinations")
    assert {r.headers["x-amz-access-token"] for r in amazon.calls} == {"Atza|grantless-1"}
    body = json.loads(create.content)
    validate("CreateDestinationRequest", body)
    assert body == {"name": "orders", "resourceSpecification": {"sqs": {"arn": ARN}}}
    validate("GetDestinationsResponse", {"payload": [destination()]})


async def test_delete_destination_and_subscription_by_id_are_grantless_deletes(http_for):
    amazon = Amazon(ok({}), ok({}))
    api = grantless(http_for(amazon))
    await api.delete_subscription_by_id(ORDER_CHANGE, "sub/1")
    await api.delete_destination("dest-1")
    assert [(r.method, r.url.raw_path.decode()) for r in amazon.calls] == [
        ("DELETE", "/notifications/v1/subscriptions/ORDER_CHANGE/sub%2F1"),
        ("DELETE", "/notifications/v1/destinations/dest-1"),
    ]


async def test_a_refused_grantless_token_is_renewed_once(http_for):
    amazon = Amazon(amazon_error(403, "Unauthorized", "Access to requested resource is denied."), ok({"payload": []}))
    api = grantless(http_for(amazon))
    assert await api.get_destinations() == []
    assert len(amazon.grants) == 2
    assert [r.headers["x-amz-access-token"] for r in amazon.calls] == ["Atza|grantless-1", "Atza|grantless-2"]


async def test_create_subscription_sends_the_seller_token_and_an_order_change_filter(make_client):
    h = make_client(ok({"payload": subscription()}))
    directive = ProcessingDirective(
        event_filter=EventFilter(
            event_filter_type=ORDER_CHANGE, marketplace_ids=["ATVPDKIKX0DER"], order_change_types=["OrderStatusChange"]
        )
    )
    created = await h.client.notifications.create_subscription(ORDER_CHANGE, "dest-1", processing_directive=directive)
    assert created.subscription_id == "sub-1" and created.destination_id == "dest-1"
    (request,) = h.recorder.requests
    assert (request.method, request.url.path) == ("POST", "/notifications/v1/subscriptions/ORDER_CHANGE")
    assert request.headers["x-amz-access-token"].startswith("Atza|unit-test")
    body = json.loads(request.content)
    validate("CreateSubscriptionRequest", body)
    assert body["payloadVersion"] == "1.0" and body["destinationId"] == "dest-1"
    assert body["processingDirective"]["eventFilter"]["eventFilterType"] == "ORDER_CHANGE"
    validate("CreateSubscriptionResponse", {"payload": subscription()})


async def test_get_subscription_reads_the_payload_or_none_when_amazon_has_none(make_client):
    h = make_client(ok({"payload": subscription("sub-9")}), amazon_error(404, "NotFound", "not found"))
    found = await h.client.notifications.get_subscription(ORDER_CHANGE, payload_version="1.0")
    missing = await h.client.notifications.get_subscription(ORDER_CHANGE)
    assert found is not None and found.subscription_id == "sub-9"
    assert missing is None
    assert dict(h.recorder.requests[0].url.params) == {"payloadVersion": "1.0"}
    assert dict(h.recorder.requests[1].url.params) == {}


async def test_a_conflict_is_an_error_with_amazons_code(make_client):
    h = make_client(amazon_error(409, "Conflict", "already subscribed"))
    with pytest.raises(spapi.SpApiError) as caught:
        await h.client.notifications.create_subscription(ORDER_CHANGE, "dest-1")
    assert caught.value.status == 409 and caught.value.codes == ["Conflict"]


def test_every_notifications_operation_has_the_models_usage_plan():
    model = json.loads((MODELS / "notifications.json").read_text())
    ours = {op.name: op for op in spapi.ALL_OPERATIONS if op.api == "notifications"}
    assert set(ours) == {
        "createDestination",
        "getDestinations",
        "deleteDestination",
        "createSubscription",
        "getSubscription",
        "getSubscriptionById",
        "deleteSubscriptionById",
    }
    for path, methods in model["paths"].items():
        for method, op in methods.items():
            if isinstance(op, dict) and op.get("operationId") in ours:
                mine = ours[op["operationId"]]
                assert (mine.method, mine.path) == (method.upper(), path)
                assert "| 1 | 5 |" in op["description"]
                assert DEFAULT_RATE_LIMITS[mine.key] == RateLimit(1.0, 5)
