"""Order lifecycle, confirmShipment's rules, and searchOrders' filters and paging."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from spapi_sandbox.errors import ApiError
from spapi_sandbox.orders import NewItem, NewOrder, OrderRejected, confirm_shipment, create_order, transition
from spapi_sandbox.state import Listing, Order
from spapi_sandbox.world import World

SELLER = "A1SANDBOXSELLER"


@pytest.fixture
def order(world: World) -> Order:
    world.state.listings[(SELLER, "SKU-1")] = Listing(
        seller_id=SELLER,
        sku="SKU-1",
        asin="B000000001",
        marketplace_id="ATVPDKIKX0DER",
        fulfillment="MFN",
        quantity=10,
        handling_time=2,
    )
    return create_order(
        world, NewOrder(seller_id=SELLER, items=[NewItem(sku="SKU-1", quantity=3), NewItem(sku="SKU-2", quantity=1)])
    )


def _body(order: Order, quantity: int = 1, *, item: int = 0, reference: str = "1", **package: Any) -> dict[str, Any]:
    detail = {
        "packageReferenceId": reference,
        "carrierCode": "UPS",
        "trackingNumber": "1Z999",
        "shipDate": "2026-08-06T15:04:05Z",
        "orderItems": [{"orderItemId": order.items[item].order_item_id, "quantity": quantity}],
        **package,
    }
    return {"marketplaceId": "ATVPDKIKX0DER", "packageDetail": detail}


def _refused(world: World, order_id: str, body: dict[str, Any]) -> str:
    with pytest.raises(ApiError) as refused:
        confirm_shipment(world, SELLER, order_id, body)
    assert refused.value.status == 400
    assert refused.value.body()["errors"][0]["code"] == "InvalidInput"
    return refused.value.message


def test_a_sale_reserves_stock_and_a_cancellation_returns_it(world: World, order: Order) -> None:
    assert world.state.listing(SELLER, "SKU-1").quantity == 7
    transition(world, order, "Canceled")
    assert world.state.listing(SELLER, "SKU-1").quantity == 10


def test_partial_then_full_shipment(world: World, order: Order) -> None:
    confirm_shipment(world, SELLER, order.order_id, _body(order, 2))
    assert order.status == "PartiallyShipped"
    first_update = order.last_updated
    confirm_shipment(world, SELLER, order.order_id, _body(order, 1, reference="2"))
    confirm_shipment(world, SELLER, order.order_id, _body(order, 1, item=1, reference="3"))
    assert order.status == "Shipped"
    assert order.last_updated > first_update
    shipments = world.ledger.query(kind="shipment", order_id=order.order_id)
    assert [e.ref for e in shipments] == ["1", "2", "3"]
    statuses = [n["Payload"]["OrderChangeNotification"]["Summary"]["OrderStatus"] for n in world.notifier.sent]
    assert statuses == ["Unshipped", "PartiallyShipped", "PartiallyShipped", "Shipped"]


def test_resending_a_package_edits_it_and_ships_nothing_more(world: World, order: Order) -> None:
    confirm_shipment(world, SELLER, order.order_id, _body(order, 2))
    confirm_shipment(world, SELLER, order.order_id, _body(order, 2, trackingNumber="1Z-NEW"))
    assert order.items[0].quantity_shipped == 2
    assert order.packages[0].tracking_number == "1Z-NEW"
    assert [e.kind for e in world.ledger.query()] == ["shipment", "shipment_update"]
    assert "other items" in _refused(world, order.order_id, _body(order, 1))


def test_unknown_order_is_refused(world: World, order: Order) -> None:
    assert "order" in _refused(world, "123-1234567-1234567", _body(order))


def test_unknown_order_item_is_refused(world: World, order: Order) -> None:
    body = _body(order)
    body["packageDetail"]["orderItems"][0]["orderItemId"] = "00000000000000"
    assert "orderItemId" in _refused(world, order.order_id, body)


def test_quantity_beyond_what_is_left_is_refused(world: World, order: Order) -> None:
    confirm_shipment(world, SELLER, order.order_id, _body(order, 2))
    assert "exceeds" in _refused(world, order.order_id, _body(order, 2, reference="2"))
    assert order.items[0].quantity_shipped == 2


@pytest.mark.parametrize(
    ("package", "reason"),
    [
        ({"carrierCode": ""}, "carrierCode"),
        ({"carrierCode": "Pigeon Express"}, "carrierCode"),
        ({"carrierCode": "Other"}, "carrierName"),
        ({"packageReferenceId": "A1"}, "packageReferenceId"),
    ],
)
def test_carrier_and_package_rules(world: World, order: Order, package: dict[str, Any], reason: str) -> None:
    body = _body(order)
    body["packageDetail"].update(package)
    assert reason in _refused(world, order.order_id, body)
    assert order.items[0].quantity_shipped == 0


def test_other_carrier_with_a_name_is_accepted(world: World, order: Order) -> None:
    confirm_shipment(world, SELLER, order.order_id, _body(order, carrierCode="Other", carrierName="Local Courier"))
    assert order.packages[0].carrier_name == "Local Courier"


def test_pending_and_canceled_orders_cannot_ship(world: World, order: Order) -> None:
    items = [NewItem(sku="SKU-1", quantity=1)]
    pending = create_order(world, NewOrder(seller_id=SELLER, status="Pending", items=items))
    assert "Pending" in _refused(world, pending.order_id, _body(pending))
    transition(world, order, "Canceled")
    assert "Canceled" in _refused(world, order.order_id, _body(order))


def test_wrong_marketplace_is_refused(world: World, order: Order) -> None:
    body = _body(order)
    body["marketplaceId"] = "A1PA6795UKMFR9"
    assert "marketplace" in _refused(world, order.order_id, body)


def test_lifecycle_rules(world: World, order: Order) -> None:
    with pytest.raises(OrderRejected):
        transition(world, order, "Shipped")  # MFN ships through confirmShipment
    with pytest.raises(OrderRejected):
        transition(world, order, "Pending")
    for document in world.notifier.sent:
        assert list(world.models.order_change.iter_errors(document)) == []


async def _order(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await api.post("/_sandbox/orders", json={"items": [{"sku": "SKU-1", "quantity": 1}], **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def test_search_filters_and_pages(api: httpx.AsyncClient) -> None:
    created = [await _order(api, is_prime=i == 0) for i in range(5)]
    await api.post(f"/_sandbox/orders/{created[4]['AmazonOrderId']}/transition", json={"status": "Canceled"})
    params = {
        "createdAfter": "2020-01-01T00:00:00Z",
        "maxResultsPerPage": "2",
        "fulfillmentStatuses": "UNSHIPPED",
        "includedData": "FULFILLMENT",
    }
    seen, token, pages = [], None, 0
    while True:
        response = await api.get("/orders/2026-01-01/orders", params={"paginationToken": token} if token else params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [o["orderId"] for o in body["orders"]]
        assert all(o["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED" for o in body["orders"])
        pages += 1
        token = body.get("pagination", {}).get("nextToken")
        if not token:
            break
    assert seen == [o["AmazonOrderId"] for o in created[:4]]
    assert pages == 2
    assert "createdBefore" in body


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"createdAfter": "2020-01-01T00:00:00Z", "lastUpdatedAfter": "2020-01-01T00:00:00Z"},
        {"createdAfter": "2020-01-01T00:00:00Z", "lastUpdatedBefore": "2020-01-02T00:00:00Z"},
        {"createdAfter": "2020-01-02T00:00:00Z", "createdBefore": "2020-01-01T00:00:00Z"},
        {"createdAfter": "2020-01-01T00:00:00Z", "marketplaceIds": "A1PA6795UKMFR9"},
        {"paginationToken": "never-issued"},
    ],
)
async def test_search_rejects_what_amazon_rejects(api: httpx.AsyncClient, params: dict[str, str]) -> None:
    response = await api.get("/orders/2026-01-01/orders", params=params)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "InvalidInput"


async def test_recent_changes_are_invisible_for_the_visibility_lag(models: Any) -> None:
    from spapi_sandbox import SandboxConfig
    from spapi_sandbox.app import create_app

    app = create_app(SandboxConfig(order_visibility_lag_seconds=120), models=models)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as client:
        token = (
            await client.post(
                "/auth/o2/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": "Atzr|sandbox-default-seller-refresh-token",
                    "client_id": "a",
                    "client_secret": "b",
                },
            )
        ).json()["access_token"]
        client.headers["x-amz-access-token"] = token
        created = (await client.post("/_sandbox/orders", json={"items": [{"sku": "S", "quantity": 1}]})).json()
        order_id = created["AmazonOrderId"]
        assert created["searchable"] is False
        found = await client.get("/orders/2026-01-01/orders", params={"lastUpdatedAfter": "2020-01-01T00:00:00Z"})
        assert found.json()["orders"] == []
        too_recent = await client.get(
            "/orders/2026-01-01/orders",
            params={"lastUpdatedAfter": "2020-01-01T00:00:00Z", "lastUpdatedBefore": "2100-01-01T00:00:00Z"},
        )
        assert too_recent.status_code == 400

        # The admin view's `searchable` and the health's `search_horizon` follow searchOrders' own rule.
        order = app.state.world.state.orders[order_id]
        order.created = order.last_updated = order.last_updated - timedelta(seconds=121)
        assert (await client.get(f"/_sandbox/orders/{order_id}")).json()["searchable"] is True
        found = await client.get("/orders/2026-01-01/orders", params={"lastUpdatedAfter": "2020-01-01T00:00:00Z"})
        assert [o["orderId"] for o in found.json()["orders"]] == [order_id]
        horizon = datetime.fromisoformat((await client.get("/_sandbox/health")).json()["search_horizon"])
        assert order.last_updated <= horizon <= datetime.now(UTC) - timedelta(seconds=120)
        await client.post(f"/_sandbox/orders/{order_id}/transition", json={"status": "Canceled"})
        assert (await client.get(f"/_sandbox/orders/{order_id}")).json()["searchable"] is False


async def test_get_order_datasets(api: httpx.AsyncClient) -> None:
    created = await _order(api, is_business=True)
    order_id = created["AmazonOrderId"]
    bare = (await api.get(f"/orders/2026-01-01/orders/{order_id}")).json()["order"]
    assert "recipient" not in bare and "buyer" not in bare
    full = (
        await api.get(
            f"/orders/2026-01-01/orders/{order_id}", params={"includedData": "BUYER,RECIPIENT,PACKAGES,CANCELLATION"}
        )
    ).json()["order"]
    assert full["recipient"]["deliveryAddress"]["addressLine1"]
    assert full["programs"] == ["AMAZON_BUSINESS"]
    await api.post(f"/_sandbox/orders/{order_id}/transition", json={"buyer_cancel_request": True, "reason": "late"})
    cancelled = (
        await api.get(f"/orders/2026-01-01/orders/{order_id}", params={"includedData": "CANCELLATION"})
    ).json()["order"]
    assert cancelled["orderItems"][0]["cancellation"]["cancellationRequest"] == {
        "requester": "BUYER",
        "cancelReason": "late",
    }
    assert (await api.get("/orders/2026-01-01/orders/111-1111111-1111111")).status_code == 404


def test_copy_is_independent(order: Order) -> None:
    clone = copy.deepcopy(order)
    clone.items[0].quantity_shipped = 3
    assert order.items[0].quantity_shipped == 0


async def test_proceeds_break_down_item_shipping_tax_and_discount(api: httpx.AsyncClient) -> None:
    item = {"sku": "SKU-P", "quantity": 2, "price": "10.00", "shipping": "5.00", "tax_rate": "0.1"}
    created = await api.post(
        "/_sandbox/orders", json={"items": [{**item, "discount": "2.00", "shipping_discount": "1.00"}, {**item}]}
    )
    order_id = created.json()["AmazonOrderId"]
    order = (await api.get(f"/orders/2026-01-01/orders/{order_id}", params={"includedData": "PROCEEDS"})).json()[
        "order"
    ]
    proceeds = order["orderItems"][0]["proceeds"]
    by_type = {b["type"]: b for b in proceeds["breakdowns"]}
    assert {t: b["subtotal"]["amount"] for t, b in by_type.items()} == {
        "ITEM": "20.00",
        "SHIPPING": "5.00",
        "TAX": "2.20",  # 10 % of (20 - 2) and of (5 - 1)
        "DISCOUNT": "-3.00",
    }
    assert {d["subtype"]: d["value"]["amount"] for d in by_type["TAX"]["detailedBreakdowns"]} == {
        "ITEM": "1.80",
        "SHIPPING": "0.40",
    }
    assert {d["subtype"]: d["value"]["amount"] for d in by_type["DISCOUNT"]["detailedBreakdowns"]} == {
        "ITEM": "-2.00",
        "SHIPPING": "-1.00",
    }
    assert proceeds["proceedsTotal"] == {"amount": "24.20", "currencyCode": "USD"}
    # Without a discount there is no DISCOUNT entry; the order's proceeds add the lines up by category.
    assert [b["type"] for b in order["orderItems"][1]["proceeds"]["breakdowns"]] == ["ITEM", "SHIPPING", "TAX"]
    assert order["proceeds"]["grandTotal"]["amount"] == "51.70"  # 24.20 + 20 + 5 + 2.50
    assert {b["type"]: b["subtotal"]["amount"] for b in order["proceeds"]["breakdowns"]} == {
        "ITEM": "40.00",
        "SHIPPING": "10.00",
        "TAX": "4.70",
        "DISCOUNT": "-3.00",
    }


async def test_default_charges_are_the_marketplaces_and_prime_ships_free(api: httpx.AsyncClient) -> None:
    plain = (await api.post("/_sandbox/orders", json={"items": [{"sku": "SKU-D", "price": "100.00"}]})).json()
    prime = (
        await api.post("/_sandbox/orders", json={"is_prime": True, "items": [{"sku": "SKU-D", "price": "100.00"}]})
    ).json()
    amounts = []
    for created in (plain, prime):
        order = (
            await api.get(f"/orders/2026-01-01/orders/{created['AmazonOrderId']}", params={"includedData": "PROCEEDS"})
        ).json()["order"]
        amounts.append({b["type"]: b["subtotal"]["amount"] for b in order["orderItems"][0]["proceeds"]["breakdowns"]})
    assert amounts == [
        {"ITEM": "100.00", "SHIPPING": "4.99", "TAX": "8.66"},  # US 8.25 % of 104.99
        {"ITEM": "100.00", "SHIPPING": "0.00", "TAX": "8.25"},
    ]
