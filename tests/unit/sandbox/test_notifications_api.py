"""Notifications v1 in the sandbox: grantless destinations, a seller's subscription, and who gets ORDER_CHANGE."""

from __future__ import annotations

import socket

import httpx
import pytest
from spapi_sandbox.notifications import queue_url
from testkit import eventually

ARN = "arn:aws:sqs:us-east-1:000000000000:orders-ingest-notifications"
SCOPE = "sellingpartnerapi::notifications"


async def grantless_headers(api: httpx.AsyncClient, scope: str = SCOPE) -> dict[str, str]:
    answer = await api.post(
        "/auth/o2/token",
        data={"grant_type": "client_credentials", "scope": scope, "client_id": "id", "client_secret": "secret"},
    )
    return {"x-amz-access-token": answer.json()["access_token"]}


async def create_destination(api: httpx.AsyncClient, arn: str = ARN) -> httpx.Response:
    body = {"name": "orders", "resourceSpecification": {"sqs": {"arn": arn}}}
    return await api.post("/notifications/v1/destinations", json=body, headers=await grantless_headers(api))


async def test_destinations_need_a_grantless_token_of_the_notifications_scope(api: httpx.AsyncClient) -> None:
    with_seller_token = await api.get("/notifications/v1/destinations")
    other_scope = await api.get("/notifications/v1/destinations", headers=await grantless_headers(api, "other"))
    assert with_seller_token.status_code == 403 and other_scope.status_code == 403
    assert with_seller_token.json()["errors"][0]["code"] == "Unauthorized"
    listed = await api.get("/notifications/v1/destinations", headers=await grantless_headers(api))
    assert listed.status_code == 200 and listed.json() == {"payload": []}


async def test_one_destination_per_arn_and_a_bad_arn_is_invalid_input(api: httpx.AsyncClient) -> None:
    created = await create_destination(api)
    assert created.status_code == 200, created.text
    payload = created.json()["payload"]
    assert payload["resource"] == {"sqs": {"arn": ARN}} and payload["name"] == "orders"
    again = await create_destination(api)
    assert again.status_code == 409 and again.json()["errors"][0]["code"] == "Conflict"
    bad = await create_destination(api, "arn:aws:sns:us-east-1:1:topic")
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "InvalidInput"
    listed = await api.get("/notifications/v1/destinations", headers=await grantless_headers(api))
    assert [d["destinationId"] for d in listed.json()["payload"]] == [payload["destinationId"]]


async def test_subscription_lifecycle_and_order_change_names_it(api: httpx.AsyncClient) -> None:
    destination_id = (await create_destination(api)).json()["payload"]["destinationId"]
    body = {"payloadVersion": "1.0", "destinationId": destination_id}
    assert (await api.get("/notifications/v1/subscriptions/ORDER_CHANGE")).status_code == 404
    created = await api.post("/notifications/v1/subscriptions/ORDER_CHANGE", json=body)
    assert created.status_code == 200, created.text
    subscription_id = created.json()["payload"]["subscriptionId"]
    duplicate = await api.post("/notifications/v1/subscriptions/ORDER_CHANGE", json=body)
    assert duplicate.status_code == 409
    read = await api.get("/notifications/v1/subscriptions/ORDER_CHANGE", params={"payloadVersion": "1.0"})
    assert read.json()["payload"] == {
        "subscriptionId": subscription_id,
        "payloadVersion": "1.0",
        "destinationId": destination_id,
    }
    in_use = await api.delete(f"/notifications/v1/destinations/{destination_id}", headers=await grantless_headers(api))
    assert in_use.status_code == 409

    await api.post("/_sandbox/orders", json={"items": [{"sku": "SKU-1", "quantity": 1}]})
    world = api.world  # type: ignore[attr-defined]
    assert world.notifier.sent[-1]["NotificationMetadata"]["SubscriptionId"] == subscription_id

    by_seller = await api.delete(f"/notifications/v1/subscriptions/ORDER_CHANGE/{subscription_id}")
    assert by_seller.status_code == 403  # deleteSubscriptionById is grantless
    path = f"/notifications/v1/subscriptions/ORDER_CHANGE/{subscription_id}"
    assert (await api.delete(path, headers=await grantless_headers(api))).status_code == 200
    assert (await api.get(path, headers=await grantless_headers(api))).status_code == 404
    assert (await api.get("/notifications/v1/subscriptions/ORDER_CHANGE")).status_code == 404
    gone = await api.delete(f"/notifications/v1/destinations/{destination_id}", headers=await grantless_headers(api))
    assert gone.status_code == 200


async def test_a_subscription_needs_a_known_destination_and_a_deliverable_type(api: httpx.AsyncClient) -> None:
    unknown = await api.post(
        "/notifications/v1/subscriptions/ORDER_CHANGE", json={"payloadVersion": "1.0", "destinationId": "nope"}
    )
    assert unknown.status_code == 400
    destination_id = (await create_destination(api)).json()["payload"]["destinationId"]
    other_type = await api.post(
        "/notifications/v1/subscriptions/ANY_OFFER_CHANGED",
        json={"payloadVersion": "1.0", "destinationId": destination_id},
    )
    assert other_type.status_code == 400


def test_an_sqs_arn_maps_to_the_endpoints_account_and_queue() -> None:
    assert (
        queue_url("http://127.0.0.1:19324/", ARN) == "http://127.0.0.1:19324/000000000000/orders-ingest-notifications"
    )
    with pytest.raises(ValueError):
        queue_url("http://127.0.0.1:19324", "arn:aws:sqs:us-east-1:queue-without-account")


async def subscribe_default_seller(api: httpx.AsyncClient) -> None:
    destination_id = (await create_destination(api)).json()["payload"]["destinationId"]
    body = {"payloadVersion": "1.0", "destinationId": destination_id}
    assert (await api.post("/notifications/v1/subscriptions/ORDER_CHANGE", json=body)).status_code == 200


async def delivery_counts(api: httpx.AsyncClient) -> dict[str, int]:
    status = (await api.get("/_sandbox/notifications")).json()
    return {k: status[k] for k in ("sqs_delivered", "sqs_failed")}


async def test_an_undeliverable_order_change_is_counted_as_failed(api: httpx.AsyncClient) -> None:
    await subscribe_default_seller(api)
    await api.post("/_sandbox/orders", json={"items": [{"sku": "SKU-1", "quantity": 1}]})  # no SQS endpoint set
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    await api.post("/_sandbox/notifications/sqs-endpoint", json={"url": f"http://127.0.0.1:{port}"})
    await api.post("/_sandbox/orders", json={"items": [{"sku": "SKU-1", "quantity": 1}]})  # nobody listens there

    async def both_failed() -> bool:
        return await delivery_counts(api) == {"sqs_delivered": 0, "sqs_failed": 2}

    await eventually(both_failed, timeout=10)
