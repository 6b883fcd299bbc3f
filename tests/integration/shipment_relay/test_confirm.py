"""shipment.created -> confirmShipment on the sandbox -> shipment.confirmed, exactly once per package."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from testkit import eventually
from testkit.sandbox import Sandbox

from .harness import Topicset, connection_event, order_received_event, package, running, shipment_event

CONN = "conn-ship"


async def _order(h, sandbox: Sandbox, items):  # type: ignore[no-untyped-def]
    order = sandbox.create_order(items)
    await h.send("order.received", order_received_event(CONN, sandbox.seller_id, order))
    return order


def _item(order, sku):  # type: ignore[no-untyped-def]
    return next(i["OrderItemId"] for i in order["items"] if i["SellerSKU"] == sku)


async def test_partial_then_multi_package_shipment_is_confirmed_once_each_and_ships_the_order(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topics: Topicset, producer: AIOKafkaProducer
) -> None:
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, producer=producer
    ) as h:
        await h.send(
            "connection.updated",
            connection_event(CONN, sandbox.seller_id, carrier_mapping={"ups-ground": {"code": "UPS"}}),
        )
        order = await _order(h, sandbox, [{"sku": "TENT", "quantity": 2}, {"sku": "STAKE", "quantity": 1}])
        oid = order["AmazonOrderId"]
        tent = _item(order, "TENT")
        first = shipment_event(CONN, oid, "SHP-1", [package("1Z001", [{"order_item_id": tent, "quantity": 1}])])
        await h.send("shipment.created", first)
        await h.until_states("SHP-1", "applied")
        assert sandbox.order(oid)["OrderStatus"] == "PartiallyShipped"

        second = shipment_event(
            CONN,
            oid,
            "SHP-2",
            [
                package("1Z002", [{"order_item_id": tent, "quantity": 1}], carrier="ups-ground"),
                # Named by SKU, with a carrier Amazon does not list: sent as Other with its name.
                package("RSD-9", [{"sku": "STAKE", "quantity": 1}], carrier="Reno Same Day"),
            ],
        )
        await h.send("shipment.created", second)
        await h.send("shipment.created", first)  # a replay: never confirmed again
        await h.send("shipment.created", second)
        view = await h.until_states("SHP-2", "applied", "applied")
        assert sandbox.order(oid)["OrderStatus"] == "Shipped"

        ledger = sandbox.ledger(kind="shipment", order_id=oid)
        assert sorted(e["ref"] for e in ledger) == ["1", "2", "3"]
        assert len(sandbox.requests(operation="confirmShipment")) == 3
        carriers = {p["tracking_number"]: (p["carrier_code"], p["carrier_name"]) for p in view["packages"]}
        assert carriers == {"1Z002": ("UPS", None), "RSD-9": ("Other", "Reno Same Day")}
        packages = {p["packageReferenceId"]: p for p in sandbox.order(oid)["packages"]}
        assert packages["3"]["carrierCode"] == "Other"

        # Each shipment: once when Amazon accepted its last package, once when the order shows them all.
        events = await h.confirmed(expect=4)
        by_shipment: dict[str, list[tuple[str, ...]]] = {}
        for e in events:
            by_shipment.setdefault(e.shipment_id, []).append(tuple(p.verification or p.outcome for p in e.packages))
        assert by_shipment["SHP-1"] == [("accepted",), ("applied",)]
        decided, final = by_shipment["SHP-2"]
        assert "accepted" in decided and set(decided) <= {"accepted", "applied"}
        assert final == ("applied", "applied")
        async with h.api("viewer") as api:
            listed = (await api.get(f"/admin/orders/{oid}/shipments")).json()
        assert [s["shipment_id"] for s in listed] == ["SHP-1", "SHP-2"]


async def test_invalid_packages_are_rejected_with_a_reason_and_amazon_is_never_asked_to_ship_them(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topics: Topicset, producer: AIOKafkaProducer
) -> None:
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, producer=producer
    ) as h:
        await h.send("connection.updated", connection_event(CONN, sandbox.seller_id))
        order = await _order(h, sandbox, [{"sku": "TENT", "quantity": 2}])
        oid = order["AmazonOrderId"]
        tent = _item(order, "TENT")
        future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
        cases = {
            "SHP-NOT-IN-ORDER": [package("T1", [{"order_item_id": "99999999999999", "quantity": 1}])],
            "SHP-EXCESS": [package("T2", [{"order_item_id": tent, "quantity": 3}])],
            "SHP-FUTURE": [package("T3", [{"order_item_id": tent, "quantity": 1}], ship_date=future)],
        }
        for shipment_id, packages in cases.items():
            await h.send("shipment.created", shipment_event(CONN, oid, shipment_id, packages))
        reasons = {}
        for shipment_id in cases:
            view = await h.until_states(shipment_id, "rejected")
            reasons[shipment_id] = view["packages"][0]["reason"]
        assert "not an item of the order" in reasons["SHP-NOT-IN-ORDER"]
        assert "exceeds the 2 left to ship" in reasons["SHP-EXCESS"]
        assert "in the future" in reasons["SHP-FUTURE"]
        events = {e.shipment_id: e for e in await h.confirmed(expect=3)}
        assert {k: e.packages[0].reason for k, e in events.items()} == reasons
        assert all(e.packages[0].outcome == "rejected" for e in events.values())
        assert sandbox.requests(operation="confirmShipment") == []
        assert sandbox.order(oid)["OrderStatus"] == "Unshipped"


async def test_a_crash_after_amazons_204_is_reconciled_from_the_order_not_sent_again(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topics: Topicset, producer: AIOKafkaProducer
) -> None:
    order = sandbox.create_order([{"sku": "TENT", "quantity": 1}])
    oid = order["AmazonOrderId"]
    tent = order["items"][0]["OrderItemId"]
    ship_date = datetime.now(UTC) - timedelta(hours=1)
    # A process sent package 1, Amazon answered 204, and it died before committing the answer (just now).
    async with httpx.AsyncClient(base_url=sandbox.url, headers=sandbox.headers()) as amazon:
        answer = await amazon.post(
            f"/orders/v0/orders/{oid}/shipmentConfirmation",
            json={
                "marketplaceId": "ATVPDKIKX0DER",
                "packageDetail": {
                    "packageReferenceId": "1",
                    "carrierCode": "UPS",
                    "trackingNumber": "1ZCRASH",
                    "shipDate": ship_date.isoformat().replace("+00:00", "Z"),
                    "orderItems": [{"orderItemId": tent, "quantity": 1}],
                },
            },
        )
        assert answer.status_code == 204
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "shipment_relay"})
    try:
        await conn.execute(
            "INSERT INTO shipments (shipment_id, connection_id, marketplace_id, amazon_order_id) "
            "VALUES ('SHP-CRASH', $1, 'ATVPDKIKX0DER', $2)",
            CONN, oid,
        )  # fmt: skip
        await conn.execute(
            """
            INSERT INTO packages (shipment_id, package_index, amazon_order_id, package_reference_id, carrier,
                carrier_code, tracking_number, ship_date, items, state, attempts, sent_at)
            VALUES ('SHP-CRASH', 0, $1, '1', 'UPS', 'UPS', '1ZCRASH', $2, $3, 'sending', 1, now())
            """,
            oid, ship_date, json.dumps([{"order_item_id": tent, "sku": None, "quantity": 1}]),
        )  # fmt: skip
    finally:
        await conn.close()
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, producer=producer
    ) as h:
        await h.send("connection.updated", connection_event(CONN, sandbox.seller_id))
        # The replayed shipment.created changes nothing either.
        await h.send(
            "shipment.created",
            shipment_event(CONN, oid, "SHP-CRASH", [package("1ZCRASH", [{"order_item_id": tent, "quantity": 1}])]),
        )
        await h.until_states("SHP-CRASH", "applied")
        assert len(sandbox.requests(operation="confirmShipment")) == 1
        assert len(sandbox.ledger(kind="shipment", order_id=oid)) == 1
        assert sandbox.order(oid)["OrderStatus"] == "Shipped"
        (event,) = await h.confirmed(expect=1)
        assert (event.packages[0].outcome, event.packages[0].verification) == ("accepted", "applied")


async def test_throttling_and_server_errors_delay_but_every_package_ships_exactly_once(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topics: Topicset, producer: AIOKafkaProducer
) -> None:
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, producer=producer
    ) as h:
        await h.send("connection.updated", connection_event(CONN, sandbox.seller_id))
        orders = [await _order(h, sandbox, [{"sku": f"SKU-{n}", "quantity": 1}]) for n in range(12)]
        sandbox.fault(operation="confirmShipment", status=429, error_rate=0.4)
        sandbox.fault(operation="confirmShipment", status=503, error_rate=0.2)
        for n, order in enumerate(orders):
            item = order["items"][0]["OrderItemId"]
            await h.send(
                "shipment.created",
                shipment_event(
                    CONN,
                    order["AmazonOrderId"],
                    f"SHP-L{n}",
                    [package(f"T{n}", [{"order_item_id": item, "quantity": 1}])],
                ),
            )

        async def all_shipped() -> bool:
            states = [(await h.shipment(f"SHP-L{n}"))["packages"][0]["state"] for n in range(len(orders))]
            assert all(s == "applied" for s in states), states
            return True

        await eventually(all_shipped, timeout=60, interval=0.3)
        faults = [r for r in sandbox.requests(operation="confirmShipment") if r["status"] in (429, 503)]
        assert faults, "the faults never hit a confirmation"
        for order in orders:
            assert len(sandbox.ledger(kind="shipment", order_id=order["AmazonOrderId"])) == 1
            assert sandbox.order(order["AmazonOrderId"])["OrderStatus"] == "Shipped"


async def test_packages_validated_on_what_orders_ingest_saw_and_the_order_read_back_once_not_per_package(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topics: Topicset, producer: AIOKafkaProducer
) -> None:
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, producer=producer
    ) as h:
        await h.send("connection.updated", connection_event(CONN, sandbox.seller_id))
        skus = ("TENT", "STAKE", "MUG")
        order = await _order(h, sandbox, [{"sku": s, "quantity": 1} for s in skus])
        oid = order["AmazonOrderId"]
        packages = [package(f"1ZB{n}", [{"order_item_id": _item(order, s), "quantity": 1}]) for n, s in enumerate(skus)]
        await h.send("shipment.created", shipment_event(CONN, oid, "SHP-B", packages))
        await h.until_states("SHP-B", "applied", "applied", "applied")
        assert sandbox.order(oid)["OrderStatus"] == "Shipped"

        calls = [r for r in sandbox.requests() if r["operation"] in ("getOrder", "confirmShipment")]
        sent = [n for n, r in enumerate(calls) if r["operation"] == "confirmShipment"]
        reads = [n for n, r in enumerate(calls) if r["operation"] == "getOrder"]
        assert len(sent) == 3
        assert reads and min(reads) > max(sent)  # none to validate; read back only after the sends
        assert len(reads) < len(sent)  # per order, not per package (was one per package, plus one before each)


async def test_an_answer_lost_to_the_clients_timeout_is_reconciled_from_the_order_not_sent_again(
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
        order = await _order(h, sandbox, [{"sku": "TENT", "quantity": 1}])
        oid = order["AmazonOrderId"]
        # Amazon applies the confirmation, then answers after the client gave up.
        sandbox.fault(operation="confirmShipment", latency_after_ms=3000, count=1)
        await h.send(
            "shipment.created",
            shipment_event(
                CONN, oid, "SHP-T", [package("1ZSLOW", [{"order_item_id": _item(order, "TENT"), "quantity": 1}])]
            ),
        )
        await h.until_states("SHP-T", "applied", timeout=30)

        assert len(sandbox.requests(operation="confirmShipment")) == 1
        assert [e["ref"] for e in sandbox.ledger(kind="shipment", order_id=oid)] == ["1"]
        assert sandbox.order(oid)["OrderStatus"] == "Shipped"
        (event,) = await h.confirmed(expect=1)
        assert (event.packages[0].outcome, event.packages[0].verification) == ("accepted", "applied")
        assert event.packages[0].error_code is None
        async with h.api("viewer") as api:
            package_view = (await api.get("/admin/shipments/SHP-T")).json()["packages"][0]
        assert package_view["attempts"] == 1 and package_view["error_code"] == "OutcomeUnknown"
