"""Writes are accepted at once and applied `write_apply_seconds` later, in order, as Amazon does."""

from __future__ import annotations

from typing import Any

import httpx
from testkit import eventually

MARKETPLACE = "ATVPDKIKX0DER"


def _shipment(order: dict[str, Any], reference: str, quantity: int, tracking: str = "1Z999") -> dict[str, Any]:
    return {
        "marketplaceId": MARKETPLACE,
        "packageDetail": {
            "packageReferenceId": reference,
            "carrierCode": "UPS",
            "trackingNumber": tracking,
            "shipDate": "2026-08-06T15:04:05Z",
            "orderItems": [{"orderItemId": order["items"][0]["OrderItemId"], "quantity": quantity}],
        },
    }


async def _confirm(api: httpx.AsyncClient, order: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
    return await api.post(f"/orders/v0/orders/{order['AmazonOrderId']}/shipmentConfirmation", json=body)


async def test_a_confirmation_is_answered_at_once_and_shows_a_little_later(api: httpx.AsyncClient) -> None:
    order = (await api.post("/_sandbox/orders", json={"items": [{"sku": "SKU-D", "quantity": 3}]})).json()
    world = api.world  # type: ignore[attr-defined]
    assert (await _confirm(api, order, _shipment(order, "1", 2))).status_code == 204
    # Accepted, not applied: the order, the ledger and ORDER_CHANGE still say Unshipped.
    assert world.state.orders[order["AmazonOrderId"]].status == "Unshipped"
    assert world.ledger.query(kind="shipment") == []
    # What is accepted counts already: only 1 is left to confirm.
    too_many = await _confirm(api, order, _shipment(order, "2", 2))
    assert too_many.status_code == 400 and "exceeds the 1 left" in too_many.text
    assert (await _confirm(api, order, _shipment(order, "1", 2, tracking="1Z-EDIT"))).status_code == 204
    assert (await _confirm(api, order, _shipment(order, "2", 1))).status_code == 204

    async def shipped() -> bool:
        return world.state.orders[order["AmazonOrderId"]].status == "Shipped"

    await eventually(shipped, timeout=5, interval=0.01)
    applied = [(e.kind, e.ref) for e in world.ledger.query(order_id=order["AmazonOrderId"])]
    assert applied == [("shipment", "1"), ("shipment_update", "1"), ("shipment", "2")]  # in acceptance order
    packages = world.state.orders[order["AmazonOrderId"]].packages
    assert [(p.package_reference_id, p.tracking_number) for p in packages] == [("1", "1Z-EDIT"), ("2", "1Z999")]


async def test_a_reset_drops_writes_not_yet_applied(api: httpx.AsyncClient) -> None:
    await api.post("/_sandbox/listings", json={"sku": "SKU-R", "quantity": 1})
    patch = {
        "productType": "PRODUCT",
        "patches": [
            {
                "op": "merge",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 7}],
            }
        ],
    }
    answer = await api.patch(
        "/listings/2021-08-01/items/A1SANDBOXSELLER/SKU-R", params={"marketplaceIds": MARKETPLACE}, json=patch
    )
    assert answer.json()["status"] == "ACCEPTED"
    await api.post("/_sandbox/reset")
    await api.post("/_sandbox/listings", json={"sku": "SKU-R", "quantity": 1})
    world = api.world  # type: ignore[attr-defined]
    # Longer than the write delay: had the patch survived the reset, it would show by now.
    await eventually(_idle(world), timeout=5, interval=0.01)
    assert world.state.listing("A1SANDBOXSELLER", "SKU-R").quantity == 1
    assert world.ledger.query(kind="quantity") == []


def _idle(world: Any) -> Any:
    async def probe() -> bool:
        return not any("apply_later" in repr(t.get_coro()) for t in world.tasks)

    return probe
