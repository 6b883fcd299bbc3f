"""ORDER_CHANGE reaches a subscribed seller's SQS destination in a real ElasticMQ, as Amazon delivers it."""

from __future__ import annotations

import json
from typing import Any

from testkit import eventually
from testkit.sandbox import Sandbox
from testkit.sqs import SqsQueue

SCOPE = "sellingpartnerapi::notifications"


def grantless(sandbox: Sandbox) -> dict[str, str]:
    form = {"grant_type": "client_credentials", "scope": SCOPE, "client_id": "app", "client_secret": "secret"}
    answer = sandbox.client.post("/auth/o2/token", data=form)
    answer.raise_for_status()
    return {"x-amz-access-token": answer.json()["access_token"]}


def subscribe(sandbox: Sandbox, queue: SqsQueue, *, seller_headers: dict[str, str], **directive: Any) -> str:
    arn = f"arn:aws:sqs:us-east-1:000000000000:{queue.name}"
    created = sandbox.client.post(
        "/notifications/v1/destinations",
        json={"name": "orders", "resourceSpecification": {"sqs": {"arn": arn}}},
        headers=grantless(sandbox),
    )
    assert created.status_code == 200, created.text
    body: dict[str, Any] = {"payloadVersion": "1.0", "destinationId": created.json()["payload"]["destinationId"]}
    if directive:
        body["processingDirective"] = {"eventFilter": {"eventFilterType": "ORDER_CHANGE", **directive}}
    subscribed = sandbox.client.post("/notifications/v1/subscriptions/ORDER_CHANGE", json=body, headers=seller_headers)
    assert subscribed.status_code == 200, subscribed.text
    return str(subscribed.json()["payload"]["subscriptionId"])


async def receive(queue: SqsQueue, wait_seconds: int = 5) -> list[dict[str, Any]]:
    answer = await queue.client.receive_message(
        QueueUrl=queue.url, WaitTimeSeconds=wait_seconds, MaxNumberOfMessages=10
    )
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def point_at(sandbox: Sandbox, sqs_endpoint_url: str) -> None:
    sandbox.client.post("/_sandbox/notifications/sqs-endpoint", json={"url": sqs_endpoint_url}).raise_for_status()


async def test_a_subscribed_sellers_order_change_lands_in_its_queue_as_the_notification_document(
    sandbox: Sandbox, sqs: SqsQueue, sqs_endpoint_url: str
) -> None:
    point_at(sandbox, sqs_endpoint_url)
    subscription_id = subscribe(sandbox, sqs, seller_headers=sandbox.headers())

    order = sandbox.create_order([{"sku": "SKU-SQS", "quantity": 2}])

    (message,) = await receive(sqs)
    (sent,) = sandbox.notifications(order["AmazonOrderId"])
    assert message == sent
    assert message["NotificationType"] == "ORDER_CHANGE" and message["PayloadVersion"] == "1.0"
    assert message["NotificationMetadata"]["SubscriptionId"] == subscription_id
    change = message["Payload"]["OrderChangeNotification"]
    assert change["AmazonOrderId"] == order["AmazonOrderId"] and change["SellerId"] == sandbox.seller_id

    async def counted() -> bool:
        # The queue can hand the message out before the sandbox has read SQS's answer and counted it.
        status = sandbox.client.get("/_sandbox/notifications").json()
        assert status["sqs_failed"] == 0
        return bool(status["sqs_delivered"] == 1)

    await eventually(counted, timeout=5)


async def test_an_unsubscribed_seller_and_a_filtered_marketplace_send_nothing(
    sandbox: Sandbox, sqs: SqsQueue, sqs_endpoint_url: str
) -> None:
    point_at(sandbox, sqs_endpoint_url)
    seller = sandbox.create_seller(["ATVPDKIKX0DER", "A1PA6795UKMFR9"])
    seller_id = seller["selling_partner_id"]
    subscribe(sandbox, sqs, seller_headers=sandbox.headers(seller["refresh_token"]), marketplaceIds=["A1PA6795UKMFR9"])

    sandbox.create_order([{"sku": "SKU-SQS", "quantity": 1}], seller_id=seller_id)  # US; the filter wants DE only
    sandbox.create_order([{"sku": "SKU-SQS", "quantity": 1}])  # the default seller never subscribed
    marker = sandbox.create_order(
        [{"sku": "SKU-SQS", "quantity": 1}], seller_id=seller_id, marketplace_id="A1PA6795UKMFR9"
    )

    messages = await receive(sqs)
    assert [m["Payload"]["OrderChangeNotification"]["AmazonOrderId"] for m in messages] == [marker["AmazonOrderId"]]
