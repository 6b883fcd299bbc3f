"""Under load the client keeps to Amazon's limits; under injected 429/503 it recovers without
losing or repeating a write (asserted on the sandbox's ledger and request log)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
import spapi
from spapi import ListingsPatch
from testkit import eventually

SELLER = "A1SANDBOXSELLER"
MARKETPLACE = "ATVPDKIKX0DER"


async def requests_log(admin: httpx.AsyncClient, **query: str | int) -> list[dict]:
    r = await admin.get("/_sandbox/requests", params=query)
    r.raise_for_status()
    return r.json()


async def ledger(admin: httpx.AsyncClient, **query: str) -> list[dict]:
    r = await admin.get("/_sandbox/ledger", params=query)
    r.raise_for_status()
    return r.json()


async def fault(admin: httpx.AsyncClient, **spec: object) -> None:
    (await admin.post("/_sandbox/faults", json=spec)).raise_for_status()


async def new_order(admin: httpx.AsyncClient, sku: str, quantity: int = 1) -> dict:
    r = await admin.post("/_sandbox/orders", json={"items": [{"sku": sku, "quantity": quantity}]})
    r.raise_for_status()
    return r.json()


def shipment(order: dict, reference: str = "1") -> spapi.ConfirmShipmentRequest:
    return spapi.ConfirmShipmentRequest(
        marketplace_id=MARKETPLACE,
        package_detail=spapi.PackageDetail(
            package_reference_id=reference,
            carrier_code="UPS",
            tracking_number="1Z" + order["AmazonOrderId"].replace("-", ""),
            ship_date=datetime.now(UTC),
            order_items=[
                spapi.ConfirmShipmentOrderItem(
                    order_item_id=order["items"][0]["OrderItemId"], quantity=order["items"][0]["QuantityOrdered"]
                )
            ],
        ),
    )


def quantity_patch(quantity: int) -> spapi.ListingsItemPatchRequest:
    return spapi.ListingsItemPatchRequest(
        product_type="PRODUCT",
        patches=[
            ListingsPatch(
                op="merge",
                path="/attributes/fulfillment_availability",
                value=[{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
            )
        ],
    )


async def test_bursts_of_concurrent_calls_stay_under_the_limits(amazon: spapi.SpApiClient, admin: httpx.AsyncClient):
    await admin.post("/_sandbox/listings", json={"sku": "HOT", "quantity": 100})
    orders = [await new_order(admin, "HOT") for _ in range(30)]
    # confirmShipment: burst 10 then 2/s; patchListingsItem: burst 5 then 5/s; getListingsItem: 5 then 5/s
    # (x SPEEDUP). Three times each burst, all at once, on one connection.
    await asyncio.gather(
        *(amazon.orders_v0.confirm_shipment(o["AmazonOrderId"], shipment(o)) for o in orders),
        *(
            amazon.listings.patch_listings_item("HOT", quantity_patch(q), marketplace_ids=[MARKETPLACE])
            for q in range(15)
        ),
        *(amazon.listings.get_listings_item("HOT", marketplace_ids=[MARKETPLACE]) for _ in range(15)),
    )
    assert await requests_log(admin, status=429) == []

    async def all_shipped() -> bool:  # accepted at once, applied a little later
        return len(await ledger(admin, kind="shipment")) == 30

    await eventually(all_shipped)


async def test_a_confirmation_survives_429s_and_503s_and_is_applied_once(
    amazon: spapi.SpApiClient, admin: httpx.AsyncClient
):
    await admin.post("/_sandbox/listings", json={"sku": "SKU-T", "quantity": 10})
    order = await new_order(admin, "SKU-T", quantity=2)
    await fault(admin, operation="confirmShipment", status=429, count=2)
    await fault(admin, operation="confirmShipment", status=503, count=2)

    await amazon.orders_v0.confirm_shipment(order["AmazonOrderId"], shipment(order))

    seen = [r["status"] for r in await requests_log(admin, operation="confirmShipment")]
    assert sorted(seen) == [204, 429, 429, 503, 503]
    applied = await eventually(lambda: ledger(admin, order_id=order["AmazonOrderId"]))
    assert [(e["kind"], e["value"]["items"]) for e in applied] == [("shipment", {order["items"][0]["OrderItemId"]: 2})]


async def test_a_feed_survives_429s_and_503s_and_is_created_once(amazon: spapi.SpApiClient, admin: httpx.AsyncClient):
    await admin.post("/_sandbox/listings", json={"sku": "SKU-FT", "quantity": 1})
    await fault(admin, operation="createFeedDocument", status=503, count=1)
    await fault(admin, operation="createFeed", status=429, count=1)
    await fault(admin, operation="createFeed", status=503, count=2)
    await fault(admin, operation="getFeed", status=500, count=1)
    feed = spapi.ListingsFeed(
        header=spapi.ListingsFeedHeader(seller_id=SELLER),
        messages=[
            spapi.ListingsFeedMessage(
                message_id=1,
                sku="SKU-FT",
                operation_type="PATCH",
                product_type="PRODUCT",
                patches=quantity_patch(9).patches,
            )
        ],
    )
    feed_id = await amazon.feeds.submit_feed(
        spapi.JSON_LISTINGS_FEED, feed.to_bytes(), content_type=spapi.JSON_CONTENT_TYPE, marketplace_ids=[MARKETPLACE]
    )
    done = await amazon.feeds.wait_for_feed(feed_id, poll_interval=0.05, timeout=30)
    assert done.processing_status == "DONE"
    accepted = [r for r in await requests_log(admin, operation="createFeed") if r["status"] == 202]
    assert len(accepted) == 1
    assert [e["value"] for e in await ledger(admin, sku="SKU-FT", kind="quantity")] == [9]


class CountingTransport(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(f"{request.method} {request.url.path}")
        return await super().handle_async_request(request)


async def test_a_write_that_times_out_is_not_repeated(admin: httpx.AsyncClient, make_amazon):
    await admin.post("/_sandbox/listings", json={"sku": "SKU-SLOW", "quantity": 5})
    order = await new_order(admin, "SKU-SLOW")
    # Amazon applies the confirmation, then its answer takes longer than the client waits.
    await fault(admin, operation="confirmShipment", latency_after_ms=1500, count=1)
    transport = CountingTransport()
    async with httpx.AsyncClient(timeout=0.5, transport=transport) as impatient:
        client = make_amazon(impatient)
        with pytest.raises(spapi.OutcomeUnknown):
            await client.orders_v0.confirm_shipment(order["AmazonOrderId"], shipment(order))
    path = f"/orders/v0/orders/{order['AmazonOrderId']}/shipmentConfirmation"
    assert transport.sent.count(f"POST {path}") == 1
    # The outcome is unknown to the client, but the write did happen: exactly once, never retried.
    applied = await ledger(admin, order_id=order["AmazonOrderId"])
    assert [(e["kind"], e["ref"]) for e in applied] == [("shipment", "1")]


async def test_an_expired_token_is_renewed_once_and_the_call_goes_through(
    amazon: spapi.SpApiClient, admin: httpx.AsyncClient
):
    await amazon.sellers.get_marketplace_participations()  # caches a token
    await fault(admin, token="expired")
    participations = await amazon.sellers.get_marketplace_participations()
    assert participations
    statuses = [r["status"] for r in await requests_log(admin, operation="getMarketplaceParticipations")]
    assert statuses == [200, 403, 200]


async def test_a_revoked_authorization_fails_fast(amazon: spapi.SpApiClient, admin: httpx.AsyncClient):
    await amazon.sellers.get_marketplace_participations()
    await fault(admin, token="revoked")
    with pytest.raises(spapi.AuthError) as caught:
        await amazon.sellers.get_marketplace_participations()
    assert caught.value.codes == ["invalid_grant"]
    statuses = [r["status"] for r in await requests_log(admin, operation="getMarketplaceParticipations")]
    assert statuses == [200, 403]
