"""ORDER_CHANGE subscriptions follow connections: real PostgreSQL, Kafka, ElasticMQ and the SP-API sandbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest_asyncio
from connector_auth import subscriptions
from testkit import eventually
from testkit.sandbox import Sandbox
from testkit.sqs import SqsQueue

from .harness import Running, auto_approved, running, with_query


def arn_of(queue: SqsQueue) -> str:
    return f"arn:aws:sqs:us-east-1:000000000000:{queue.name}"


@pytest_asyncio.fixture
async def notified(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, namespace: str, sqs: SqsQueue, sqs_endpoint_url: str
) -> AsyncIterator[Running]:
    """connector-auth with NOTIFICATIONS_QUEUE_ARN set to this test's queue, which the sandbox delivers into."""
    sandbox.client.post("/_sandbox/notifications/sqs-endpoint", json={"url": sqs_endpoint_url}).raise_for_status()
    async with running(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        sandbox_url=sandbox.url,
        namespace=namespace,
        settings_fields={"notifications_queue_arn": arn_of(sqs)},
    ) as service:
        yield service


def worker(svc: Running) -> subscriptions.Subscriptions:
    assert svc.service.subscriptions is not None
    return svc.service.subscriptions


def at_amazon(sandbox: Sandbox) -> dict[str, Any]:
    return dict(sandbox.client.get("/_sandbox/notifications").json())


def calls(sandbox: Sandbox, operation: str) -> int:
    return len(sandbox.client.get("/_sandbox/requests", params={"operation": operation}).json())


async def row(svc: Running, connection_id: str) -> dict[str, Any]:
    conn = await svc.db()
    try:
        found = await subscriptions.status_of(conn, connection_id)
    finally:
        await conn.close()
    return dict(found) if found is not None else {}


async def connect_as(svc: Running, sandbox: Sandbox, name: str) -> str:
    seller = sandbox.create_seller(["ATVPDKIKX0DER"])
    created = await svc.create(name=name)
    url = with_query(auto_approved(created["consent_url"]), selling_partner_id=seller["selling_partner_id"])
    async with svc.browser() as browser:
        landed = await browser.get(url)
    assert landed.status_code == 200, landed.text
    return str(created["connection"]["id"])


async def test_activation_subscribes_on_one_destination_that_a_second_connection_reuses(
    notified: Running, sandbox: Sandbox, sqs: SqsQueue
) -> None:
    task = asyncio.create_task(worker(notified).run())
    try:
        first = (await notified.connect())["id"]
        second = await connect_as(notified, sandbox, "ACME second")

        async def both_subscribed() -> bool:
            rows = [await row(notified, first), await row(notified, second)]
            return all(r.get("subscription_id") for r in rows)

        # Woken by the activation itself: the periodic pass is minutes away.
        await eventually(both_subscribed, timeout=15)
    finally:
        await worker(notified).stop()
        await task

    amazon = at_amazon(sandbox)
    assert [d["arn"] for d in amazon["destinations"]] == [arn_of(sqs)]
    (destination,) = amazon["destinations"]
    assert sorted(s["seller_id"] for s in amazon["subscriptions"]) == sorted(
        [sandbox.seller_id, (await notified.connection(second))["selling_partner_id"]]
    )
    for subscription in amazon["subscriptions"]:
        assert subscription["notification_type"] == "ORDER_CHANGE" and subscription["payload_version"] == "1.0"
        assert subscription["destination_id"] == destination["destination_id"]
    assert calls(sandbox, "createDestination") == 1 and calls(sandbox, "getDestinations") == 1
    assert calls(sandbox, "createSubscription") == 2
    assert {(await row(notified, c))["destination_id"] for c in (first, second)} == {destination["destination_id"]}


async def test_an_existing_destination_for_the_queue_is_found_not_created_again(
    notified: Running, sandbox: Sandbox, sqs: SqsQueue
) -> None:
    headers = {"x-amz-access-token": _grantless_token(sandbox)}
    body = {"name": "made-elsewhere", "resourceSpecification": {"sqs": {"arn": arn_of(sqs)}}}
    made = sandbox.client.post("/notifications/v1/destinations", json=body, headers=headers).json()["payload"]

    connection_id = (await notified.connect())["id"]
    assert await worker(notified).tick() == 1

    assert (await row(notified, connection_id))["destination_id"] == made["destinationId"]
    assert calls(sandbox, "createDestination") == 1  # only ours above


async def test_disconnect_deletes_the_subscription_at_amazon(notified: Running, sandbox: Sandbox) -> None:
    connection_id = (await notified.connect())["id"]
    assert await worker(notified).tick() == 1
    subscription_id = (await row(notified, connection_id))["subscription_id"]
    assert [s["subscription_id"] for s in at_amazon(sandbox)["subscriptions"]] == [subscription_id]

    async with notified.admin() as admin:
        assert (await admin.post(f"/admin/connections/{connection_id}/disconnect")).status_code == 200
    assert await worker(notified).tick() == 1

    assert at_amazon(sandbox)["subscriptions"] == []
    after = await row(notified, connection_id)
    assert after["subscription_id"] is None and after["unsubscribed_at"] is not None
    assert calls(sandbox, "deleteSubscriptionById") == 1
    assert await worker(notified).tick() == 0  # nothing left to do


async def test_an_amazon_failure_is_recorded_on_the_connection_and_retried_later(
    notified: Running, sandbox: Sandbox
) -> None:
    sandbox.fault(operation="createSubscription", status=503, count=50)
    connected = await notified.connect()
    assert connected["status"] == "active"  # activation is never held up by the subscription

    assert await worker(notified).tick() == 0
    failed = await row(notified, connected["id"])
    assert failed["subscription_id"] is None and failed["attempts"] == 1
    assert "createSubscription" in failed["last_error"] and "status=503" in failed["last_error"]
    assert await worker(notified).tick() == 0  # not due yet: no hammering
    assert (await row(notified, connected["id"]))["attempts"] == 1

    sandbox.clear_faults()
    notified.clock.advance(timedelta(seconds=31))
    assert await worker(notified).tick() == 1
    done = await row(notified, connected["id"])
    assert done["subscription_id"] and done["attempts"] == 0 and done["last_error"] is None


async def test_after_subscription_an_order_change_lands_in_the_queue(
    notified: Running, sandbox: Sandbox, sqs: SqsQueue
) -> None:
    connection_id = (await notified.connect())["id"]
    assert await worker(notified).tick() == 1
    subscription_id = (await row(notified, connection_id))["subscription_id"]

    order = sandbox.create_order([{"sku": "SKU-Q", "quantity": 1}])

    answer = await sqs.client.receive_message(QueueUrl=sqs.url, WaitTimeSeconds=5, MaxNumberOfMessages=10)
    bodies = [json.loads(m["Body"]) for m in answer.get("Messages", [])]
    assert [b["Payload"]["OrderChangeNotification"]["AmazonOrderId"] for b in bodies] == [order["AmazonOrderId"]]
    assert bodies[0]["NotificationMetadata"]["SubscriptionId"] == subscription_id


async def test_without_a_queue_arn_no_seller_is_subscribed(svc: Running, sandbox: Sandbox) -> None:
    assert svc.service.subscriptions is None
    await svc.connect()
    assert at_amazon(sandbox)["subscriptions"] == [] and calls(sandbox, "createDestination") == 0


def _grantless_token(sandbox: Sandbox) -> str:
    form = {
        "grant_type": "client_credentials",
        "scope": "sellingpartnerapi::notifications",
        "client_id": "elsewhere",
        "client_secret": "elsewhere",
    }
    return str(sandbox.client.post("/auth/o2/token", data=form).json()["access_token"])


async def test_what_amazon_no_longer_has_is_forgotten_and_subscribed_again(notified: Running, sandbox: Sandbox) -> None:
    connection_id = (await notified.connect())["id"]
    assert await worker(notified).tick() == 1
    before = await row(notified, connection_id)
    # Amazon loses both (deleted in Seller Central, or a sandbox that restarted).
    headers = {"x-amz-access-token": _grantless_token(sandbox)}
    gone = sandbox.client.delete(
        f"/notifications/v1/subscriptions/ORDER_CHANGE/{before['subscription_id']}", headers=headers
    )
    assert gone.status_code == 200, gone.text
    gone = sandbox.client.delete(f"/notifications/v1/destinations/{before['destination_id']}", headers=headers)
    assert gone.status_code == 200, gone.text

    assert await worker(notified).tick() == 0  # what is recorded looks done until it is checked
    assert await worker(notified).verify() == 2
    assert await worker(notified).tick() == 1

    after = await row(notified, connection_id)
    amazon = at_amazon(sandbox)
    assert [s["subscription_id"] for s in amazon["subscriptions"]] == [after["subscription_id"]]
    assert [d["destination_id"] for d in amazon["destinations"]] == [after["destination_id"]]
    assert after["destination_id"] != before["destination_id"]
    assert await worker(notified).verify() == 0  # all of it is at Amazon now
