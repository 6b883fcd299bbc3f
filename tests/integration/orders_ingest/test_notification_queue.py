"""ORDER_CHANGE through a real SQS queue (ElasticMQ): refused messages are deleted and counted without an Amazon
call, one bad message never holds up the others, and a message whose effect could not be committed is not deleted
and comes back after its visibility timeout."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import servicekit
from orders_ingest import bootstrap
from orders_ingest.notification_queue import NotificationQueue
from orders_ingest.notifications import order_change_schema
from prometheus_client import REGISTRY
from testkit import PrivatePostgres, SqsQueue, eventually, private_postgres, private_sqs, sqs_client, sqs_queue
from testkit.sandbox import Sandbox

from .harness import running
from .test_ingest import delta, outcomes

APPLICATION = "amzn1.sp.solution.test-application"


def order_change(sandbox: Sandbox, order_id: str, **metadata: Any) -> dict[str, Any]:
    """Amazon's own example document (from the schema), about one of the sandbox seller's orders."""
    document: dict[str, Any] = copy.deepcopy(order_change_schema()["examples"][0])
    change = document["Payload"]["OrderChangeNotification"]
    change.update(SellerId=sandbox.seller_id, AmazonOrderId=order_id)
    change["Summary"]["MarketplaceId"] = sandbox.marketplace_id
    document["NotificationMetadata"].update(
        {"ApplicationId": APPLICATION, "NotificationId": str(uuid.uuid4()), **metadata}
    )
    return document


async def dead_letter_reasons(queue: SqsQueue) -> list[str]:
    reasons: list[str] = []
    while True:
        answer = await queue.client.receive_message(
            QueueUrl=queue.url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        )
        if not answer.get("Messages"):
            return reasons
        for message in answer["Messages"]:
            attributes = message["MessageAttributes"]
            assert attributes["source_message_id"]["StringValue"]
            reasons.append(attributes["reason"]["StringValue"])
            await queue.client.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])


def amazon_calls(sandbox: Sandbox) -> list[str]:
    return [r["path"] for r in sandbox.requests() if r["path"].startswith("/orders/")]


async def test_refused_messages_are_deleted_and_counted_without_calling_amazon_and_never_block_the_queue(
    database_url, kafka_bootstrap, sandbox: Sandbox, topics, producer, sqs: SqsQueue
) -> None:
    order = sandbox.create_order([{"sku": "TENT-2P", "quantity": 1}])
    good = order_change(sandbox, order["AmazonOrderId"])
    unknown_seller = order_change(sandbox, "902-1234567-7654321")
    unknown_seller["Payload"]["OrderChangeNotification"]["SellerId"] = "A9UNKNOWNSELLER"
    broken_items = order_change(sandbox, order["AmazonOrderId"])
    # Thousands of broken items: validation stops at the first, so this costs one error, not thousands.
    broken_items["Payload"]["OrderChangeNotification"]["Summary"]["OrderItems"] = [{"Quantity": "x"}] * 3000
    refused = {
        "too_large": json.dumps({**good, "padding": "x" * 70_000}),
        "not_json": "<xml>not a notification</xml>",
        "invalid": json.dumps({k: v for k, v in good.items() if k != "Payload"}),
        "foreign_application": json.dumps(order_change(sandbox, order["AmazonOrderId"], ApplicationId="amzn1.other")),
        "bad_order_id": json.dumps(order_change(sandbox, "111-22-333")),
        "no_connection": json.dumps(unknown_seller),
    }
    async with (
        sqs_queue(sqs.endpoint_url, prefix="dlq") as dead_letters,
        running(
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            sandbox=sandbox,
            topics=topics,
            queue=sqs,
            spapi_application_id=APPLICATION,
            notifications_max_pending_per_connection=1,
            notifications_dead_letter_queue_url=dead_letters.url,
        ) as h,
    ):
        await h.connect(producer, "conn-queue", order_poll_interval_minutes=240)
        await h.wait_for_run(trigger="scheduled")
        calls, before = amazon_calls(sandbox), outcomes()

        for body in refused.values():
            await sqs.send(body)
        await sqs.send(json.dumps(broken_items))

        async def all_refused() -> bool:
            return delta(before, outcomes()) == {**dict.fromkeys(refused, 1.0), "invalid": 2.0} and await sqs.empty()

        await eventually(all_refused, timeout=20)
        assert amazon_calls(sandbox) == calls
        # The malformed ones wait on the dead-letter queue with their reason; good ones we decline do not.
        assert sorted(await dead_letter_reasons(dead_letters)) == [
            "bad_order_id", "invalid", "invalid", "not_json", "too_large"
        ]  # fmt: skip

        # The good one behind them goes through; the refused ones are gone for good.
        await sqs.send(json.dumps(good))
        (event,) = await h.received(expect=1)
        assert event.data.amazon_order_id == order["AmazonOrderId"]
        await eventually(sqs.empty, timeout=10)

        # A connection with as many notifications waiting as the bound takes no more; the poll will catch up.
        await h.fetch(
            "INSERT INTO notifications (notification_id, connection_id, amazon_order_id, not_before)"
            " VALUES ('waiting', 'conn-queue', '903-0000000-0000001', now() + interval '1 day')"
        )
        before = outcomes()
        await sqs.send(json.dumps(order_change(sandbox, "903-0000000-0000002")))

        async def over_bound() -> bool:
            return delta(before, outcomes()) == {"over_bound": 1.0} and await sqs.empty()

        await eventually(over_bound, timeout=20)


@pytest.fixture
def cluster(repo_root: Path) -> Iterator[PrivatePostgres]:
    with private_postgres(repo_root) as pg:
        yield pg


def in_outage() -> float:
    return REGISTRY.get_sample_value("worker_in_outage", {"worker": NotificationQueue.name}) or 0.0


@pytest.mark.slow
async def test_a_message_whose_effect_fails_stays_on_the_queue_and_comes_back_after_its_visibility_timeout(
    cluster: PrivatePostgres, sqs_endpoint_url: str, kafka_bootstrap, sandbox: Sandbox, topics, producer
) -> None:
    url = cluster.url
    await servicekit.migrate_database(url, bootstrap.SCHEMA, list(bootstrap.MIGRATIONS))
    order = sandbox.create_order([{"sku": "TENT-2P", "quantity": 1}])
    async with (
        sqs_queue(sqs_endpoint_url, visibility_timeout=2) as queue,
        running(database_url=url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, queue=queue) as h,
    ):
        await h.connect(producer, "conn-outage", order_poll_interval_minutes=240)
        await h.wait_for_run(trigger="scheduled")
        await asyncio.to_thread(cluster.stop)

        await queue.send(json.dumps(order_change(sandbox, order["AmazonOrderId"])))

        async def riding_it_out() -> bool:
            return in_outage() == 1

        await eventually(riding_it_out, timeout=30)
        assert await queue.counts() != (0, 0)  # received, not decided, so not deleted
        await asyncio.to_thread(cluster.start)

        (event,) = await h.received(expect=1, timeout=60)
        assert event.data.amazon_order_id == order["AmazonOrderId"]
        await eventually(queue.empty, timeout=20)

        async def recovered() -> bool:  # marked once the poll that carried the message has finished
            return in_outage() == 0

        await eventually(recovered, timeout=10)


@pytest.mark.slow
async def test_an_sqs_outage_is_ridden_out_and_the_queue_is_read_again_after(
    repo_root: Path, database_url, kafka_bootstrap, sandbox: Sandbox, topics, producer
) -> None:
    order = sandbox.create_order([{"sku": "TENT-2P", "quantity": 1}])
    with private_sqs(repo_root, default_queues=True) as server:
        url = server.queue_url("orders-ingest-notifications")
        queue = SqsQueue(endpoint_url=server.url, url=url, name="orders-ingest-notifications", client=None)
        async with (
            running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics,
                    queue=queue, notifications_wait_seconds=1) as h,
        ):  # fmt: skip
            await h.connect(producer, "conn-sqs-outage", order_poll_interval_minutes=240)
            await h.wait_for_run(trigger="scheduled")
            await asyncio.to_thread(server.stop)

            async def riding_it_out() -> bool:
                return in_outage() == 1

            await eventually(riding_it_out, timeout=30)
            await asyncio.to_thread(server.start)  # the configured queue is there again, empty
            async with sqs_client(server.url) as client:
                await client.send_message(
                    QueueUrl=url, MessageBody=json.dumps(order_change(sandbox, order["AmazonOrderId"]))
                )
            (event,) = await h.received(expect=1, timeout=60)
            assert event.data.amazon_order_id == order["AmazonOrderId"]

            async def recovered() -> bool:  # the event can be relayed before the poll that carried it ends
                return in_outage() == 0

            await eventually(recovered, timeout=10)
