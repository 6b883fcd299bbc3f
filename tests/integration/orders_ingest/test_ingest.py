"""Orders from the sandbox reach order.received / order.cancelled exactly once, mapped per connection."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from prometheus_client import REGISTRY
from testkit import SqsQueue, eventually
from testkit.sandbox import Sandbox

from .harness import running, sandbox_to_queue

LONG_SKU = "S" * 41  # Amazon sends it; our contract allows 40: one unexpected order among good ones


OUTCOMES = ("queued", "duplicate", "too_large", "not_json", "invalid", "foreign_application", "bad_order_id",
            "no_connection", "over_bound")  # fmt: skip


def outcomes() -> dict[str, float]:
    """orders_ingest_notifications_total by outcome (a process-wide counter: tests compare before and after)."""
    value = REGISTRY.get_sample_value
    return {o: value("orders_ingest_notifications_total", {"outcome": o}) or 0.0 for o in OUTCOMES}


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before[k] for k in after if after[k] != before[k]}


def ship_partially(sandbox: Sandbox, order: dict, item_index: int, quantity: int) -> None:
    item = order["items"][item_index]
    body = {
        "marketplaceId": sandbox.marketplace_id,
        "packageDetail": {
            "packageReferenceId": "1", "carrierCode": "UPS", "trackingNumber": "1Z999AA10123456784",
            "shipDate": "2026-08-06T15:04:05Z",
            "orderItems": [{"orderItemId": item["OrderItemId"], "quantity": quantity}],
        },
    }  # fmt: skip
    answer = httpx.post(
        f"{sandbox.url}/orders/v0/orders/{order['AmazonOrderId']}/shipmentConfirmation",
        json=body,
        headers=sandbox.headers(),
    )
    assert answer.status_code == 204, answer.text


async def test_orders_appear_once_with_their_lines_money_and_the_connections_mapping(
    database_url, kafka_bootstrap, sandbox: Sandbox, topics, producer
) -> None:
    buyer = {"buyerName": "Jordan Rivera", "buyerEmail": "jr7x@marketplace.sandbox.invalid"}
    prime = sandbox.create_order(
        [
            {"sku": "TENT-2P", "quantity": 2, "price": "10.00", "shipping": "3.00", "tax_rate": "0.1",
             "discount": "1.50"},
            {"sku": "STAKE-8", "quantity": 1, "price": "5.50"},
        ],
        is_prime=True, ship_service_level="Expedited", buyer=buyer,
    )  # fmt: skip
    business = sandbox.create_order(
        [{"sku": "TENT-2P", "quantity": 1, "price": "10.00"}], is_business=True, buyer=buyer
    )
    unmapped = sandbox.create_order([{"sku": "MAT-1", "quantity": 3}], ship_service_level="NextDay")
    pending = sandbox.create_order([{"sku": "MAT-1", "quantity": 1}], status="Pending")
    broken = sandbox.create_order([{"sku": LONG_SKU, "quantity": 1}])
    await sandbox.until_searchable(prime, business, unmapped, pending, broken)

    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics) as h:
        await h.connect(
            producer, "conn-ingest-1", product_code="asin",
            ship_method_mapping={"Expedited": "2DAY", "Standard": "GROUND"},
        )  # fmt: skip
        events = await h.received(expect=3)
        first_run = await h.wait_for_run(trigger="scheduled")

        by_id = {e.data.amazon_order_id: e for e in events}
        assert sorted(by_id) == sorted(o["AmazonOrderId"] for o in (prime, business, unmapped))
        assert pending["AmazonOrderId"] not in by_id and broken["AmazonOrderId"] not in by_id

        p = by_id[prime["AmazonOrderId"]].data
        assert (p.status, p.fulfillment_channel, p.is_prime, p.is_business_order) == ("Unshipped", "MFN", True, False)
        assert (p.ship_service_level_category, p.internal_ship_method) == ("Expedited", "2DAY")
        assert p.connection_id == "conn-ingest-1" and p.selling_partner_id == sandbox.seller_id
        assert [(line.seller_sku, line.quantity_ordered, line.item_price.amount) for line in p.lines] == [
            ("TENT-2P", 2, Decimal("20.00")),
            ("STAKE-8", 1, Decimal("5.50")),
        ]
        assert all(line.product_code == line.asin for line in p.lines)
        # PROCEEDS breakdowns: TAX split by its ITEM/SHIPPING subtypes, DISCOUNT (negative at Amazon) as positive.
        tent, stake = p.lines
        assert (tent.shipping_price.amount, tent.item_tax.amount, tent.shipping_tax.amount) == (
            Decimal("3.00"), Decimal("1.85"), Decimal("0.30"),
        )  # fmt: skip
        assert tent.promotion_discount.amount == Decimal("1.50")
        # The sandbox's US defaults: 8.25 % sales tax, no shipping charge on a Prime order, no discount.
        assert (stake.item_tax.amount, stake.shipping_price.amount, stake.promotion_discount.amount) == (
            Decimal("0.45"), 0, 0,
        )  # fmt: skip
        assert all(m.currency == "USD" for line in p.lines for m in (line.item_tax, line.shipping_tax))
        assert p.buyer_name == "Jordan Rivera" and p.ship_to is not None and p.ship_to.country_code == "US"
        b = by_id[business["AmazonOrderId"]].data
        assert b.is_business_order and b.internal_ship_method == "GROUND"
        assert b.buyer_ref == p.buyer_ref  # same buyer, same pseudonym
        u = by_id[unmapped["AmazonOrderId"]].data
        assert (u.ship_service_level_category, u.internal_ship_method) == ("NextDay", None)
        assert u.buyer_ref != p.buyer_ref
        # The event id is the contract's: uuid5 of topic, order id and LastUpdateDate revision.
        assert all(e.time == e.data.last_update_date for e in events)

        assert first_run["status"] == "failed"
        assert (first_run["records_published"], first_run["records_skipped"], first_run["records_failed"]) == (3, 0, 1)
        async with h.api("viewer") as api:
            detail = (await api.get(f"/admin/sync-runs/{first_run['id']}")).json()
        assert [e["amazon_order_id"] for e in detail["errors"]] == [broken["AmazonOrderId"]]
        assert "seller_sku" in detail["errors"][0]["error"] and LONG_SKU not in detail["errors"][0]["error"]

        # A re-poll of the same window publishes nothing again.
        async with h.api() as api:
            manual = (await api.post("/admin/connections/conn-ingest-1/sync-now")).json()
        again = await h.wait_for_run(id=manual["id"])
        assert again["records_published"] == 0 and again["records_unchanged"] == 3
        assert len(await h.received(expect=3)) == 3


async def test_a_status_change_is_a_new_revision_and_a_buyer_cancellation_an_order_cancelled(
    database_url, kafka_bootstrap, sandbox: Sandbox, topics, producer
) -> None:
    shipped_later = sandbox.create_order(
        [{"sku": "TENT-2P", "quantity": 2}, {"sku": "STAKE-8", "quantity": 1}], is_prime=True
    )
    cancelled_later = sandbox.create_order([{"sku": "MAT-1", "quantity": 1}])
    await sandbox.until_searchable(shipped_later, cancelled_later)
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics) as h:
        await h.connect(producer, "conn-ingest-2")
        first = await h.received(expect=2)
        assert {e.data.status for e in first} == {"Unshipped"}

        ship_partially(sandbox, shipped_later, item_index=0, quantity=1)
        sandbox.transition(cancelled_later["AmazonOrderId"], buyer_cancel_request=True, reason="Ordered the wrong size")
        sandbox.transition(cancelled_later["AmazonOrderId"], "Canceled")

        # No trigger: the schedule (15 min at 100x = 9 s, cancellations included) picks both changes up.
        cancellations = await h.cancelled(expect=1, timeout=40)
        received = await h.received(expect=3, timeout=40)

        revisions = [e.data for e in received if e.data.amazon_order_id == shipped_later["AmazonOrderId"]]
        assert [r.status for r in revisions] == ["Unshipped", "PartiallyShipped"]
        assert revisions[1].last_update_date > revisions[0].last_update_date
        assert [line.quantity_shipped for line in revisions[1].lines] == [1, 0]
        assert len({e.id for e in received}) == 3

        (cancel,) = cancellations
        assert cancel.data.amazon_order_id == cancelled_later["AmazonOrderId"]
        assert (cancel.data.cancelled_by, cancel.data.buyer_cancel_reason) == ("buyer", "Ordered the wrong size")

        runs = await h.runs()
        assert {r["trigger"] for r in runs} == {"scheduled"}
        rows = await h.fetch("SELECT status FROM orders WHERE amazon_order_id = $1", cancelled_later["AmazonOrderId"])
        assert [r["status"] for r in rows] == ["Canceled"]


async def test_an_order_change_on_the_queue_fetches_that_order_at_once_and_duplicates_change_nothing(
    database_url, kafka_bootstrap, sandbox: Sandbox, topics, producer, sqs: SqsQueue
) -> None:
    # A poll interval of 4 h (144 s here): anything published during the test came through the queue.
    async with (
        running(
            database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, queue=sqs
        ) as h,
        sandbox_to_queue(sandbox, sqs) as put,
    ):
        await h.connect(producer, "conn-notify", order_poll_interval_minutes=240)
        await h.wait_for_run(trigger="scheduled")
        order = sandbox.create_order([{"sku": "TENT-2P", "quantity": 1}])

        (event,) = await h.received(expect=1)
        assert event.data.amazon_order_id == order["AmazonOrderId"]
        run = await h.wait_for_run(trigger="notification")
        assert (run["status"], run["records_published"], run["order_ids"]) == ("succeeded", 1, [order["AmazonOrderId"]])
        await eventually(sqs.empty, timeout=10)  # deleted once its effect was committed

        (notification,) = put
        before = outcomes()
        await sqs.send(json.dumps(notification))  # SQS delivers at least once: a repeat changes nothing
        renamed = {**notification, "NotificationMetadata": {**notification["NotificationMetadata"],
                                                              "NotificationId": "another-delivery"}}  # fmt: skip
        await sqs.send(json.dumps(renamed))

        async def both_decided() -> bool:
            return delta(before, outcomes()) == {"duplicate": 1, "queued": 1} and await sqs.empty()

        await eventually(both_decided, timeout=20)

        async def second_notification_run() -> bool:
            return len([r for r in await h.runs() if r["trigger"] == "notification" and r["status"] != "running"]) == 2

        await eventually(second_notification_run, timeout=20)
        assert len(await h.received(expect=1)) == 1
        runs = [r for r in await h.runs() if r["trigger"] == "notification"]
        assert runs[1]["records_unchanged"] == 1 and runs[1]["records_published"] == 0


async def test_a_notification_whose_fetch_fails_is_tried_again_later(
    database_url, kafka_bootstrap, sandbox: Sandbox, topics, producer, sqs: SqsQueue
) -> None:
    async with (
        running(
            database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, queue=sqs
        ) as h,
        sandbox_to_queue(sandbox, sqs),
    ):
        await h.connect(producer, "conn-notify-retry", order_poll_interval_minutes=240)
        await h.wait_for_run(trigger="scheduled")
        sandbox.fault(operation="getOrder", status=503, count=5)  # every attempt of the first fetch
        order = sandbox.create_order([{"sku": "TENT-2P", "quantity": 1}])

        (event,) = await h.received(expect=1)
        assert event.data.amazon_order_id == order["AmazonOrderId"]
        failed = await h.wait_for_run(trigger="notification", status="failed")
        succeeded = await h.wait_for_run(trigger="notification", status="succeeded")
        assert "HTTP 503" in failed["error"] and succeeded["id"] > failed["id"]
        rows = await h.fetch("SELECT attempts, run_id FROM notifications")
        assert [(r["attempts"], r["run_id"]) for r in rows] == [(1, succeeded["id"])]


async def test_orders_without_the_pii_amazon_withholds_are_still_published(
    database_url, kafka_bootstrap, sandbox: Sandbox, topics, producer
) -> None:
    buyer = {"buyerName": "Robin Okafor", "buyerEmail": "ro55@marketplace.sandbox.invalid"}
    fba = sandbox.create_order([{"sku": "FBA-1", "quantity": 1}], fulfillment_channel="AFN", buyer=buyer)
    overdue = sandbox.create_order(
        [{"sku": "TENT-2P", "quantity": 1}], buyer=buyer,
        latest_delivery=(datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
    )  # fmt: skip
    await sandbox.until_searchable(fba, overdue)
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics) as h:
        await h.connect(producer, "conn-pii-rules", fba_handling=True)
        by_id = {e.data.amazon_order_id: e.data for e in await h.received(expect=2)}
    f, o = by_id[fba["AmazonOrderId"]], by_id[overdue["AmazonOrderId"]]
    # FBA: no email (so no cross-order pseudonym) and no phone; the name and street still come.
    assert (f.fulfillment_channel, f.buyer_email, f.buyer_name) == ("AFN", None, "Robin Okafor")
    assert f.ship_to is not None and f.ship_to.address_line1 and f.ship_to.phone is None
    # Merchant-fulfilled past its latest delivery date: the email stays, the phone goes.
    assert o.buyer_email == buyer["buyerEmail"] and o.ship_to is not None and o.ship_to.phone is None
    assert f.buyer_ref != o.buyer_ref


async def test_without_the_pii_roles_orders_arrive_with_no_buyer_or_street(
    database_url, kafka_bootstrap, sandbox: Sandbox, topics, producer
) -> None:
    sandbox.create_seller([sandbox.marketplace_id], selling_partner_id=sandbox.seller_id, pii_roles=[])
    buyer = {"buyerName": "Robin Okafor", "buyerEmail": "ro55@marketplace.sandbox.invalid"}
    orders = [sandbox.create_order([{"sku": "TENT-2P", "quantity": 1}], buyer=buyer) for _ in range(2)]
    await sandbox.until_searchable(*orders)
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics) as h:
        await h.connect(producer, "conn-no-pii")
        events = [e.data for e in await h.received(expect=2)]
        run = await h.wait_for_run(trigger="scheduled")
    assert sorted(e.amazon_order_id for e in events) == sorted(o["AmazonOrderId"] for o in orders)
    assert all((e.buyer_name, e.buyer_email, e.buyer_phone, e.ship_to) == (None, None, None, None) for e in events)
    # Nothing identifies the buyer, so each order gets its own pseudonym; the lines are whole.
    assert events[0].buyer_ref != events[1].buyer_ref
    assert all(e.lines[0].seller_sku == "TENT-2P" for e in events)
    assert (run["records_published"], run["records_failed"]) == (2, 0)
