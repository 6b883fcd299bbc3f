"""order.completed `cancelled` -> XML POST_ORDER_ACKNOWLEDGEMENT_DATA on the sandbox -> the order or item cancelled."""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka import AIOKafkaProducer
from shipment_relay import bootstrap
from testkit import eventually
from testkit.sandbox import Sandbox

from .harness import (
    Topicset,
    completed_event,
    connection_event,
    order_received_event,
    package,
    running,
    shipment_event,
)

CONN = "conn-cancel"


async def test_a_seller_cancels_a_whole_order_and_the_rest_of_a_partly_shipped_one_in_one_feed(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topics: Topicset, producer: AIOKafkaProducer
) -> None:
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, producer=producer
    ) as h:
        await h.send("connection.updated", connection_event(CONN, sandbox.seller_id))
        whole = sandbox.create_order([{"sku": "TENT", "quantity": 1}, {"sku": "STAKE", "quantity": 2}])
        partly = sandbox.create_order([{"sku": "TENT", "quantity": 1}, {"sku": "MUG", "quantity": 1}])
        for order in (whole, partly):
            await h.send("order.received", order_received_event(CONN, sandbox.seller_id, order))
        tent = next(i["OrderItemId"] for i in partly["items"] if i["SellerSKU"] == "TENT")
        mug = next(i["OrderItemId"] for i in partly["items"] if i["SellerSKU"] == "MUG")
        await h.send(
            "shipment.created",
            shipment_event(
                CONN, partly["AmazonOrderId"], "SHP-P", [package("1Z1", [{"order_item_id": tent, "quantity": 1}])]
            ),
        )
        await h.until_states("SHP-P", "applied")
        assert sandbox.order(partly["AmazonOrderId"])["OrderStatus"] == "PartiallyShipped"

        await h.send("order.completed", completed_event(CONN, whole["AmazonOrderId"], "cancelled", "NoInventory"))
        await h.send("order.completed", completed_event(CONN, partly["AmazonOrderId"], "cancelled", "BuyerCanceled"))
        first = await h.cancellation(whole["AmazonOrderId"])
        second = await h.cancellation(partly["AmazonOrderId"])
        assert (first["state"], first["items"]) == ("accepted", None)
        assert (second["state"], second["items"]) == ("accepted", [{"order_item_id": mug, "quantity": 1}])

        assert sandbox.order(whole["AmazonOrderId"])["OrderStatus"] == "Canceled"
        seen = sandbox.order(partly["AmazonOrderId"])
        assert seen["OrderStatus"] == "Shipped"  # nothing left to ship: one item shipped, one cancelled
        assert {i["OrderItemId"]: i["QuantityCancelled"] for i in seen["items"]} == {tent: 0, mug: 1}
        assert len(sandbox.requests(operation="createFeed")) <= 2

        # The outcomes on shipment.confirmed, beside SHP-P's two (decided, applied): no packages, a cancellation.
        events = await h.confirmed(expect=4)
        outcomes = {e.amazon_order_id: e for e in events if e.cancellation is not None}
        assert sorted(e.shipment_id for e in events if e.cancellation is None) == ["SHP-P", "SHP-P"]
        assert set(outcomes) == {whole["AmazonOrderId"], partly["AmazonOrderId"]}
        order_level = outcomes[whole["AmazonOrderId"]]
        item_level = outcomes[partly["AmazonOrderId"]]
        for event, view in ((order_level, first), (item_level, second)):
            assert event.packages == [] and event.shipment_id == f"cancellation:{event.amazon_order_id}"
            assert event.cancellation is not None
            assert (event.cancellation.outcome, event.cancellation.feed_id) == ("accepted", view["feed_id"])
            assert event.cancellation.errors == []
        assert order_level.cancellation is not None and item_level.cancellation is not None
        assert (order_level.cancellation.scope, order_level.cancellation.items) == ("order", None)
        assert order_level.cancellation.cancel_reason == "NoInventory"
        assert item_level.cancellation.scope == "items"
        assert item_level.cancellation.cancel_reason == "BuyerCanceled"
        assert [(i.order_item_id, i.quantity) for i in item_level.cancellation.items or []] == [(mug, 1)]


async def test_a_cancellation_of_a_fully_shipped_order_is_rejected_without_a_feed(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topics: Topicset, producer: AIOKafkaProducer
) -> None:
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, producer=producer
    ) as h:
        await h.send("connection.updated", connection_event(CONN, sandbox.seller_id))
        order = sandbox.create_order([{"sku": "TENT", "quantity": 1}])
        await h.send("order.received", order_received_event(CONN, sandbox.seller_id, order))
        item = order["items"][0]["OrderItemId"]
        await h.send(
            "shipment.created",
            shipment_event(
                CONN, order["AmazonOrderId"], "SHP-F", [package("1Z2", [{"order_item_id": item, "quantity": 1}])]
            ),
        )
        await h.until_states("SHP-F", "applied")
        await h.send("order.completed", completed_event(CONN, order["AmazonOrderId"], "cancelled", "NoInventory"))
        view = await h.cancellation(order["AmazonOrderId"])
        assert view["state"] == "rejected" and "nothing left to cancel" in view["result"]
        assert sandbox.requests(operation="createFeed") == []
        (event,) = [e for e in await h.confirmed(expect=3) if e.cancellation is not None]
        assert event.cancellation is not None
        assert (event.cancellation.outcome, event.cancellation.feed_id) == ("rejected", None)
        assert "nothing left to cancel" in (event.cancellation.reason or "")


async def test_while_another_replica_leads_the_canceller_this_one_sends_no_feed(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topics: Topicset, producer: AIOKafkaProducer
) -> None:
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, producer=producer
    ) as h:
        other = await asyncpg.connect(database_url, server_settings={"search_path": bootstrap.SCHEMA})
        try:
            # What the other replica's canceller holds while it submits and follows feeds (this one's pass may
            # hold it for a moment, hence the retry).
            async def took_the_lead() -> bool:
                return bool(
                    await other.fetchval(
                        "SELECT pg_try_advisory_lock(hashtextextended('shipment-canceller|' || current_schema(), 0))"
                    )
                )

            await eventually(took_the_lead, timeout=5, interval=0.05)
            await h.send("connection.updated", connection_event(CONN, sandbox.seller_id))
            order = sandbox.create_order([{"sku": "TENT", "quantity": 1}])
            await h.send("order.received", order_received_event(CONN, sandbox.seller_id, order))
            await h.send("order.completed", completed_event(CONN, order["AmazonOrderId"], "cancelled", "NoInventory"))
            pending = await h.cancellation(order["AmazonOrderId"], until=("pending",))
            assert pending["state"] == "pending"
            await asyncio.sleep(2)  # several of the canceller's passes at the test's speed-up
            assert sandbox.requests(operation="createFeed") == []
        finally:
            await other.close()  # the other replica is gone: its session lock with it
        assert (await h.cancellation(order["AmazonOrderId"]))["state"] == "accepted"
        assert len(sandbox.requests(operation="createFeed")) == 1


async def test_a_createfeed_whose_answer_was_lost_is_found_with_getfeeds_and_followed_not_sent_again(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topics: Topicset, producer: AIOKafkaProducer
) -> None:
    async with running(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        sandbox=sandbox,
        topics=topics,
        producer=producer,
        spapi_timeout_seconds=0.5,
    ) as h:
        await h.send("connection.updated", connection_event(CONN, sandbox.seller_id))
        order = sandbox.create_order([{"sku": "TENT", "quantity": 1}])
        await h.send("order.received", order_received_event(CONN, sandbox.seller_id, order))
        # Amazon creates the feed, then answers after the client gave up.
        sandbox.fault(operation="createFeed", latency_after_ms=3000, count=1)
        await h.send("order.completed", completed_event(CONN, order["AmazonOrderId"], "cancelled", "NoInventory"))
        view = await h.cancellation(order["AmazonOrderId"], timeout=30)

        assert view["state"] == "accepted"
        (created,) = sandbox.requests(operation="createFeed")
        assert created["status"] == 202
        assert sandbox.requests(operation="getFeeds")  # looked up, not resubmitted
        assert sandbox.order(order["AmazonOrderId"])["OrderStatus"] == "Canceled"
        (event,) = await h.confirmed(expect=1)
        assert event.cancellation is not None
        assert (event.cancellation.outcome, event.cancellation.feed_id) == ("accepted", view["feed_id"])


async def test_a_createfeed_given_up_before_amazon_took_it_is_sent_again_once_getfeeds_shows_none(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topics: Topicset, producer: AIOKafkaProducer
) -> None:
    async with running(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        sandbox=sandbox,
        topics=topics,
        producer=producer,
        spapi_timeout_seconds=0.5,
    ) as h:
        await h.send("connection.updated", connection_event(CONN, sandbox.seller_id))
        order = sandbox.create_order([{"sku": "TENT", "quantity": 1}])
        await h.send("order.received", order_received_event(CONN, sandbox.seller_id, order))
        # The request waits before Amazon handles it; the client gives up first, so no feed is created.
        sandbox.fault(operation="createFeed", latency_ms=3000, count=1)
        await h.send("order.completed", completed_event(CONN, order["AmazonOrderId"], "cancelled", "NoInventory"))
        view = await h.cancellation(order["AmazonOrderId"], timeout=30)

        assert view["state"] == "accepted"
        assert [r["status"] for r in sandbox.requests(operation="createFeed")] == [202]  # the first never handled
        assert sandbox.requests(operation="getFeeds")
        assert sandbox.order(order["AmazonOrderId"])["OrderStatus"] == "Canceled"
