"""shipment-relay in `make demo`: the WMS ships one order fully and one partially in two packages; shipment-relay
confirms each package on Amazon (the sandbox) once, reads the order back after Amazon's apply delay, and publishes
shipment.confirmed (accepted, then applied). A package with a ship date in the future is rejected before any call.
The OMS cancels a third order (order.completed cancelled): shipment-relay sends the XML POST_ORDER_ACKNOWLEDGEMENT_DATA
feed and Amazon cancels the order; its outcome is on GET /admin/orders/{id}/cancellation and on shipment.confirmed."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from demo import KAFKA, SANDBOX, _read_events, admin_token

SHIPMENT_RELAY = os.environ.get("SHIPMENT_RELAY_URL", "http://127.0.0.1:18104")
MARKETPLACE = "ATVPDKIKX0DER"


def _order(sandbox: httpx.Client, items: list[dict[str, Any]]) -> dict[str, Any]:
    answer = sandbox.post("/_sandbox/orders", json={"items": items})
    answer.raise_for_status()
    return dict(answer.json())


def _package(tracking: str, carrier: str, items: list[dict[str, Any]], ship_date: datetime) -> dict[str, Any]:
    return {"carrier": carrier, "service": "Ground", "tracking_number": tracking, "ship_date": ship_date.isoformat(),
            "items": items}  # fmt: skip


async def _publish(events: list[Any]) -> None:
    from aiokafka import AIOKafkaProducer
    from contracts import encode

    producer = AIOKafkaProducer(bootstrap_servers=KAFKA)
    await producer.start()
    try:
        for event in events:
            record = encode(event)
            await producer.send_and_wait(record.topic, record.value, key=record.key, headers=record.headers)
    finally:
        await producer.stop()


def run(connection_id: str) -> None:
    from contracts import ShipmentCreatedV1, new_event

    print("\n== shipment-relay: shipments to Amazon ==")
    stamp = int(time.time())
    shipped = datetime.now(UTC) - timedelta(minutes=30)
    with httpx.Client(base_url=SANDBOX, timeout=30) as sandbox:
        full = _order(sandbox, [{"sku": "DEMO-SHIP-TENT", "quantity": 1}])
        partial = _order(sandbox, [{"sku": "DEMO-SHIP-STAKES", "quantity": 3}])
        bad = _order(sandbox, [{"sku": "DEMO-SHIP-MUG", "quantity": 1}])
        cancelled = _order(sandbox, [{"sku": "DEMO-SHIP-LAMP", "quantity": 1}])
    item = {o["AmazonOrderId"]: o["items"][0]["OrderItemId"] for o in (full, partial, bad)}
    shipments = {
        f"DEMO-SHP-{stamp}-FULL": (full, [_package("1ZDEMO0001", "UPS", [{"sku": "DEMO-SHIP-TENT", "quantity": 1}],
                                                   shipped)]),
        f"DEMO-SHP-{stamp}-PART": (partial, [
            _package("1ZDEMO0002", "UPS", [{"order_item_id": item[partial["AmazonOrderId"]], "quantity": 1}], shipped),
            _package("RSD-DEMO-3", "Reno Same Day Couriers",
                     [{"order_item_id": item[partial["AmazonOrderId"]], "quantity": 1}], shipped),
        ]),
        f"DEMO-SHP-{stamp}-FUTURE": (bad, [_package("1ZDEMO0004", "UPS", [{"sku": "DEMO-SHIP-MUG", "quantity": 1}],
                                                     datetime.now(UTC) + timedelta(days=3))]),
    }  # fmt: skip
    events = []
    for shipment_id, (order, packages) in shipments.items():
        data = ShipmentCreatedV1.model_validate({
            "shipment_id": shipment_id, "connection_id": connection_id, "marketplace_id": MARKETPLACE,
            "amazon_order_id": order["AmazonOrderId"], "packages": packages,
        })  # fmt: skip
        events.append(new_event("shipment.created", data, source="demo-wms", revision=shipment_id))
    from contracts import OrderCompletedV1

    cancel = OrderCompletedV1.model_validate({
        "connection_id": connection_id, "marketplace_id": MARKETPLACE, "amazon_order_id": cancelled["AmazonOrderId"],
        "status": "cancelled", "cancel_reason": "NoInventory", "occurred_at": datetime.now(UTC).isoformat(),
    })  # fmt: skip
    asyncio.run(_publish([*events, new_event("order.completed", cancel, source="demo-oms", revision=str(stamp))]))
    print(f"shipment.created: {len(events)} shipments published (WMS); order.completed cancelled: "
          f"{cancelled['AmazonOrderId']} (OMS)")  # fmt: skip

    headers = {"authorization": f"Bearer {admin_token('viewer')}"}
    deadline = time.monotonic() + 120
    with httpx.Client(base_url=SHIPMENT_RELAY, headers=headers, timeout=10) as relay:
        while True:
            views = {s: relay.get(f"/admin/shipments/{s}") for s in shipments}
            states = {s: [p["state"] for p in v.json()["packages"]] if v.status_code == 200 else [] for s, v in
                      views.items()}  # fmt: skip
            if all(st and set(st) <= {"applied", "rejected"} for st in states.values()):
                break
            if time.monotonic() > deadline:
                sys.exit(f"shipments not settled after 120 s: {states}")
            time.sleep(1)
        while True:
            answer = relay.get(f"/admin/orders/{cancelled['AmazonOrderId']}/cancellation")
            if answer.status_code == 200 and answer.json()["state"] in ("accepted", "rejected", "unknown"):
                break
            if time.monotonic() > deadline:
                sys.exit(f"cancellation not settled: {answer.status_code} {answer.text}")
            time.sleep(1)
        c = answer.json()
        print(f"seller cancellation of {cancelled['AmazonOrderId']}: {c['state']} (feed {c['feed_id']}, message "
              f"{c['message_id']}{', ' + c['result'] if c['result'] else ''})")  # fmt: skip
    print("shipment-relay's view (GET /admin/shipments/{id}):")
    for shipment_id, view in views.items():
        for p in view.json()["packages"]:
            print(f"  {shipment_id} package {p['package_reference_id']}: {p['state']} carrier {p['carrier_code']}"
                  f"{'/' + p['carrier_name'] if p['carrier_name'] else ''} tracking {p['tracking_number']}"
                  f"{' reason: ' + p['reason'] if p['reason'] else ''}")  # fmt: skip
    with httpx.Client(base_url=SANDBOX, timeout=30) as sandbox:
        print("Amazon (the sandbox):")
        for order in (full, partial, bad, cancelled):
            seen = sandbox.get(f"/_sandbox/orders/{order['AmazonOrderId']}").json()
            packages = ", ".join(f"#{p['packageReferenceId']} {p['carrierCode']} {p['trackingNumber']}"
                                 for p in seen["packages"]) or "none"  # fmt: skip
            print(f"  {seen['AmazonOrderId']}: {seen['OrderStatus']}; packages: {packages}")
        calls = [r for r in sandbox.get("/_sandbox/requests", params={"operation": "confirmShipment"}).json()
                 if any(o["AmazonOrderId"] in r["path"] for o in (full, partial, bad))]  # fmt: skip
        print(f"  confirmShipment calls for these orders: {len(calls)} (3 packages valid, 1 rejected before Amazon)")
    keys = {o["AmazonOrderId"] for o in (full, partial, bad, cancelled)}
    confirmed = asyncio.run(_read_events("shipment.confirmed", keys, lambda e: len(e) >= 6, timeout=30))
    print(f"shipment.confirmed: {len(confirmed)} events")
    for event in confirmed:
        d = event.data
        if d.cancellation is not None:
            c = d.cancellation
            print(
                f"  {d.shipment_id}: seller cancellation ({c.scope}, {c.cancel_reason}) {c.outcome}, feed {c.feed_id}"
            )
            continue
        outcomes = ", ".join(f"#{p.package_reference_id} {p.outcome}{'/' + p.verification if p.verification else ''}"
                             f"{' (' + p.reason + ')' if p.reason else ''}" for p in d.packages)  # fmt: skip
        print(f"  {d.shipment_id} {d.amazon_order_id}: {outcomes}")
