"""FEED_PROCESSING_FINISHED through a real SQS queue (ElasticMQ): the connection subscribes before its first feed,
the sandbox notifies the subscribed destination when the feed ends, and the feed is followed at once although its
next getFeed poll is a day away."""

from __future__ import annotations

import json
from datetime import timedelta

from aiokafka import AIOKafkaProducer
from testkit import SqsQueue, eventually
from testkit.sandbox import Sandbox

from .harness import Topicset, create_listings, fast, fetch, published, running
from .test_outcomes import _arrange

SCOPE = "sellingpartnerapi::notifications"


def destination(sandbox: Sandbox, queue: SqsQueue, sqs_endpoint_url: str) -> str:
    """The application's destination for the queue (grantless: not stock-publisher's to create) and the sandbox
    pointed at ElasticMQ."""
    sandbox.client.post("/_sandbox/notifications/sqs-endpoint", json={"url": sqs_endpoint_url}).raise_for_status()
    form = {"grant_type": "client_credentials", "scope": SCOPE, "client_id": "app", "client_secret": "secret"}
    token = sandbox.client.post("/auth/o2/token", data=form).json()["access_token"]
    arn = f"arn:aws:sqs:us-east-1:000000000000:{queue.name}"
    created = sandbox.client.post(
        "/notifications/v1/destinations",
        json={"name": "feeds", "resourceSpecification": {"sqs": {"arn": arn}}},
        headers={"x-amz-access-token": token},
    )
    created.raise_for_status()
    return str(created.json()["payload"]["destinationId"])


async def test_a_finished_feed_is_followed_from_its_notification_not_its_poll(
    database_url: str,
    kafka_bootstrap: str,
    sandbox: Sandbox,
    topics: Topicset,
    producer: AIOKafkaProducer,
    sqs: SqsQueue,
    sqs_endpoint_url: str,
) -> None:
    skus = [f"N-{i:02d}" for i in range(30)]
    await create_listings(sandbox, skus)
    destination_id = destination(sandbox, sqs, sqs_endpoint_url)
    # The first getFeed would come 1,000 s (Amazon time: a day) after createFeed: only the notification can end it.
    tuning = fast(
        apply_delay=timedelta(days=1), patch_max_skus=20, feed_poll=timedelta(days=1),
        feed_poll_notified=timedelta(days=1), feed_destination_id=destination_id,
    )  # fmt: skip
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, tuning=tuning,
        stock_notifications_queue_url=sqs.url, stock_notifications_destination_id=destination_id,
        sqs_endpoint_url=sqs_endpoint_url, stock_notifications_wait_seconds=1,
    ) as h:  # fmt: skip
        await _arrange(h, producer, topics, skus)
        events = await published(kafka_bootstrap, topics, expect=30, timeout=30)
        assert sorted(e.sku for e in events) == skus and {e.outcome for e in events} == {"accepted"}
        (row,) = await fetch(database_url, "SELECT status, amazon_feed_id FROM feeds")
        assert row["status"] == "DONE"
        (subscription,) = await fetch(database_url, "SELECT * FROM feed_subscriptions")
        assert subscription["subscription_id"] and subscription["destination_id"] == destination_id
        assert subscription["last_error"] is None
        await eventually(sqs.empty, timeout=10)  # the notification was read and deleted

    state = sandbox.client.get("/_sandbox/notifications").json()
    assert state["sqs_delivered"] == 1
    (subscribed,) = [s for s in state["subscriptions"] if s["notification_type"] == "FEED_PROCESSING_FINISHED"]
    assert subscribed["destination_id"] == destination_id and subscribed["payload_version"] == "1.0"
    # One getFeed: the one the notification asked for.
    assert len(sandbox.requests(operation="getFeed")) == 1
    assert len(sandbox.requests(operation="createSubscription")) == 1


async def test_a_notification_for_a_feed_not_ours_or_not_a_feed_is_dropped_and_deleted(
    database_url: str,
    kafka_bootstrap: str,
    sandbox: Sandbox,
    topics: Topicset,
    sqs: SqsQueue,
    sqs_endpoint_url: str,
) -> None:
    tuning = fast(feed_destination_id="unused")
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, tuning=tuning,
        stock_notifications_queue_url=sqs.url, stock_notifications_destination_id="unused",
        sqs_endpoint_url=sqs_endpoint_url, stock_notifications_wait_seconds=1,
    ):  # fmt: skip
        other = {
            "notificationVersion": "2020-09-04", "notificationType": "FEED_PROCESSING_FINISHED",
            "payloadVersion": "2020-09-04", "eventTime": "2026-01-01T00:00:00Z",
            "payload": {"feedProcessingFinishedNotification": {
                "sellerId": sandbox.seller_id, "accountId": "x", "feedId": "999999", "feedType": "JSON_LISTINGS_FEED",
                "processingStatus": "DONE"}},
            "notificationMetadata": {"applicationId": "a", "subscriptionId": "s", "publishTime": "x",
                                     "notificationId": "n"},
        }  # fmt: skip
        for body in (json.dumps(other), "not json", json.dumps({"notificationType": "ORDER_CHANGE"})):
            await sqs.send(body)
        await eventually(sqs.empty, timeout=15)
    assert sandbox.requests(operation="getFeed") == []
